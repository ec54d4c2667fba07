package coordination_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// preFailures lists the failed pre-checks of a plan's phases.
func preFailures(rec *pb.PlanRecord) string {
	var out []string
	for _, st := range rec.Stages {
		for _, s := range st.Steps {
			for _, c := range s.PreChecks {
				if !c.Ok {
					out = append(out, c.Kind+": "+strings.Join(c.Failures, "; "))
				}
			}
		}
	}
	return strings.Join(out, "\n")
}

// A crash-looping child makes its node unstable: a send_message plan there
// is refused by system_stable, but terminate_child of the looping child
// runs (it stops what makes the node unstable); the node stays unstable
// for the restarts already counted, and --skip-check system_stable lets
// the send through, recorded on the plan.
func TestCrashLoopCanBeStopped(t *testing.T) {
	pc := newPCluster(t, 1, nil)
	// loop/crasher crashes at every message; loop/feed sends it one every
	// 50 ms; the supervisor allows 1000 restarts a second, so it loops.
	pc.tree(t, `{"name":"loop","node":"n1","max_restarts":1000,"max_seconds":1,"children":[
	 {"id":"crasher","behavior":"crasher","name":"crashy","args":{"crash_after":"1"}},
	 {"id":"feed","behavior":"ticker","args":{"target":"crashy","interval":"50ms","body":"crash"}}]}`)
	pc.tree(t, `{"name":"b","node":"n1","children":[{"id":"count","behavior":"counter"}]}`)
	rt := pc.rt("n1")
	counter := pc.pid(t, "n1", "b", "count")
	pc.Eventually(30*time.Second, func() error {
		if n := rt.RestartsSince(time.Now().Add(-plan.StabilityPeriod)); n <= plan.StableMaxRecentRestarts {
			return fmt.Errorf("%d recent restarts", n)
		}
		return nil
	}, "the crash loop to pass the stability threshold")

	send := `{"operations":[{"id":"inc","type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"inc"}}]}`
	refused := func(when string) {
		t.Helper()
		rec := pc.wait(t, pc.apply(t, 0, send), 30*time.Second)
		if rec.Status == state.PlanSucceeded || !strings.Contains(preFailures(rec), "system_stable: node n1:") || !strings.Contains(preFailures(rec), "recent restarts > 10") {
			t.Fatalf("%s: the send should be refused by system_stable:\n%s", when, report(rec))
		}
		if v := counterValue(t, rt, counter); v != 0 {
			t.Fatalf("%s: counter = %d, the refused send ran", when, v)
		}
	}
	refused("during the crash loop")

	// terminate_child of the looping child: no system_stable, it runs.
	dry, err := pc.coord(0).DryRun(testkit.Ctx(t, 20*time.Second), &pb.PlanRequest{Plan: []byte(`{"operations":[{"id":"stop","type":"terminate_child","target":{"supervisor":"loop"},"params":{"child_id":"crasher"}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dry.DryRunJson), "system_stable") || strings.Contains(string(dry.DryRunJson), `"unstable"`) {
		t.Fatalf("terminate_child's dry run names system_stable: %s", dry.DryRunJson)
	}
	id := pc.apply(t, 0, `{"operations":[{"id":"stop","type":"terminate_child","target":{"supervisor":"loop"},"params":{"child_id":"crasher"}}]}`)
	if rec := pc.wait(t, id, 30*time.Second); rec.Status != state.PlanSucceeded {
		t.Fatalf("terminate_child of the crash-looping child:\n%s", report(rec))
	}
	if pid, err := rt.Resolve(actor.Target{Tree: "loop", Path: "crasher"}); err == nil {
		t.Fatalf("the crasher still runs as %s", pid)
	}
	kids, err := rt.WhichChildren(pc.pid(t, "n1", "loop", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if k.ID == "crasher" && !k.PID.IsZero() {
			t.Fatalf("crasher restarted after terminate_child: %+v", k)
		}
	}

	// The restarts of the last minute still count: the send is refused.
	refused("after the crash loop stopped")

	// An unknown check name is refused, listing the valid ones.
	_, err = pc.coord(0).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(send), SkipChecks: []string{"stable"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `"stable" is not a check that can be skipped; valid: targets_alive, resources_available, parameters_valid, system_stable, external_dependencies`) {
		t.Fatalf("unknown check: %v", err)
	}

	// The operator overrides system_stable: the send runs, and the plan
	// says it skipped the check.
	resp, err := pc.coord(0).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(send), SkipChecks: []string{"system_stable"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := pc.wait(t, resp.Id, 30*time.Second); rec.Status != state.PlanSucceeded {
		t.Fatalf("send with system_stable skipped:\n%s", report(rec))
	}
	if v := counterValue(t, rt, counter); v != 1 {
		t.Fatalf("counter = %d after the send", v)
	}
	got, err := pc.coord(0).Get(testkit.Ctx(t, 10*time.Second), &pb.GetPlanRequest{Id: resp.Id})
	if err != nil {
		t.Fatal(err)
	}
	v := coordination.NewView(got.Plan, got.ResultJson)
	if !slices.Equal(v.SkippedChecks, []plan.CheckKind{plan.CheckSystemStable}) {
		t.Fatalf("view skipped_checks %v", v.SkippedChecks)
	}
	for _, ph := range v.Phases {
		for _, c := range append(ph.PreChecks, ph.PostChecks...) {
			if c.Kind == string(plan.CheckSystemStable) {
				t.Fatalf("a skipped check ran: %+v", c)
			}
		}
	}
}
