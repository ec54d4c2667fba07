package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// replace_state and register_name: validated parameters, effects checked
// against the state after the phase, no compensation.
func TestRestoreOperationTypes(t *testing.T) {
	bad := []struct{ file, want string }{
		{`{"operations":[{"id":"a","type":"replace_state","target":{"supervisor":"web","child_id":"c1"}}]}`, "operations[0].params.state: required"},
		{`{"operations":[{"id":"a","type":"register_name","target":{"supervisor":"web","child_id":"c1"},"params":{"name":"9lives"}}]}`, "operations[0].params.name"},
		{`{"operations":[{"id":"a","type":"register_name","target":{"supervisor":"web","child_id":"c1"},"params":{"name":"x","state":"{}"}}]}`, "operations[0].params.state: not used by register_name"},
		{`{"operations":[{"id":"a","type":"replace_state","target":{"supervisor":"web","child_id":"c1"},"params":{"state":"` + strings.Repeat("x", MaxStateBytes+1) + `"}}]}`, "more than the limit"},
	}
	for _, b := range bad {
		p, err := Parse([]byte(b.file), "p.json")
		if err == nil {
			err = Validate(p, Options{Now: time.Unix(0, 0)})
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%.80s: %v, want %q", b.file, err, b.want)
		}
	}

	p, err := Parse([]byte(`safety_level = "permissive"
operation "st" {
  type   = "replace_state"
  node   = "n1"
  target {
    supervisor = "web"
    child_id   = "c1"
  }
  params { state = "{\"count\":7}" }
}
operation "nm" {
  type   = "register_name"
  node   = "n1"
  target {
    supervisor = "web"
    child_id   = "c2"
  }
  params { name = "second" }
}
`), "p.hcl")
	if err != nil {
		t.Fatal(err)
	}
	facts := &Facts{
		Operations: []OperationFacts{
			{OpID: "st", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c1", Status: Running}},
			{OpID: "nm", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/6", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c2", Status: Running}},
		},
		Nodes: []NodeFacts{{Node: "n1", Alive: true}},
	}
	res, err := Build(p, facts, Options{Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phases) != 1 {
		t.Fatalf("phases: %+v", res.Phases)
	}
	var effect *Check
	for i, c := range res.Phases[0].PostChecks {
		if c.Kind == CheckOperationEffect {
			effect = &res.Phases[0].PostChecks[i]
		}
	}
	if effect == nil {
		t.Fatal("no operation_effect check")
	}
	for _, c := range res.Phases[0].Rollback {
		if c.Operation != nil {
			t.Errorf("%s has a compensation: %+v", c.Op, c.Operation)
		}
	}
	before := world()
	named := edit(before, set("n1/6", func(p *Process) { p.Name = "second" }))
	if r := Evaluate(*effect, before, named); !r.OK {
		t.Fatalf("effects after a successful restore: %v", r.Failures)
	}
	if r := Evaluate(*effect, before, before); r.OK || !strings.Contains(strings.Join(r.Failures, ";"), `not registered as "second"`) {
		t.Fatalf("a missing registration passed: %v", r.Failures)
	}
	if r := Evaluate(*effect, before, edit(named, without("n1/5"))); r.OK {
		t.Fatal("a target that died passed replace_state's effect")
	}
}

// Plans of one group may act on the same targets in overlapping windows;
// others may not.
func TestGroupedPlansDoNotConflict(t *testing.T) {
	p, err := Parse([]byte(`{"group":"restore-1","operations":[{"id":"a","type":"send_message","node":"n1","target":{"supervisor":"web","child_id":"c1"},"params":{"message":"x"}}]}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	facts := func(group string) *Facts {
		return &Facts{
			Operations: []OperationFacts{{OpID: "a", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c1", Status: Running}}},
			Nodes:      []NodeFacts{{Node: "n1", Alive: true}},
			ActivePlans: []ActivePlan{{ID: "other", Group: group, Nodes: []string{"n1"}, Targets: []string{"web"},
				Window: Window{NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)}}},
		}
	}
	if _, err := Build(p, facts("restore-1"), Options{Now: now}); err != nil {
		t.Fatalf("same group: %v", err)
	}
	if _, err := Build(p, facts("restore-2"), Options{Now: now}); !errors.Is(err, ErrConflict) {
		t.Fatalf("another group: %v", err)
	}
	if _, err := Build(p, facts(""), Options{Now: now}); !errors.Is(err, ErrConflict) {
		t.Fatalf("no group: %v", err)
	}
	bad, _ := Parse([]byte(`{"group":"has space","operations":[{"id":"a","type":"send_message","node":"n1","target":{"pid":"n1/5"},"params":{"message":"x"}}]}`), "p.json")
	if err := Validate(bad, Options{Now: now}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "group") {
		t.Fatalf("bad group: %v", err)
	}
}
