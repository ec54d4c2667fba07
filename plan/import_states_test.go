package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func importPlan(op string) []byte {
	return []byte(`{"safety_level":"permissive","operations":[` + op + `]}`)
}

// An import_states file parses into its entries, and validates.
func TestImportStatesParses(t *testing.T) {
	p, err := Parse(importPlan(`{"id":"s","type":"import_states","node":"n1","target":{"supervisor":"web"},
		"params":{"states":[{"child_id":"pool/w1","behavior":"counter","state":"{\"count\":7}"},
		                    {"pid":"n1/42","behavior":"counter","state":"{\"count\":3}"}]}}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	got := p.Operations[0].Params.States
	want := []StateImport{{ChildID: "pool/w1", Behavior: "counter", State: `{"count":7}`}, {PID: "n1/42", Behavior: "counter", State: `{"count":3}`}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("states %+v, want %+v", got, want)
	}
	if err := Validate(p, Options{KnownBehavior: func(b string) bool { return b == "counter" }}); err != nil {
		t.Fatal(err)
	}
}

// Each malformed import_states is refused with the path of what is wrong.
func TestImportStatesRefused(t *testing.T) {
	known := Options{KnownBehavior: func(b string) bool { return b == "counter" }}
	big := make([]string, MaxImportStates+1)
	for i := range big {
		big[i] = fmt.Sprintf(`{"child_id":"w%d","behavior":"counter","state":"1"}`, i)
	}
	fat := make([]string, MaxImportStatesBytes/MaxStateBytes+1)
	for i := range fat {
		fat[i] = fmt.Sprintf(`{"child_id":"w%d","behavior":"counter","state":"%s"}`, i, strings.Repeat("x", MaxStateBytes))
	}
	for _, tc := range []struct{ name, op, want string }{
		{"no states", `"params":{"states":[]}`, "operations[0].params.states: required for import_states"},
		{"no params", ``, "operations[0].params.states: required for import_states"},
		{"both", `"params":{"states":[{"child_id":"w1","pid":"n1/4","behavior":"counter","state":"1"}]}`, "operations[0].params.states[0]: give child_id or pid, not both"},
		{"neither", `"params":{"states":[{"behavior":"counter","state":"1"}]}`, "operations[0].params.states[0]: child_id or pid required"},
		{"bad path", `"params":{"states":[{"child_id":"a//b","behavior":"counter","state":"1"}]}`, `operations[0].params.states[0].child_id: "a//b" is not a child path`},
		{"pid elsewhere", `"params":{"states":[{"pid":"n2/4","behavior":"counter","state":"1"}]}`, `operations[0].params.states[0].pid: "n2/4" is not a pid on node n1`},
		{"duplicate", `"params":{"states":[{"child_id":"w1","behavior":"counter","state":"1"},{"child_id":"w1","behavior":"counter","state":"2"}]}`, "operations[0].params.states[1]: w1 is also named by states[0]"},
		{"no behavior", `"params":{"states":[{"child_id":"w1","state":"1"}]}`, "operations[0].params.states[0].behavior: required"},
		{"unknown behavior", `"params":{"states":[{"child_id":"w1","behavior":"nope","state":"1"}]}`, `operations[0].params.states[0].behavior: unknown behavior "nope"`},
		{"no state", `"params":{"states":[{"child_id":"w1","behavior":"counter"}]}`, "operations[0].params.states[0].state: required"},
		{"state too big", `"params":{"states":[{"child_id":"w1","behavior":"counter","state":"` + strings.Repeat("x", MaxStateBytes+1) + `"}]}`, fmt.Sprintf("operations[0].params.states[0].state: %d bytes, more than the limit of %d", MaxStateBytes+1, MaxStateBytes)},
		{"too many", `"params":{"states":[` + strings.Join(big, ",") + `]}`, fmt.Sprintf("operations[0].params.states: %d entries, more than the limit of %d", MaxImportStates+1, MaxImportStates)},
		{"too many bytes", `"params":{"states":[` + strings.Join(fat, ",") + `]}`, "bytes of states, more than the limit of"},
		{"unknown field", `"params":{"states":[{"child_id":"w1","behavior":"counter","state":"1","extra":"x"}]}`, "operations[0].params.states[0].extra: unknown field"},
		{"not an array", `"params":{"states":{"w1":"1"}}`, "operations[0].params.states: expected an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := `{"id":"s","type":"import_states","node":"n1","target":{"supervisor":"web"}`
			if tc.op != "" {
				op += "," + tc.op
			}
			data := importPlan(op + "}")
			if tc.name == "too many bytes" {
				// Over the plan file limit as well: validated as a plan
				// built in Go, as a restore could.
				p := &Plan{Operations: []Operation{{ID: "s", Type: ImportStates, Node: "n1", Target: Target{Supervisor: "web"}}}}
				for i := range fat {
					p.Operations[0].Params.States = append(p.Operations[0].Params.States, StateImport{ChildID: fmt.Sprintf("w%d", i), Behavior: "counter", State: strings.Repeat("x", MaxStateBytes)})
				}
				expectRefused(t, Validate(p, known), tc.want)
				return
			}
			p, err := Parse(data, "p.json")
			if err == nil {
				err = Validate(p, known)
			}
			expectRefused(t, err, tc.want)
		})
	}
}

// import_states targets a tree, and other types take no states.
func TestImportStatesTargetAndOtherTypes(t *testing.T) {
	p, err := Parse(importPlan(`{"id":"s","type":"import_states","node":"n1","target":{"supervisor":"web","child_id":"pool"},
		"params":{"states":[{"child_id":"w1","behavior":"counter","state":"1"}]}}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	expectRefused(t, Validate(p, Options{}), "operations[0].target: import_states targets a tree")
	p, err = Parse(importPlan(`{"id":"r","type":"replace_state","node":"n1","target":{"supervisor":"web","child_id":"w1"},
		"params":{"state":"1","states":[{"child_id":"w1","behavior":"counter","state":"1"}]}}`), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	expectRefused(t, Validate(p, Options{}), "operations[0].params.states: not used by replace_state")
}

// An import_states plans as one operation: the root keeps its pid after
// it, and its rollback says the states are not kept.
func TestImportStatesBuilds(t *testing.T) {
	r := buildOne(t, ImportStates, Permissive, testOpts)
	if len(r.Phases) != 1 || len(r.Phases[0].Operations) != 1 {
		t.Fatalf("phases %+v", r.Phases)
	}
	found := false
	for _, c := range r.Phases[0].PostChecks {
		for _, e := range c.Effects {
			if e.Op == "op" && e.Type == ImportStates {
				found = true
				if !e.SamePID {
					t.Fatalf("effect %+v: want the root's pid kept", e)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no operation_effect of the import: %+v", r.Phases[0].PostChecks)
	}
	// Its estimate grows with its entries (one here), so that the
	// stage of a large import is given the time it takes.
	if len(r.Schedule) != 1 || r.Schedule[0].EstimatedMS != estimateMS[ImportStates]+EstimatePerStateMS {
		t.Fatalf("schedule %+v, want an estimate of %d ms", r.Schedule, estimateMS[ImportStates]+EstimatePerStateMS)
	}
	if got := importEstimateMS(Operation{Type: ImportStates, Params: Params{States: make([]StateImport, 4000)}}); got != 4000*EstimatePerStateMS {
		t.Fatalf("4000 entries add %d ms", got)
	}
	c := Compensate(Operation{ID: "op", Type: ImportStates}, ProcessFacts{}, nil)
	if c.Operation != nil || c.Note != "the replaced states are not kept" {
		t.Fatalf("compensation %+v", c)
	}
}

func expectRefused(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %q", want)
	}
	if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrSyntax) {
		t.Fatalf("error %v is neither ErrInvalid nor ErrSyntax", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q\nwant it to contain %q", err, want)
	}
}
