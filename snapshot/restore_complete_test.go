package snapshot_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
)

const treeP = `{"name":"p","node":"n1","max_restarts":10,"max_seconds":5,"children":[
 {"id":"pool","type":"supervisor","strategy":"simple_one_for_one","children":[{"id":"w","behavior":"counter"}]},
 {"id":"count","behavior":"counter"},{"id":"store","behavior":"kv"}]}`

// A restore starts simple_one_for_one instances again with their args and
// states, spawns unsupervised processes of catalog behaviors again with
// their args, states and names, re-sends the queued messages of the
// processes it brings back, in order and once, and names the unsupervised
// process it cannot start (a Go implementation) with the reason.
func TestRestoreInstancesQueuesAndStandalones(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, treeP)
	rt := sc.layer("n1").Runtime()
	ctx := testkit.Ctx(t, 30*time.Second)
	pool := sc.pid(t, "n1", "p", "pool")
	i1, err := rt.StartDynamicChild(ctx, pool, map[string]string{"start": "10"})
	if err != nil {
		t.Fatal(err)
	}
	i2, err := rt.StartDynamicChild(ctx, pool, map[string]string{"start": "20"})
	if err != nil {
		t.Fatal(err)
	}
	send(t, rt, i1, "inc 1")
	// Queued: count and store suspended, messages sent to them wait.
	cnt, store := sc.pid(t, "n1", "p", "count"), sc.pid(t, "n1", "p", "store")
	for _, pid := range []actor.PID{cnt, store} {
		if err := rt.Suspend(pid); err != nil {
			t.Fatal(err)
		}
	}
	send(t, rt, cnt, "inc 2")
	for _, m := range []struct {
		to   actor.PID
		body string
	}{{cnt, "inc 3"}, {store, "put k a"}, {store, "put k b"}} {
		if err := rt.Cast(m.to, actor.Message{Kind: actor.KindCast, Body: []byte(m.body)}); err != nil {
			t.Fatal(err)
		}
	}
	// Unsupervised: two of a catalog behavior (one named, with args, a
	// state and queued messages), one a Go implementation.
	std, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	tally, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "counter", Args: map[string]string{"start": "3"}, Name: "tally"})
	if err != nil {
		t.Fatal(err)
	}
	send(t, rt, tally, "inc 4")
	sc.Eventually(5*time.Second, func() error {
		if c := count(t, rt, tally); c != 7 {
			return fmt.Errorf("tally at %d", c)
		}
		return nil
	}, "tally counted")
	if err := rt.Suspend(tally); err != nil {
		t.Fatal(err)
	}
	send(t, rt, tally, "inc 2")
	if err := rt.Cast(tally, actor.Message{Kind: actor.KindCast, Body: []byte("inc 3")}); err != nil {
		t.Fatal(err)
	}
	impl, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "go-counter", Impl: &behaviors.Counter{}})
	if err != nil {
		t.Fatal(err)
	}
	sc.Eventually(5*time.Second, func() error {
		if c := count(t, rt, i1); c != 11 {
			return fmt.Errorf("instance 1 at %d", c)
		}
		return nil
	}, "instance 1 counted")
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true, IncludeQueues: true})
	part := parts(t, sc.snaps(0), rec.Id)["n1"]
	if part.Version != snapshot.PartVersion {
		t.Fatalf("part version %d", part.Version)
	}
	queued := map[string]int{}
	for _, p := range part.Processes {
		queued[p.PID] = len(p.Queue)
	}
	if queued[cnt.String()] != 2 || queued[store.String()] != 2 || queued[tally.String()] != 2 {
		t.Fatalf("queues captured: %v", queued)
	}
	for _, p := range part.Processes {
		if p.PID == tally.String() && (p.Args["start"] != "3" || len(p.Args) != 1) {
			t.Fatalf("tally's spawn args captured: %v", p.Args)
		}
	}
	var args []string
	for _, tr := range part.Trees {
		for _, c := range tr.Children {
			if c.Dynamic {
				args = append(args, c.Args["start"])
			}
		}
	}
	if slices.Sort(args); fmt.Sprint(args) != "[10 20]" {
		t.Fatalf("instance args captured: %v", args)
	}

	// Damage: instances removed, the suspended processes killed (their
	// supervisor starts them afresh, their queues lost), the unsupervised
	// processes killed.
	for _, pid := range []actor.PID{i1, i2} {
		if err := rt.TerminateChild(ctx, pool, pid.String()); err != nil {
			t.Fatal(err)
		}
	}
	for _, pid := range []actor.PID{cnt, store, std, impl, tally} {
		if err := rt.Kill(pid, actor.Killed); err != nil {
			t.Fatal(err)
		}
	}
	sc.Eventually(5*time.Second, func() error {
		for _, path := range []string{"count", "store"} {
			if now, err := rt.Resolve(actor.Target{Tree: "p", Path: path}); err != nil || now == cnt || now == store {
				return fmt.Errorf("%s not restarted", path)
			}
		}
		return nil
	}, "restarted")

	// A dry run lists the spawns in the first stage and the queued
	// messages for their processes in the second, and changes nothing.
	dry, err := sc.snaps(1).Restore(testkit.Ctx(t, 60*time.Second), &pb.RestoreRequest{Id: rec.Id, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var drep snapshot.RestoreReport
	if err := json.Unmarshal(dry.ReportJson, &drep); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, op := range drep.Operations {
		if op.Type == "spawn" || op.Target == "pid "+tally.String() {
			listed = append(listed, fmt.Sprintf("%d %s %s", op.Stage, op.Type, op.Target))
		}
	}
	slices.Sort(listed)
	if want := "[1 spawn new counter process as tally 1 spawn new echo process 2 send_message pid " + tally.String() + " 2 send_message pid " + tally.String() + "]"; fmt.Sprint(listed) != want ||
		len(dry.PlanIds) != 0 || drep.Plan == nil {
		t.Fatalf("dry run: %v, plans %v, plan %v; want %s\n%s", listed, dry.PlanIds, drep.Plan != nil, want, dry.ReportJson)
	}
	if pid, ok := rt.WhereIs("tally"); ok {
		t.Fatalf("the dry run registered tally to %s", pid)
	}

	resp, rep := sc.restore(t, 2, 60*time.Second, &pb.RestoreRequest{Id: rec.Id})
	if len(resp.PlanIds) != 2 {
		t.Fatalf("restore plans %v (want a start stage and a fill stage): %s", resp.PlanIds, resp.ReportJson)
	}
	for _, id := range resp.PlanIds {
		sc.Eventually(30*time.Second, func() error {
			r, _, _ := sc.Leader().State().Plan(nil, id)
			if r == nil || !state.PlanFinished(r.Status) {
				return errors.New("restore plan running")
			}
			if r.Status != state.PlanSucceeded {
				return fmt.Errorf("restore plan %s: %s", r.Status, r.Reason)
			}
			return nil
		}, "restore plan")
	}

	// Instances: two again, with the captured args and states.
	if now := sc.pid(t, "n1", "p", "pool"); now != pool {
		t.Fatalf("the pool supervisor restarted (%s, was %s): the test's damage went further than meant", now, pool)
	}
	ia, err := rt.InstanceArgs(pool)
	if err != nil {
		t.Fatal(err)
	}
	var gotArgs []string
	for _, a := range ia {
		gotArgs = append(gotArgs, a["start"])
	}
	if slices.Sort(gotArgs); fmt.Sprint(gotArgs) != "[10 20]" {
		t.Fatalf("instances after restore have args %v", gotArgs)
	}
	kids, err := rt.WhichChildren(pool)
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, k := range kids {
		if k.PID == i1 || k.PID == i2 {
			t.Fatalf("an instance kept its pid %s through terminate_child", k.PID)
		}
		counts = append(counts, count(t, rt, k.PID))
	}
	if slices.Sort(counts); fmt.Sprint(counts) != "[11 20]" {
		t.Fatalf("instance counts after restore %v, want [11 20]", counts)
	}
	// Queued messages: delivered once (count 0+2+3, not 10), in order
	// (put a, then put b).
	if c := count(t, rt, sc.pid(t, "n1", "p", "count")); c != 5 {
		t.Fatalf("count = %d after restore, want 5 (its two queued messages once each)", c)
	}
	v, err := rt.Call(testkit.Ctx(t, 5*time.Second), sc.pid(t, "n1", "p", "store"), actor.Message{Body: []byte("get k")})
	if err != nil || string(v) != "b" {
		t.Fatalf("store's k after restore = %q (%v), want b (queued puts in order)", v, err)
	}
	// Unsupervised processes of catalog behaviors: spawned again, tally
	// under its name, with its args, its state (7, not its start of 3)
	// and its two queued messages once each (7+2+3).
	now, ok := rt.WhereIs("tally")
	if !ok || now == tally {
		t.Fatalf("tally after restore: %s (%v), was %s", now, ok, tally)
	}
	info, err := rt.Process(now)
	if err != nil || info.Tree != "" || info.Behavior != "counter" || info.Status != actor.StatusRunning {
		t.Fatalf("tally after restore: %+v, %v", info, err)
	}
	if a, err := rt.SpawnArgs(now); err != nil || a["start"] != "3" || len(a) != 1 {
		t.Fatalf("tally spawned again with args %v (%v)", a, err)
	}
	if c := count(t, rt, now); c != 12 {
		t.Fatalf("tally = %d after restore, want 12 (its state 7, then its queued inc 2 and inc 3 once each)", c)
	}
	var echoes []actor.PID
	for _, p := range rt.Processes() {
		if p.Tree == "" && p.Behavior == "echo" {
			echoes = append(echoes, p.PID)
		}
	}
	if len(echoes) != 1 || echoes[0] == std {
		t.Fatalf("unsupervised echo processes after restore %v (the captured one was %s)", echoes, std)
	}
	spawns := 0
	for _, op := range rep.Operations {
		if op.Type == "spawn" {
			spawns++
			if op.Stage != 1 || op.Node != "n1" {
				t.Errorf("spawn in the report: %+v", op)
			}
		}
	}
	if spawns != 2 {
		t.Fatalf("the report lists %d spawns, want 2: %+v", spawns, rep.Operations)
	}
	// The report: the Go implementation with its reason, and nothing else.
	why := map[string]string{}
	for _, nr := range rep.NotRestored {
		why[nr.Subject] = nr.Reason
	}
	if r := why["process "+impl.String()+" (go-counter)"]; !strings.Contains(r, `it was not supervised and its behavior "go-counter" is not in the catalog (a Go implementation spawned directly): nothing can start it again`) {
		t.Fatalf("the Go implementation's reason %q; report %+v", r, rep.NotRestored)
	}
	if len(rep.NotRestored) != 1 {
		t.Fatalf("not restored: %+v", rep.NotRestored)
	}
}
