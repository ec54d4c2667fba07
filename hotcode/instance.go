package hotcode

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/steward/steward/actor"
)

// instance is one module instance, owned by one process: every call into
// it comes from that process's goroutine, one at a time.
type instance struct {
	m      *Module
	mod    api.Module
	mem    api.Memory
	fns    [numExports]api.Function
	closer *closer
	fs     *wasiFS

	// Call stacks by nesting depth: a host function may call alloc while
	// a callback runs.
	stacks [maxDepth][8]uint64
	depth  int

	// Set for the duration of one callback.
	proc  actor.Proc     // nil outside process callbacks
	msg   *actor.Message // the message being handled, or nil
	owned []uint64       // packed buffers given out by host functions, freed after

	// The input buffer: the callbacks' inputs are written here, reused
	// while they fit (one guest call per callback instead of three).
	inPtr, inCap uint32
	exit         actor.Reason // exit(self) asked during the callback

	// broken is the first failure of a call into the instance (a trap, a
	// deadline, a bad return): the instance is not called again.
	broken error

	// The sandbox (sandbox.go): guard is the memory allocator; sbx is set
	// once the instance serves a process of a sandbox (bound: its first
	// process callback has looked); cur is the running callback's
	// deadline.
	guard *memGuard
	sbx   *sandboxCfg
	bound bool
	cur   time.Duration
}

const maxDepth = 3

// closer closes an instance once: explicitly (Terminate) or when the
// process's behavior is collected (a killed process runs no Terminate).
type closer struct {
	once sync.Once
	mod  api.Module
	live *atomic.Int64
	gone chan struct{} // closed once closed
}

func (c *closer) close() {
	c.once.Do(func() {
		_ = c.mod.Close(context.Background())
		c.live.Add(-1)
		close(c.gone)
	})
}

// instantiate makes a fresh instance: no start function runs (validation
// refuses start sections; WithStartFunctions() skips _start), no WASI
// unless the module was allowed it.
//
// sbx, when the instance is made for a process of a sandbox, puts it under
// the sandbox's limits from the start: its memory minimum is reserved
// from the sandbox's budget before anything is allocated.
func (m *Module) instantiate(ctx context.Context, sbx *sandboxCfg) (*instance, error) {
	// The random source is given even without WASI: wazero's default
	// seeds a math/rand source per instance, a tenth of the cost.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(rand.Reader)
	in := &instance{m: m, guard: &memGuard{}, sbx: sbx, bound: sbx != nil}
	if sbx != nil {
		if err := in.guard.prereserve(sbx, uint64(m.minPages())*PageSize); err != nil {
			return nil, fmt.Errorf("%s: memory minimum %d bytes: %w", m.Ref(), m.MemoryMinimumBytes(), err)
		}
	}
	if m.wasi != nil {
		cfg, in.fs = m.wasiConfig(cfg, in)
		if in.fs != nil && sbx != nil {
			in.fs.sandbox(m, sbx.guest)
		}
	}
	mod, err := m.host.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, in.guard), m.cm, cfg)
	if err != nil {
		in.guard.release()
		return nil, fmt.Errorf("%s: instantiate: %s", m.Ref(), firstLine(err))
	}
	m.host.live.Add(1)
	in.mod, in.mem = mod, mod.Memory()
	in.closer = &closer{mod: mod, live: &m.host.live, gone: make(chan struct{})}
	runtime.AddCleanup(in, func(c *closer) { c.close() }, in.closer)
	if in.mem == nil {
		in.close()
		return nil, fmt.Errorf("%s: no memory", m.Ref())
	}
	return in, nil
}

func (in *instance) close() {
	if in.closer != nil {
		in.closer.close()
	}
}

// call calls export ex with params and returns its first result. Any
// failure breaks the instance.
func (in *instance) call(ctx context.Context, ex int, params ...uint64) (uint64, error) {
	if in.broken != nil {
		return 0, in.broken
	}
	fn := in.fns[ex]
	if fn == nil {
		// Looked up on first use: each api.Function carries its own call
		// engine and stack, half an instance's memory if made up front.
		if fn = in.mod.ExportedFunction(abiExports[ex].name); fn == nil {
			return 0, in.fail(fmt.Errorf("%s: %s is not exported", in.m.Ref(), abiExports[ex].name))
		}
		in.fns[ex] = fn
	}
	if in.depth == maxDepth {
		return 0, in.fail(fmt.Errorf("%s: %s: calls nested %d deep", in.m.Ref(), abiExports[ex].name, maxDepth))
	}
	st := in.stacks[in.depth][:max(len(params), len(abiExports[ex].results), 1)]
	copy(st, params)
	in.depth++
	err := fn.CallWithStack(ctx, st)
	in.depth--
	if err != nil {
		return 0, in.fail(in.callError(ctx, abiExports[ex].name, err))
	}
	return st[0], nil
}

func (in *instance) fail(err error) error {
	if in.broken == nil {
		in.broken = err
	}
	return err
}

// callError names why a call failed.
func (in *instance) callError(ctx context.Context, name string, err error) error {
	ref := in.m.Ref()
	var ee *sys.ExitError
	var t trap
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ee) && ee.ExitCode() == sys.ExitCodeDeadlineExceeded:
		if in.sbx != nil {
			return fmt.Errorf("%s: %s ran past its %s deadline (sandbox %q)", ref, name, in.cur, in.sbx.guest.Name())
		}
		return fmt.Errorf("%s: %s ran past its %s deadline", ref, name, in.cur)
	case errors.Is(ctx.Err(), context.Canceled) || errors.As(err, &ee) && ee.ExitCode() == sys.ExitCodeContextCanceled:
		return fmt.Errorf("%s: %s stopped: the host is closing", ref, name)
	case errors.As(err, &ee):
		return fmt.Errorf("%s: %s: the module exited with code %d", ref, name, ee.ExitCode())
	case errors.As(err, &t):
		return fmt.Errorf("%s: %s: %s", ref, name, t.msg)
	}
	return fmt.Errorf("%s: %s: %s", ref, name, firstLine(err))
}

// minInput is the input buffer's first size (bytes).
const minInput = 1024

// alloc gets n bytes from the guest's alloc, checked to lie in memory.
func (in *instance) alloc(ctx context.Context, n int) (uint32, error) {
	r, err := in.call(ctx, exAlloc, uint64(n))
	if err != nil {
		return 0, err
	}
	ptr := uint32(r)
	if ptr == 0 {
		return 0, in.fail(fmt.Errorf("%s: alloc(%d) returned 0 (out of memory)", in.m.Ref(), n))
	}
	if _, ok := in.mem.Read(ptr, uint32(n)); !ok {
		return 0, in.fail(fmt.Errorf("%s: alloc(%d) returned %d: the buffer is outside memory (%d bytes)", in.m.Ref(), n, ptr, in.mem.Size()))
	}
	return ptr, nil
}

// inputs writes bufs one after the other into the input buffer, growing
// it (dealloc the old one, alloc a new one) when they do not fit, and
// returns each one's ptr (0 for an empty one).
func (in *instance) inputs(ctx context.Context, ptrs []uint64, bufs ...[]byte) error {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total > int(in.inCap) {
		if in.inCap > 0 && in.m.hasDealloc {
			if _, err := in.call(ctx, exDealloc, uint64(in.inPtr), uint64(in.inCap)); err != nil {
				return err
			}
		}
		in.inPtr, in.inCap = 0, 0
		n := max(total, minInput)
		ptr, err := in.alloc(ctx, n)
		if err != nil {
			return err
		}
		in.inPtr, in.inCap = ptr, uint32(n)
	}
	off := in.inPtr
	for i, b := range bufs {
		if len(b) == 0 {
			ptrs[i] = 0
			continue
		}
		in.mem.Write(off, b)
		ptrs[i] = uint64(off)
		off += uint32(len(b))
	}
	return nil
}

// put copies b into a buffer of its own from the guest's alloc (a host
// function's result), freed with dealloc after the callback; an empty b
// is ptr 0.
func (in *instance) put(ctx context.Context, b []byte) (uint32, error) {
	if len(b) == 0 {
		return 0, nil
	}
	ptr, err := in.alloc(ctx, len(b))
	if err != nil {
		return 0, err
	}
	in.mem.Write(ptr, b)
	if in.m.hasDealloc {
		in.owned = append(in.owned, packBuf(ptr, uint32(len(b))))
	}
	return ptr, nil
}

// take copies a buffer the guest returned packed in r.
func (in *instance) take(name string, r uint64) ([]byte, error) {
	ptr, n := unpack(r)
	if int64(n) > int64(in.m.host.cfg.MaxMessageBytes) {
		return nil, in.fail(fmt.Errorf("%s: %s returned %d bytes, over the %d-byte limit", in.m.Ref(), name, n, in.m.host.cfg.MaxMessageBytes))
	}
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		return nil, in.fail(fmt.Errorf("%s: %s returned ptr %d len %d, outside memory (%d bytes)", in.m.Ref(), name, ptr, n, in.mem.Size()))
	}
	return append([]byte(nil), b...), nil
}

// free returns the buffers the host allocated during the callback, last
// first.
func (in *instance) free(ctx context.Context) error {
	for len(in.owned) > 0 {
		ptr, n := unpack(in.owned[len(in.owned)-1])
		in.owned = in.owned[:len(in.owned)-1]
		if _, err := in.call(ctx, exDealloc, uint64(ptr), uint64(n)); err != nil {
			in.owned = in.owned[:0]
			return err
		}
	}
	return nil
}
