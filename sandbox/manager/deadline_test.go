package manager_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox/manager"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gate is an echo whose Init waits until release closes (at most a
// minute): a part that takes its time to come up.
type gate struct {
	actor.Behavior
	release <-chan struct{}
}

func (g *gate) Init(p actor.Proc) error {
	select {
	case <-g.release:
	case <-time.After(time.Minute):
	}
	return g.Behavior.Init(p)
}

// A part that does not come up within the experiment's deadline: the
// leader fails the experiment at the deadline (the create does not wait
// longer) and every part is removed, the slow one too once it is up.
func TestExperimentDeadline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		sb := manager.DefaultConfig()
		sb.ResyncInterval = 200 * time.Millisecond
		coord := coordination.DefaultConfig()
		cat := behaviors.NewCatalog()
		if err := cat.Register(actor.Entry{Name: "gate", Version: "1", New: func(args map[string]string) (actor.Behavior, error) {
			e, err := behaviors.NewEcho(args)
			return &gate{Behavior: e, release: release}, err
		}}); err != nil {
			t.Fatal(err)
		}
		rc := actor.DefaultConfig()
		rc.Catalog = cat
		return stack.Config{Runtime: rc, Supervision: supervision.DefaultConfig(), Coordination: &coord, Sandboxes: &sb}
	}))
	c.WaitForLeader()
	f := &fixture{t: t, c: c, ctx: testkit.Ctx(t, 90*time.Second)}
	file := `
name     = "slow"
deadline = "2s"
sandbox "slow-a" {
  node = "n1"
  tree {
    child "e" { behavior = "echo" }
  }
}
sandbox "slow-b" {
  node = "n2"
  tree {
    child "g" { behavior = "gate" }
  }
}
`
	start := time.Now()
	_, err := f.experiments(2).Create(f.ctx, &pb.CreateExperimentRequest{File: []byte(file), Filename: "x.hcl"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "deadline") || !strings.Contains(err.Error(), "slow-b") {
		t.Fatalf("an experiment whose part does not come up in time: %v", err)
	}
	t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	st, err := f.experiments(0).Status(f.ctx, &pb.GetExperimentRequest{Id: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Experiment.Status != "failed" || len(st.Sandboxes) != 0 {
		t.Fatalf("status %v", st)
	}
	f.nowhere("slow-a")
	close(release) // slow-b comes up now, on a node that no longer places it
	f.nowhere("slow-b")
	for i := 0; i < 3; i++ {
		if _, err := f.runtime(i).SandboxStatus("slow-b"); err == nil {
			t.Fatalf("%s still runs slow-b", c.Node(i).Name())
		}
	}
}
