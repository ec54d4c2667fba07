package hotcode

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/steward/steward/actor"
)

// Modules in sandboxes (docs/SANDBOXES.md "WebAssembly modules in
// sandboxes"). A process of a sandboxed tree (actor.SandboxOf) runs its
// instance under the sandbox's limits, enforced inside the guest, before
// the fact:
//   - memory: a page cap per instance, min(Config.MaxMemoryPages,
//     max_memory_bytes / 64 KiB), and the sandbox-wide budget: every page
//     the instance gets is reserved from the sandbox first
//     (actor.SandboxGuest.ReserveMemory), so the sum of the sandbox's
//     linear memories and its native processes' reported sizes stays
//     within max_memory_bytes; a memory.grow past either returns -1;
//   - the deadline: each callback runs under the policy's message_deadline
//     when set (else Config.MessageDeadline), and is interrupted inside
//     the guest at it;
//   - WASI: only in a permissive sandbox, for a module declaring the
//     "wasi" capability, with its directory under the sandbox's and its
//     open files capped by max_file_handles;
//   - the host functions that act through the runtime (spawn, exit of
//     another process) pass the sandbox's boundary.

// ErrSandboxRefused: a module cannot run in a sandbox under its policy
// (its memory minimum is over the sandbox's page cap, or it needs WASI
// outside a permissive sandbox); the text names the module and the limit.
var ErrSandboxRefused = errors.New("module refused by the sandbox")

// PageSize is a WebAssembly page (bytes).
const PageSize = 65536

// SandboxDirName is the directory, under Config.WASIDir, that holds the
// sandboxes' WASI directories: WASIDir/_sandboxes/<sandbox>/<node>_<seq>.
// A module name cannot start with '_', so it never meets a module's own
// WASIDir/<module> directory.
const SandboxDirName = "_sandboxes"

// SandboxDir is the directory holding every sandbox's WASI directories
// on this host ("" when the host gives WASI no directories).
func (h *Host) SandboxDir() string {
	if h.cfg.WASIDir == "" {
		return ""
	}
	return filepath.Join(h.cfg.WASIDir, SandboxDirName)
}

// SandboxPageCap is the page cap of one instance in a sandbox with policy
// pol on a host capping instances at hostPages: min(hostPages,
// pol.MaxMemoryBytes / PageSize), hostPages when the policy has no memory
// budget.
func SandboxPageCap(hostPages uint32, pol actor.SandboxPolicy) uint32 {
	if pol.MaxMemoryBytes <= 0 {
		return hostPages
	}
	return uint32(min(int64(hostPages), pol.MaxMemoryBytes/PageSize))
}

// MemoryMinimumBytes is the declared minimum of the module's memory
// (bytes).
func (m *Module) MemoryMinimumBytes() int64 {
	return int64(m.minPages()) * PageSize
}

func (m *Module) minPages() uint32 {
	if mem, ok := m.cm.ExportedMemories()[memoryExport]; ok {
		return mem.Min()
	}
	return 0
}

// CheckSandbox reports whether the module may run in sandbox `sandbox`
// under pol on this host: what a process of it would be refused at start
// for, checked ahead (the sandbox create path, on the leader, with the
// versions its host loaded). Errors wrap ErrSandboxRefused.
func (m *Module) CheckSandbox(sandbox string, pol actor.SandboxPolicy) error {
	return checkSandbox(m.Ref(), m.minPages(), m.wasi != nil, m.host.cfg.MaxMemoryPages, sandbox, pol)
}

func checkSandbox(ref string, minPages uint32, wasi bool, hostPages uint32, sandbox string, pol actor.SandboxPolicy) error {
	if c := SandboxPageCap(hostPages, pol); minPages > c {
		return fmt.Errorf("%w: %s: memory minimum %d pages (%d bytes) is over sandbox %q's cap of %d pages (%d bytes: the host's %d pages, max_memory_bytes %d)",
			ErrSandboxRefused, ref, minPages, int64(minPages)*PageSize, sandbox, c, int64(c)*PageSize, hostPages, pol.MaxMemoryBytes)
	}
	if wasi {
		iso := pol.Isolation
		if iso == "" {
			iso = actor.IsolationModerate
		}
		if iso != actor.IsolationPermissive {
			return fmt.Errorf("%w: %s uses WASI (the %q capability): sandbox %q is %s, WASI is allowed only in a permissive sandbox",
				ErrSandboxRefused, ref, CapabilityWASI, sandbox, iso)
		}
		if sandbox == "." || sandbox == ".." {
			return fmt.Errorf("%w: %s uses WASI: sandbox name %q cannot name its directory", ErrSandboxRefused, ref, sandbox)
		}
	}
	return nil
}

// sandboxCfg is an instance's sandbox, fixed when it first serves a
// process of the sandbox.
type sandboxCfg struct {
	guest    *actor.SandboxGuest
	capPages uint32
}

// sandboxConfig checks the module against g's sandbox and gives the
// instance's limits there.
func (m *Module) sandboxConfig(g *actor.SandboxGuest) (*sandboxCfg, error) {
	pol := g.Policy()
	if err := m.CheckSandbox(g.Name(), pol); err != nil {
		return nil, err
	}
	return &sandboxCfg{guest: g, capPages: SandboxPageCap(m.host.cfg.MaxMemoryPages, pol)}, nil
}

// deadline is the bound on one callback of in: the sandbox's
// message_deadline when it has one (read at each callback: a policy update
// applies at once), else the host's.
func (in *instance) deadline() time.Duration {
	if in.sbx != nil {
		if d := in.sbx.guest.Policy().MessageDeadline; d > 0 {
			return d
		}
	}
	return in.m.host.cfg.MessageDeadline
}

// bindSandbox fixes the instance's sandbox the first time it serves a
// process (p non-nil): an instance made before (by a code change, which
// runs without its process) gets the sandbox's limits from then on, and
// is refused if it already holds more than they allow.
func (in *instance) bindSandbox(p actor.Proc) error {
	in.bound = true
	g := actor.SandboxOf(p)
	if g == nil {
		return nil
	}
	cfg, err := in.m.sandboxConfig(g)
	if err != nil {
		return err
	}
	if err := in.guard.bind(cfg, in.m.Ref(), g.Name()); err != nil {
		return err
	}
	in.sbx = cfg
	in.watch(g.Done())
	if in.fs != nil {
		in.fs.sandbox(in.m, g)
	}
	return nil
}

// memGuard is an instance's memory allocator (wazero's experimental
// MemoryAllocator): outside a sandbox it grows the memory as wazero
// would; bound to a sandbox it refuses to grow past the instance's page
// cap and reserves every new page from the sandbox's budget first, so a
// memory.grow past either returns -1 in the guest. Free gives the
// reservation back.
type memGuard struct {
	mu       sync.Mutex
	g        *actor.SandboxGuest // nil: not in a sandbox
	capBytes uint64
	reserved uint64 // bytes held from the sandbox's budget
	mem      *linearMemory
	freed    bool // the instance is closed: nothing grows any more
}

type linearMemory struct {
	guard *memGuard
	buf   []byte
	max   uint64 // wazero's maximum (the module's max, or the host's cap)
}

var _ experimental.MemoryAllocator = (*memGuard)(nil)

// Allocate implements experimental.MemoryAllocator.
func (m *memGuard) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := &linearMemory{guard: m, max: maxBytes}
	if m.g != nil {
		capacity = min(capacity, m.capBytes)
	}
	l.buf = make([]byte, 0, min(capacity, maxBytes))
	m.mem = l
	return l
}

// bind puts the guard under cfg's sandbox: the memory it holds (if any)
// must fit the cap and the budget.
func (m *memGuard) bind(cfg *sandboxCfg, ref, sandbox string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	capBytes := uint64(cfg.capPages) * PageSize
	var size uint64
	if m.mem != nil {
		size = uint64(len(m.mem.buf))
	}
	if size > capBytes {
		return fmt.Errorf("%w: %s: memory of %d pages is over sandbox %q's cap of %d pages", ErrSandboxRefused, ref, size/PageSize, sandbox, cfg.capPages)
	}
	if err := cfg.guest.ReserveMemory(int64(size)); err != nil {
		return fmt.Errorf("%s: memory of %d bytes: %w", ref, size, err)
	}
	m.g, m.capBytes, m.reserved = cfg.guest, capBytes, size
	return nil
}

// prereserve binds an unallocated guard and reserves n bytes ahead (the
// memory's minimum, which wazero allocates at instantiation and cannot
// be refused then).
func (m *memGuard) prereserve(cfg *sandboxCfg, n uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := cfg.guest.ReserveMemory(int64(n)); err != nil {
		return err
	}
	m.g, m.capBytes, m.reserved = cfg.guest, uint64(cfg.capPages)*PageSize, n
	return nil
}

// release gives the reservation back (Free, or a failed instantiation).
func (m *memGuard) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.g != nil && m.reserved > 0 {
		m.g.ReleaseMemory(int64(m.reserved))
	}
	m.reserved, m.freed = 0, true
	if m.mem != nil {
		m.mem.buf = nil
	}
}

// Reallocate implements experimental.LinearMemory: nil refuses the growth
// (memory.grow returns -1).
func (l *linearMemory) Reallocate(size uint64) []byte {
	m := l.guard
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > l.max || m.freed {
		return nil
	}
	limit := l.max
	if m.g != nil {
		if size > m.capBytes {
			return nil
		}
		if size > m.reserved {
			if m.g.ReserveMemory(int64(size-m.reserved)) != nil {
				return nil
			}
			m.reserved = size
		}
		limit = min(limit, m.capBytes)
	}
	if size <= uint64(cap(l.buf)) {
		l.buf = l.buf[:size]
		return l.buf
	}
	nb := make([]byte, size, min(max(size, 2*uint64(cap(l.buf))), limit))
	copy(nb, l.buf)
	l.buf = nb
	return nb
}

// Free implements experimental.LinearMemory.
func (l *linearMemory) Free() { l.guard.release() }

// sandbox moves a WASI directory under the sandbox's (WASIDir/_sandboxes/
// <sandbox>/<node>_<seq>) and caps its open files at the policy's
// max_file_handles. Called before bind.
func (f *wasiFS) sandbox(m *Module, g *actor.SandboxGuest) {
	f.base = filepath.Join(m.host.cfg.WASIDir, SandboxDirName, g.Name())
	if n := g.Policy().MaxFileHandles; n > 0 && int32(n) < f.max {
		f.max = int32(n)
	}
}

// watch closes the instance when its process exits: a process the runtime
// kills (the sandbox's deadline on the runtime's clock, a kill_process
// response, an operator's kill) has its guest stopped inside the running
// callback at once, and its memory given back to the sandbox, instead of
// running on to the callback's own deadline. The watcher holds the closer
// only, and ends when the instance is closed otherwise.
func (in *instance) watch(done <-chan struct{}) {
	c := in.closer
	go func() {
		select {
		case <-done:
			c.close()
		case <-c.gone:
		}
	}()
}
