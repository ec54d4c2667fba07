package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/steward/steward/spec"
)

// world is tree "web" on n1: root n1/1, permanent worker c1 (n1/5) linked
// to the unsupervised peer n1/7, temporary worker c2 (n1/6), supervisor sub
// (n1/10) with permanent worker sub/w (n1/11); tree "pool" (n1/40,
// simple_one_for_one) with one instance worker-1 (n1/41, its template
// "worker"); unrelated n1/30; and
// node n2 with n2/1.
func world() *Observed {
	return &Observed{Nodes: []NodeState{
		{Node: "n1", Alive: true, MemoryBytes: 1000, Processes: []Process{
			{PID: "n1/1", Kind: KindSupervisor, Status: Running, Tree: "web", Strategy: spec.OneForOne},
			{PID: "n1/5", Kind: KindProcess, Status: Running, Tree: "web", Slot: "c1", Parent: "n1/1", Restart: spec.Permanent, Links: []string{"n1/7"}, MessagesIn: 3},
			{PID: "n1/6", Kind: KindProcess, Status: Running, Tree: "web", Slot: "c2", Parent: "n1/1", Restart: spec.Temporary},
			{PID: "n1/7", Kind: KindProcess, Status: Running, Name: "peer", Links: []string{"n1/5"}},
			{PID: "n1/10", Kind: KindSupervisor, Status: Running, Tree: "web", Slot: "sub", Parent: "n1/1", Restart: spec.Permanent, Strategy: spec.OneForOne},
			{PID: "n1/11", Kind: KindProcess, Status: Running, Tree: "web", Slot: "sub/w", Parent: "n1/10", Restart: spec.Permanent},
			{PID: "n1/30", Kind: KindProcess, Status: Running, QueueLength: 4},
			{PID: "n1/40", Kind: KindSupervisor, Status: Running, Tree: "pool", Strategy: spec.SimpleOneForOne},
			{PID: "n1/41", Kind: KindProcess, Status: Running, Tree: "pool", Slot: "worker-1", Dynamic: true, Parent: "n1/40", Restart: spec.Temporary},
		}},
		{Node: "n2", Alive: true, Processes: []Process{{PID: "n2/1", Kind: KindProcess, Status: Running}}},
	}}
}

// edit returns a copy of o changed by fn.
func edit(o *Observed, fn func(n1 *NodeState)) *Observed {
	c := &Observed{}
	for _, ns := range o.Nodes {
		ns.Processes = slices.Clone(ns.Processes)
		c.Nodes = append(c.Nodes, ns)
	}
	fn(&c.Nodes[0])
	return c
}

func without(pids ...string) func(*NodeState) {
	return func(ns *NodeState) {
		ns.Processes = slices.DeleteFunc(ns.Processes, func(p Process) bool { return slices.Contains(pids, p.PID) })
	}
}

func set(pid string, fn func(p *Process)) func(*NodeState) {
	return func(ns *NodeState) {
		for i := range ns.Processes {
			if ns.Processes[i].PID == pid {
				fn(&ns.Processes[i])
			}
		}
	}
}

func add(p Process) func(*NodeState) {
	return func(ns *NodeState) { ns.Processes = append(ns.Processes, p) }
}

func all(fns ...func(*NodeState)) func(*NodeState) {
	return func(ns *NodeState) {
		for _, f := range fns {
			f(ns)
		}
	}
}

var (
	refC1   = ProcessRef{Tree: "web", Slot: "c1", Node: "n1"}
	refSub  = ProcessRef{Tree: "web", Slot: "sub", Node: "n1"}
	refWeb  = ProcessRef{Tree: "web", Node: "n1"}
	refPeer = ProcessRef{Name: "peer", Node: "n1"}
	refPool = ProcessRef{Tree: "pool", Node: "n1"}
)

func TestEvaluate(t *testing.T) {
	w := world()
	c1Restarted := edit(w, all(without("n1/5"), add(Process{PID: "n1/50", Kind: KindProcess, Status: Running, Tree: "web", Slot: "c1", Parent: "n1/1", Restart: spec.Permanent})))
	subRestarted := edit(w, all(without("n1/11"), add(Process{PID: "n1/60", Kind: KindProcess, Status: Running, Tree: "web", Slot: "sub/w", Parent: "n1/10", Restart: spec.Permanent})))
	tests := []struct {
		name          string
		check         Check
		before, after *Observed
		fail          string // "" for a pass; else a substring of the failures
	}{
		// targets_alive
		{"alive by slot, name, pid", Check{Kind: CheckTargetsAlive, Processes: []ProcessRef{refC1, refPeer, {PID: "n2/1"}}}, w, nil, ""},
		{"dead target", Check{Kind: CheckTargetsAlive, Processes: []ProcessRef{{PID: "n1/99"}}}, w, nil, "n1/99 is not alive"},
		{"target on a down node", Check{Kind: CheckTargetsAlive, Processes: []ProcessRef{{PID: "n1/5"}}}, edit(w, func(ns *NodeState) { ns.Alive = false }), nil, "n1/5: node n1 is down"},
		// resources_available
		{"within limits", Check{Kind: CheckResourcesAvailable, Limits: &Limits{MaxProcessCount: 10, MaxMemoryBytes: 1000, MaxTotalQueueLength: 4, Nodes: []NodeLoad{{Node: "n1", NewProcesses: 1}}}}, w, nil, ""},
		{"too many processes", Check{Kind: CheckResourcesAvailable, Limits: &Limits{MaxProcessCount: 9, Nodes: []NodeLoad{{Node: "n1", NewProcesses: 1}}}}, w, nil, "n1: 9 processes + 1 new > 9"},
		{"memory", Check{Kind: CheckResourcesAvailable, Limits: &Limits{MaxMemoryBytes: 999, Nodes: []NodeLoad{{Node: "n1"}}}}, w, nil, "memory 1000 > 999"},
		{"queues", Check{Kind: CheckResourcesAvailable, Limits: &Limits{MaxTotalQueueLength: 3, Nodes: []NodeLoad{{Node: "n1"}}}}, w, nil, "4 queued messages > 3"},
		{"unknown node", Check{Kind: CheckResourcesAvailable, Limits: &Limits{Nodes: []NodeLoad{{Node: "n9"}}}}, w, nil, "node n9 is not alive"},
		// parameters_valid
		{"supervisor kind", Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "a", Target: refSub, Kind: KindSupervisor, ForbidStrategy: spec.SimpleOneForOne}}}, w, nil, ""},
		{"not a supervisor", Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "a", Target: refC1, Kind: KindSupervisor}}}, w, nil, "a: target web/c1 is a process, not a supervisor"},
		{"s1f1 required", Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "a", Target: refWeb, Kind: KindSupervisor, RequireStrategy: spec.SimpleOneForOne}}}, w, nil, `has strategy "one_for_one", not simple_one_for_one`},
		{"s1f1 forbidden", Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "a", Target: refPool, ForbidStrategy: spec.SimpleOneForOne}}}, w, nil, "has strategy simple_one_for_one"},
		{"child already running", Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "a", Target: refWeb, ChildAbsent: &refC1}}}, w, nil, "web/c1 is already running as n1/5"},
		{"child not running", Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "a", Target: refWeb, ChildPresent: &ProcessRef{Tree: "web", Slot: "c3"}}}}, w, nil, "web/c3 is not running"},
		// system_stable
		{"stable", Check{Kind: CheckSystemStable, Nodes: []string{"n1", "n2"}, Stability: &Stability{MaxQueueLength: 10, MaxRecentRestarts: 1}}, w, nil, ""},
		{"long mailbox", Check{Kind: CheckSystemStable, Nodes: []string{"n1"}, Stability: &Stability{MaxQueueLength: 3, MaxRecentRestarts: 1}}, w, nil, "n1/30 has 4 queued messages > 3"},
		{"restarts", Check{Kind: CheckSystemStable, Nodes: []string{"n1"}, Stability: &Stability{MaxQueueLength: 10}}, edit(w, func(ns *NodeState) { ns.RecentRestarts = 2 }), nil, "2 recent restarts > 0"},
		{"post uses after", Check{Kind: CheckSystemStable, Nodes: []string{"n1"}}, w, edit(w, func(ns *NodeState) { ns.Alive = false }), "node n1 is not alive"},
		// capture_state
		{"capture", Check{Kind: CheckCaptureState, Processes: []ProcessRef{refC1, {PID: "n1/99", Optional: true}}}, w, nil, ""},
		{"capture missing target", Check{Kind: CheckCaptureState, Processes: []ProcessRef{{PID: "n1/99"}}}, w, nil, "n1/99 cannot be captured"},
		// external_dependencies
		{"external up", Check{Kind: CheckExternalDependencies, Nodes: []string{"n2"}}, w, nil, ""},
		{"external down", Check{Kind: CheckExternalDependencies, Nodes: []string{"n3"}}, w, nil, "node n3"},
		// operation_effect: kill of a permanent child
		{"kill restarted", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "k", Target: refC1, Slot: &refC1, Exited: true, Replaced: true}}}, w, c1Restarted, ""},
		{"kill not restarted", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "k", Target: refC1, Slot: &refC1, Exited: true, Replaced: true}}}, w, edit(w, without("n1/5")), "k: web/c1 was not restarted"},
		{"kill survived", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "k", Target: refC1, Exited: true}}}, w, w, "k: n1/5 is still alive"},
		{"kill temporary", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "k", Target: ProcessRef{Tree: "web", Slot: "c2"}, Slot: &ProcessRef{Tree: "web", Slot: "c2"}, Exited: true, Vacant: true}}}, w, edit(w, without("n1/6")), ""},
		{"effect needs after", Check{Kind: CheckOperationEffect}, w, nil, "needs the state after"},
		// send_message
		{"delivered", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "m", Target: refC1, SamePID: true, Delivered: true}}}, w, edit(w, set("n1/5", func(p *Process) { p.MessagesIn = 4 })), ""},
		{"not delivered", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "m", Target: refC1, SamePID: true, Delivered: true}}}, w, w, "no message was delivered to n1/5"},
		// suspend / resume
		{"suspended", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "s", Target: refPeer, SamePID: true, Status: Suspended}}}, w, edit(w, set("n1/7", func(p *Process) { p.Status = Suspended })), ""},
		{"not suspended", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "s", Target: refPeer, SamePID: true, Status: Suspended}}}, w, w, "n1/7 is not suspended"},
		// strategy
		{"strategy changed", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "c", Target: refSub, Slot: &refSub, SamePID: true, Strategy: spec.OneForAll, SubtreeKept: true}}}, w, edit(w, set("n1/10", func(p *Process) { p.Strategy = spec.OneForAll })), ""},
		{"strategy restarted children", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "c", Target: refSub, Slot: &refSub, SamePID: true, Strategy: spec.OneForAll, SubtreeKept: true}}}, w, edit(subRestarted, set("n1/10", func(p *Process) { p.Strategy = spec.OneForAll })), "c: n1/11 (web/sub/w) did not survive"},
		{"strategy unchanged", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "c", Target: refSub, SamePID: true, Strategy: spec.OneForAll}}}, w, w, "does not have strategy one_for_all"},
		// restart_supervisor
		{"subtree restarted", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "r", Target: refSub, Slot: &refSub, SubtreeReplaced: true}}}, w, subRestarted, ""},
		{"subtree not restarted", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "r", Target: refSub, Slot: &refSub, SubtreeReplaced: true}}}, w, w, "r: n1/11 (web/sub/w) was not restarted"},
		{"subtree did not come back", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "r", Target: refSub, Slot: &refSub, SubtreeReplaced: true}}}, w, edit(w, without("n1/11")), "r: web/sub/w did not come back"},
		// start_child / restart_child / terminate_child
		{"started", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "st", Target: refWeb, Slot: &ProcessRef{Tree: "web", Slot: "c9"}, Started: true}}}, w, edit(w, add(Process{PID: "n1/70", Tree: "web", Slot: "c9"})), ""},
		{"not started", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "st", Target: refWeb, Slot: &ProcessRef{Tree: "web", Slot: "c9"}, Started: true}}}, w, w, "st: web/c9 is not running"},
		{"dynamic started", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "d", Target: refPool, DynamicStarted: true}}}, w, edit(w, add(Process{PID: "n1/42", Tree: "pool", Slot: "worker-2", Dynamic: true, Parent: "n1/40"})), ""},
		{"dynamic not started", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "d", Target: refPool, DynamicStarted: true}}}, w, w, "n1/40 has 1 dynamic children, 1 before"},
		{"terminated", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "t", Target: refWeb, Slot: &refSub, Vacant: true}}}, w, edit(w, without("n1/10", "n1/11")), ""},
		{"not terminated", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "t", Target: refWeb, Slot: &refSub, Vacant: true}}}, w, w, "t: web/sub still runs as n1/10"},
		{"target gone before", Check{Kind: CheckOperationEffect, Effects: []Effect{{Op: "x", Target: ProcessRef{PID: "n1/99"}}}}, w, w, "x: target n1/99 was not alive before the phase"},
		// no_side_effects
		{"only expected changes", Check{Kind: CheckNoSideEffects, Nodes: []string{"n1"}, Processes: []ProcessRef{refC1, {PID: "n1/7"}}}, w, edit(c1Restarted, without("n1/7")), ""},
		{"unexpected death", Check{Kind: CheckNoSideEffects, Nodes: []string{"n1"}, Processes: []ProcessRef{refC1}}, w, edit(c1Restarted, without("n1/30")), "n1/30 exited or restarted, and no operation of the phase was expected to touch it"},
		{"unexpected restart", Check{Kind: CheckNoSideEffects, Nodes: []string{"n1"}, Processes: []ProcessRef{refC1}}, w, subRestarted, "n1/11 (web/sub/w) exited or restarted"},
		{"subtree expected", Check{Kind: CheckNoSideEffects, Nodes: []string{"n1"}, Processes: []ProcessRef{{Tree: "web", Slot: "sub", Subtree: true}}}, w, subRestarted, ""},
		{"name expected", Check{Kind: CheckNoSideEffects, Nodes: []string{"n1"}, Processes: []ProcessRef{refPeer}}, w, edit(w, without("n1/7")), ""},
		// consistency
		{"consistent", Check{Kind: CheckConsistency, Nodes: []string{"n1", "n2"}}, w, w, ""},
		{"one-way link", Check{Kind: CheckConsistency, Nodes: []string{"n1"}}, w, edit(w, set("n1/7", func(p *Process) { p.Links = nil })), "link n1/5 -> n1/7 is one-way"},
		{"dangling link", Check{Kind: CheckConsistency, Nodes: []string{"n1"}}, w, edit(w, without("n1/7")), "n1/5 links to n1/7, which is not alive"},
		{"duplicate name", Check{Kind: CheckConsistency, Nodes: []string{"n1"}}, w, edit(w, set("n1/30", func(p *Process) { p.Name = "peer" })), `name "peer" is held by n1/7 and n1/30`},
		{"orphan", Check{Kind: CheckConsistency, Nodes: []string{"n1"}}, w, edit(w, without("n1/10")), "n1/11's supervisor n1/10 is not alive"},
		{"duplicate slot", Check{Kind: CheckConsistency, Nodes: []string{"n1"}}, w, edit(w, add(Process{PID: "n1/80", Tree: "web", Slot: "c1", Parent: "n1/1"})), "slot web/c1 is held by n1/5 and n1/80"},
		// supervision_trees
		{"trees whole", Check{Kind: CheckSupervisionTrees, Trees: []string{"web", "pool"}}, w, c1Restarted, ""},
		{"permanent child missing", Check{Kind: CheckSupervisionTrees, Trees: []string{"web"}}, w, edit(w, without("n1/11")), "tree web: permanent child sub/w is not running"},
		{"temporary child may go", Check{Kind: CheckSupervisionTrees, Trees: []string{"web"}}, w, edit(w, without("n1/6")), ""},
		{"terminated subtree allowed", Check{Kind: CheckSupervisionTrees, Trees: []string{"web"}, Processes: []ProcessRef{{Tree: "web", Slot: "sub", Subtree: true}}}, w, edit(w, without("n1/10", "n1/11")), ""},
		{"root gone", Check{Kind: CheckSupervisionTrees, Trees: []string{"web"}}, w, edit(w, without("n1/1")), "tree web: the root supervisor is not running"},
		{"unknown kind", Check{Kind: "psychic"}, w, w, `unknown check "psychic"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Evaluate(tt.check, tt.before, tt.after)
			if res.Kind != tt.check.Kind {
				t.Errorf("kind %q", res.Kind)
			}
			if tt.fail == "" {
				if !res.OK {
					t.Errorf("failed: %v", res.Failures)
				}
				return
			}
			if res.OK || !strings.Contains(strings.Join(res.Failures, "\n"), tt.fail) {
				t.Errorf("failures %q, want one containing %q", res.Failures, tt.fail)
			}
		})
	}
}

func TestEvaluateCaptured(t *testing.T) {
	res := Evaluate(Check{Kind: CheckCaptureState, Processes: []ProcessRef{refC1, refPeer, {PID: "n1/99", Optional: true}}}, world(), nil)
	if !res.OK || strings.Join(res.Captured, ",") != "n1/5,n1/7" {
		t.Errorf("%+v", res)
	}
}

// TestPlannedChecksEndToEnd builds a strict plan from facts matching
// world(), and evaluates its checks against good and bad outcomes.
func TestPlannedChecksEndToEnd(t *testing.T) {
	p := &Plan{SafetyLevel: Strict, Operations: []Operation{
		{ID: "k", Type: KillProcess, Node: "n1", Target: Target{Supervisor: "web", ChildID: "c1"}},
		{ID: "c", Type: ChangeSupervisorStrategy, Node: "n1", Target: Target{Supervisor: "web", ChildID: "sub"}, Params: Params{Strategy: spec.RestForOne}},
	}}
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{
		{OpID: "k", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c1", Restart: spec.Permanent, Status: Running},
			Affected: []AffectedProcess{{PID: "n1/7", Node: "n1", Relation: Linked}}},
		{OpID: "c", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/10", Node: "n1", Kind: KindSupervisor, Tree: "web", Slot: "sub", Strategy: spec.OneForOne},
			Affected: []AffectedProcess{{PID: "n1/11", Node: "n1", Relation: Child, Tree: "web", Slot: "sub/w"}}},
	}}
	r := mustBuild(t, p, facts)
	if len(r.Phases) != 2 {
		t.Fatalf("%d phases", len(r.Phases))
	}
	w := world()
	// Phase 0: kill web/c1; the linked peer n1/7 dies with it.
	good := edit(w, all(without("n1/5", "n1/7"), set("n1/1", func(*Process) {}),
		add(Process{PID: "n1/50", Kind: KindProcess, Status: Running, Tree: "web", Slot: "c1", Parent: "n1/1", Restart: spec.Permanent})))
	for _, c := range r.Phases[0].PreChecks {
		if res := Evaluate(c, w, nil); !res.OK {
			t.Errorf("phase 0 pre %s: %v", c.Kind, res.Failures)
		}
	}
	for _, c := range r.Phases[0].PostChecks {
		if res := Evaluate(c, w, good); !res.OK {
			t.Errorf("phase 0 post %s: %v", c.Kind, res.Failures)
		}
	}
	// Bad outcome: c1 not restarted, and the unrelated n1/30 died.
	bad := edit(w, without("n1/5", "n1/7", "n1/30"))
	failed := map[CheckKind]bool{}
	for _, c := range r.Phases[0].PostChecks {
		if res := Evaluate(c, w, bad); !res.OK {
			failed[c.Kind] = true
		}
	}
	for _, k := range []CheckKind{CheckOperationEffect, CheckNoSideEffects, CheckSupervisionTrees} {
		if !failed[k] {
			t.Errorf("bad outcome passed %s", k)
		}
	}
	// Phase 1, run on the state phase 0 left: change web/sub's strategy.
	after := edit(good, set("n1/10", func(p *Process) { p.Strategy = spec.RestForOne }))
	for _, c := range r.Phases[1].PreChecks {
		if res := Evaluate(c, good, nil); !res.OK {
			t.Errorf("phase 1 pre %s: %v", c.Kind, res.Failures)
		}
	}
	for _, c := range r.Phases[1].PostChecks {
		if res := Evaluate(c, good, after); !res.OK {
			t.Errorf("phase 1 post %s: %v", c.Kind, res.Failures)
		}
	}
	wantPre := []CheckKind{CheckTargetsAlive, CheckResourcesAvailable, CheckParametersValid, CheckSystemStable, CheckCaptureState, CheckExternalDependencies}
	wantPost := []CheckKind{CheckOperationEffect, CheckNoSideEffects, CheckSystemStable, CheckConsistency, CheckSupervisionTrees}
	d := r.DryRun()
	if !slices.Equal(d.Phases[1].PreChecks, wantPre) || !slices.Equal(d.Phases[1].PostChecks, wantPost) {
		t.Errorf("strict checks %v %v", d.Phases[1].PreChecks, d.Phases[1].PostChecks)
	}
	// The kill alone in phase 0 does not wait for a stable node.
	notStable := func(k CheckKind) bool { return k == CheckSystemStable }
	if !slices.Equal(d.Phases[0].PreChecks, slices.DeleteFunc(slices.Clone(wantPre), notStable)) ||
		!slices.Equal(d.Phases[0].PostChecks, slices.DeleteFunc(slices.Clone(wantPost), notStable)) {
		t.Errorf("strict checks of the kill %v %v", d.Phases[0].PreChecks, d.Phases[0].PostChecks)
	}
	for _, lvl := range []SafetyLevel{Moderate, Permissive} {
		p.SafetyLevel = lvl
		d := mustBuild(t, p, facts).DryRun()
		if !slices.Equal(d.Phases[0].PreChecks, wantPre[:4]) || !slices.Equal(d.Phases[0].PostChecks, wantPost[:3]) {
			t.Errorf("%s checks %v %v", lvl, d.Phases[0].PreChecks, d.Phases[0].PostChecks)
		}
	}
}

// TestForNode: each node's share of a phase's checks passes on that node's
// own runtime alone.
func TestForNode(t *testing.T) {
	p := &Plan{SafetyLevel: Permissive, Operations: []Operation{
		{ID: "s1", Type: SuspendProcess, Node: "n1", Target: Target{Name: "peer"}},
		{ID: "s2", Type: SuspendProcess, Node: "n2", Target: Target{PID: "n2/1"}},
	}}
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}, {Node: "n2", Alive: true}}, Operations: []OperationFacts{
		{OpID: "s1", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/7", Node: "n1", Status: Running}},
		{OpID: "s2", Target: ProcessFacts{Exists: true, Alive: true, PID: "n2/1", Node: "n2", Status: Running}},
	}}
	r := mustBuild(t, p, facts)
	w := world()
	after := edit(w, set("n1/7", func(p *Process) { p.Status = Suspended }))
	after.Nodes[1].Processes = []Process{{PID: "n2/1", Kind: KindProcess, Status: Suspended}}
	for _, node := range []string{"n1", "n2"} {
		only := func(o *Observed) *Observed {
			out := &Observed{}
			for _, ns := range o.Nodes {
				if ns.Node == node {
					out.Nodes = append(out.Nodes, ns)
				}
			}
			return out
		}
		for _, c := range r.Phases[0].PreChecks {
			if res := Evaluate(c.ForNode(node), only(w), nil); !res.OK {
				t.Errorf("%s pre %s: %v", node, c.Kind, res.Failures)
			}
		}
		for _, c := range r.Phases[0].PostChecks {
			share := c.ForNode(node)
			if res := Evaluate(share, only(w), only(after)); !res.OK {
				t.Errorf("%s post %s: %v", node, c.Kind, res.Failures)
			}
			if c.Kind == CheckOperationEffect && len(share.Effects) != 1 {
				t.Errorf("%s: %d effects", node, len(share.Effects))
			}
		}
		// The whole check fails on one node's state alone.
		if res := Evaluate(r.Phases[0].PreChecks[0], only(w), nil); res.OK {
			t.Errorf("%s: unfiltered targets_alive passed on one node", node)
		}
	}
}

// An operation may name a simple_one_for_one instance by the id its
// supervisor gave it ("worker-1"), as the runtime accepts: its checks find
// the running instance by that slot, before and after the phase.
func TestChecksFindInstanceByID(t *testing.T) {
	w := world()
	instance := ProcessFacts{Exists: true, Alive: true, PID: "n1/41", Node: "n1", Kind: KindProcess, Tree: "pool", Slot: "worker-1", Restart: spec.Temporary, Status: Running, Dynamic: true}
	pool := ProcessFacts{Exists: true, Alive: true, PID: "n1/40", Node: "n1", Kind: KindSupervisor, Tree: "pool", Strategy: spec.SimpleOneForOne, Status: Running}
	for _, tc := range []struct {
		name  string
		op    Operation
		facts OperationFacts
		after *Observed
	}{
		{"terminate_child", Operation{ID: "t", Type: TerminateChild, Node: "n1", Target: Target{Supervisor: "pool"}, Params: Params{ChildID: "worker-1"}},
			OperationFacts{OpID: "t", Target: pool, Child: &instance}, edit(w, without("n1/41"))},
		{"kill_process", Operation{ID: "k", Type: KillProcess, Node: "n1", Target: Target{Supervisor: "pool", ChildID: "worker-1"}},
			OperationFacts{OpID: "k", Target: instance}, edit(w, without("n1/41"))},
		{"send_message", Operation{ID: "m", Type: SendMessage, Node: "n1", Target: Target{Supervisor: "pool", ChildID: "worker-1"}, Params: Params{Message: "ping"}},
			OperationFacts{OpID: "m", Target: instance}, edit(w, set("n1/41", func(p *Process) { p.MessagesIn++ }))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, lvl := range []SafetyLevel{Strict, Moderate} {
				r := mustBuild(t, &Plan{SafetyLevel: lvl, Operations: []Operation{tc.op}},
					&Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{tc.facts}})
				ph := r.Phases[0]
				for _, c := range ph.PreChecks {
					if res := Evaluate(c, w, nil); !res.OK {
						t.Errorf("%s pre %s: %v", lvl, c.Kind, res.Failures)
					}
				}
				for _, c := range ph.PostChecks {
					if res := Evaluate(c, w, tc.after); !res.OK {
						t.Errorf("%s post %s: %v", lvl, c.Kind, res.Failures)
					}
				}
			}
		})
	}
	// The instance gone before the phase: the pre-checks say so.
	gone := edit(w, without("n1/41"))
	res := Evaluate(Check{Kind: CheckParametersValid, Params: []ParamRule{{Op: "t", Target: refPool, ChildPresent: &ProcessRef{Tree: "pool", Slot: "worker-1", Node: "n1"}}}}, gone, nil)
	if res.OK || !strings.Contains(strings.Join(res.Failures, ";"), "pool/worker-1 is not running") {
		t.Errorf("gone instance: %+v", res)
	}
	// Still running after a terminate_child: its effect fails.
	r := mustBuild(t, &Plan{Operations: []Operation{{ID: "t", Type: TerminateChild, Node: "n1", Target: Target{Supervisor: "pool"}, Params: Params{ChildID: "worker-1"}}}},
		&Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{{OpID: "t", Target: pool, Child: &instance}}})
	if res := Evaluate(r.Phases[0].PostChecks[0], w, w); res.OK || !strings.Contains(strings.Join(res.Failures, ";"), "pool/worker-1 still runs as n1/41") {
		t.Errorf("instance not terminated: %+v", res)
	}
}
