package plan

import (
	"slices"
	"sort"

	"github.com/steward/steward/spec"
)

// checks fills each phase's pre- and post-checks, rollback and estimate.
func (b *builder) checks() {
	strict := b.plan.SafetyLevel == Strict
	c := b.plan.Constraints
	stability := &Stability{MaxQueueLength: StableMaxQueueLength, MaxRecentRestarts: StableMaxRecentRestarts, MaxMemoryBytes: c.MaxMemoryBytes}
	for pi := range b.phaseList {
		ph := &b.phaseList[pi]
		var ops []*opInfo
		for _, id := range ph.Operations {
			ops = append(ops, b.ops[b.byID[id]])
		}
		opNodes := newStringSet()
		allNodes := newStringSet()
		// stableNodes: the nodes system_stable covers, those of the
		// operations that need a stable node (NeedsStableNode).
		stableNodes := newStringSet()
		needStable := false
		external := newStringSet()
		trees := newStringSet()
		newProcs := map[string]int{}
		var targets, capture, expected, vacancies []ProcessRef
		var rules []ParamRule
		var effects []Effect
		for _, o := range ops {
			stable := NeedsStableNode(o.op.Type)
			needStable = needStable || stable
			if o.node != "" {
				opNodes.add(o.node)
				allNodes.add(o.node)
				newProcs[o.node] += o.newProcs
				if stable {
					stableNodes.add(o.node)
				}
			}
			if o.tgt.Tree != "" {
				trees.add(o.tgt.Tree)
			}
			if o.op.Type != Spawn {
				// A spawn's process does not exist before its phase:
				// nothing to find alive, capture or expect to change.
				targets = append(targets, o.target)
				capture = append(capture, o.target)
				exp := o.target
				if o.subtree != "" && o.child == nil {
					exp.Subtree = true
				}
				expected = append(expected, exp)
			}
			if o.child != nil {
				ch := *o.child
				if o.op.Type == TerminateChild {
					ch.Subtree = ch.Tree != ""
					vacancies = append(vacancies, ch)
				}
				expected = append(expected, ch)
			}
			if o.facts != nil {
				for _, a := range o.facts.Affected {
					ref := ProcessRef{PID: a.PID, Node: a.Node}
					if a.Tree != "" {
						ref = ProcessRef{Tree: a.Tree, Slot: a.Slot, Node: a.Node}
						trees.add(a.Tree)
					}
					expected = append(expected, ref)
					opt := ref
					opt.Optional = true
					capture = append(capture, opt)
					if a.Node != "" {
						allNodes.add(a.Node)
						if stable {
							stableNodes.add(a.Node)
						}
					}
				}
			}
			if o.op.Type == KillProcess && o.tgt.Tree != "" && o.tgt.Slot != "" && !restartsAfterKill(o) {
				vacancies = append(vacancies, ProcessRef{Tree: o.tgt.Tree, Slot: o.tgt.Slot, Node: o.node})
			}
			rules = append(rules, paramRule(o))
			effects = append(effects, effect(o))
		}
		for _, nd := range allNodes.sorted() {
			if !opNodes.has(nd) {
				external.add(nd)
			}
		}
		var loads []NodeLoad
		for _, nd := range opNodes.sorted() {
			loads = append(loads, NodeLoad{Node: nd, NewProcesses: newProcs[nd]})
		}
		ph.PreChecks = []Check{
			{Kind: CheckTargetsAlive, Processes: targets},
			{Kind: CheckResourcesAvailable, Limits: &Limits{
				MaxMemoryBytes: c.MaxMemoryBytes, MaxProcessCount: c.MaxProcessCount,
				MaxTotalQueueLength: c.MaxTotalQueueLength, Nodes: loads,
			}},
			{Kind: CheckParametersValid, Params: rules},
		}
		if needStable {
			ph.PreChecks = append(ph.PreChecks, Check{Kind: CheckSystemStable, Nodes: stableNodes.sorted(), Stability: stability})
		}
		if strict {
			ph.PreChecks = append(ph.PreChecks,
				Check{Kind: CheckCaptureState, Processes: capture},
				Check{Kind: CheckExternalDependencies, Nodes: external.sorted()},
			)
		}
		ph.PostChecks = []Check{
			{Kind: CheckOperationEffect, Effects: effects},
			{Kind: CheckNoSideEffects, Nodes: allNodes.sorted(), Processes: expected},
		}
		if needStable {
			ph.PostChecks = append(ph.PostChecks, Check{Kind: CheckSystemStable, Nodes: stableNodes.sorted(), Stability: stability})
		}
		if h := b.plan.Health; h != nil {
			hc := Check{Kind: CheckHealthy, Health: h, Behaviors: map[string]string{}}
			for _, o := range ops {
				hc.Processes = append(hc.Processes, o.target)
				if o.op.Params.Behavior != "" {
					hc.Behaviors[o.op.Target.PID] = o.op.Params.Behavior
				}
			}
			ph.PostChecks = append(ph.PostChecks, hc)
		}
		if strict {
			ph.PostChecks = append(ph.PostChecks,
				Check{Kind: CheckConsistency, Nodes: allNodes.sorted()},
				Check{Kind: CheckSupervisionTrees, Trees: trees.sorted(), Processes: vacancies},
			)
		}
		ph.PreChecks, ph.PostChecks = b.unskipped(ph.PreChecks), b.unskipped(ph.PostChecks)
		for k := len(ops) - 1; k >= 0; k-- {
			o := ops[k]
			ph.Rollback = append(ph.Rollback, Compensate(*o.op, o.tgt, o.childFct))
		}
		// Estimate: the slowest operation, the checks, the barrier.
		var slowest int64
		for _, o := range ops {
			slowest = max(slowest, o.estimateMS)
		}
		checksMS := int64(len(ph.PreChecks))*EstimatePreCheckMS + int64(len(ph.PostChecks))*EstimatePostCheckMS
		if strict {
			checksMS += int64(len(capture)) * EstimateCaptureMS
		}
		ph.EstimatedMS = slowest + checksMS + EstimateBarrierMS
	}
}

// unskipped drops the checks the operator skips.
func (b *builder) unskipped(cs []Check) []Check {
	if len(b.skip) == 0 {
		return cs
	}
	return slices.DeleteFunc(cs, func(c Check) bool { return skipped(b.skip, c.Kind) })
}

// restartsAfterKill reports whether the supervisor brings a killed target
// back: permanent always, transient after an abnormal reason; with no facts
// about the restart type it is assumed permanent, OTP's default.
func restartsAfterKill(o *opInfo) bool {
	if o.tgt.Dynamic && o.tgt.Restart == spec.Temporary {
		return false
	}
	switch o.tgt.Restart {
	case spec.Temporary:
		return false
	case spec.Transient:
		return o.op.Params.Reason != "normal" && o.op.Params.Reason != "shutdown"
	}
	return true
}

func paramRule(o *opInfo) ParamRule {
	r := ParamRule{Op: o.op.ID, Target: o.target}
	switch o.op.Type {
	case RestartSupervisor, RestartChild:
		r.Kind = KindSupervisor
	case ChangeSupervisorStrategy:
		r.Kind = KindSupervisor
		r.ForbidStrategy = spec.SimpleOneForOne
	case StartChild:
		r.Kind = KindSupervisor
		if o.op.Params.Child != nil {
			r.ForbidStrategy = spec.SimpleOneForOne
			r.ChildAbsent = o.child
		} else {
			r.RequireStrategy = spec.SimpleOneForOne
		}
	case TerminateChild:
		r.Kind = KindSupervisor
		r.ChildPresent = o.child
	case DeleteChild:
		r.Kind = KindSupervisor
		r.ForbidStrategy = spec.SimpleOneForOne
		r.ChildAbsent = o.child
	case Spawn:
		r.NewProcess = true
		r.NameFree = o.op.Params.Name
	}
	return r
}

func effect(o *opInfo) Effect {
	e := Effect{Op: o.op.ID, Type: o.op.Type, Target: o.target}
	slot := func(tree, s string) *ProcessRef {
		if tree == "" {
			return nil
		}
		return &ProcessRef{Tree: tree, Slot: s, Node: o.node}
	}
	switch o.op.Type {
	case KillProcess:
		e.Exited = true
		if o.tgt.Tree != "" && o.tgt.Slot != "" && !o.tgt.Dynamic {
			e.Slot = slot(o.tgt.Tree, o.tgt.Slot)
			if restartsAfterKill(o) {
				e.Replaced = true
			} else {
				e.Vacant = true
			}
		}
	case SendMessage:
		e.SamePID, e.Delivered = true, true
	case RestartSupervisor:
		e.Slot = slot(o.tgt.Tree, o.tgt.Slot)
		e.SubtreeReplaced = e.Slot != nil
	case ChangeSupervisorStrategy:
		e.SamePID, e.Strategy = true, o.op.Params.Strategy
		e.Slot = slot(o.tgt.Tree, o.tgt.Slot)
		e.SubtreeKept = e.Slot != nil
	case ReplaceState, ImportStates:
		e.SamePID = true
	case UpgradeCode, RevertCode:
		e.SamePID, e.Behavior = true, o.op.Params.Behavior
	case RegisterName:
		e.SamePID, e.Named = true, o.op.Params.Name
	case SuspendProcess:
		e.SamePID, e.Status = true, Suspended
	case ResumeProcess:
		e.SamePID, e.Status = true, Running
	case StartChild:
		if o.op.Params.Child != nil {
			e.Slot = o.child
			e.Started = o.child != nil
		} else {
			e.DynamicStarted = true
		}
	case TerminateChild:
		if o.child != nil && o.child.Tree != "" {
			e.Slot = o.child
			e.Vacant = true
		} else if o.child != nil {
			// A dynamic child by pid: it must be gone.
			e.Target = *o.child
			e.Exited = true
		}
	case RestartChild:
		e.Slot = o.child
		e.Started = o.child != nil
	case DeleteChild:
		if o.child != nil && o.child.Tree != "" {
			e.Slot = o.child
			e.Vacant, e.SpecDeleted = true, true
		}
	case Spawn:
		e.Spawned, e.Behavior, e.Named = true, o.op.Params.Behavior, o.op.Params.Name
	}
	return e
}

// stringSet keeps strings unique and hands them out sorted.
type stringSet map[string]struct{}

func newStringSet() stringSet         { return stringSet{} }
func (s stringSet) add(v string)      { s[v] = struct{}{} }
func (s stringSet) has(v string) bool { _, ok := s[v]; return ok }
func (s stringSet) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
