package supervision_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/supervision"
)

// A committed update whose changed child fails to start is refused whole
// (issue 11, item 7): the running child is not lost, the part of the
// update that did start is undone, the tree runs the spec of the index the
// reconciler reports applied, and the refusal is reported (spec_rejected,
// SpecRejected) until a spec that starts is committed. The backoff is on a
// manual clock, so no retry runs while the test looks.
func TestRefusedUpdateKeepsTheRunningTree(t *testing.T) {
	clk := clock.NewManual(time.Now())
	d := newDSClusterOn(t, 1, clk)
	good := `{"name":"svc","node":"n1","children":[{"id":"a","behavior":"counter"},{"id":"b","behavior":"echo"},{"id":"c","behavior":"kv"}]}`
	first := apply(t, d.sup(0), good)
	pids := waitApplied(t, d, "n1", "svc", first.Tree.ModifyIndex)
	l := d.layer("n1")
	rt := l.Runtime()
	sub := rt.Subscribe(1024)
	defer sub.Close()

	// b changes to a child whose Init fails, and d is added.
	bad := strings.Replace(good, `{"id":"b","behavior":"echo"}`, `{"id":"b","behavior":"crasher","args":{"crash_in_init":"true"}},{"id":"d","behavior":"echo"}`, 1)
	refused := apply(t, d.sup(0), bad)
	if refused.Tree.ModifyIndex == first.Tree.ModifyIndex {
		t.Fatalf("the bad spec was not committed: %+v", refused)
	}
	deadline := time.After(20 * time.Second)
	var rejected actor.Event
	for rejected.Type == "" {
		select {
		case e := <-sub.C:
			if e.Tree == "svc" && e.Type == supervision.EventSpecRejected {
				rejected = e
			}
			if e.Tree == "svc" && e.Type == supervision.EventSpecApplied {
				t.Fatalf("the bad spec was applied: %+v", e)
			}
		case <-deadline:
			t.Fatal("no spec_rejected event")
		}
	}
	if !strings.Contains(string(rejected.Reason), "b") || !strings.Contains(string(rejected.Reason), "runs the spec of index") {
		t.Fatalf("spec_rejected reason %q", rejected.Reason)
	}

	if got := l.AppliedIndex("svc"); got != first.Tree.ModifyIndex {
		t.Fatalf("applied index %d, want %d (the spec the tree runs)", got, first.Tree.ModifyIndex)
	}
	idx, why, ok := l.SpecRejected("svc")
	if !ok || idx != refused.Tree.ModifyIndex || why == "" {
		t.Fatalf("SpecRejected = %d %q %v; want index %d", idx, why, ok, refused.Tree.ModifyIndex)
	}
	now, err := childPIDs(l, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if now["a"] != pids["a"] || now["c"] != pids["c"] || now["b"] == "" || now["d"] != "" {
		t.Fatalf("children after the refusal: %v (before %v)", now, pids)
	}
	bPID, _ := actor.ParsePID(now["b"])
	if info, err := rt.Process(bPID); err != nil || info.Behavior != "echo" {
		t.Fatalf("b runs %+v %v, want echo", info, err)
	}
	ti, _ := rt.Tree("svc")
	if len(ti.Spec.Children) != 3 || ti.Spec.Children[1].Behavior != "echo" {
		t.Fatalf("the runtime says the tree runs %+v", ti.Spec.Children)
	}
	if rep := rt.Validate(t.Context()); !rep.OK() {
		t.Fatalf("runtime invariants: %+v", rep)
	}

	// A fixed spec applies, and the refusal is no longer reported.
	fixed := strings.Replace(good, `{"id":"b","behavior":"echo"}`, `{"id":"b","behavior":"counter"},{"id":"d","behavior":"echo"}`, 1)
	ok2 := apply(t, d.sup(0), fixed)
	after := waitApplied(t, d, "n1", "svc", ok2.Tree.ModifyIndex)
	if after["a"] != pids["a"] || after["d"] == "" {
		t.Fatalf("children after the fix: %v", after)
	}
	if _, _, ok := l.SpecRejected("svc"); ok {
		t.Fatal("a refusal is still reported after a spec applied")
	}
}
