package manager_test

import (
	"fmt"
	"strings"
	"sync"
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
	entered chan<- struct{}
}

func (g *gate) Init(p actor.Proc) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
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
	release, open := releaser(t)
	f, _ := newGateFixture(t, release)
	c := f.c
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
    child "g" { behavior = "start_gate" }
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
	done := f.settles(1, "slow-b")
	open() // slow-b comes up now, on a node that no longer places it
	done()
	f.nowhere("slow-b")
	for i := 0; i < 3; i++ {
		if _, err := f.runtime(i).SandboxStatus("slow-b"); err == nil {
			t.Fatalf("%s still runs slow-b", c.Node(i).Name())
		}
	}
}

// newGateFixture is a 3-node cluster whose catalog has "start_gate" (an echo
// whose Init waits for release), its links cuttable (testkit.Partition).
func newGateFixture(t *testing.T, release <-chan struct{}) (*fixture, <-chan struct{}) {
	t.Helper()
	entered := make(chan struct{}, 16)
	c := testkit.NewCluster(t, 3, testkit.WithPartitions(), testkit.WithStack(func(string) stack.Config {
		sb := manager.DefaultConfig()
		sb.ResyncInterval = 200 * time.Millisecond
		coord := coordination.DefaultConfig()
		cat := behaviors.NewCatalog()
		if err := cat.Register(actor.Entry{Name: "start_gate", Version: "1", New: func(args map[string]string) (actor.Behavior, error) {
			e, err := behaviors.NewEcho(args)
			return &gate{Behavior: e, release: release, entered: entered}, err
		}}); err != nil {
			t.Fatal(err)
		}
		rc := actor.DefaultConfig()
		rc.Catalog = cat
		return stack.Config{Runtime: rc, Supervision: supervision.DefaultConfig(), Coordination: &coord, Sandboxes: &sb}
	}))
	c.WaitForLeader()
	return &fixture{t: t, c: c, ctx: testkit.Ctx(t, 90*time.Second)}, entered
}

// releaser is a gate's release channel, closed once (by the test or at
// its end).
func releaser(t *testing.T) (chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(ch) }) }
	t.Cleanup(open)
	return ch, open
}

// A node lost in the middle of an experiment's creation: the experiment
// is committed, one part runs, the other's node is starting it when it is
// cut off from the others. The leader fails the experiment (the node is
// lost before every part was up) and removes the running part; the cut
// node, once back, stops the part it went on starting. Nothing is left on
// any node.
func TestExperimentNodeLostMidCreation(t *testing.T) {
	release, open := releaser(t)
	f, entered := newGateFixture(t, release)
	c := f.c
	leader := c.Leader()
	li := c.Index(leader.Name())
	lost := c.Index(c.Followers()[0].Name())
	file := fmt.Sprintf(`
name     = "mid"
deadline = "60s"
sandbox "mid-a" {
  node = "%s"
  tree {
    child "e" { behavior = "echo" }
  }
}
sandbox "mid-b" {
  node = "%s"
  tree {
    child "g" { behavior = "start_gate" }
  }
}
`, leader.Name(), c.Node(lost).Name())
	v, err := f.experiments(li).Create(f.ctx, &pb.CreateExperimentRequest{File: []byte(file), Filename: "x.hcl", NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Experiment.Id
	// mid-b is being started on its node (its Init waits); mid-a runs.
	select {
	case <-entered:
	case <-f.ctx.Done():
		t.Fatal("mid-b's start never began")
	}
	c.Eventually(20*time.Second, func() error {
		if sb, _ := leader.State().Sandbox("mid-a"); sb == nil || sb.Status != "running" {
			return fmt.Errorf("mid-a: %v", sb)
		}
		return nil
	}, "mid-a up")
	var rest []int
	for i := 0; i < 3; i++ {
		if i != lost {
			rest = append(rest, i)
		}
	}
	c.Partition([]int{lost}, rest)
	c.Eventually(30*time.Second, func() error {
		e, err := leader.State().Experiment(nil, id)
		if err != nil || e == nil {
			return fmt.Errorf("%v %v", e, err)
		}
		if e.Status != "failed" {
			return fmt.Errorf("experiment %s; the leader sees %s %q", e.Status, c.Node(lost).Name(), leader.MemberStatus(c.Node(lost).Name()))
		}
		if !strings.Contains(e.Reason, "lost") || !strings.Contains(e.Reason, c.Node(lost).Name()) {
			t.Fatalf("reason %q", e.Reason)
		}
		return nil
	}, "the experiment failed")
	c.Eventually(20*time.Second, func() error {
		if _, err := f.runtime(li).Tree("mid-a"); err == nil {
			return fmt.Errorf("mid-a still runs on %s", leader.Name())
		}
		return nil
	}, "mid-a removed")
	done := f.settles(lost, "mid-b")
	open() // the cut node's part comes up now, for a record that is gone
	c.Heal()
	done()
	f.nowhere("mid-a")
	f.nowhere("mid-b")
}

// settles subscribes to node i's runtime and returns a wait for the
// reconciler to be done with the start of sandbox name that a gate holds:
// the tree removed once it came up, or its start refused.
func (f *fixture) settles(i int, name string) func() {
	f.t.Helper()
	sub := f.runtime(i).Subscribe(256)
	f.t.Cleanup(sub.Close)
	return func() {
		f.t.Helper()
		for {
			select {
			case e, ok := <-sub.C:
				if !ok {
					f.t.Fatal("the event stream closed")
				}
				if e.Tree == name && (e.Type == supervision.EventTreeRemoved || e.Type == supervision.EventSpecRejected) {
					return
				}
			case <-f.ctx.Done():
				f.t.Fatalf("%s never removed nor refused %s", f.c.Node(i).Name(), name)
			}
		}
	}
}
