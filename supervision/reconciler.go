package supervision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// Events the reconciler adds to the node's stream.
const (
	// EventSpecApplied: a committed spec was applied to the runtime
	// (Detail says started, updated or restarted, and the spec index).
	EventSpecApplied actor.EventType = "spec_applied"
	// EventSpecRejected: the runtime refused a committed spec (Reason).
	EventSpecRejected actor.EventType = "spec_rejected"
	// EventTreeRemoved: a tree no longer placed here was stopped.
	EventTreeRemoved actor.EventType = "tree_removed"
	// EventTreeRestartScheduled: a failed tree will be started again after
	// a backoff (Detail says when).
	EventTreeRestartScheduled actor.EventType = "tree_restart_scheduled"
)

// reconcilerEvents are the event types above, the ones WatchTree follows.
var reconcilerEvents = []string{string(EventSpecApplied), string(EventSpecRejected), string(EventTreeRemoved), string(EventTreeRestartScheduled)}

// reconciler brings the local runtime to the trees committed for this node.
// It is the only writer of trees to the runtime; every pass is idempotent.
type reconciler struct {
	l *Layer

	mu sync.Mutex
	// done records, per tree, the spec index applied to the runtime.
	done map[string]uint64
	// retry holds failed or refused trees waiting for their backoff.
	retry map[string]*backoff
	// sandboxes are the sandbox records of the current pass, by name:
	// trees run under a policy (sandbox.Start), keyed by placement.
	sandboxes map[string]*pb.SandboxRecord
	// reported records, per sandbox, the last status this node committed
	// (or is committing) for a placement, so a pass does not propose it
	// again while the replica catches up.
	reported map[string]sandboxReport
	// restored records, per tree, what its start brought back of the
	// states its record carried (TreeRecord.restore), at the spec index
	// of that start.
	restored map[string]restoredAt
}

type restoredAt struct {
	index   uint64
	outcome *pb.TreeRestoreOutcome
}

type sandboxReport struct {
	placed uint64
	status string
}

type backoff struct {
	index    uint64 // spec index the failures are about
	attempts int
	// next is when the next attempt may run; zero when none is pending.
	next time.Time
	// started is when the tree was last (re)started after a failure.
	started time.Time
	// rejected is why the runtime last refused the spec at index (empty:
	// the failures are the tree's own, not a refusal).
	rejected string
}

func newReconciler(l *Layer) *reconciler {
	return &reconciler{l: l, done: map[string]uint64{}, retry: map[string]*backoff{}, reported: map[string]sandboxReport{}, restored: map[string]restoredAt{}}
}

// restoreOutcome is what the start of tree at spec index idx brought back
// of its record's restore states (nil: that start took none).
func (r *reconciler) restoreOutcome(tree string, idx uint64) *pb.TreeRestoreOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ra, ok := r.restored[tree]; ok && ra.index == idx {
		return ra.outcome
	}
	return nil
}

// restoreStates are the states a tree's start takes from its record: only
// on a start afresh (not isRunning), before the record's restore window
// ends.
func (r *reconciler) restoreStates(rec *pb.TreeRecord, isRunning bool) map[string]actor.InitialState {
	rs := rec.GetRestore()
	if isRunning || rs == nil || len(rs.States) == 0 || !r.l.clock.Now().Before(time.Unix(0, rs.UntilUnixNano)) {
		return nil
	}
	out := make(map[string]actor.InitialState, len(rs.States))
	for _, s := range rs.States {
		out[s.Path] = actor.InitialState{Behavior: s.Behavior, State: s.State}
	}
	return out
}

func (r *reconciler) applied(tree string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[tree]
}

// rejection is the spec index the runtime last refused for tree and why,
// while that index is the one the reconciler is retrying.
func (r *reconciler) rejection(tree string) (uint64, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.retry[tree]; b != nil && b.rejected != "" {
		return b.index, b.rejected, true
	}
	return 0, "", false
}

// SpecRejected reports whether the runtime refused the spec committed for
// tree at index, and why; the tree then runs the spec of AppliedIndex (an
// update that fails is undone whole), until a retry or a new spec
// succeeds.
func (l *Layer) SpecRejected(tree string) (index uint64, reason string, ok bool) {
	return l.rec.rejection(tree)
}

func (r *reconciler) run() {
	sub := r.l.rt.Subscribe(64)
	defer sub.Close()
	clk := r.l.clock
	resync := clk.NewTimer(r.l.cfg.ResyncInterval)
	defer resync.Stop()
	for {
		st := r.l.node.State()
		ws := memdb.NewWatchSet()
		_, recs, err := st.Trees(ws, "")
		var sbs []*pb.SandboxRecord
		if err == nil {
			_, sbs, err = st.Sandboxes(ws, "")
		}
		var wakeAt time.Time
		if err != nil {
			r.l.logger.Error("reconcile: read trees", "error", err)
		} else {
			r.setSandboxes(sbs)
			wakeAt = r.pass(append(recs, sandboxTrees(sbs)...))
		}
		var retryC <-chan time.Time
		var retryT clock.Timer
		if !wakeAt.IsZero() {
			retryT = clk.NewTimer(wakeAt.Sub(clk.Now()))
			retryC = retryT.C()
		}
		ctx, cancel := context.WithCancel(context.Background())
		changed := ws.WatchCh(ctx)
	wait:
		for {
			select {
			case <-changed:
				break wait
			case <-st.AbandonCh():
				break wait
			case e, ok := <-sub.C:
				if !ok {
					cancel()
					return
				}
				if e.Type == actor.EventTreeFailed {
					break wait
				}
			case <-resync.C():
				resync.Reset(r.l.cfg.ResyncInterval)
				break wait
			case <-retryC:
				break wait
			case <-r.l.stopCh:
				cancel()
				return
			}
		}
		cancel()
		if retryT != nil {
			retryT.Stop()
		}
	}
}

// pass reconciles every tree once and returns when the next backoff ends
// (zero: nothing waits).
func (r *reconciler) pass(recs []*pb.TreeRecord) time.Time {
	self := r.l.node.Name()
	desired := map[string]*pb.TreeRecord{}
	for _, rec := range recs {
		if rec.Node == self {
			desired[rec.Name] = rec
		}
	}
	running := map[string]actor.TreeInfo{}
	for _, ti := range r.l.rt.Trees() {
		running[ti.Name] = ti
	}

	// Stop what is no longer placed here (deleted, or moved to another node).
	var gone []string
	for name := range running {
		if _, ok := desired[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		r.stop(name)
	}

	names := make([]string, 0, len(desired))
	for name := range desired {
		names = append(names, name)
	}
	sort.Strings(names)
	var wakeAt time.Time
	now := r.l.clock.Now()
	for _, name := range names {
		rec := desired[name]
		ti, isRunning := running[name]
		r.mu.Lock()
		doneIdx := r.done[name]
		b := r.retry[name]
		if b != nil && b.index != rec.ModifyIndex {
			delete(r.retry, name) // a new spec gets a fresh start
			b = nil
		}
		r.mu.Unlock()

		inStep := isRunning && doneIdx == rec.ModifyIndex
		switch {
		case inStep && ti.Status == actor.TreeRunning:
			// In step. A sandbox whose report did not commit reports
			// again. A tree that has run for a while since its last
			// restart gets its backoff reset.
			if sb := r.sandbox(name); sb != nil {
				r.report(sb, state.SandboxRunning, "")
			}
			if b != nil && b.next.IsZero() && now.Sub(b.started) > r.l.cfg.RestartBackoffMax {
				r.mu.Lock()
				delete(r.retry, name)
				r.mu.Unlock()
			}
			continue
		case inStep && ti.Status == actor.TreeFailed && r.terminated(rec, ti):
			// A sandbox its policy terminated stays down until destroyed.
			continue
		case inStep && ti.Status == actor.TreeFailed && (b == nil || b.next.IsZero()):
			// The tree's root gave up (intensity exceeded): restart it,
			// after a backoff that grows with each crash.
			next := r.schedule(rec, EventTreeRestartScheduled, fmt.Errorf("tree failed: %s", ti.Reason))
			if wakeAt.IsZero() || next.Before(wakeAt) {
				wakeAt = next
			}
			continue
		case b != nil && now.Before(b.next):
			if wakeAt.IsZero() || b.next.Before(wakeAt) {
				wakeAt = b.next
			}
			continue
		}
		if next, ok := r.apply(rec, ti, isRunning, doneIdx); !ok {
			if wakeAt.IsZero() || next.Before(wakeAt) {
				wakeAt = next
			}
		}
	}
	return wakeAt
}

// apply starts, updates or restarts one tree. On failure it schedules a
// retry and returns when.
//
// A committed spec is applied whole or not at all: when the update of a
// running tree fails (a changed or new child fails to start), the tree is
// put back on the spec it ran, the one of doneIdx (ti.Spec), so that it
// runs exactly the spec of the index the reconciler reports applied, and
// the refusal is reported (spec_rejected, SpecRejected) and retried.
func (r *reconciler) apply(rec *pb.TreeRecord, ti actor.TreeInfo, isRunning bool, doneIdx uint64) (time.Time, bool) {
	t, err := state.DecodeTree(rec)
	if err != nil {
		return r.failed(rec, err), false
	}
	ctx, cancel := r.l.opContext(context.Background())
	defer cancel()
	action := "started"
	if isRunning {
		action = "updated"
		if ti.Status == actor.TreeFailed {
			action = "restarted"
			if err := r.l.rt.StopTree(ctx, rec.Name); err != nil && !errors.Is(err, actor.ErrTreeNotFound) {
				return r.failed(rec, fmt.Errorf("stop failed tree: %w", err)), false
			}
		}
	}
	if sb := r.sandbox(rec.Name); sb != nil {
		if err := r.startSandbox(ctx, sb, t); err != nil {
			return r.failed(rec, err), false
		}
	} else if states := r.restoreStates(rec, isRunning); states != nil {
		// A restore creates or moves the tree: it starts with the states
		// captured, imported between each worker's Init and its first
		// message.
		res, err := r.l.rt.StartTreeWith(ctx, *t, states)
		if err != nil {
			return r.failed(rec, err), false
		}
		r.mu.Lock()
		r.restored[rec.Name] = restoredAt{index: rec.ModifyIndex, outcome: &pb.TreeRestoreOutcome{
			SnapshotId: rec.Restore.SnapshotId, Imported: uint32(res.Imported), Failures: res.Failures}}
		r.mu.Unlock()
		r.l.logger.Debug("tree started with restored states", "tree", rec.Name, "snapshot", rec.Restore.SnapshotId, "imported", res.Imported, "failures", len(res.Failures))
	} else if err := r.l.rt.ApplyTree(ctx, *t); err != nil {
		if action == "updated" && doneIdx != 0 && ti.Status == actor.TreeRunning {
			if rerr := r.l.rt.ApplyTree(ctx, ti.Spec); rerr != nil {
				err = fmt.Errorf("%w; putting the tree back on the spec of index %d: %w", err, doneIdx, rerr)
			} else {
				err = fmt.Errorf("%w; the tree runs the spec of index %d again", err, doneIdx)
			}
		}
		return r.failed(rec, err), false
	}
	if action == "restarted" && (ti.Tracing.Flow || ti.Tracing.History) {
		// The operator's tracing outlives the restart, as it does a spec update.
		if err := r.l.rt.SetTracing(rec.Name, ti.Tracing); err != nil {
			r.l.logger.Warn("restoring tracing after a restart", "tree", rec.Name, "error", err)
		}
	}
	r.mu.Lock()
	r.done[rec.Name] = rec.ModifyIndex
	if b := r.retry[rec.Name]; b != nil {
		b.next, b.started, b.rejected = time.Time{}, r.l.clock.Now(), ""
	}
	r.mu.Unlock()
	if sb := r.sandbox(rec.Name); sb != nil {
		r.report(sb, state.SandboxRunning, "")
	}
	r.l.logger.Info("tree applied", "tree", rec.Name, "action", action, "spec_index", rec.ModifyIndex)
	r.l.rt.Publish(actor.Event{Type: EventSpecApplied, Tree: rec.Name,
		Detail: fmt.Sprintf("%s at spec index %d", action, rec.ModifyIndex)})
	return time.Time{}, true
}

// failed records a refused apply and schedules the retry.
func (r *reconciler) failed(rec *pb.TreeRecord, err error) time.Time {
	if sb := r.sandbox(rec.Name); sb != nil && sb.Status == state.SandboxPending {
		// A sandbox that cannot be set up is not retried: the report
		// fails its group, which removes it.
		r.report(sb, state.SandboxFailed, err.Error())
	}
	return r.schedule(rec, EventSpecRejected, err)
}

// schedule counts one more failure of the tree at this spec index and sets
// when the next attempt may run: RestartBackoffMin doubling per failure, at
// most RestartBackoffMax.
func (r *reconciler) schedule(rec *pb.TreeRecord, typ actor.EventType, cause error) time.Time {
	r.mu.Lock()
	b := r.retry[rec.Name]
	if b == nil || b.index != rec.ModifyIndex {
		b = &backoff{index: rec.ModifyIndex}
		r.retry[rec.Name] = b
	}
	b.attempts++
	wait := r.l.cfg.RestartBackoffMin << min(b.attempts-1, 16)
	if wait > r.l.cfg.RestartBackoffMax || wait <= 0 {
		wait = r.l.cfg.RestartBackoffMax
	}
	b.next = r.l.clock.Now().Add(wait)
	if typ == EventSpecRejected {
		// Recorded before the event is published: whoever sees the
		// event reads the refusal (SpecRejected).
		b.rejected = cause.Error()
	}
	attempts, next := b.attempts, b.next
	r.mu.Unlock()
	r.l.logger.Warn("tree not running; will retry", "tree", rec.Name, "attempt", attempts, "retry_in", wait, "error", cause)
	r.l.rt.Publish(actor.Event{Type: typ, Tree: rec.Name, Reason: actor.Reason(cause.Error()),
		Detail: fmt.Sprintf("attempt %d at spec index %d; retry in %s", attempts, rec.ModifyIndex, wait)})
	return next
}

func (r *reconciler) stop(name string) {
	ctx, cancel := r.l.opContext(context.Background())
	defer cancel()
	if err := r.l.rt.StopTree(ctx, name); err != nil && !errors.Is(err, actor.ErrTreeNotFound) {
		r.l.logger.Warn("stopping a tree no longer placed here", "tree", name, "error", err)
		return
	}
	r.mu.Lock()
	delete(r.done, name)
	delete(r.retry, name)
	delete(r.reported, name)
	delete(r.restored, name)
	r.mu.Unlock()
	r.l.logger.Info("tree stopped: no longer placed on this node", "tree", name)
	r.l.rt.Publish(actor.Event{Type: EventTreeRemoved, Tree: name})
}
