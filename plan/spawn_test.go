package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// spawnFacts are the facts of spawn operations on n1 (n2 too, for
// node_down), the holder of the name, if any, as each one's target.
func spawnFacts(ops ...OperationFacts) *Facts {
	return &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}, {Node: "n2", Alive: false}}, Operations: ops}
}

func spawnOp(id, name string) Operation {
	return Operation{ID: id, Type: Spawn, Node: "n1", Params: Params{Behavior: "echo", Name: name, State: `{"n":1}`}}
}

// failuresOf evaluates checks on n1 and joins the failures, "" if none.
func failuresOf(cs []Check, before, after *Observed) string {
	var out []string
	for _, c := range cs {
		if res := Evaluate(c.ForNode("n1"), before, after); !res.OK {
			out = append(out, string(c.Kind)+": "+strings.Join(res.Failures, "; "))
		}
	}
	return strings.Join(out, " | ")
}

// A spawn's phase: nothing to find alive before (it has no target), one
// new process counted against the node, its name free; after it, the very
// process it reports (or, named, the one under its name) alive,
// unsupervised, new, running its behavior under its name. Its rollback
// kills that process.
func TestSpawnChecks(t *testing.T) {
	spawned := Process{PID: "n1/50", Kind: KindProcess, Status: Running, Name: "fresh", Behavior: "echo"}
	after := edit(world(), add(spawned))
	for _, lvl := range levelsAll {
		r := mustBuild(t, &Plan{SafetyLevel: lvl, Operations: []Operation{spawnOp("sp", "fresh")}}, spawnFacts(OperationFacts{OpID: "sp", Target: ProcessFacts{Node: "n1"}}))
		ph := r.Phases[0]
		for _, c := range ph.PreChecks {
			switch c.Kind {
			case CheckTargetsAlive, CheckCaptureState:
				if len(c.Processes) != 0 {
					t.Errorf("%s: %s names %+v: a spawn has no process before its phase", lvl, c.Kind, c.Processes)
				}
			case CheckResourcesAvailable:
				if len(c.Limits.Nodes) != 1 || c.Limits.Nodes[0] != (NodeLoad{Node: "n1", NewProcesses: 1}) {
					t.Errorf("%s: resources_available %+v", lvl, c.Limits.Nodes)
				}
			}
		}
		if got := failuresOf(ph.PreChecks, world(), nil); got != "" {
			t.Errorf("%s: pre-checks with the name free: %s", lvl, got)
		}
		taken := edit(world(), set("n1/30", func(p *Process) { p.Name = "fresh" }))
		if got := failuresOf(ph.PreChecks, taken, nil); got != `parameters_valid: sp: name "fresh" on node n1 is already registered to n1/30` {
			t.Errorf("%s: pre-checks with the name taken: %q", lvl, got)
		}
		bound := BindResults(ph.PostChecks, map[string]string{"sp": "n1/50"})
		if got := failuresOf(bound, world(), after); got != "" {
			t.Errorf("%s: post-checks after the spawn: %s", lvl, got)
		}
		if got := failuresOf(ph.PostChecks, world(), after); got != "" {
			t.Errorf("%s: post-checks by name: %s", lvl, got)
		}
		for _, tt := range []struct {
			name   string
			pid    string
			after  *Observed
			expect string
		}{
			{"other behavior", "n1/50", edit(world(), add(func() Process { p := spawned; p.Behavior = "counter"; return p }())), `sp: n1/50 runs "counter", not echo`},
			{"not registered", "n1/50", edit(world(), add(func() Process { p := spawned; p.Name = ""; return p }())), `sp: n1/50 is not registered as "fresh"`},
			{"gone", "n1/50", world(), "sp: n1/50 is not alive after the phase"},
			{"gone, by name", "", world(), `sp: the process registered as "fresh" on n1 is not alive after the phase`},
			{"an old process", "n1/30", edit(world(), set("n1/30", func(p *Process) { p.Name, p.Behavior = "fresh", "echo" })), "sp: n1/30 was alive before the phase: not the process it spawned"},
			{"supervised", "n1/5", edit(world(), set("n1/5", func(p *Process) { p.Name, p.Behavior = "fresh", "echo" })), "sp: n1/5 is supervised (in web/c1), not a spawned process"},
		} {
			checks := ph.PostChecks
			if tt.pid != "" {
				checks = BindResults(checks, map[string]string{"sp": tt.pid})
			}
			var eff []Check
			for _, c := range checks {
				if c.Kind == CheckOperationEffect {
					eff = append(eff, c)
				}
			}
			if got := failuresOf(eff, world(), tt.after); !strings.Contains(got, tt.expect) {
				t.Errorf("%s, %s: operation_effect %q, want %q", lvl, tt.name, got, tt.expect)
			}
		}
		if len(ph.Rollback) != 1 {
			t.Fatalf("%s: rollback %+v", lvl, ph.Rollback)
		}
		c := ph.Rollback[0]
		if c.Operation == nil || c.Operation.Type != KillProcess || !c.TargetFromResult || c.Operation.Node != "n1" ||
			c.Operation.Params.Reason != DefaultReason || c.Operation.ID != "rollback-sp" {
			t.Errorf("%s: rollback %+v", lvl, c)
		}
	}
	// BindResults leaves the checks it was given as they were.
	r := mustBuild(t, &Plan{Operations: []Operation{spawnOp("sp", "fresh")}}, spawnFacts(OperationFacts{OpID: "sp", Target: ProcessFacts{Node: "n1"}}))
	_ = BindResults(r.Phases[0].PostChecks, map[string]string{"sp": "n1/50"})
	for _, c := range r.Phases[0].PostChecks {
		for _, e := range c.Effects {
			if e.Target.PID != "" {
				t.Errorf("BindResults changed its input: %+v", e)
			}
		}
	}
	d := r.DryRun()
	if len(d.Phases[0].Rollback) != 1 || d.Phases[0].Rollback[0] != "sp: kill_process the pid in sp's result (kill the spawned process, by the pid in the operation's result)" {
		t.Errorf("dry run rollback %q", d.Phases[0].Rollback)
	}
	if len(d.Phases[0].Operations) != 1 || d.Phases[0].Operations[0] != "sp: spawn new echo process as fresh" {
		t.Errorf("dry run operations %q", d.Phases[0].Operations)
	}
}

// An unnamed spawn's process is known only by the pid its result reports.
func TestSpawnUnnamed(t *testing.T) {
	r := mustBuild(t, &Plan{Operations: []Operation{spawnOp("sp", "")}}, spawnFacts(OperationFacts{OpID: "sp", Target: ProcessFacts{Node: "n1"}}))
	ph := r.Phases[0]
	after := edit(world(), add(Process{PID: "n1/50", Kind: KindProcess, Status: Running, Behavior: "echo"}))
	if got := failuresOf(ph.PreChecks, world(), nil); got != "" {
		t.Errorf("pre-checks: %s", got)
	}
	if got := failuresOf(ph.PostChecks, world(), after); !strings.Contains(got, "operation_effect: sp: the spawned process's pid is not known (the operation reported none)") {
		t.Errorf("post-checks without a pid: %q", got)
	}
	if got := failuresOf(BindResults(ph.PostChecks, map[string]string{"sp": "n1/50"}), world(), after); got != "" {
		t.Errorf("post-checks with the pid: %s", got)
	}
}

// A spawn of a name already registered on its node is refused at planning
// (name_taken), as one on a node down is; an operation on the name it
// registers, declared after it, runs in a later phase.
func TestSpawnConflicts(t *testing.T) {
	holder := ProcessFacts{Exists: true, Alive: true, PID: "n1/7", Node: "n1", Kind: KindProcess, Status: Running}
	_, err := Build(&Plan{Operations: []Operation{spawnOp("sp", "peer")}}, spawnFacts(OperationFacts{OpID: "sp", Target: holder}), testOpts)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `sp: name "peer" on node n1 is already registered to n1/7`) {
		t.Errorf("name taken: %v", err)
	}
	down := spawnOp("sp", "x")
	down.Node = "n2"
	_, err = Build(&Plan{Operations: []Operation{down}}, spawnFacts(OperationFacts{OpID: "sp", Target: ProcessFacts{Node: "n2"}}), testOpts)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "sp: node n2 is down") {
		t.Errorf("node down: %v", err)
	}
	send := Operation{ID: "hello", Type: SendMessage, Node: "n1", Target: Target{Name: "fresh"}, Params: Params{Message: "hi"}}
	r, err := Build(&Plan{Operations: []Operation{spawnOp("sp", "fresh"), send}},
		spawnFacts(OperationFacts{OpID: "sp", Target: ProcessFacts{Node: "n1"}}, OperationFacts{OpID: "hello", Target: ProcessFacts{Node: "n1"}}), testOpts)
	if err == nil || r == nil {
		t.Fatalf("the send to a name not registered yet: %v", err)
	}
	// The send's target is missing at planning (it is a plan of live
	// targets); what matters here is the order the name imposes.
	if got := phasesOf(r); !slices.Equal(got[0], []string{"sp"}) || len(got) != 2 {
		t.Errorf("phases %v", got)
	}
	if !slices.ContainsFunc(r.Edges, func(e Edge) bool {
		return e.From == "sp" && e.To == "hello" && e.Kind == Implicit && strings.Contains(e.Reason, "both target name n1:fresh")
	}) {
		t.Errorf("edges %+v", r.Edges)
	}
}
