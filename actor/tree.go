package actor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steward/steward/spec"
)

// TreeStatus is a tree's lifecycle as the runtime sees it.
type TreeStatus string

const (
	TreeRunning TreeStatus = "running"
	// TreeFailed: the root supervisor exited on its own (it exceeded its
	// restart intensity, shut itself down by auto_shutdown, or was
	// killed). The node decides what next; StopTree clears it.
	TreeFailed TreeStatus = "failed"
)

// treeState is one running (or failed) tree.
type treeState struct {
	rt      *Runtime
	name    string
	flow    atomic.Pointer[flowTable]
	history atomic.Pointer[historyConfig]
	// sb is set before the root starts and never changes; nil for an
	// unsandboxed tree.
	sb *sandboxState

	mu        sync.Mutex
	spec      spec.Tree
	root      *process
	status    TreeStatus
	reason    Reason
	startedAt time.Time
	started   bool
	stopping  bool
	procs     map[uint64]*process
	hist      map[uint64]*historyRing
	deadHist  []uint64
	histTimer Timer
	// failOwed: the tree is marked failed and its tree_failed event is
	// not out yet (Quiescent waits for it).
	failOwed bool
	// initial holds the states the workers take at the tree's first start
	// (StartTreeWith); nil once it has started.
	initial *initialStates
}

// takeInitial hands out path's initial state (StartTreeWith), once, while
// the tree starts.
func (t *treeState) takeInitial(path string) (*initialStates, InitialState, bool) {
	t.mu.Lock()
	init := t.initial
	t.mu.Unlock()
	st, ok := init.take(path)
	return init, st, ok
}

func (t *treeState) add(p *process) {
	t.mu.Lock()
	t.procs[p.pid.Seq] = p
	t.mu.Unlock()
}

func (t *treeState) remove(p *process) {
	t.mu.Lock()
	delete(t.procs, p.pid.Seq)
	if _, ok := t.hist[p.pid.Seq]; ok {
		t.deadHist = append(t.deadHist, p.pid.Seq)
		if len(t.deadHist) > maxDeadHistories {
			delete(t.hist, t.deadHist[0])
			t.deadHist = t.deadHist[1:]
		}
	}
	t.mu.Unlock()
}

func (t *treeState) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.procs)
}

// rootExited is the root supervisor's exit hook.
func (t *treeState) rootExited(reason Reason) {
	t.mu.Lock()
	if !t.started || t.stopping || t.status == TreeFailed {
		t.mu.Unlock()
		return
	}
	t.status, t.reason = TreeFailed, reason
	t.failOwed = true
	root := t.root.pid
	t.mu.Unlock()
	t.rt.log.Warn("tree failed", "tree", t.name, "reason", string(reason))
	t.rt.emitTree(EventTreeFailed, t.name, root, reason, "")
	t.mu.Lock()
	t.failOwed = false
	t.mu.Unlock()
}

func (rt *Runtime) tree(name string) *treeState {
	rt.treesRW.RLock()
	defer rt.treesRW.RUnlock()
	return rt.trees[name]
}

// ApplyTree makes the named tree match t: it starts the tree if absent;
// otherwise it updates it in place — children missing from the running
// tree start, removed ones stop, changed ones are replaced, strategy and
// intensity change in place — leaving unchanged children (and their PIDs)
// alone. A move of the root to or from simple_one_for_one restarts the
// whole tree.
//
// ctx bounds the wait (starting children waits for their Init; there is
// no default timeout); if it ends, the tree carries on toward the spec.
//
// The whole spec is validated first — spec.Validate with this runtime's
// catalog and limits, then each behavior's args, registered names held by
// processes outside the tree, MaxProcesses and placement; a refused spec
// touches nothing and the error wraps ErrInvalidSpec (and the spec
// package's problem kinds: spec.ErrUnknownBehavior, spec.ErrDuplicate,
// spec.ErrLimit, spec.ErrBadValue...). A child whose init fails during an update
// is reported in the error and left out, so the next ApplyTree of the
// same spec tries it again. Applying to a failed tree returns
// ErrTreeFailed (StopTree it first). Simple_one_for_one instances are not
// part of the spec and are kept.
func (rt *Runtime) ApplyTree(ctx context.Context, t spec.Tree) error {
	return rt.applyTree(ctx, t, nil, nil)
}

// ApplySandbox is ApplyTree for a sandboxed tree: a tree it starts runs
// under pol from its root's spawn on (no process of it ever runs
// unchecked); a running sandboxed tree is updated in place and takes pol
// at once. A running unsandboxed tree is refused (ErrNotSandboxed: StopTree
// it first), and ApplyTree on a sandboxed tree keeps its policy. pol's
// zero values take their defaults (isolation moderate, monitoring every
// DefaultMonitorInterval, response kill_process, no limit); a bad policy
// wraps ErrBadSandbox.
func (rt *Runtime) ApplySandbox(ctx context.Context, t spec.Tree, pol SandboxPolicy) error {
	if err := pol.Validate(); err != nil {
		return err
	}
	pol = pol.withDefaults()
	return rt.applyTree(ctx, t, &pol, nil)
}

// applyTree starts or updates a tree; init, for StartTreeWith, holds the
// states its workers start with, and then the tree must not run.
func (rt *Runtime) applyTree(ctx context.Context, t spec.Tree, pol *SandboxPolicy, init *initialStates) error {
	if rt.stopped.Load() {
		return ErrStopped
	}
	rt.treesMu.Lock()
	defer rt.treesMu.Unlock()
	if rt.stopped.Load() { // Shutdown won the race for treesMu
		return ErrStopped
	}
	cur := rt.tree(t.Name)
	if init != nil && cur != nil {
		return fmt.Errorf("%w: %q: start it with initial states only when it does not run", ErrTreeExists, t.Name)
	}
	ss, procs, err := rt.compileTreeCounted(t, cur)
	if err != nil {
		return err
	}
	limit := pol
	if limit == nil && cur != nil && cur.sb != nil {
		limit = &cur.sb.policy().SandboxPolicy
	}
	if limit != nil && limit.MaxProcesses > 0 && procs > limit.MaxProcesses {
		return fmt.Errorf("%w: tree %q: %w: it needs %d processes, the sandbox's max_processes is %d",
			ErrInvalidSpec, t.Name, ErrTooManyProcesses, procs, limit.MaxProcesses)
	}
	if cur == nil {
		return rt.startTree(t, ss, nil, pol, init)
	}
	if pol != nil {
		if cur.sb == nil {
			return fmt.Errorf("%w: %q runs unsandboxed: StopTree it before applying it as a sandbox", ErrNotSandboxed, t.Name)
		}
		cur.sb.pol.Store(compileSandboxPolicy(*pol))
	}
	cur.mu.Lock()
	status, root, prev := cur.status, cur.root, cur.spec
	cur.mu.Unlock()
	if status == TreeFailed {
		return fmt.Errorf("%w: %q: StopTree it before applying it again", ErrTreeFailed, t.Name)
	}
	if (ss.policy.Strategy == spec.SimpleOneForOne) != (root.sup.snapshot().policy.Strategy == spec.SimpleOneForOne) {
		tracing := cur.tracing()
		var keep *SandboxPolicy
		if cur.sb != nil {
			p := cur.sb.policy().SandboxPolicy
			keep = &p
		}
		if err := rt.stopTreeLocked(ctx, cur, "replaced: root strategy moved to or from simple_one_for_one"); err != nil {
			return err
		}
		err := rt.startTree(t, ss, &tracing, keep, nil)
		if err == nil {
			return nil
		}
		// The new tree did not start: the old one runs again.
		pss, _, perr := rt.compileTreeCounted(prev, nil)
		if perr == nil {
			perr = rt.startTree(prev, pss, &tracing, keep, nil)
		}
		if perr != nil {
			return fmt.Errorf("%w; starting its previous spec again: %w", err, perr)
		}
		return fmt.Errorf("%w; it runs its previous spec again", err)
	}
	before := presence(root)
	r, err := rt.supCall(ctx, root, supApply{ctx: ctx, spec: ss})
	res, answered := r.val.(applyResult)
	if answered && !res.empty() {
		rt.emitTree(EventTreeUpdated, t.Name, root.pid, "", res.String())
	}
	runs := t
	if err != nil && answered {
		// The update was refused in part: what runs is t, less the new
		// children that failed to start, with each running child whose
		// replacement failed started again from the spec it ran.
		var restored bool
		runs.SupervisorSpec, restored = runningSpec(prev.SupervisorSpec, t.SupervisorSpec, "", before, presence(root))
		if restored {
			err = errors.Join(err, rt.restoreLocked(ctx, cur, runs))
		}
	}
	// Without an answer (ctx ended) the root carries on toward t.
	cur.mu.Lock()
	cur.spec = runs
	cur.mu.Unlock()
	if err != nil {
		return fmt.Errorf("tree %q: %w", t.Name, err)
	}
	return nil
}

// restoreLocked applies runs, the spec a partly refused update left
// running with the children whose replacement failed put back on their
// previous specs: only those start.
func (rt *Runtime) restoreLocked(ctx context.Context, cur *treeState, runs spec.Tree) error {
	ss, _, err := rt.compileTreeCounted(runs, cur)
	if err != nil {
		return fmt.Errorf("restoring the children whose new spec failed: %w", err)
	}
	r, err := rt.supCall(ctx, cur.root, supApply{ctx: ctx, spec: ss})
	if res, ok := r.val.(applyResult); ok && !res.empty() {
		rt.emitTree(EventTreeUpdated, runs.Name, cur.root.pid, "", "restored after a refused change: "+res.String())
	}
	if err != nil {
		return fmt.Errorf("restoring the children whose new spec failed: %w", err)
	}
	return nil
}

// presence is the set of child paths (static children, nested
// supervisors walked) that have an entry in a supervisor under root, as
// last published.
func presence(root *process) map[string]bool {
	out := map[string]bool{}
	var walk func(p *process, path string)
	walk = func(p *process, path string) {
		if p == nil || p.sup == nil {
			return
		}
		for _, c := range p.sup.snapshot().children.all() {
			if c.dynamic {
				continue
			}
			cp := joinPath(path, c.spec.id)
			out[cp] = true
			walk(c.proc, cp)
		}
	}
	walk(root, "")
	return out
}

// runningSpec is the spec of what runs after an update from prev to want
// that failed in part, given which child paths had an entry before and
// after it: want's children with an entry; for a child that had one
// before, lost it and that prev has (its replacement failed to start),
// prev's spec, and restored is set; want's children without an entry that
// prev has with the same spec (a temporary child that exited, or one
// that failed before too). New or changed children that have no entry
// failed to start and are left out. Simple_one_for_one supervisors have
// no static children: want is what they run.
func runningSpec(prev, want spec.SupervisorSpec, path string, before, after map[string]bool) (spec.SupervisorSpec, bool) {
	if want.Strategy == spec.SimpleOneForOne {
		return want, false
	}
	old := make(map[string]spec.ChildSpec, len(prev.Children))
	if prev.Strategy != spec.SimpleOneForOne {
		for _, cs := range prev.Children {
			old[cs.ID] = cs
		}
	}
	out := want
	out.Children = make([]spec.ChildSpec, 0, len(want.Children))
	restored := false
	for _, cs := range want.Children {
		cp := joinPath(path, cs.ID)
		o, had := old[cs.ID]
		switch {
		case after[cp]:
			if cs.Type == spec.Supervisor {
				var op spec.SupervisorSpec
				if had && o.Type == spec.Supervisor {
					op = o.SupervisorSpec
				}
				var r bool
				cs.SupervisorSpec, r = runningSpec(op, cs.SupervisorSpec, cp, before, after)
				restored = restored || r
			}
			out.Children = append(out.Children, cs)
		case before[cp] && had && !reflect.DeepEqual(o, cs):
			out.Children = append(out.Children, o)
			restored = true
		case had && reflect.DeepEqual(o, cs):
			out.Children = append(out.Children, cs)
		}
	}
	return out, restored
}

func (r applyResult) String() string {
	var parts []string
	if r.policy {
		parts = append(parts, "policy changed")
	}
	for _, x := range []struct {
		label string
		ids   []string
	}{{"added", r.added}, {"removed", r.removed}, {"changed", r.changed}} {
		if len(x.ids) > 0 {
			parts = append(parts, x.label+" "+strings.Join(x.ids, ","))
		}
	}
	return strings.Join(parts, "; ")
}

// startTree starts a validated tree and registers it.
func (rt *Runtime) startTree(t spec.Tree, ss *supSpec, tracing *Tracing, pol *SandboxPolicy, init *initialStates) error {
	ts := &treeState{
		rt: rt, name: t.Name, spec: t, status: TreeRunning,
		procs: make(map[uint64]*process), hist: make(map[uint64]*historyRing),
		initial: init,
	}
	if pol != nil {
		ts.sb = newSandbox(rt, ts, *pol)
	}
	root, err := rt.startSupervisor(nil, ts, "", ss, 0, 0, ts.rootExited)
	if err != nil {
		return fmt.Errorf("tree %q: %w", t.Name, err)
	}
	ts.mu.Lock()
	ts.root, ts.started, ts.startedAt = root, true, root.startedAt
	ts.initial = nil // the first start has taken what it would
	ts.mu.Unlock()
	rt.treesRW.Lock()
	rt.trees[t.Name] = ts
	rt.treesRW.Unlock()
	rt.emitTree(EventTreeStarted, t.Name, root.pid, "", "")
	if !root.isAlive() {
		ts.rootExited(root.exitReasonAfterDone())
	}
	if tracing != nil {
		rt.setTracing(ts, *tracing)
	}
	return nil
}

// StopTree stops a tree: the root supervisor stops its children in
// reverse order, each with its shutdown policy. If ctx ends first the
// root is killed (its children die with it). A failed tree is just
// forgotten.
func (rt *Runtime) StopTree(ctx context.Context, name string) error {
	return rt.stopTree(ctx, name)
}

func (rt *Runtime) stopTree(ctx context.Context, name string) error {
	rt.treesMu.Lock()
	defer rt.treesMu.Unlock()
	ts := rt.tree(name)
	if ts == nil {
		return fmt.Errorf("%w: %q", ErrTreeNotFound, name)
	}
	return rt.stopTreeLocked(ctx, ts, "")
}

func (rt *Runtime) stopTreeLocked(ctx context.Context, ts *treeState, detail string) error {
	ts.mu.Lock()
	ts.stopping = true
	root := ts.root
	if ts.histTimer != nil {
		ts.histTimer.Stop()
		ts.histTimer = nil
	}
	ts.mu.Unlock()
	ts.history.Store(nil)
	ts.flow.Store(nil)
	var err error
	if root.requestStop(Shutdown) {
		select {
		case <-root.done:
		case <-ctx.Done():
			rt.exitProc(root, Killed)
			err = fmt.Errorf("tree %q: stop did not finish, root killed: %w", ts.name, ctx.Err())
		}
	}
	rt.treesRW.Lock()
	delete(rt.trees, ts.name)
	rt.treesRW.Unlock()
	rt.emitTree(EventTreeStopped, ts.name, root.pid, Shutdown, detail)
	return err
}

// TreeInfo describes one tree.
type TreeInfo struct {
	Name   string     `json:"name"`
	Root   PID        `json:"root"`
	Status TreeStatus `json:"status"`
	// Reason is why a failed tree's root exited.
	Reason Reason `json:"reason,omitempty"`
	// Spec is the spec last applied. Operator changes (StartChild,
	// DeleteChild, SetPolicy) show in WhichChildren, not here, and the
	// next ApplyTree moves the tree back to its spec.
	Spec      spec.Tree `json:"spec"`
	StartedAt time.Time `json:"started_at"`
	// Processes is the number of live processes in the tree.
	Processes int     `json:"processes"`
	Tracing   Tracing `json:"tracing"`
}

func (t *treeState) info() TreeInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TreeInfo{
		Name: t.name, Root: t.root.pid, Status: t.status, Reason: t.reason, Spec: t.spec,
		StartedAt: t.startedAt, Processes: len(t.procs), Tracing: t.tracingLocked(),
	}
}

// Trees lists the trees on this node, sorted by name.
func (rt *Runtime) Trees() []TreeInfo {
	rt.treesRW.RLock()
	list := make([]*treeState, 0, len(rt.trees))
	for _, t := range rt.trees {
		list = append(list, t)
	}
	rt.treesRW.RUnlock()
	out := make([]TreeInfo, len(list))
	for i, t := range list {
		out[i] = t.info()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Tree describes one tree.
func (rt *Runtime) Tree(name string) (TreeInfo, error) {
	t := rt.tree(name)
	if t == nil {
		return TreeInfo{}, fmt.Errorf("%w: %q", ErrTreeNotFound, name)
	}
	return t.info(), nil
}
