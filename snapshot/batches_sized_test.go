package snapshot

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/steward/steward/plan"
)

// Restore plans are cut by bytes as well as by operations, keeping an
// import with the operations that depend on it, and each plan's file
// stays within plan.MaxPlanBytes.
func TestBatchesSizedCutsByBytes(t *testing.T) {
	var ops []plan.Operation
	for i := 0; i < 6; i++ {
		imp := plan.Operation{ID: fmt.Sprintf("states-%d", i), Type: plan.ImportStates, Node: "n1", Target: plan.Target{Supervisor: fmt.Sprintf("t%d", i)}}
		for k := 0; k < 100; k++ {
			imp.Params.States = append(imp.Params.States, plan.StateImport{ChildID: fmt.Sprintf("w%d", k), Behavior: "counter", State: strings.Repeat("x", 3000)})
		}
		ops = append(ops, imp,
			plan.Operation{ID: fmt.Sprintf("message-%d", i), Type: plan.SendMessage, DependsOn: []string{imp.ID}, Params: plan.Params{Message: "m"}})
	}
	got := batchesSized(ops, plan.MaxOperations, planBytes)
	var sizes []int
	for _, b := range got {
		sizes = append(sizes, len(b))
		in := map[string]bool{}
		for _, op := range b {
			in[op.ID] = true
			for _, d := range op.DependsOn {
				if !in[d] {
					t.Fatalf("%s is separated from %s", op.ID, d)
				}
			}
		}
		body, err := json.Marshal(plan.Plan{SafetyLevel: plan.Permissive, Timeout: "10m", Group: "restore-0123456789ab", Operations: b})
		if err != nil {
			t.Fatal(err)
		}
		if len(body) > plan.MaxPlanBytes {
			t.Fatalf("a plan of %d bytes, over the %d limit", len(body), plan.MaxPlanBytes)
		}
	}
	// Each import is about 330 KB: three fit in a plan, not four.
	if fmt.Sprint(sizes) != "[6 6]" {
		t.Fatalf("batch sizes %v, want [6 6]", sizes)
	}
	// Without a byte bound, the operation bound alone cuts.
	if n := len(batchesSized(ops, plan.MaxOperations, 0)); n != 1 {
		t.Fatalf("unbounded by bytes: %d batches, want 1", n)
	}
}
