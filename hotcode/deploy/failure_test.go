package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gate holds one stage of plans whose id has a prefix, on every node,
// until released: a fault-injection point between a step's start and its
// operations (coordination's BeforeOperations).
type gate struct {
	prefix  string
	stage   string
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate(prefix, stage string) *gate {
	return &gate{prefix: prefix, stage: stage, reached: make(chan struct{}, 8), release: make(chan struct{})}
}

func (g *gate) hook(ctx context.Context, planID, stage string) {
	if !strings.HasPrefix(planID, g.prefix) || stage != g.stage {
		return
	}
	g.reached <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
	}
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(within):
		t.Fatalf("no step reached %s of a %s plan within %s", g.stage, g.prefix, within)
	}
}

// newGatedFixture is newFixture with g's hook on every node.
func newGatedFixture(t *testing.T, g *gate) *fixture {
	t.Helper()
	f := newFixture(t, g.hook)
	t.Cleanup(g.open)
	return f
}

// followers returns two nodes that do not lead, and the leader's index.
func (f *fixture) followers() (a, b string, leader int) {
	l := f.C.WaitForLeader()
	var out []string
	for i := 0; i < f.C.Size(); i++ {
		if n := f.C.Node(i).Name(); n != l.Name() {
			out = append(out, n)
		} else {
			leader = i
		}
	}
	return out[0], out[1], leader
}

// The leader killed while a batch is held mid-step: the new leader takes
// the reports and finishes the deployment; every process moved exactly
// once and kept its count.
func TestLeaderKilledMidDeployment(t *testing.T) {
	g := newGate("deploy-", "phase-1")
	f := newGatedFixture(t, g)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	a, b, leader := f.followers()
	pids := f.Trees(2, a, b)
	subs := map[string]*actor.Subscription{}
	for _, n := range []string{a, b} {
		subs[n] = f.C.Stack(n).Runtime.Subscribe(256)
		defer subs[n].Close()
		for i, p := range pids[n] {
			if err := f.C.Stack(n).Runtime.Cast(p, actor.Message{Body: []byte(fmt.Sprintf("inc %d", 5+i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	d := f.Deploy(request("2", options(2))).Deployment
	g.wait(t, 30*time.Second)
	f.C.Kill(leader)
	f.C.WaitForLeader()
	g.open()
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	for _, n := range []string{a, b} {
		changed := map[actor.PID]int{}
		for drained := false; !drained; {
			select {
			case ev := <-subs[n].C:
				if ev.Type == actor.EventCodeChanged {
					changed[ev.PID]++
				}
			default:
				drained = true
			}
		}
		for i, p := range pids[n] {
			if v := f.Version(n, p); v != "2" {
				t.Errorf("%s on %s", p, v)
			}
			if c := f.Call(n, p, "get"); c != fmt.Sprint(5+i) {
				t.Errorf("%s counts %s, want %d", p, c, 5+i)
			}
			if changed[p] != 1 {
				t.Errorf("%s changed code %d times, want once", p, changed[p])
			}
		}
	}
}

// A target node killed mid-batch: its step is lost at the batch's
// deadline, the batch fails and (moderate, no auto_revert) the deployment
// pauses; resume is refused, revert moves back the processes the earlier
// batch moved on the surviving node.
func TestTargetNodeKilledMidBatch(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	a, b, _ := f.followers()
	pids := f.Trees(2, a, b)
	// Batches follow the targets' order (node, tree, slot): a's two, then b's.
	first, second := a, b
	if b < a {
		first, second = b, a
	}
	o := options(2)
	o.ProgressDeadlineMs, o.HealthyDeadlineMs = 3000, 2000
	// Kill the second batch's node once the first batch has moved.
	v := f.Deploy(request("2", o))
	d := v.Deployment
	f.C.Eventually(30*time.Second, func() error {
		if n := len(f.Workers(first, "wasm:counter@2")); n != 2 {
			return fmt.Errorf("%d moved on %s", n, first)
		}
		return nil
	}, "the first batch moved")
	f.C.Kill(f.C.Index(second))
	got := f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, 60*time.Second)
	if !got.PausedOnFailure || !strings.Contains(got.StatusDescription, "failed") {
		t.Fatalf("paused %+v, want paused by the failed batch", got)
	}
	err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_RESUME)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "revert it") {
		t.Fatalf("resume after a failed batch: %v, want FailedPrecondition saying to revert or fail", err)
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_REVERT); err != nil {
		t.Fatal(err)
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 60*time.Second)
	for _, p := range pids[first] {
		if v := f.Version(first, p); v != "1" {
			t.Errorf("%s on %s after the revert, want 1", p, v)
		}
	}
}

// A deployment and a plan acting on the same processes conflict: while a
// plan on a tree runs, a deployment of that tree's processes is refused
// and nothing is committed.
func TestDeploymentConflictsWithARunningPlan(t *testing.T) {
	g := newGate("plan-", "phase-0")
	f := newGatedFixture(t, g)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	n := f.C.Node(0).Name()
	f.Trees(1, n)
	doc := fmt.Sprintf(`{"operations":[{"id":"poke","type":"send_message","target":{"supervisor":"w-%s","child_id":"c0"},"params":{"message":"inc 1"}}]}`, n)
	if err := f.Retry(func() error {
		_, err := pb.NewCoordinationClient(f.C.Conn(0)).Apply(f.Ctx, &pb.ApplyPlanRequest{Plan: []byte(doc), Filename: "plan.json"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, 30*time.Second)
	_, err := pb.NewDeploymentsClient(f.C.Conn(1)).Submit(f.Ctx, request("2", options(1)))
	if err == nil || !strings.Contains(err.Error(), "overlaps active plan") {
		t.Fatalf("deploy while a plan acts on the same tree: %v, want a conflict naming the plan", err)
	}
	if _, ds, _ := f.C.Node(1).State().Deployments(nil, ""); len(ds) != 0 {
		t.Fatalf("a refused deployment was committed: %+v", ds)
	}
	g.open()
}

// Cancelled while a batch runs: the batch finishes, no further batch
// starts, and the processes stay where they are.
func TestCancelMidDeployment(t *testing.T) {
	g := newGate("deploy-", "phase-1")
	f := newGatedFixture(t, g)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	n := f.C.Node(2).Name()
	pids := f.Trees(3, n)[n]
	d := f.Deploy(request("2", options(1))).Deployment
	g.wait(t, 30*time.Second)
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_CANCEL); err != nil {
		t.Fatal(err)
	}
	g.open()
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED, 30*time.Second)
	var versions []string
	for _, p := range pids {
		versions = append(versions, f.Version(n, p))
	}
	if strings.Join(versions, ",") != "2,2,1" {
		t.Fatalf("versions after a cancel in batch 1 of 3: %v, want 2,2,1", versions)
	}
	// A cancelled deployment leaves the processes where they are on
	// purpose: convergence does not move them (a whole pass, now).
	f.C.Stack(n).Deploy.ConvergeOnce(f.Ctx)
	versions = versions[:0]
	for _, p := range pids {
		versions = append(versions, f.Version(n, p))
	}
	if strings.Join(versions, ",") != "2,2,1" {
		t.Fatalf("versions after a convergence pass: %v, want 2,2,1 (left as cancelled)", versions)
	}
}

// A canary that crashes during min_healthy_time fails the health gate;
// with auto_revert the deployment reverts, and the canary's restarted
// process (its slot remembers v2) is moved back too: nothing is left on
// v2.
func TestCrashingCanaryReverts(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	n := f.C.Node(1).Name()
	f.Trees(3, n)
	o := options(1)
	o.Canary, o.AutoRevert, o.MinHealthyTimeMs, o.HealthyDeadlineMs, o.ProgressDeadlineMs = 1, true, 3000, 4000, 20000
	d := f.Deploy(request("2", o)).Deployment
	var canary actor.PID
	f.C.Eventually(20*time.Second, func() error {
		moved := f.Workers(n, "wasm:counter@2")
		if len(moved) != 1 {
			return fmt.Errorf("%d moved", len(moved))
		}
		canary = moved[0]
		return nil
	}, "the canary moved")
	if err := f.C.Stack(n).Runtime.Kill(canary, "crash"); err != nil {
		t.Fatal(err)
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 60*time.Second)
	f.C.Eventually(10*time.Second, func() error {
		if on2 := f.Workers(n, "wasm:counter@2"); len(on2) != 0 {
			return fmt.Errorf("%v still on v2", on2)
		}
		if all := f.Workers(n, ""); len(all) != 3 {
			return fmt.Errorf("%d counters run, want 3", len(all))
		}
		return nil
	}, "every counter on v1")
}
