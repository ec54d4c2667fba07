package deploy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
)

// Convergence: a worker whose spec follows a module's active version
// (module = "counter") takes that version when it starts, from this
// node's replica. It can start on a version that is not, or no longer,
// the active one: on a node restarted from an older snapshot, whose
// replica had not yet applied the deployment that moved the version; or
// as a new tree or start_child while a deployment runs, which is not one
// of its targets. Nothing else would move it afterwards, so each node
// runs this loop: whenever no deployment of the module is under way and
// the module's newest deployment ended successful or reverted, or failed
// after its revert began (or there is none), every local worker
// following the module on another version is moved onto the active one, as a deployment moves it (code_change
// between two messages, up or down; see actor.Runtime.ChangeCode).
//
// What it leaves alone: pinned specs ("counter@1", "wasm:counter@1"),
// processes in sandboxes, and every process of a module whose newest
// deployment was cancelled or failed without a revert — those leave
// processes on two versions on purpose, until an operator reverts or
// deploys again. The
// loop reads only this node's replica (on a client agent, what its work
// stream brought), so it needs no leader.
const (
	// ConvergeRetry is the first wait before a process the loop could not
	// move is tried again (doubling per failure up to ConvergeRetryMax),
	// and the wait for a version not yet loaded into the catalog.
	ConvergeRetry    = 500 * time.Millisecond
	ConvergeRetryMax = 30 * time.Second
	// ConvergeMinInterval spaces the passes: a burst of starts (a tree
	// of thousands of children) wakes one pass per interval, not one per
	// start.
	ConvergeMinInterval = 100 * time.Millisecond
)

// EventConvergeFailed is published when the loop cannot move a process
// onto its module's active version (Reason: why; it is tried again).
const EventConvergeFailed actor.EventType = "converge_failed"

// converger is the loop's memory between passes: the processes it failed
// to move and when to try each again. mu makes passes one at a time;
// holds counts HoldConvergence's callers, during which passes do nothing.
type converger struct {
	l     *Layer
	mu    sync.Mutex
	holds int
	retry map[actor.PID]retryAt
	wake  chan struct{}
}

func newConverger(l *Layer) *converger {
	return &converger{l: l, retry: map[actor.PID]retryAt{}, wake: make(chan struct{}, 1)}
}

// HoldConvergence stops this node's convergence passes until release is
// called (a pass under way finishes first): for a benchmark or a test
// that moves processes by hand, outside any deployment, and must not have
// them moved back meanwhile. The loop looks again at release.
func (l *Layer) HoldConvergence() (release func()) {
	c := l.conv
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.holds--
			c.mu.Unlock()
			c.poke()
		})
	}
}

// poke wakes the loop for a pass.
func (c *converger) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

type retryAt struct {
	at   time.Time
	wait time.Duration
}

// converge runs the loop until ctx ends: a pass at start, then at every
// change of the module or deployment tables, at every local process
// start (a restart may take a version a code change had moved it off) or
// code change, and when a retry is due. Passes run one at a time.
func (l *Layer) converge(ctx context.Context) {
	c := l.conv
	sub := l.rt.Subscribe(256)
	defer sub.Close()
	go func() {
		for e := range sub.C {
			switch e.Type {
			case actor.EventSpawned, actor.EventRestarted, actor.EventChildStarted, actor.EventTreeStarted, actor.EventTreeUpdated,
				actor.EventCodeChanged:
				c.poke()
			}
		}
	}()
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		next := c.pass(ctx, st, ws)
		if ctx.Err() != nil {
			return
		}
		spacing := time.NewTimer(ConvergeMinInterval)
		select {
		case <-spacing.C:
		case <-ctx.Done():
			spacing.Stop()
			return
		}
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-c.wake:
				cancel()
			case <-wctx.Done():
			}
		}()
		_ = st.WaitChange(wctx, ws, next)
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// pass moves every local follower not on its module's active version,
// where the module's deployments allow it. It returns when the next pass
// is due without a change (zero: none is).
func (c *converger) pass(ctx context.Context, st *state.Store, ws memdb.WatchSet) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holds > 0 {
		return time.Time{}
	}
	l := c.l
	actives, err := st.ModuleActives(ws)
	if err != nil {
		l.logger.Error("converge: read active versions", "error", err)
		return time.Now().Add(ConvergeRetry)
	}
	if len(actives) == 0 {
		return time.Time{}
	}
	_, deps, err := st.Deployments(ws, "")
	if err != nil {
		l.logger.Error("converge: read deployments", "error", err)
		return time.Now().Add(ConvergeRetry)
	}
	settled := settledModules(actives, deps, func(d *pb.DeploymentRecord) bool {
		rec, _, err := st.Plan(ws, d.Id)
		if err != nil || rec == nil {
			return false
		}
		for _, stg := range rec.Stages {
			if stg.Kind == state.StageKindRollback {
				return true
			}
		}
		return false
	})
	if len(settled) == 0 {
		// No module to converge (none stored, or each in a deployment):
		// the processes need no look.
		return time.Time{}
	}
	var next time.Time
	due := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	sandboxed := sandboxedTrees(l.rt)
	live := map[actor.PID]bool{}
	for _, p := range l.rt.Processes() { // in PID order
		if ctx.Err() != nil {
			return next
		}
		if p.Supervisor || p.Module == "" {
			continue
		}
		ref, err := spec.ParseModuleRef(p.Module)
		if err != nil || ref.Pinned() {
			continue
		}
		want, ok := settled[ref.Name]
		if !ok || p.Behavior == want {
			continue
		}
		if sandboxed(p.Tree) {
			continue
		}
		live[p.PID] = true
		if r, ok := c.retry[p.PID]; ok && time.Now().Before(r.at) {
			due(r.at)
			continue
		}
		if _, err := l.rt.Catalog().Lookup(want); err != nil {
			// The active version is committed but not loaded here yet.
			due(time.Now().Add(ConvergeRetry))
			continue
		}
		if _, err := l.rt.ChangeCodeFrom(ctx, p.PID, p.Behavior, want); err != nil {
			if errors.Is(err, actor.ErrNoProc) || errors.Is(err, actor.ErrCodeMoved) || ctx.Err() != nil {
				// Gone meanwhile (its restart is another start), or moved
				// by someone else (the next pass looks again).
				continue
			}
			r := c.retry[p.PID]
			r.wait = min(max(2*r.wait, ConvergeRetry), ConvergeRetryMax)
			r.at = time.Now().Add(r.wait)
			c.retry[p.PID] = r
			due(r.at)
			l.logger.Warn("converge: could not move a process onto its module's active version; trying again",
				"pid", p.PID.String(), "tree", p.Tree, "child", p.ChildID, "from", p.Behavior, "to", want, "retry_in", r.wait, "error", err)
			l.rt.Publish(actor.Event{Type: EventConvergeFailed, PID: p.PID, Tree: p.Tree, ChildID: p.ChildID,
				Reason: actor.Reason(err.Error()), Detail: p.Behavior + " -> " + want})
			continue
		}
		delete(c.retry, p.PID)
		l.logger.Info("converge: moved a process onto its module's active version",
			"pid", p.PID.String(), "tree", p.Tree, "child", p.ChildID, "from", p.Behavior, "to", want)
	}
	for pid := range c.retry {
		if !live[pid] {
			delete(c.retry, pid)
		}
	}
	return next
}

// settledModules maps each module a node may converge to the behavior of
// its active version: those with an active version whose newest
// deployment (the first of deps, newest first, naming it) ended
// successful or reverted, or failed after its revert began (reverted
// says so: a rollback that could not reach every process, a node down
// or restarted, is finished by each node), or that have none. A module
// in a deployment under way (running, paused, awaiting promotion,
// reverting), or whose newest deployment was cancelled or failed without
// a revert, is left out.
func settledModules(actives []*pb.ModuleActive, deps []*pb.DeploymentRecord, reverted func(*pb.DeploymentRecord) bool) map[string]string {
	newest := map[string]*pb.DeploymentRecord{}
	for _, d := range deps {
		for _, m := range state.DeploymentModules(d) {
			if _, seen := newest[m.Module]; !seen {
				newest[m.Module] = d
			}
		}
	}
	out := map[string]string{}
	for _, a := range actives {
		if a.Version == "" {
			continue
		}
		if d, ok := newest[a.Name]; ok {
			switch state.DeploymentStatusOf(d) {
			case pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED:
			case pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED:
				if !reverted(d) {
					continue
				}
			default:
				continue
			}
		}
		out[a.Name] = store.BehaviorName(a.Name, a.Version)
	}
	return out
}
