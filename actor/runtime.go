package actor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// Runtime is one node's processes, supervisors and trees. It is safe for
// concurrent use; every method may be called from any goroutine.
type Runtime struct {
	cfg     Config
	node    string
	log     hclog.Logger
	clock   Clock
	router  Router
	catalog *Catalog

	base    uint64        // Creation*CreationSpan: seqs at or below it are earlier runs'
	seq     atomic.Uint64 // last PID sequence handed out (base before the first)
	count   atomic.Int64  // live processes
	refs    atomic.Uint64 // monitor references
	dropped atomic.Uint64 // unchecked sends to dead or unknown PIDs
	stopped atomic.Bool

	// procs maps a local PID's Seq to its live process. Reads are lock
	// free; it is written only at spawn and exit.
	procs sync.Map

	// topo is held for reading by every change of the process graph
	// (spawn, exit, link, monitor, register) and for writing by Validate,
	// so that a check sees no change half done. It is never held while
	// waiting, and never taken on the send path.
	topo sync.RWMutex

	names    nameTable
	events   *eventBus
	restarts restartLog
	settle   broadcast

	// treesMu serializes ApplyTree, StopTree and Shutdown; treesRW guards
	// the map for readers.
	treesMu sync.Mutex
	treesRW sync.RWMutex
	trees   map[string]*treeState
}

// New builds a runtime; it starts no goroutine until something is spawned.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.Catalog == nil {
		cfg.Catalog = NewCatalog()
	}
	rt := &Runtime{
		cfg:     cfg,
		node:    cfg.NodeName,
		log:     cfg.Logger.Named("runtime"),
		clock:   cfg.Clock,
		router:  cfg.Router,
		catalog: cfg.Catalog,
		base:    cfg.Creation * CreationSpan,
		names:   nameTable{m: make(map[string]*process)},
		events:  newEventBus(cfg.EventBuffer),
		trees:   make(map[string]*treeState),
	}
	rt.seq.Store(rt.base)
	return rt, nil
}

// Node is the node name in every local PID.
func (rt *Runtime) Node() string { return rt.node }

// Catalog is the behavior catalog the runtime resolves names with.
func (rt *Runtime) Catalog() *Catalog { return rt.catalog }

// Config returns the configuration in effect (defaults filled in).
func (rt *Runtime) Config() Config { return rt.cfg }

// lookup finds a live local process, telling unknown PIDs from dead ones.
func (rt *Runtime) lookup(pid PID) (*process, error) {
	if v, ok := rt.procs.Load(pid.Seq); ok {
		return v.(*process), nil
	}
	return nil, rt.missing(pid)
}

func (rt *Runtime) missing(pid PID) error {
	if pid.Node != rt.node {
		return fmt.Errorf("%w: %s is on node %q, not %q", ErrRemoteUnsupported, pid, pid.Node, rt.node)
	}
	if pid.Seq == 0 || pid.Seq > rt.seq.Load() {
		return fmt.Errorf("%w: %s was never spawned on this node", ErrUnknownPID, pid)
	}
	if pid.Seq <= rt.base {
		// Handed out by an earlier run (Config.Creation): whatever it
		// named died when the node stopped.
		return fmt.Errorf("%w: %s is from an earlier run of node %q (creation %d; this run is creation %d, its pids start at %s): the node restarted since, so that process has exited",
			ErrNoProc, pid, rt.node, pid.Seq/CreationSpan, rt.cfg.Creation, PID{Node: rt.node, Seq: rt.base + 1})
	}
	return fmt.Errorf("%w: %s has exited", ErrNoProc, pid)
}

// local resolves a PID that must name a live process of this node.
func (rt *Runtime) local(pid PID) (*process, error) {
	if pid.Node != rt.node {
		if pid.Node == "" {
			return nil, fmt.Errorf("%w: %q has no node", ErrUnknownPID, pid.String())
		}
		return nil, fmt.Errorf("%w: %s is on node %q, not %q", ErrRemoteUnsupported, pid, pid.Node, rt.node)
	}
	return rt.lookup(pid)
}

// SpawnOptions describe a standalone process (outside any tree).
type SpawnOptions struct {
	// Behavior is the catalog name to run, or only a display name when
	// Impl is set.
	Behavior string
	Args     map[string]string
	// Impl runs this instance instead of building one from the catalog.
	Impl Behavior
	// Name registers the process under this per-node name.
	Name string
	// Link links the new process, atomically at spawn, to this live local
	// process (spawn_link).
	Link PID
	// TrapExit starts the process trapping exits.
	TrapExit bool
}

// Spawn starts a standalone process and waits for its Init. If ctx ends
// first the process is killed and the error wraps ErrStartFailed.
func (rt *Runtime) Spawn(ctx context.Context, o SpawnOptions) (PID, error) {
	if rt.stopped.Load() {
		return PID{}, ErrStopped
	}
	b, version := o.Impl, ""
	if b == nil {
		var e Entry
		var err error
		b, e, err = rt.catalog.build(o.Behavior, o.Args)
		if err != nil {
			return PID{}, err
		}
		version = e.Version
	}
	if o.Name != "" {
		if err := checkRegName(o.Name); err != nil {
			return PID{}, err
		}
	}
	var link *process
	if !o.Link.IsZero() {
		l, err := rt.local(o.Link)
		if err != nil {
			return PID{}, fmt.Errorf("link: %w", err)
		}
		link = l
		if link.sb != nil {
			// The new process is standalone, so outside every sandbox.
			if err := link.sb.cross(OpSpawn, link, nil, PID{}, "", true); err != nil {
				return PID{}, fmt.Errorf("link: %w", err)
			}
		}
	}
	p, started, err := rt.spawn(spawnReq{
		beh: b, behavior: o.Behavior, version: version, args: o.Args,
		name: o.Name, link: link, trap: o.TrapExit,
	})
	if err != nil {
		return PID{}, err
	}
	select {
	case err := <-started:
		return p.pid, err
	case <-ctx.Done():
		rt.exitProc(p, Killed)
		return PID{}, fmt.Errorf("%w: %s: init did not finish: %w", ErrStartFailed, p.pid, ctx.Err())
	}
}

// spawnReq describes a process to create.
type spawnReq struct {
	beh      Behavior
	sup      *supervisor
	behavior string
	version  string
	module   string // the child spec's module ref, if it has one
	args     map[string]string
	parent   *process // linked, and its exit stops the child
	link     *process // linked only
	tree     *treeState
	path     string
	name     string
	trap     bool
	restarts int
	onExit   func(Reason)
	// initial is the state a worker starts with (StartTreeWith), and
	// onInitial is told the outcome of its import (see startWorker).
	initial   []byte
	onInitial func(error)
}

// spawn creates, publishes and starts a process; the returned channel
// yields the Init result. Publication (table, links, name, tree) happens
// atomically with respect to Validate.
func (rt *Runtime) spawn(r spawnReq) (*process, <-chan error, error) {
	if n := rt.count.Add(1); n > int64(rt.cfg.MaxProcesses) {
		rt.count.Add(-1)
		return nil, nil, fmt.Errorf("%w: the node runs %d (MaxProcesses)", ErrTooManyProcesses, rt.cfg.MaxProcesses)
	}
	var sb *sandboxState
	if r.tree != nil && r.tree.sb != nil {
		sb = r.tree.sb
		if err := sb.reserve(); err != nil {
			rt.count.Add(-1)
			return nil, nil, err
		}
	}
	p := &process{
		rt:        rt,
		pid:       PID{Node: rt.node, Seq: rt.seq.Add(1)},
		sup:       r.sup,
		tree:      r.tree,
		path:      r.path,
		module:    r.module,
		args:      r.args,
		beh:       r.beh,
		behavior:  r.behavior,
		version:   r.version,
		startedAt: rt.clock.Now(),
		restarts:  r.restarts,
		limit:     rt.cfg.MailboxLimit,
		onExit:    r.onExit,
		initial:   r.initial,
		sb:        sb,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	if r.onInitial != nil {
		p.initDone, p.importDone = make(chan struct{}), make(chan struct{})
	}
	if r.parent != nil {
		p.parent = r.parent.pid
	}
	p.trap.Store(r.trap)
	if sb != nil {
		p.limit = sb.limitMailbox(p.limit)
	}

	rt.topo.RLock()
	fail := func(err error) (*process, <-chan error, error) {
		rt.topo.RUnlock()
		rt.count.Add(-1)
		if sb != nil {
			sb.unreserve()
		}
		return nil, nil, err
	}
	for _, l := range []*process{r.parent, r.link} {
		if l == nil {
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			rt.unlinkAll(p)
			return fail(fmt.Errorf("link: %w", errNoProc(l.pid)))
		}
		if l.links == nil {
			l.links = make(map[uint64]*process)
		}
		l.links[p.pid.Seq] = p
		l.mu.Unlock()
		if p.links == nil {
			p.links = make(map[uint64]*process, 1)
		}
		p.links[l.pid.Seq] = l
	}
	if r.name != "" {
		if err := rt.names.claim(r.name, p); err != nil {
			rt.unlinkAll(p)
			return fail(err)
		}
		p.name = r.name
	}
	if r.tree != nil {
		r.tree.add(p)
	}
	if sb != nil {
		p.sbp = sb.joined(p)
	}
	rt.procs.Store(p.pid.Seq, p)
	rt.topo.RUnlock()

	rt.emit(EventSpawned, p, "", p.behavior)
	started := make(chan error, 1)
	if r.sup != nil {
		r.sup.p = p
		go r.sup.run(started)
	} else {
		go p.runWorker(started)
	}
	return p, started, nil
}

// unlinkAll removes a not-yet-published process from its peers' link sets.
func (rt *Runtime) unlinkAll(p *process) {
	for _, l := range p.links {
		l.mu.Lock()
		delete(l.links, p.pid.Seq)
		l.mu.Unlock()
	}
	p.links = nil
}

// Shutdown stops every tree (each supervisor stopping its children in
// reverse order with their shutdown policies), then kills the remaining
// standalone processes with reason shutdown. Afterwards every operation
// fails with ErrStopped.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	if rt.stopped.Swap(true) {
		return nil
	}
	rt.treesRW.RLock()
	names := make([]string, 0, len(rt.trees))
	for n := range rt.trees {
		names = append(names, n)
	}
	rt.treesRW.RUnlock()
	var firstErr error
	for _, n := range names {
		if err := rt.stopTree(ctx, n); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	rt.procs.Range(func(_, v any) bool {
		rt.exitProc(v.(*process), Shutdown)
		return true
	})
	return firstErr
}

// broadcast wakes every waiter on each notify; waiters register first so
// no notification is missed.
type broadcast struct {
	waiters atomic.Int32
	mu      sync.Mutex
	ch      chan struct{}
}

// wait returns a channel closed by the next notify.
func (b *broadcast) wait() (<-chan struct{}, func()) {
	b.waiters.Add(1)
	b.mu.Lock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	ch := b.ch
	b.mu.Unlock()
	return ch, func() { b.waiters.Add(-1) }
}

func (b *broadcast) notify() {
	if b.waiters.Load() == 0 {
		return
	}
	b.mu.Lock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	b.mu.Unlock()
}
