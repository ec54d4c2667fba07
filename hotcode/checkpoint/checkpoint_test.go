package checkpoint_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/checkpoint"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// On 3 nodes: counters on v1 with distinct counts are checkpointed with
// their states; v2 is deployed and more messages counted; while the
// checkpoint exists v1 cannot be deleted; one process is killed (its
// supervisor restarts it under a new pid). The rollback deploys v1 back
// (one deployment), puts the checkpointed count back into every process
// still alive with its captured pid and reports the killed one; every
// counter is on v1 again, the active version is 1. A checkpoint of
// versions that all run already rolls back as a no-op; unknown ids are
// not found.
func TestCheckpointRollback(t *testing.T) {
	f := newFixture(t)
	f.push("1")
	nodes := []string{f.C.Node(0).Name(), f.C.Node(2).Name()}
	pids := f.Trees(3, nodes...)
	want := map[actor.PID]int{}
	k := 0
	for _, n := range nodes {
		for _, p := range pids[n] {
			k++
			want[p] = 10 * k
			if got := f.Call(n, p, fmt.Sprintf("inc %d", 10*k)); got == "" {
				t.Fatalf("inc answered nothing")
			}
			if got := f.Call(n, p, "get"); got != strconv.Itoa(10*k) {
				t.Fatalf("%s counts %s, want %d", p, got, 10*k)
			}
		}
	}

	cps := pb.NewCheckpointsClient(f.C.Conn(1)) // a follower or the leader: either way
	var ck *pb.CheckpointRecord
	if err := f.Retry(func() error {
		var err error
		ck, err = cps.Create(f.Ctx, &pb.CreateCheckpointRequest{WithState: true, Name: "before-v2", CreatedBy: "test"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(ck.Modules) != 1 || ck.Modules[0].Name != "counter" || ck.Modules[0].Version != "1" || ck.Modules[0].Sha256 == "" ||
		len(ck.Processes) != 6 || ck.StateBytes == 0 || !strings.HasPrefix(ck.Id, "ckpt-") {
		t.Fatalf("checkpoint %v", ck)
	}
	for _, p := range ck.Processes {
		if p.State != nil || p.StateBytes == 0 || p.Version != "1" {
			t.Fatalf("create answered process %v (states are left out, their sizes kept)", p)
		}
	}
	full, err := cps.Inspect(f.Ctx, &pb.InspectCheckpointRequest{Id: "before-v2", IncludeStates: true})
	if err != nil || full.Id != ck.Id || !strings.Contains(string(full.Processes[0].State), `"count"`) {
		t.Fatalf("inspect by name: %v %v", full, err)
	}

	f.push("2")
	var v *pb.DeploymentView
	if err := f.Retry(func() error {
		var err error
		v, err = pb.NewDeploymentsClient(f.C.Conn(0)).Submit(f.Ctx, &pb.DeployRequest{Module: "counter@2", Options: options(),
			HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.Await(v.Deployment.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	for _, n := range nodes {
		for _, p := range pids[n] {
			f.Call(n, p, "inc 5")
			if got := f.Version(n, p); got != "2" {
				t.Fatalf("%s on version %s after the deployment", p, got)
			}
			if got := f.Call(n, p, "get"); got != strconv.Itoa(want[p]+5) {
				t.Fatalf("%s counts %s on v2, want %d", p, got, want[p]+5)
			}
		}
	}

	// The checkpoint pins counter@1 (no longer active).
	_, err = pb.NewModulesClient(f.C.Conn(2)).Delete(f.Ctx, &pb.DeleteModuleRequest{Name: "counter", Version: "1"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "checkpoint "+ck.Id) {
		t.Fatalf("delete of a checkpointed version: %v", err)
	}

	// One process goes: its supervisor starts it again under a new pid.
	killed := pids[nodes[0]][1]
	if err := f.C.Stack(nodes[0]).Runtime.Kill(killed, "kill"); err != nil {
		t.Fatal(err)
	}
	f.C.Eventually(20*time.Second, func() error {
		ws := f.Workers(nodes[0], "")
		if len(ws) != 3 {
			return fmt.Errorf("%d counters run on %s", len(ws), nodes[0])
		}
		for _, p := range ws {
			if p == killed {
				return fmt.Errorf("%s still runs", killed)
			}
		}
		return nil
	}, "the killed counter restarted")

	resp, err := cps.Rollback(f.Ctx, &pb.RollbackCheckpointRequest{Id: ck.Id, Options: options(),
		HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Noop || len(resp.Modules) != 1 || resp.Modules[0].Action != checkpoint.ActionDeployed || len(resp.DeploymentIds) != 1 ||
		resp.Modules[0].Status != "successful" || len(resp.StatePlanIds) != 1 || len(resp.Restored) != 5 || len(resp.NotRestored) != 1 ||
		resp.NotRestored[0].Pid != killed.String() || !strings.Contains(resp.NotRestored[0].Reason, "gone") || resp.Complete {
		t.Fatalf("rollback: %v", resp)
	}
	for _, n := range nodes {
		for _, p := range f.Workers(n, "") {
			if got := f.Version(n, p); got != "1" {
				t.Errorf("%s runs version %s after the rollback", p, got)
			}
			if w, ok := want[p]; ok {
				if got := f.Call(n, p, "get"); got != strconv.Itoa(w) {
					t.Errorf("%s counts %s after the rollback, want the checkpointed %d", p, got, w)
				}
			}
		}
	}
	for _, n := range f.C.Live() {
		f.C.Eventually(10*time.Second, func() error {
			if a, err := n.State().ModuleActive("counter"); err != nil || a.Version != "1" {
				return fmt.Errorf("%s: active %v (%v)", n.Name(), a, err)
			}
			return nil
		}, "active version 1")
	}

	// A checkpoint of versions that all run: a no-op.
	var now *pb.CheckpointRecord
	if err := f.Retry(func() error {
		var err error
		now, err = cps.Create(f.Ctx, &pb.CreateCheckpointRequest{Modules: []string{"counter"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	resp, err = cps.Rollback(f.Ctx, &pb.RollbackCheckpointRequest{Id: now.Id})
	if err != nil || !resp.Noop || !resp.Complete || len(resp.DeploymentIds) != 0 || !strings.Contains(resp.Message, "nothing to do") {
		t.Fatalf("rollback of what runs: %v %v", resp, err)
	}
	list, err := cps.List(f.Ctx, &pb.ListCheckpointsRequest{})
	if err != nil || len(list.Checkpoints) != 2 || list.Checkpoints[0].Id != ck.Id || list.MaxCheckpoints != checkpoint.MaxCheckpoints {
		t.Fatalf("list: %v %v", list, err)
	}

	for _, call := range []func() error{
		func() error { _, err := cps.Inspect(f.Ctx, &pb.InspectCheckpointRequest{Id: "ckpt-nope"}); return err },
		func() error { _, err := cps.Delete(f.Ctx, &pb.DeleteCheckpointRequest{Id: "ckpt-nope"}); return err },
		func() error {
			_, err := cps.Rollback(f.Ctx, &pb.RollbackCheckpointRequest{Id: "ckpt-nope"})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `no checkpoint "ckpt-nope"`) {
			t.Errorf("unknown id: %v", err)
		}
	}
	if _, err := cps.Create(f.Ctx, &pb.CreateCheckpointRequest{Modules: []string{"ghost"}}); status.Code(err) != codes.NotFound {
		t.Errorf("checkpoint of an unknown module: %v", err)
	}

	// Once both checkpoints are gone, counter@2 (not active) is no
	// longer pinned... and counter@1 is active, so still refused.
	for _, id := range []string{ck.Id, now.Id} {
		if _, err := cps.Delete(f.Ctx, &pb.DeleteCheckpointRequest{Id: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pb.NewModulesClient(f.C.Conn(2)).Delete(f.Ctx, &pb.DeleteModuleRequest{Name: "counter", Version: "2"}); err != nil {
		t.Fatalf("delete of an unpinned version: %v", err)
	}
}
