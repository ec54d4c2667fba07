package health_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/health"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// newPlanCluster is a cluster running the supervision, coordination and
// health layers; the monitors never sample.
func newPlanCluster(t *testing.T, n int) *testkit.Cluster {
	t.Helper()
	scfg := supervision.DefaultConfig()
	scfg.ResyncInterval = time.Hour
	scfg.OpTimeout = 10 * time.Second
	return testkit.NewCluster(t, n, testkit.WithStack(func(string) stack.Config {
		ccfg := coordination.DefaultConfig()
		ccfg.StageTimeout = 3 * time.Second
		ccfg.SettleTimeout = 2 * time.Second
		hcfg := health.DefaultConfig()
		hcfg.Ticks = make(chan time.Time)
		hcfg.Sampler = &fakeSampler{}
		hcfg.Settle = 3 * time.Second
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Coordination: &ccfg, Health: &hcfg}
	}))
}

func commitTree(t *testing.T, c *testkit.Cluster, specJSON string) *pb.TreeSummary {
	t.Helper()
	resp, err := pb.NewSupervisionClient(c.Conn(0)).ApplyTree(testkit.Ctx(t, 15*time.Second), &pb.ApplyTreeRequest{Spec: []byte(specJSON), Filename: "spec.json"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return resp.Tree
}

func waitTreeAt(t *testing.T, c *testkit.Cluster, rec *pb.TreeSummary) {
	t.Helper()
	c.Eventually(20*time.Second, func() error {
		s := c.Stack(rec.Node)
		if s == nil {
			return fmt.Errorf("no stack on %s", rec.Node)
		}
		if got := s.Supervision.AppliedIndex(rec.Name); got != rec.ModifyIndex {
			return fmt.Errorf("%s applied %d, want %d", rec.Node, got, rec.ModifyIndex)
		}
		return nil
	}, "tree %s at index %d", rec.Name, rec.ModifyIndex)
}

// runPlan commits a plan and waits for it to finish.
func runPlan(t *testing.T, c *testkit.Cluster, planJSON string) *pb.PlanRecord {
	t.Helper()
	resp, err := pb.NewCoordinationClient(c.Conn(0)).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(planJSON), Filename: "p.json"})
	if err != nil {
		t.Fatalf("plan apply: %v", err)
	}
	var rec *pb.PlanRecord
	c.Eventually(30*time.Second, func() error {
		r, _, err := c.Leader().State().Plan(nil, resp.Id)
		if err != nil || r == nil {
			return fmt.Errorf("plan %s: %v", resp.Id, err)
		}
		rec = r
		if !state.PlanFinished(r.Status) {
			return fmt.Errorf("plan %s is %s", resp.Id, r.Status)
		}
		return nil
	}, "plan %s to finish", resp.Id)
	return rec
}

// A plan's start_child changes a supervisor's children in place, as the
// README says a plan may: validate takes the plan's committed record as
// the desired state of that child and is clean after the plan (issue 11,
// item 9). A child started outside any plan is still a mismatch.
func TestValidateAllowsChildrenAPlanStarted(t *testing.T) {
	c := newPlanCluster(t, 1)
	tree := commitTree(t, c, `{"name":"web","node":"n1","children":[{"id":"c1","behavior":"counter"},
	  {"id":"sub","type":"supervisor","children":[{"id":"w","behavior":"kv"}]}]}`)
	waitTreeAt(t, c, tree)
	hc := pb.NewHealthClient(c.Conn(0))
	if v := validate(t, hc, &pb.ValidateRequest{}); !v.Consistent {
		t.Fatalf("before the plan:%s", dump(v))
	}

	rec := runPlan(t, c, `{"safety_level":"moderate","timeout":"30s","operations":[
	 {"id":"grow","type":"start_child","target":{"supervisor":"web"},"params":{"child":{"id":"extra","behavior":"echo"}}},
	 {"id":"deep","type":"start_child","target":{"supervisor":"web","child_id":"sub"},"params":{"child":{"id":"more","behavior":"counter","restart":"transient"}}}]}`)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan %s: %s", rec.Status, rec.Reason)
	}
	rt := c.Stack("n1").Runtime
	for _, path := range []string{"extra", "sub/more"} {
		if _, err := rt.Resolve(actor.Target{Tree: "web", Path: path}); err != nil {
			t.Fatalf("web/%s after the plan: %v", path, err)
		}
	}
	if v := validate(t, hc, &pb.ValidateRequest{}); !v.Consistent {
		t.Fatalf("after a plan that started children:%s", dump(v))
	}

	// An operator's start_child has no plan behind it.
	root, _ := rt.Resolve(actor.Target{Tree: "web"})
	if _, err := rt.StartChild(testkit.Ctx(t, 10*time.Second), root, specChild("rogue", "echo")); err != nil {
		t.Fatal(err)
	}
	v := validate(t, hc, &pb.ValidateRequest{SettleMs: 300})
	got := find(v, "n1", health.KindChildrenMismatch)
	if len(got) != 1 || !strings.Contains(got[0].Detail, "not in the committed spec: rogue") || len(v.Violations) != 1 {
		t.Fatalf("operator child:%s", dump(v))
	}
}

// A committed update the runtime refuses leaves the tree on the spec it
// ran, and validate says which (issue 11, item 7): the applied index, the
// refused one and why, and nothing else wrong with the tree.
func TestValidateReportsARefusedSpec(t *testing.T) {
	c := newPlanCluster(t, 1)
	good := `{"name":"svc","node":"n1","children":[{"id":"a","behavior":"counter"},{"id":"b","behavior":"echo"}]}`
	first := commitTree(t, c, good)
	waitTreeAt(t, c, first)
	bad := strings.Replace(good, `"behavior":"echo"`, `"behavior":"crasher","args":{"crash_in_init":"true"}`, 1)
	refused := commitTree(t, c, bad)
	sup := c.Stack("n1").Supervision
	c.Eventually(20*time.Second, func() error {
		if idx, _, ok := sup.SpecRejected("svc"); !ok || idx != refused.ModifyIndex {
			return fmt.Errorf("not refused yet (%d %v)", idx, ok)
		}
		return nil
	}, "spec refused")
	v := validate(t, pb.NewHealthClient(c.Conn(0)), &pb.ValidateRequest{SettleMs: 300})
	want := fmt.Sprintf("runs the spec of index %d; the committed spec at index %d was refused", first.ModifyIndex, refused.ModifyIndex)
	got := find(v, "n1", health.KindTreeSpecStale)
	if len(got) != 1 || !strings.Contains(got[0].Detail, want) || len(v.Violations) != 1 {
		t.Fatalf("want one %s %q:%s", health.KindTreeSpecStale, want, dump(v))
	}
}

func specChild(id, behavior string) spec.ChildSpec {
	cs := spec.ChildSpec{ID: id, Behavior: behavior}
	spec.NormalizeChild(&cs)
	return cs
}
