package deploy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/deploy"
	"github.com/steward/steward/hotcode/deploy/deploytest"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// A follower found on a version that is no longer active — what a node
// restarted from an older snapshot starts its children on — is moved onto
// the active version by its node, keeping its state; a pinned one stays.
func TestConvergenceMovesAStaleFollower(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	n := f.C.Node(2).Name()
	pids := f.Trees(2, n)[n]
	f.applyTree(`tree "pinned" {
  node = "` + n + `"
  child "p" { module = "counter@1" }
}`)
	pinned := f.waitWorker(n, "pinned", "1")
	d := f.Deploy(request("2", options(2))).Deployment
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	for _, p := range pids {
		if v := f.Version(n, p); v != "2" {
			t.Fatalf("%s on %s after the deployment, want 2", p, v)
		}
	}

	// The stale follower: moved back to 1 by hand while convergence is
	// held, with a count to keep.
	layer := f.C.Stack(n).Deploy
	release := layer.HoldConvergence()
	rt := f.C.Stack(n).Runtime
	if got := f.Call(n, pids[0], "inc 7"); got != "7" {
		t.Fatalf("inc 7 answered %q", got)
	}
	if _, err := rt.ChangeCode(f.Ctx, pids[0], "wasm:counter@1"); err != nil {
		t.Fatal(err)
	}
	layer.ConvergeOnce(f.Ctx) // held: does nothing
	if v := f.Version(n, pids[0]); v != "1" {
		t.Fatalf("%s moved to %s while convergence was held", pids[0], v)
	}

	release()
	f.C.Eventually(20*time.Second, func() error {
		if v := f.Version(n, pids[0]); v != "2" {
			return fmt.Errorf("%s still on %s", pids[0], v)
		}
		return nil
	}, "the stale follower back on the active version")
	if got := f.Call(n, pids[0], "get"); got != "7" {
		t.Fatalf("count after convergence %q, want 7 (the state converted, not reset)", got)
	}
	layer.ConvergeOnce(f.Ctx) // a whole pass: the pinned process is not a follower
	if v := f.Version(n, pinned); v != "1" {
		t.Fatalf("pinned process %s moved to %s", pinned, v)
	}
	if v := f.Version(n, pids[1]); v != "2" {
		t.Fatalf("%s on %s", pids[1], v)
	}
}

// A tree started while a deployment runs takes the active version of
// then, the old one, and is not a target: its node leaves it there while
// the deployment runs, and moves it once the deployment succeeded.
func TestConvergenceWaitsForTheDeployment(t *testing.T) {
	g := newGate("deploy-", "phase-0") // its one batch, held
	f := newGatedFixture(t, g)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	a, b := f.C.Node(1).Name(), f.C.Node(2).Name()
	f.Trees(1, a)
	d := f.Deploy(request("2", options(1))).Deployment
	if d.Targets != 1 {
		t.Fatalf("%d targets, want 1", d.Targets)
	}
	g.wait(t, 30*time.Second)
	late := f.Trees(2, b)[b]
	layer := f.C.Stack(b).Deploy
	layer.ConvergeOnce(f.Ctx) // the deployment runs: nothing moves
	for _, p := range late {
		if v := f.Version(b, p); v != "1" {
			t.Fatalf("%s, started during the deployment, on %s while it runs, want 1", p, v)
		}
	}
	g.open()
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	f.C.Eventually(20*time.Second, func() error {
		var off []string
		for _, p := range late {
			if v := f.Version(b, p); v != "2" {
				off = append(off, p.String()+"="+v)
			}
		}
		if len(off) > 0 {
			return fmt.Errorf("not on 2: %s", strings.Join(off, ", "))
		}
		return nil
	}, "the late tree on the deployed version")
}

// Which modules a node may converge, by their newest deployment.
func TestSettledModules(t *testing.T) {
	active := []*pb.ModuleActive{{Name: "a", Version: "2"}, {Name: "b", Version: "3"}, {Name: "c", Version: "1"},
		{Name: "d", Version: "5"}, {Name: "e", Version: "1"}, {Name: "f", Version: "4"}}
	dep := func(module string, s pb.DeploymentStatus, also ...string) *pb.DeploymentRecord {
		d := &pb.DeploymentRecord{Module: module, StatusCode: s}
		for _, m := range also {
			d.Also = append(d.Also, &pb.DeployModule{Module: m})
		}
		return d
	}
	// Newest first, as state.Deployments lists them.
	deps := []*pb.DeploymentRecord{
		dep("a", pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL),
		dep("b", pb.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, "f"),
		dep("c", pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED),
		dep("d", pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED),
		dep("b", pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL),
		dep("f", pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL),
		dep("c", pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL),
		dep("a", pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED),
	}
	never := func(*pb.DeploymentRecord) bool { return false }
	got := deploy.SettledModules(active, deps, never)
	want := map[string]string{"a": "wasm:a@2", "d": "wasm:d@5", "e": "wasm:e@1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("settled %v, want %v (b and f: a deployment runs; c: its newest failed)", got, want)
	}
	// c's newest failed after its revert began: its nodes finish the revert.
	got = deploy.SettledModules(active, deps, func(d *pb.DeploymentRecord) bool { return d == deps[2] })
	want["c"] = "wasm:c@1"
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("settled %v, want %v (c: failed after its revert began)", got, want)
	}
	always := func(*pb.DeploymentRecord) bool { return true }
	for _, s := range []pb.DeploymentStatus{pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, pb.DeploymentStatus_DEPLOYMENT_STATUS_AWAITING_PROMOTION,
		pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTING, pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED, pb.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING} {
		if got := deploy.SettledModules(active[:1], []*pb.DeploymentRecord{dep("a", s)}, always); len(got) != 0 {
			t.Fatalf("newest deployment %s: settled %v, want none", s, got)
		}
	}
}

// waitWorker waits for tree's one worker on node n to run version.
func (f *fixture) waitWorker(n, tree, version string) actor.PID {
	f.T.Helper()
	var pid actor.PID
	f.C.Eventually(20*time.Second, func() error {
		for _, p := range f.C.Stack(n).Runtime.Processes() {
			if p.Tree == tree && !p.Supervisor && p.Status == actor.StatusRunning {
				if p.Version != version {
					return fmt.Errorf("%s runs %s", p.PID, p.Version)
				}
				pid = p.PID
				return nil
			}
		}
		return fmt.Errorf("no worker of tree %s on %s", tree, n)
	}, "tree %s's worker on %s", tree, n)
	return pid
}

// applyTree applies a tree spec through node 0.
func (f *fixture) applyTree(spec string) {
	f.T.Helper()
	sup := pb.NewSupervisionClient(f.C.Conn(0))
	if err := f.Retry(func() error {
		_, err := sup.ApplyTree(f.Ctx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "spec.hcl"})
		return err
	}); err != nil {
		f.T.Fatalf("apply tree: %v", err)
	}
}

// A revert that misses a process — the node cut off from the leader
// during its batch's health gate, after its step moved it: the step's report is
// lost, the batch fails at its deadline, and the rollback undoes only the
// reported moves, so the deployment ends reverted with that process still
// on the new version — is finished by that node once it is back: its
// process converges onto the active version, the old one.
func TestConvergenceFinishesARevertThatMissedANode(t *testing.T) {
	f := &fixture{deploytest.NewWith(t, nil, testkit.WithPartitions())}
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	a, b, leader := f.followers()
	pids := f.Trees(1, a, b)
	o := options(2)
	o.AutoRevert = true
	o.MinHealthyTimeMs, o.HealthyDeadlineMs, o.ProgressDeadlineMs = 3000, 5000, 6000
	d := f.Deploy(request("2", o)).Deployment
	f.C.Eventually(20*time.Second, func() error {
		if v := f.Version(b, pids[b][0]); v != "2" {
			return fmt.Errorf("%s on %s", b, v)
		}
		return nil
	}, "the batch moved %s", b)
	// Cut b off from the leader only: gossip still reaches b through a,
	// so b is not reaped from the configuration meanwhile.
	f.C.Partition([]int{f.C.Index(b)}, []int{leader})
	got := f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 60*time.Second)
	if !strings.Contains(got.StatusDescription, "without a report from "+b) {
		t.Fatalf("reverted: %q, want the batch failed for %s's missing report", got.StatusDescription, b)
	}
	if v := f.Version(a, pids[a][0]); v != "1" {
		t.Fatalf("%s on %s after the revert, want 1", a, v)
	}
	if v := f.Version(b, pids[b][0]); v != "2" {
		t.Fatalf("%s on %s while cut off, want 2 (its move was not reported, so not reverted)", b, v)
	}
	f.C.Heal()
	f.C.Eventually(30*time.Second, func() error {
		if v := f.Version(b, pids[b][0]); v != "1" {
			return fmt.Errorf("%s's process on %s", b, v)
		}
		return nil
	}, "%s's process back on the active version", b)
}
