package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward/steward/spec"
)

func (b *builder) add(kind ConflictKind, sev Severity, ops []string, phase *int, format string, args ...any) {
	b.conflict = append(b.conflict, Conflict{Kind: kind, Severity: sev, Operations: ops, Phase: phase, Message: fmt.Sprintf(format, args...)})
}

// conflicts finds, in this order: per-operation conflicts from the facts,
// per-pair conflicts, per-phase conflicts, and time conflicts.
func (b *builder) conflicts() {
	if b.facts == nil {
		b.add(ConflictNoFacts, SeverityWarning, nil, nil, "planned without facts: no implicit dependencies, and targets are not known to be alive")
	} else {
		for _, o := range b.ops {
			b.opConflicts(o)
		}
		b.nodeConflicts()
	}
	for _, g := range b.shared {
		ids := make([]string, len(g.ops))
		for i, v := range g.ops {
			ids[i] = b.ops[v].op.ID
		}
		b.add(ConflictSameTarget, SeverityWarning, ids, nil,
			"%s act on the same target %s; they run in separate phases, in that order", strings.Join(ids, ", "), keyLabel(g.key))
	}
	b.staleTargets()
	for pi := range b.phaseList {
		high := 0
		var ids []string
		for _, id := range b.phaseList[pi].Operations {
			if b.ops[b.byID[id]].impact >= HighImpact {
				high++
				ids = append(ids, id)
			}
		}
		if high > MaxHighImpactPerPhase {
			p := pi
			b.add(ConflictHighImpact, SeverityWarning, ids, &p,
				"phase %d runs %d high-impact operations at once (more than %d)", pi, high, MaxHighImpactPerPhase)
		}
	}
	b.timeConflicts()
}

func (b *builder) opConflicts(o *opInfo) {
	id := []string{o.op.ID}
	f := o.facts
	t := f.Target
	if nf := b.nodes[o.node]; nf != nil && !nf.Alive {
		b.add(ConflictNodeDown, SeverityError, id, nil, "%s: node %s is down", o.op.ID, o.node)
	}
	if o.op.Type == Spawn {
		// Its facts' target is the process registered under the name it
		// registers, if any.
		if name := o.op.Params.Name; name != "" && t.Alive {
			b.add(ConflictNameTaken, SeverityError, id, nil, "%s: name %q on node %s is already registered to %s", o.op.ID, name, o.node, t.PID)
		}
		return
	}
	if t.Exists && t.Node != "" && o.op.Node != "" && t.Node != o.op.Node {
		b.add(ConflictNodeMismatch, SeverityError, id, nil, "%s: target %s is on node %s, not %s", o.op.ID, o.op.Target, t.Node, o.op.Node)
	}
	switch {
	case !t.Exists:
		b.add(ConflictTargetMissing, SeverityError, id, nil, "%s: target %s does not exist", o.op.ID, o.op.Target)
		return
	case !t.Alive:
		b.add(ConflictTargetNotAlive, SeverityError, id, nil, "%s: target %s is not alive", o.op.ID, o.op.Target)
		return
	case supervisorOp(o.op.Type) && t.Kind != KindSupervisor:
		b.add(ConflictTargetKind, SeverityError, id, nil, "%s: %s needs a supervisor, %s is a %s", o.op.ID, o.op.Type, o.op.Target, kindName(t.Kind))
		return
	}
	ch := f.Child
	switch o.op.Type {
	case ChangeSupervisorStrategy:
		switch {
		case t.Strategy == spec.SimpleOneForOne:
			b.add(ConflictStrategyMismatch, SeverityError, id, nil, "%s: %s is simple_one_for_one, whose strategy cannot be changed", o.op.ID, o.op.Target)
		case t.Strategy == o.op.Params.Strategy:
			b.add(ConflictNoOp, SeverityWarning, id, nil, "%s: %s already has strategy %s", o.op.ID, o.op.Target, t.Strategy)
		}
	case StartChild:
		switch {
		case o.op.Params.Child != nil && t.Strategy == spec.SimpleOneForOne:
			b.add(ConflictStrategyMismatch, SeverityError, id, nil, "%s: %s is simple_one_for_one: start a child with args, not a child spec", o.op.ID, o.op.Target)
		case o.op.Params.Child == nil && t.Strategy != "" && t.Strategy != spec.SimpleOneForOne:
			b.add(ConflictStrategyMismatch, SeverityError, id, nil, "%s: %s is %s: start a child with a child spec, not args", o.op.ID, o.op.Target, t.Strategy)
		case o.op.Params.Child != nil && ch != nil && ch.Exists:
			b.add(ConflictChildExists, SeverityError, id, nil, "%s: %s already has a child %q", o.op.ID, o.op.Target, o.op.Params.Child.ID)
		}
	case TerminateChild, RestartChild:
		switch {
		case ch == nil || !ch.Exists:
			b.add(ConflictChildMissing, SeverityError, id, nil, "%s: %s has no child %q", o.op.ID, o.op.Target, o.op.Params.ChildID)
		case o.op.Type == RestartChild && ch.Alive:
			b.add(ConflictNoOp, SeverityWarning, id, nil, "%s: child %q of %s is already running", o.op.ID, o.op.Params.ChildID, o.op.Target)
		case o.op.Type == TerminateChild && !ch.Alive:
			b.add(ConflictNoOp, SeverityWarning, id, nil, "%s: child %q of %s is not running", o.op.ID, o.op.Params.ChildID, o.op.Target)
		}
	case DeleteChild:
		switch {
		case t.Strategy == spec.SimpleOneForOne:
			b.add(ConflictStrategyMismatch, SeverityError, id, nil, "%s: %s is simple_one_for_one: delete_child does not apply to its instances (terminate_child removes one)", o.op.ID, o.op.Target)
		case ch == nil || !ch.Exists:
			b.add(ConflictChildMissing, SeverityError, id, nil, "%s: %s has no child %q (OTP's not_found)", o.op.ID, o.op.Target, o.op.Params.ChildID)
		case ch.Alive && !b.terminatedBefore(o):
			b.add(ConflictChildRunning, SeverityError, id, nil, "%s: child %q of %s is running (OTP's {error, running}); terminate it first", o.op.ID, o.op.Params.ChildID, o.op.Target)
		}
	case SuspendProcess:
		if t.Status == Suspended {
			b.add(ConflictNoOp, SeverityWarning, id, nil, "%s: %s is already suspended", o.op.ID, o.op.Target)
		}
	case ResumeProcess:
		if t.Status != Suspended {
			b.add(ConflictNoOp, SeverityWarning, id, nil, "%s: %s is not suspended", o.op.ID, o.op.Target)
		}
	}
}

// terminatedBefore reports whether an operation of an earlier phase
// terminates the child o names (a plan that terminates a child, then
// deletes it).
func (b *builder) terminatedBefore(o *opInfo) bool {
	if o.child == nil || o.child.Tree == "" {
		return false
	}
	for _, x := range b.ops {
		if x.op.Type == TerminateChild && x.child != nil && x.child.Tree == o.child.Tree && x.child.Slot == o.child.Slot &&
			b.phaseOf[x.idx] < b.phaseOf[o.idx] {
			return true
		}
	}
	return false
}

func kindName(k Kind) string {
	if k == "" {
		return "process"
	}
	return string(k)
}

// nodeConflicts reports nodes the operations run on that the facts do not
// describe, or that are already over a constraint or unstable.
func (b *builder) nodeConflicts() {
	c := b.plan.Constraints
	nodes := newStringSet()
	// stable: the nodes system_stable looks at (not skipped, and an
	// operation there needs a stable node).
	stable := newStringSet()
	for _, o := range b.ops {
		if o.node != "" {
			nodes.add(o.node)
			if NeedsStableNode(o.op.Type) && !skipped(b.skip, CheckSystemStable) {
				stable.add(o.node)
			}
		}
	}
	for _, nd := range nodes.sorted() {
		nf := b.nodes[nd]
		if nf == nil {
			b.add(ConflictNodeUnknown, SeverityWarning, nil, nil, "no facts for node %s", nd)
			continue
		}
		if !nf.Alive {
			continue // reported per operation
		}
		var over []string
		if c.MaxMemoryBytes > 0 && nf.MemoryBytes > c.MaxMemoryBytes {
			over = append(over, fmt.Sprintf("memory %d > %d bytes", nf.MemoryBytes, c.MaxMemoryBytes))
		}
		if c.MaxProcessCount > 0 && nf.ProcessCount > c.MaxProcessCount {
			over = append(over, fmt.Sprintf("%d > %d processes", nf.ProcessCount, c.MaxProcessCount))
		}
		if c.MaxTotalQueueLength > 0 && nf.TotalQueueLength > c.MaxTotalQueueLength {
			over = append(over, fmt.Sprintf("%d > %d queued messages", nf.TotalQueueLength, c.MaxTotalQueueLength))
		}
		if len(over) > 0 {
			b.add(ConflictResourcesExceeded, SeverityWarning, nil, nil, "node %s is over its constraints now (%s); resources_available will fail unless that changes", nd, strings.Join(over, ", "))
		}
		var unstable []string
		if nf.MaxQueueLength > StableMaxQueueLength {
			unstable = append(unstable, fmt.Sprintf("a mailbox of %d > %d messages", nf.MaxQueueLength, StableMaxQueueLength))
		}
		if nf.RecentRestarts > StableMaxRecentRestarts {
			unstable = append(unstable, fmt.Sprintf("%d > %d recent restarts", nf.RecentRestarts, StableMaxRecentRestarts))
		}
		if len(unstable) > 0 && stable.has(nd) {
			b.add(ConflictUnstable, SeverityWarning, nil, nil, "node %s is unstable now (%s); system_stable will fail unless that changes", nd, strings.Join(unstable, ", "))
		}
	}
}

// staleTargets: an operation that names its target by pid cannot run after
// an earlier operation of the plan ended that pid (killed it, terminated
// it, or restarted the subtree it is in): the pid would be dead by then.
func (b *builder) staleTargets() {
	for _, y := range b.ops {
		pid := y.op.Target.PID
		if pid == "" && y.child != nil {
			pid = y.child.PID
		}
		if pid == "" {
			continue
		}
		for _, x := range b.ops {
			if x == y || b.phaseOf[x.idx] >= b.phaseOf[y.idx] {
				continue
			}
			if ends(x, pid) {
				b.add(ConflictStaleTarget, SeverityError, []string{x.op.ID, y.op.ID}, nil,
					"%s names pid %s, which %s (%s, an earlier phase) ends; name it by supervisor and child_id or by name instead", y.op.ID, pid, x.op.ID, x.op.Type)
				break
			}
		}
	}
}

// ends reports whether operation o ends the process pid.
func ends(o *opInfo, pid string) bool {
	switch o.op.Type {
	case KillProcess:
		return o.op.Target.PID == pid || (o.facts != nil && o.facts.Target.PID == pid)
	case TerminateChild:
		if o.child != nil && o.child.PID == pid || o.childFct != nil && o.childFct.PID == pid {
			return true
		}
		fallthrough
	case RestartSupervisor:
		if o.facts != nil {
			for _, a := range o.facts.Affected {
				if a.PID == pid && (a.Relation == Child || a.Relation == Descendant) {
					return true
				}
			}
		}
	}
	return false
}

// timeConflicts compares the window, the estimate, the timeout and the
// other active plans.
func (b *builder) timeConflicts() {
	total := b.totalMS()
	timeout, _ := time.ParseDuration(b.plan.Timeout)
	if time.Duration(total)*time.Millisecond > timeout {
		b.add(ConflictTimeoutTooShort, SeverityWarning, nil, nil, "the estimate of %s exceeds the timeout of %s", time.Duration(total)*time.Millisecond, timeout)
	}
	w := b.plan.Constraints.Window
	start := b.now
	var end time.Time
	if w != nil {
		if !w.NotAfter.IsZero() && !w.NotAfter.After(b.now) {
			b.add(ConflictWindowClosed, SeverityError, nil, nil, "the window closed at %s (now %s)", w.NotAfter.Format(time.RFC3339), b.now.Format(time.RFC3339))
		}
		if w.NotBefore.After(start) {
			start = w.NotBefore
		}
		if !w.NotAfter.IsZero() {
			end = w.NotAfter
			if finish := start.Add(time.Duration(total) * time.Millisecond); finish.After(w.NotAfter) && w.NotAfter.After(b.now) {
				b.add(ConflictWindowTooShort, SeverityWarning, nil, nil, "started at %s the plan is estimated to end at %s, after the window closes at %s",
					start.Format(time.RFC3339), finish.Format(time.RFC3339), w.NotAfter.Format(time.RFC3339))
			}
		}
	}
	if end.IsZero() {
		end = start.Add(timeout)
	}
	if b.facts == nil {
		return
	}
	ours := newStringSet()
	nodes := newStringSet()
	for _, o := range b.ops {
		nodes.add(o.node)
		if o.tgt.Tree != "" {
			ours.add(o.tgt.Tree)
		}
		if o.facts != nil && o.facts.Target.PID != "" {
			ours.add(o.facts.Target.PID)
		}
		if o.op.Target.PID != "" {
			ours.add(o.op.Target.PID)
		}
	}
	for _, ap := range b.facts.ActivePlans {
		theirStart, theirEnd := ap.Window.NotBefore, ap.Window.NotAfter
		if !theirEnd.IsZero() && !theirEnd.After(start) || !theirStart.IsZero() && !theirStart.Before(end) {
			continue // no overlap
		}
		var sharedTargets, sharedNodes []string
		sameGroup := b.plan.Group != "" && ap.Group == b.plan.Group
		for _, t := range ap.Targets {
			if sameGroup {
				break
			}
			if ours.has(t) && !slices.Contains(sharedTargets, t) {
				sharedTargets = append(sharedTargets, t)
			}
		}
		for _, nd := range ap.Nodes {
			if nodes.has(nd) && !slices.Contains(sharedNodes, nd) {
				sharedNodes = append(sharedNodes, nd)
			}
		}
		switch {
		case len(sharedTargets) > 0:
			b.add(ConflictWindowOverlap, SeverityError, nil, nil, "the window overlaps active plan %s, which also acts on %s", ap.ID, strings.Join(sharedTargets, ", "))
		case len(sharedNodes) > 0:
			b.add(ConflictWindowOverlap, SeverityWarning, nil, nil, "the window overlaps active plan %s on node %s", ap.ID, strings.Join(sharedNodes, ", "))
		default:
			b.add(ConflictWindowOverlap, SeverityWarning, nil, nil, "the window overlaps active plan %s", ap.ID)
		}
	}
}

func (b *builder) totalMS() int64 {
	var t int64
	for _, ph := range b.phaseList {
		t += ph.EstimatedMS
	}
	return t
}

func (b *builder) result() *Result {
	r := &Result{
		SafetyLevel:   b.plan.SafetyLevel,
		Group:         b.plan.Group,
		Timeout:       b.plan.Timeout,
		Window:        b.plan.Constraints.Window,
		Operations:    b.plan.Operations,
		Edges:         b.edges,
		Phases:        b.phaseList,
		Conflicts:     b.conflict,
		SkippedChecks: b.skip,
	}
	if r.Edges == nil {
		r.Edges = []Edge{}
	}
	if r.Conflicts == nil {
		r.Conflicts = []Conflict{}
	}
	for _, v := range b.order {
		o := b.ops[v]
		r.Order = append(r.Order, o.op.ID)
		r.Schedule = append(r.Schedule, Placement{Op: o.op.ID, Level: b.level[v], Phase: b.phaseOf[v], Impact: o.impact, EstimatedMS: o.estimateMS})
	}
	for _, ph := range b.phaseList {
		var slowest int64
		for _, id := range ph.Operations {
			slowest = max(slowest, b.ops[b.byID[id]].estimateMS)
		}
		r.Estimate.TotalMS += ph.EstimatedMS
		r.Estimate.OperationsMS += slowest
		r.Estimate.BarriersMS += EstimateBarrierMS
	}
	r.Estimate.ChecksMS = r.Estimate.TotalMS - r.Estimate.OperationsMS - r.Estimate.BarriersMS
	r.index()
	return r
}
