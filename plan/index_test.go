package plan_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/steward/steward/plan"
)

// Operation and Compensation answer by id on a built Result, on a
// decoded one, and on one whose operations were reordered since.
func TestResultLookups(t *testing.T) {
	p := &plan.Plan{Batches: []int{2, 1}}
	for i := range 3 {
		p.Operations = append(p.Operations, plan.Operation{ID: fmt.Sprintf("up-%d", i), Type: plan.UpgradeCode, Node: "n1",
			Target: plan.Target{PID: fmt.Sprintf("n1/%d", i+1)}, Params: plan.Params{Behavior: "b@2", From: "b@1", Revert: plan.RevertDown}})
	}
	built, err := plan.Build(p, nil, plan.Options{Deployment: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(built)
	var decoded plan.Result
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*plan.Result{"built": built, "decoded": &decoded} {
		for i := range 3 {
			id := fmt.Sprintf("up-%d", i)
			if op := r.Operation(id); op == nil || op.ID != id {
				t.Errorf("%s: Operation(%s) = %v", name, id, op)
			}
		}
		if c := r.Compensation(1, "up-2"); c == nil || c.Operation == nil || c.Operation.Type != plan.RevertCode {
			t.Errorf("%s: Compensation(1, up-2) = %+v", name, c)
		}
		if r.Operation("nope") != nil || r.Compensation(0, "up-2") != nil || r.Compensation(5, "up-0") != nil {
			t.Errorf("%s: lookups of what is not there answered", name)
		}
	}
	decoded.Operations[0], decoded.Operations[2] = decoded.Operations[2], decoded.Operations[0]
	if op := decoded.Operation("up-0"); op == nil || op.ID != "up-0" {
		t.Errorf("after a reorder: Operation(up-0) = %v", op)
	}
}
