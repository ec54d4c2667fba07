package examples_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// TestExamplePlansRun applies web.hcl and pool.hcl to a node, as the
// README's walkthrough does, then runs every example plan against them and
// expects each to succeed.
func TestExamplePlansRun(t *testing.T) {
	plans, err := filepath.Glob("plans/*")
	if err != nil || len(plans) < 2 {
		t.Fatalf("example plans: %v %v", plans, err)
	}
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		ccfg := coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg}
	}))
	conn := c.Conn(0)
	for _, f := range []string{"web.hcl", "pool.hcl"} {
		data, _ := os.ReadFile(f)
		if _, err := pb.NewSupervisionClient(conn).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: data, Filename: f}); err != nil {
			t.Fatal(err)
		}
	}
	c.Eventually(15*time.Second, func() error {
		resp, err := pb.NewSupervisionClient(conn).ListTrees(testkit.Ctx(t, 5*time.Second), &pb.ListTreesRequest{Live: true})
		if err != nil || len(resp.Trees) != 2 {
			return fmt.Errorf("trees: %v %v", resp, err)
		}
		for _, tr := range resp.Trees {
			if tr.AppliedIndex != tr.ModifyIndex || tr.Status != "running" {
				return fmt.Errorf("%s not running yet", tr.Name)
			}
		}
		return nil
	}, "web and pool running")
	coord := pb.NewCoordinationClient(conn)
	for _, f := range plans {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := coord.Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: data, Filename: filepath.Base(f)})
			if err != nil {
				t.Fatalf("apply %s: %v", f, err)
			}
			var rec *pb.PlanRecord
			c.Eventually(30*time.Second, func() error {
				r, _, err := c.Node(0).State().Plan(nil, resp.Id)
				if err != nil || r == nil || !state.PlanFinished(r.Status) {
					return fmt.Errorf("plan %s not finished", resp.Id)
				}
				rec = r
				return nil
			}, "plan %s", f)
			if rec.Status != state.PlanSucceeded {
				v := coordination.NewView(rec, nil)
				t.Fatalf("%s: %s (%s): %+v", f, rec.Status, rec.Reason, v.Phases)
			}
		})
	}
}
