package snapshot

import (
	"fmt"
	"testing"

	"github.com/steward/steward/plan"
)

// Restore plans are cut at the operation limit without separating an
// operation from those that depend on it.
func TestBatchesKeepDependentsTogether(t *testing.T) {
	var ops []plan.Operation
	for i := 0; i < 5; i++ {
		r := fmt.Sprintf("restart-%d", i)
		ops = append(ops,
			plan.Operation{ID: r},
			plan.Operation{ID: fmt.Sprintf("state-%d", i), DependsOn: []string{r}},
			plan.Operation{ID: fmt.Sprintf("name-%d", i), DependsOn: []string{r}})
	}
	ops = append(ops, plan.Operation{ID: "lone"})
	got := batches(ops, 7)
	var sizes []int
	for _, b := range got {
		sizes = append(sizes, len(b))
		ids := map[string]bool{}
		for _, op := range b {
			ids[op.ID] = true
			for _, d := range op.DependsOn {
				if !ids[d] {
					t.Fatalf("%s is separated from %s", op.ID, d)
				}
			}
		}
	}
	if fmt.Sprint(sizes) != "[6 6 4]" {
		t.Fatalf("batch sizes %v", sizes)
	}
	if n := len(batches(nil, 10)); n != 0 {
		t.Fatalf("no operations, %d batches", n)
	}
}

// A chain (each operation depending on the one before, as queued messages
// are re-sent) is one group: never cut, however long.
func TestBatchesKeepChainsTogether(t *testing.T) {
	ops := []plan.Operation{{ID: "lone"}, {ID: "state"}}
	for i := 0; i < 6; i++ {
		prev := "state"
		if i > 0 {
			prev = fmt.Sprintf("m-%d", i-1)
		}
		ops = append(ops, plan.Operation{ID: fmt.Sprintf("m-%d", i), DependsOn: []string{prev}})
	}
	got := batches(ops, 4)
	var sizes []int
	for _, b := range got {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[1 7]" {
		t.Fatalf("batch sizes %v, want the chain of 7 kept whole", sizes)
	}
}
