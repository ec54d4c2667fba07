package deploy_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
)

// A hot swap of counters on two nodes while a sender pumps casts into
// each: every process keeps its PID and ends on v2, no message is lost or
// handled twice (each count is exactly what was sent), the deployment is
// successful only once every target moved, and the module's active
// version has moved.
func TestHotSwapKeepsEveryMessage(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	nodes := []string{f.C.Node(0).Name(), f.C.Node(2).Name()}
	pids := f.Trees(6, nodes...)
	sub := map[string]*actor.Subscription{}
	for _, n := range nodes {
		sub[n] = f.C.Stack(n).Runtime.Subscribe(1024)
		defer sub[n].Close()
	}
	s := f.send(pids)
	v := f.Deploy(request("2", options(4)))
	d := v.Deployment
	if d.Targets != 12 || d.RevertMode != "down" || len(v.Batches) != 3 {
		t.Fatalf("deployment %+v with %d batches, want 12 targets in 3 batches, reverted down", d, len(v.Batches))
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	sent := s.halt()
	total := 0
	for _, n := range sent {
		total += n
	}
	if total < len(sent)*10 {
		t.Fatalf("only %d casts were sent to %d processes: the swap was not under load", total, len(sent))
	}
	for _, n := range nodes {
		for _, p := range pids[n] {
			if got := f.Version(n, p); got != "2" {
				t.Errorf("%s runs version %s after a successful deployment", p, got)
			}
			if got, want := f.Call(n, p, "get"), strconv.Itoa(sent[p]); got != want {
				t.Errorf("%s counted %s, %s casts were sent", p, got, want)
			}
		}
		if got := len(f.Workers(n, "wasm:counter@2")); got != 6 {
			t.Errorf("%s has %d counters on v2, want 6 (the same processes)", n, got)
		}
	}
	for _, n := range f.C.Live() {
		// Successful is read on one replica; the others apply it soon.
		f.C.Eventually(10*time.Second, func() error {
			if a, err := n.State().ModuleActive("counter"); err != nil || a.Version != "2" {
				return fmt.Errorf("%s: active version %+v (%v), want 2", n.Name(), a, err)
			}
			return nil
		}, "the active version moved on %s", n.Name())
	}
	// Each process changed code exactly once.
	changed := map[actor.PID]int{}
	for _, n := range nodes {
		for drained := false; !drained; {
			select {
			case ev := <-sub[n].C:
				if ev.Type == actor.EventCodeChanged {
					changed[ev.PID]++
				}
			default:
				drained = true
			}
		}
	}
	for _, n := range nodes {
		for _, p := range pids[n] {
			if changed[p] != 1 {
				t.Errorf("%s changed code %d times, want once", p, changed[p])
			}
		}
	}
}

// A code_change that traps on one process fails its batch; with
// auto_revert every process already moved goes back down, and every
// process ends on v1 with its count; the trapping one was never moved.
func TestTrapInCodeChangeRevertsEveryMovedProcess(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("3", v3Trap(t))
	n := f.C.Node(1).Name()
	pids := f.Trees(6, n)[n]
	rt := f.C.Stack(n).Runtime
	for i, p := range pids {
		inc := i + 1
		if i == 3 {
			inc = 13 // v3's code_change traps on this count
		}
		if err := rt.Cast(p, actor.Message{Body: []byte(fmt.Sprintf("inc %d", inc))}); err != nil {
			t.Fatal(err)
		}
	}
	o := options(2)
	o.AutoRevert = true
	d := f.Deploy(request("3", o)).Deployment
	got := f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 60*time.Second)
	if got.StatusDescription == "" {
		t.Error("a reverted deployment says nothing of why")
	}
	for i, p := range pids {
		want := i + 1
		if i == 3 {
			want = 13
		}
		if v := f.Version(n, p); v != "1" {
			t.Errorf("%s is on version %s after the revert, want 1", p, v)
		}
		if c := f.Call(n, p, "get"); c != strconv.Itoa(want) {
			t.Errorf("%s counts %s after the revert, want %d", p, c, want)
		}
	}
	if a, err := f.C.Node(0).State().ModuleActive("counter"); err != nil || a.Version != "1" {
		t.Errorf("active version %+v (%v) after a failed deployment, want 1", a, err)
	}
}

// Canaries first; the rest waits for promotion; a pause holds it even once
// promoted; resume finishes it; a revert of the successful deployment
// moves every process back in place (same PIDs, counts kept) and the
// active version back.
func TestCanaryPromotePauseResumeRevert(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	n := f.C.Node(2).Name()
	pids := f.Trees(5, n)[n]
	rt := f.C.Stack(n).Runtime
	for i, p := range pids {
		if err := rt.Cast(p, actor.Message{Body: []byte(fmt.Sprintf("inc %d", 10+i))}); err != nil {
			t.Fatal(err)
		}
	}
	o := options(2)
	o.Canary = 1
	v := f.Deploy(request("2", o))
	d := v.Deployment
	if len(v.Batches) != 3 || !v.Batches[0].Canary || len(v.Batches[0].Pids) != 1 {
		t.Fatalf("batches %+v, want a canary of 1 then 2 and 2", v.Batches)
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_AWAITING_PROMOTION, 30*time.Second)
	if got := len(f.Workers(n, "wasm:counter@2")); got != 1 {
		t.Fatalf("%d processes on v2 while awaiting promotion, want the 1 canary", got)
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_RESUME); err == nil {
		t.Fatal("resume of a deployment awaiting promotion was accepted")
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_PAUSE); err != nil {
		t.Fatal(err)
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_PROMOTE); err != nil {
		t.Fatal(err)
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, 10*time.Second)
	if got := len(f.Workers(n, "wasm:counter@2")); got != 1 {
		t.Fatalf("%d processes on v2 while paused, want 1", got)
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_RESUME); err != nil {
		t.Fatal(err)
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 30*time.Second)
	for i, p := range pids {
		if v := f.Version(n, p); v != "2" {
			t.Fatalf("%s on %s after success", p, v)
		}
		if c := f.Call(n, p, "get"); c != strconv.Itoa(10+i) {
			t.Fatalf("%s counts %s, want %d", p, c, 10+i)
		}
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_REVERT); err != nil {
		t.Fatal(err)
	}
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 30*time.Second)
	for i, p := range pids {
		if v := f.Version(n, p); v != "1" {
			t.Errorf("%s on %s after the revert, want 1", p, v)
		}
		if c := f.Call(n, p, "get"); c != strconv.Itoa(10+i) {
			t.Errorf("%s counts %s after the revert, want %d", p, c, 10+i)
		}
	}
	if a, err := f.C.Node(0).State().ModuleActive("counter"); err != nil || a.Version != "1" {
		t.Errorf("active version %+v (%v) after the revert, want 1", a, err)
	}
	if err := f.Control(d.Id, pb.DeployAction_DEPLOY_ACTION_REVERT); err == nil {
		t.Error("a second revert was accepted")
	}
}

// strict takes a cluster snapshot first (the deployment names it), then
// moves one process per batch, each gated on health.
func TestStrictTakesASnapshotFirst(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	n := f.C.Node(0).Name()
	pids := f.Trees(2, n)[n]
	req := request("2", options(4))
	req.Safety = "strict"
	v := f.Deploy(req)
	if v.Deployment.SnapshotId == "" || len(v.Batches) != 1 {
		t.Fatalf("strict deployment %+v with %d batches, want a snapshot id", v.Deployment, len(v.Batches))
	}
	// Complete on the leader before the deployment was committed; this
	// replica applies it soon.
	f.C.Eventually(10*time.Second, func() error {
		rec, err := f.C.Node(1).State().SnapshotRecord(nil, v.Deployment.SnapshotId)
		if err != nil || rec == nil || rec.Status != "complete" {
			return fmt.Errorf("the snapshot before the deployment: %+v (%v), want complete", rec, err)
		}
		return nil
	}, "the snapshot is complete")
	f.Await(v.Deployment.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	for _, p := range pids {
		if got := f.Version(n, p); got != "2" {
			t.Errorf("%s on %s", p, got)
		}
	}
}

// A version whose health probe answers unhealthy fails its first batch's
// health gate; with auto_revert the moved processes go back to v1.
func TestUnhealthyProbeFailsTheGate(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("4", module(t, "testdata", "counter-v4-unhealthy.wasm"))
	n := f.C.Node(0).Name()
	pids := f.Trees(2, n)[n]
	o := options(1)
	o.AutoRevert = true
	d := f.Deploy(request("4", o)).Deployment
	f.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 60*time.Second)
	rec, _, _ := f.C.Node(0).State().Plan(nil, d.Id)
	found := false
	for _, st := range rec.Stages {
		for _, step := range st.Steps {
			for _, c := range step.PostChecks {
				for _, msg := range c.Failures {
					found = found || c.Kind == "healthy" && strings.Contains(msg, "health probe")
				}
			}
		}
	}
	if !found {
		t.Fatalf("no healthy check failure names the health probe:%s", f.Failures(d.Id))
	}
	for _, p := range pids {
		if v := f.Version(n, p); v != "1" {
			t.Errorf("%s on %s after the revert", p, v)
		}
	}
}

// Two modules in one deployment move in dependency order (tally@2 needs
// counter >= 2, so counter's batches come first, whatever order they were
// named in), both active versions move on success and back on a revert,
// every process keeps its count.
func TestSeveralModulesInDependencyOrder(t *testing.T) {
	f := newFixture(t, nil)
	f.Push("1", v1(t))
	f.Push("2", v2(t))
	f.PushModule("tally", "1", module(t, "testdata", "tally-v1.wasm"))
	f.PushModule("tally", "2", module(t, "testdata", "tally-v2.wasm"))
	n := f.C.Node(2).Name()
	counters := f.Trees(2, n)[n]
	spec := fmt.Sprintf("tree \"tallies\" {\n  node = %q\n  child \"t0\" { module = \"tally\" }\n  child \"t1\" { module = \"tally\" }\n}\n", n)
	if err := f.Retry(func() error {
		_, err := pb.NewSupervisionClient(f.C.Conn(0)).ApplyTree(f.Ctx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "spec.hcl"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var tallies []actor.PID
	f.C.Eventually(20*time.Second, func() error {
		tallies = f.Workers(n, "wasm:tally@1")
		if len(tallies) != 2 {
			return fmt.Errorf("%d tallies run", len(tallies))
		}
		return nil
	}, "the tallies run")
	rt := f.C.Stack(n).Runtime
	for i, p := range append(append([]actor.PID{}, counters...), tallies...) {
		if err := rt.Cast(p, actor.Message{Body: []byte(fmt.Sprintf("inc %d", 20+i))}); err != nil {
			t.Fatal(err)
		}
	}
	req := request("2", options(2))
	req.Module, req.Also = "tally@2", []string{"counter@2"}
	v := f.Deploy(req)
	if d := v.Deployment; d.Module != "counter" || len(d.Also) != 1 || d.Also[0].Module != "tally" || len(v.Batches) != 2 {
		t.Fatalf("deployment %+v in %d batches, want counter then tally, one batch each", d, len(v.Batches))
	}
	if first := v.Batches[0].Pids; first[0] != counters[0].String() && first[0] != counters[1].String() {
		t.Fatalf("the first batch %v is not counter's", first)
	}
	f.Await(v.Deployment.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 60*time.Second)
	check := func(want string) {
		t.Helper()
		for i, p := range append(append([]actor.PID{}, counters...), tallies...) {
			if got := f.Version(n, p); got != want {
				t.Errorf("%s on %s, want %s", p, got, want)
			}
			if c := f.Call(n, p, "get"); c != strconv.Itoa(20+i) {
				t.Errorf("%s counts %s, want %d", p, c, 20+i)
			}
		}
		for _, m := range []string{"counter", "tally"} {
			if a, err := f.C.Node(0).State().ModuleActive(m); err != nil || a.Version != want {
				t.Errorf("%s active %+v (%v), want %s", m, a, err, want)
			}
		}
	}
	check("2")
	if err := f.Control(v.Deployment.Id, pb.DeployAction_DEPLOY_ACTION_REVERT); err != nil {
		t.Fatal(err)
	}
	f.Await(v.Deployment.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 60*time.Second)
	check("1")
	// One deployment of a module at a time, across deployments of several.
	_, err := pb.NewDeploymentsClient(f.C.Conn(1)).Submit(f.Ctx, &pb.DeployRequest{Module: "tally@2", Also: []string{"tally@1"}})
	if err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Fatalf("a module named twice: %v", err)
	}
}
