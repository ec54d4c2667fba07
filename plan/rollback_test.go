package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/steward/steward/spec"
)

func TestCompensate(t *testing.T) {
	web := Target{Supervisor: "web"}
	c1 := Target{Supervisor: "web", ChildID: "sub/c1"}
	supervised := func(r spec.Restart) ProcessFacts {
		return ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Tree: "web", Slot: "sub/c1", Restart: r, Status: Running}
	}
	child := &specChild
	tests := []struct {
		name   string
		op     Operation
		target ProcessFacts
		child  *ProcessFacts
		want   string // "none" or "type target params"
	}{
		{"kill permanent", Operation{Type: KillProcess, Target: c1}, supervised(spec.Permanent), nil, "restart_child web/sub {child_id:c1}"},
		{"kill transient", Operation{Type: KillProcess, Target: Target{PID: "n1/5"}, Params: Params{Reason: "normal"}}, supervised(spec.Transient), nil, "restart_child web/sub {child_id:c1}"},
		{"kill temporary", Operation{Type: KillProcess, Target: c1}, supervised(spec.Temporary), nil, "none"},
		{"kill top-level child", Operation{Type: KillProcess, Target: Target{Supervisor: "web", ChildID: "c1"}}, ProcessFacts{Tree: "web", Slot: "c1", Restart: spec.Permanent}, nil, "restart_child web {child_id:c1}"},
		{"kill dynamic", Operation{Type: KillProcess, Target: Target{PID: "n1/41"}}, ProcessFacts{Tree: "pool", Slot: "worker", Dynamic: true}, nil, "none"},
		{"kill root", Operation{Type: KillProcess, Target: web}, ProcessFacts{Tree: "web"}, nil, "none"},
		{"kill unsupervised", Operation{Type: KillProcess, Target: Target{PID: "n1/7"}}, ProcessFacts{PID: "n1/7"}, nil, "none"},
		{"strategy", Operation{Type: ChangeSupervisorStrategy, Target: web, Params: Params{Strategy: spec.OneForAll}}, ProcessFacts{Strategy: spec.RestForOne}, nil, "change_supervisor_strategy web {strategy:rest_for_one}"},
		{"strategy unknown", Operation{Type: ChangeSupervisorStrategy, Target: web, Params: Params{Strategy: spec.OneForAll}}, ProcessFacts{}, nil, "none"},
		{"suspend", Operation{Type: SuspendProcess, Target: c1}, supervised(spec.Permanent), nil, "resume_process web/sub/c1 {}"},
		{"suspend suspended", Operation{Type: SuspendProcess, Target: c1}, ProcessFacts{Status: Suspended}, nil, "none"},
		{"resume", Operation{Type: ResumeProcess, Target: c1}, ProcessFacts{Status: Suspended}, nil, "suspend_process web/sub/c1 {}"},
		{"resume running", Operation{Type: ResumeProcess, Target: c1}, ProcessFacts{Status: Running}, nil, "none"},
		{"start child", Operation{Type: StartChild, Target: web, Params: Params{Child: child}}, ProcessFacts{}, nil, "terminate_child web {child_id:c9}, then delete_child web {child_id:c9}"},
		{"start dynamic", Operation{Type: StartChild, Target: Target{Supervisor: "pool"}, Params: Params{Args: map[string]string{"n": "1"}}}, ProcessFacts{}, nil, "terminate_child pool {} (from result)"},
		{"terminate", Operation{Type: TerminateChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true, Alive: true}, "restart_child web {child_id:c2}"},
		{"terminate stopped", Operation{Type: TerminateChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true}, "none"},
		{"terminate dynamic", Operation{Type: TerminateChild, Target: Target{Supervisor: "pool"}, Params: Params{ChildID: "n1/41"}}, ProcessFacts{}, nil, "none"},
		{"restart child", Operation{Type: RestartChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true}, "terminate_child web {child_id:c2}"},
		{"restart running child", Operation{Type: RestartChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true, Alive: true}, "none"},
		{"delete child", Operation{Type: DeleteChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true, Spec: &spec.ChildSpec{ID: "c2", Behavior: "counter"}}, "start_child web {child:c2/counter}, then terminate_child web {child_id:c2}"},
		{"delete child without its spec", Operation{Type: DeleteChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true}, "none"},
		{"delete temporary child", Operation{Type: DeleteChild, Target: web, Params: Params{ChildID: "c2"}}, ProcessFacts{}, &ProcessFacts{Exists: true, Spec: &spec.ChildSpec{ID: "c2", Behavior: "counter", Restart: spec.Temporary}}, "none"},
		{"send", Operation{Type: SendMessage, Target: c1, Params: Params{Message: "x"}}, supervised(spec.Permanent), nil, "none"},
		{"restart supervisor", Operation{Type: RestartSupervisor, Target: web}, ProcessFacts{}, nil, "none"},
	}
	for _, tt := range tests {
		tt.op.ID = "op"
		c := Compensate(tt.op, tt.target, tt.child)
		render := func(op *Operation) string {
			s := fmt.Sprintf("%s %s {", op.Type, op.Target)
			if op.Params.ChildID != "" {
				s += "child_id:" + op.Params.ChildID
			}
			if op.Params.Child != nil {
				s += "child:" + op.Params.Child.ID + "/" + op.Params.Child.Behavior
			}
			if op.Params.Strategy != "" {
				s += "strategy:" + string(op.Params.Strategy)
			}
			return s + "}"
		}
		got := "none"
		if c.Operation != nil {
			got = render(c.Operation)
			if c.ChildFromResult {
				got += " (from result)"
			}
			if c.Operation.ID != "rollback-op" {
				t.Errorf("%s: id %q", tt.name, c.Operation.ID)
			}
			for _, then := range c.Then {
				got += ", then " + render(&then)
				if then.Node != c.Operation.Node || !strings.HasPrefix(then.ID, "rollback-op-") {
					t.Errorf("%s: then %+v", tt.name, then)
				}
			}
		} else if len(c.Then) > 0 {
			t.Errorf("%s: Then without an Operation: %+v", tt.name, c)
		}
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
		if c.Op != "op" || c.Note == "" {
			t.Errorf("%s: %+v", tt.name, c)
		}
	}
}

// TestPhaseRollbackOrder: a phase's compensations run in reverse
// declaration order.
func TestPhaseRollbackOrder(t *testing.T) {
	p := &Plan{SafetyLevel: Permissive, Operations: []Operation{
		{ID: "a", Type: SuspendProcess, Target: Target{PID: "n1/1"}},
		{ID: "b", Type: SuspendProcess, Target: Target{PID: "n1/2"}},
		{ID: "c", Type: SendMessage, Target: Target{PID: "n1/3"}, Params: Params{Message: "x"}},
	}}
	r := mustBuild(t, p, nil)
	var got []string
	for _, c := range r.Phases[0].Rollback {
		got = append(got, c.Op)
	}
	if fmt.Sprint(got) != "[c b a]" {
		t.Errorf("rollback order %v", got)
	}
}
