package examples_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward/steward/coordination"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// TestExamplePlansRun applies web.hcl to a node, as the README's
// walkthrough does, then runs every example plan against it and expects
// each to succeed.
func TestExamplePlansRun(t *testing.T) {
	plans, err := filepath.Glob("plans/*")
	if err != nil || len(plans) < 2 {
		t.Fatalf("example plans: %v %v", plans, err)
	}
	c := testkit.NewCluster(t, 1, testkit.WithPlugins(func() []node.Plugin {
		sup := supervision.New(supervision.DefaultConfig())
		return []node.Plugin{sup, coordination.New(coordination.DefaultConfig(), sup)}
	}))
	conn := c.Conn(0)
	web, _ := os.ReadFile("web.hcl")
	applied, err := pb.NewSupervisionClient(conn).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: web, Filename: "web.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	c.Eventually(15*time.Second, func() error {
		resp, err := pb.NewSupervisionClient(conn).ListTrees(testkit.Ctx(t, 5*time.Second), &pb.ListTreesRequest{Live: true})
		if err != nil || len(resp.Trees) != 1 || resp.Trees[0].AppliedIndex != applied.Tree.ModifyIndex || resp.Trees[0].Status != "running" {
			return fmt.Errorf("web not running yet: %v %v", resp, err)
		}
		return nil
	}, "web running")
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
