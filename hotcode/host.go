package hotcode

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Host runs WebAssembly modules on one node: one wazero runtime with the
// page cap, a compilation cache (on disk when Config.CacheDir is set),
// callbacks stopped at their deadline, the steward host module, and the
// module versions compiled so far. It is safe for concurrent use.
type Host struct {
	cfg    Config
	log    hclog.Logger
	rt     wazero.Runtime
	cache  wazero.CompilationCache // owned; nil when shared
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	modules map[string]*Module // by ref, name@version
	wasi    bool               // WASI instantiated in rt
	closed  bool

	sys  atomic.Pointer[systemBox]
	live atomic.Int64
}

type systemBox struct{ s System }

// NewHost builds a host.
func NewHost(ctx context.Context, cfg Config) (*Host, error) {
	return newHost(ctx, cfg, nil)
}

// newHost builds a host over a given compilation cache (nil: its own,
// from cfg.CacheDir), which it does not close.
func newHost(ctx context.Context, cfg Config, shared wazero.CompilationCache) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cache, ownCache := shared, shared == nil
	switch {
	case !ownCache:
	case cfg.CacheDir != "":
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: CacheDir: %w", ErrBadOptions, err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("%w: CacheDir: %w", ErrBadOptions, err)
		}
		cache = c
	default:
		cache = wazero.NewCompilationCache()
	}
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.MaxMemoryPages).
		WithCompilationCache(cache).
		WithCloseOnContextDone(true).
		WithCustomSections(true)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateHostModule(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		if ownCache {
			_ = cache.Close(ctx)
		}
		return nil, fmt.Errorf("hotcode: host module: %w", err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	h := &Host{
		cfg: cfg, log: log.Named("hotcode"), rt: rt,
		ctx: hctx, cancel: cancel, modules: map[string]*Module{},
	}
	if ownCache {
		h.cache = cache
	}
	return h, nil
}

// Bind gives the dangerous host functions (register, spawn, exit of
// another process) the runtime they act on; until then they answer
// "unavailable".
func (h *Host) Bind(s System) { h.sys.Store(&systemBox{s}) }

func (h *Host) system() System {
	if b := h.sys.Load(); b != nil {
		return b.s
	}
	return nil
}

// Config returns the host's configuration.
func (h *Host) Config() Config { return h.cfg }

// Compile checks and compiles a module (once: the same bytes again return
// the same *Module). The checks are validation's at permissive without a
// pushed name (the leader validated the push at its level); a different
// binary under a loaded name@version is refused with ErrVersionConflict.
func (h *Host) Compile(ctx context.Context, bin []byte) (*Module, error) {
	return h.compile(ctx, bin, true)
}

func (h *Host) compile(ctx context.Context, bin []byte, check bool) (*Module, error) {
	sum := sha256.Sum256(bin)
	h.mu.Lock()
	closed := h.closed
	for _, m := range h.modules {
		if m.sum == sum {
			h.mu.Unlock()
			return m, nil
		}
	}
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	var cm wazero.CompiledModule
	var err error
	if check {
		c := &checker{opts: ValidateOptions{Level: Permissive, MaxMemoryPages: h.cfg.MaxMemoryPages}, rep: &Report{Level: Permissive}}
		cm = c.static(ctx, bin, func(b []byte) (wazero.CompiledModule, error) { return h.rt.CompileModule(ctx, b) })
		_, err = c.result()
	} else {
		cm, err = h.rt.CompileModule(ctx, bin)
	}
	if err != nil {
		if cm != nil {
			_ = cm.Close(ctx)
		}
		return nil, err
	}
	m, err := newModule(h, cm, sum)
	if err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	if m.wasi != nil {
		if err := h.enableWASI(ctx); err != nil {
			_ = cm.Close(ctx)
			return nil, err
		}
		if m.wasi.FSDir != "" && h.cfg.WASIDir == "" {
			_ = cm.Close(ctx)
			return nil, fmt.Errorf("%w: module %s declares fs_dir %q but the host has no WASIDir", ErrBadOptions, m.Ref(), m.wasi.FSDir)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.modules[m.Ref()]; ok {
		_ = cm.Close(ctx)
		if old.sum == sum {
			return old, nil
		}
		return nil, fmt.Errorf("%w: %s (loaded %x, this %x)", ErrVersionConflict, m.Ref(), old.sum[:6], sum[:6])
	}
	h.modules[m.Ref()] = m
	return m, nil
}

func (h *Host) enableWASI(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.wasi {
		return nil
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		return fmt.Errorf("hotcode: wasi: %w", err)
	}
	h.wasi = true
	return nil
}

// Module returns a loaded module version.
func (h *Host) Module(name, version string) (*Module, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.modules[Ref(name, version)]
	return m, ok
}

// Modules lists the loaded module versions' refs, sorted.
func (h *Host) Modules() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.modules))
	for r := range h.modules {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Instances is the number of live module instances (one per process
// running a module, plus any code change in progress).
func (h *Host) Instances() int { return int(h.live.Load()) }

// Close stops every running callback and frees every instance and
// compiled module.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	err := h.rt.Close(ctx)
	if h.cache != nil {
		if cerr := h.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

func (h *Host) unload(m *Module) {
	h.mu.Lock()
	if h.modules[m.Ref()] == m {
		delete(h.modules, m.Ref())
	}
	h.mu.Unlock()
}
