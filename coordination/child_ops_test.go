package coordination_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
)

// childState is the state which_children reports for child id of the
// tree's root on node ("" when there is no such spec).
func (pc *pcluster) childState(t *testing.T, node, tree, id string) string {
	t.Helper()
	kids, err := pc.rt(node).WhichChildren(pc.pid(t, node, tree, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if k.ID == id {
			return k.State
		}
	}
	return ""
}

// delete_child removes a stopped child's spec: in a plan that terminates
// the child first; a delete of a running child is refused before anything
// is committed (OTP's {error, running}), and one of an unknown id too.
func TestDeleteChildPlan(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.trees(t, threeTrees)
	id := pc.apply(t, 1, `{"operations":[
	 {"id":"stop","type":"terminate_child","target":{"supervisor":"a"},"params":{"child_id":"c2"}},
	 {"id":"del","type":"delete_child","target":{"supervisor":"a"},"params":{"child_id":"c2"},"depends_on":["stop"]}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan:\n%s", report(rec))
	}
	if s := pc.childState(t, "n1", "a", "c2"); s != "" {
		t.Fatalf("c2 is %s after delete_child", s)
	}
	if _, err := pc.rt("n1").GetChildSpec(pc.pid(t, "n1", "a", ""), "c2"); !errors.Is(err, actor.ErrChildNotFound) {
		t.Fatalf("get_childspec after delete_child: %v", err)
	}
	for plan, want := range map[string]string{
		`{"operations":[{"id":"del","type":"delete_child","target":{"supervisor":"a"},"params":{"child_id":"c1"}}]}`: "is running (OTP's {error, running})",
		`{"operations":[{"id":"del","type":"delete_child","target":{"supervisor":"a"},"params":{"child_id":"c2"}}]}`: `has no child "c2"`,
	} {
		_, err := pc.coord(0).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(plan), Filename: "p.json"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("apply %s: %v, want %q", plan, err, want)
		}
	}
	if s := pc.childState(t, "n1", "a", "c1"); s != "running" {
		t.Fatalf("c1 is %q after the refused delete", s)
	}
}

// Rolling back a start_child of a static child terminates the child and
// deletes its spec (the supervisor is as before, so a validate finds no
// children mismatch); rolling back a delete_child adds the spec back,
// terminated, as it was.
func TestChildOpsRollBack(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.trees(t, `{"name":"fragile","node":"n1","max_restarts":0,"max_seconds":5,"children":[{"id":"w","behavior":"echo"}]}
{"name":"b","node":"n2","children":[{"id":"count","behavior":"counter"},{"id":"old","behavior":"echo","restart":"transient"}]}`)
	bSup := pc.pid(t, "n2", "b", "")
	if err := pc.rt("n2").TerminateChild(testkit.Ctx(t, 5*time.Second), bSup, "old"); err != nil {
		t.Fatal(err)
	}
	// The kill makes fragile's root give up, so the phase's post-checks
	// fail; the start_child and the delete_child of the same phase
	// completed and are undone.
	id := pc.apply(t, 0, `{"safety_level":"moderate","operations":[
	 {"id":"add","type":"start_child","target":{"supervisor":"b"},"params":{"child":{"id":"extra","behavior":"counter"}}},
	 {"id":"del","type":"delete_child","target":{"supervisor":"b"},"params":{"child_id":"old"}},
	 {"id":"kill","type":"kill_process","target":{"supervisor":"fragile","child_id":"w"}}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanRolledBack {
		t.Fatalf("want rolled_back:\n%s", report(rec))
	}
	last := rec.Stages[len(rec.Stages)-1]
	for _, s := range last.Steps {
		for _, o := range s.Operations {
			if !o.Ok {
				t.Fatalf("compensation %s failed:\n%s", o.Op, report(rec))
			}
		}
	}
	if s := pc.childState(t, "n2", "b", "extra"); s != "" {
		t.Fatalf("the started child's spec stays after the rollback (%s):\n%s", s, report(rec))
	}
	if s := pc.childState(t, "n2", "b", "old"); s != "terminated" {
		t.Fatalf("the deleted child is %q after the rollback, want terminated:\n%s", s, report(rec))
	}
	cs, err := pc.rt("n2").GetChildSpec(bSup, "old")
	if err != nil || cs.Behavior != "echo" || cs.Restart != "transient" {
		t.Fatalf("the deleted child's spec after the rollback: %+v, %v", cs, err)
	}
}
