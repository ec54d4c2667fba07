package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/spec"
)

// deleteFacts are the facts of a delete_child "del" of child id of web on
// n1 (web is n1/1, one_for_one), the child as given.
func deleteFacts(child *ProcessFacts, more ...OperationFacts) *Facts {
	web := ProcessFacts{Exists: true, Alive: true, PID: "n1/1", Node: "n1", Kind: KindSupervisor, Tree: "web", Strategy: spec.OneForOne, Status: Running}
	return &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}},
		Operations: append([]OperationFacts{{OpID: "del", Target: web, Child: child}}, more...)}
}

func deleteOp(id string) Operation {
	return Operation{ID: "del", Type: DeleteChild, Node: "n1", Target: Target{Supervisor: "web"}, Params: Params{ChildID: id}}
}

// OTP's delete_child answers {error, running} for a running child and
// not_found for an unknown one, and does not apply to simple_one_for_one:
// the planner refuses those plans, except a delete of a child an earlier
// phase terminates.
func TestDeleteChildConflicts(t *testing.T) {
	c3 := &ProcessFacts{Exists: true, Node: "n1", Tree: "web", Slot: "c3", Restart: spec.Permanent, Spec: &spec.ChildSpec{ID: "c3", Behavior: "counter"}}
	running := &ProcessFacts{Exists: true, Alive: true, PID: "n1/6", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c2", Restart: spec.Permanent, Status: Running}
	pool := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{{OpID: "del",
		Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/40", Node: "n1", Kind: KindSupervisor, Tree: "pool", Strategy: spec.SimpleOneForOne, Status: Running},
		Child:  &ProcessFacts{Exists: true, Alive: true, PID: "n1/41", Node: "n1", Tree: "pool", Slot: "worker-1", Dynamic: true}}}}
	poolOp := deleteOp("worker-1")
	poolOp.Target.Supervisor = "pool"
	tests := []struct {
		name  string
		ops   []Operation
		facts *Facts
		want  string // the error conflict's kind and a piece of its message; "" for none
	}{
		{"stopped", []Operation{deleteOp("c3")}, deleteFacts(c3), ""},
		{"running", []Operation{deleteOp("c2")}, deleteFacts(running), "child_running: is running (OTP's {error, running})"},
		{"unknown", []Operation{deleteOp("nosuch")}, deleteFacts(&ProcessFacts{Node: "n1"}), "child_missing: has no child \"nosuch\""},
		{"simple_one_for_one", []Operation{poolOp}, pool, "strategy_mismatch: simple_one_for_one"},
		{"terminated first", []Operation{
			{ID: "term", Type: TerminateChild, Node: "n1", Target: Target{Supervisor: "web"}, Params: Params{ChildID: "c2"}},
			func() Operation { o := deleteOp("c2"); o.DependsOn = []string{"term"}; return o }(),
		}, deleteFacts(running, OperationFacts{OpID: "term", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/1", Node: "n1", Kind: KindSupervisor, Tree: "web"}, Child: running}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(&Plan{Operations: tt.ops}, tt.facts, testOpts)
			var errs []string
			if r != nil {
				for _, c := range r.Conflicts {
					if c.Severity == SeverityError {
						errs = append(errs, string(c.Kind)+": "+c.Message)
					}
				}
			}
			if tt.want == "" {
				if err != nil || len(errs) > 0 {
					t.Fatalf("Build = %v, conflicts %v", err, errs)
				}
				return
			}
			kind, text, _ := strings.Cut(tt.want, ": ")
			if !errors.Is(err, ErrConflict) || len(errs) != 1 || !strings.HasPrefix(errs[0], kind+":") || !strings.Contains(errs[0], text) {
				t.Fatalf("Build = %v, conflicts %v; want one %s with %q", err, errs, kind, text)
			}
		})
	}
}

// The checks around a delete_child: before, the slot holds no live
// process (and the supervisor is not simple_one_for_one); after, it still
// holds none and the supervisor keeps no spec of that id. Its rollback adds
// the gathered spec back and terminates it.
func TestDeleteChildChecks(t *testing.T) {
	c3 := &ProcessFacts{Exists: true, Node: "n1", Tree: "web", Slot: "c3", Restart: spec.Transient,
		Spec: &spec.ChildSpec{ID: "c3", Behavior: "counter", Restart: spec.Transient}}
	withSpecs := func(ids ...string) func(*NodeState) {
		return set("n1/1", func(p *Process) { p.ChildSpecs = ids })
	}
	before := edit(world(), withSpecs("c1", "c2", "c3", "sub"))
	for _, lvl := range levelsAll {
		r := mustBuild(t, &Plan{SafetyLevel: lvl, Operations: []Operation{deleteOp("c3")}}, deleteFacts(c3))
		ph := r.Phases[0]
		failures := func(cs []Check, before, after *Observed) string {
			var out []string
			for _, c := range cs {
				if res := Evaluate(c.ForNode("n1"), before, after); !res.OK {
					out = append(out, string(c.Kind)+": "+strings.Join(res.Failures, "; "))
				}
			}
			return strings.Join(out, " | ")
		}
		if got := failures(ph.PreChecks, before, nil); got != "" {
			t.Errorf("%s: pre-checks of a stopped child: %s", lvl, got)
		}
		runningC3 := edit(before, add(Process{PID: "n1/50", Kind: KindProcess, Status: Running, Tree: "web", Slot: "c3", Parent: "n1/1", Restart: spec.Transient}))
		if got := failures(ph.PreChecks, runningC3, nil); !strings.Contains(got, "parameters_valid: del: web/c3 is already running as n1/50") {
			t.Errorf("%s: pre-checks of a running child: %q", lvl, got)
		}
		after := edit(before, withSpecs("c1", "c2", "sub"))
		if got := failures(ph.PostChecks, before, after); got != "" {
			t.Errorf("%s: post-checks after the delete: %s", lvl, got)
		}
		if got := failures(ph.PostChecks, before, before); !strings.Contains(got, `operation_effect: del: web still has the spec of child "c3"`) {
			t.Errorf("%s: post-checks with the spec still there: %q", lvl, got)
		}
		if len(ph.Rollback) != 1 {
			t.Fatalf("%s: rollback %+v", lvl, ph.Rollback)
		}
		c := ph.Rollback[0]
		if c.Operation == nil || c.Operation.Type != StartChild || c.Operation.Params.Child == nil || c.Operation.Params.Child.ID != "c3" ||
			c.Operation.Params.Child.Restart != spec.Transient || c.Operation.Node != "n1" ||
			len(c.Then) != 1 || c.Then[0].Type != TerminateChild || c.Then[0].Params.ChildID != "c3" || c.Then[0].Node != "n1" {
			t.Errorf("%s: rollback %+v", lvl, c)
		}
	}
	// The dry run names both steps of the compensation.
	r := mustBuild(t, &Plan{Operations: []Operation{deleteOp("c3")}}, deleteFacts(c3))
	if rb := r.DryRun().Phases[0].Rollback; len(rb) != 1 || !strings.Contains(rb[0], "del: start_child web, then terminate_child web (add the spec of child c3 back") {
		t.Errorf("dry run rollback %q", rb)
	}
}
