package coordination_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
)

// resultPIDOf is the pid operation op reported in the plan's phases.
func resultPIDOf(t *testing.T, rec *pb.PlanRecord, op string) actor.PID {
	t.Helper()
	for _, st := range rec.Stages {
		if st.Kind != state.StageKindPhase {
			continue
		}
		for _, s := range st.Steps {
			for _, o := range s.Operations {
				if o.Op == op && o.ResultPid != "" {
					pid, err := actor.ParsePID(o.ResultPid)
					if err != nil {
						t.Fatal(err)
					}
					return pid
				}
			}
		}
	}
	t.Fatalf("no result pid for %s:\n%s", op, report(rec))
	return actor.PID{}
}

// spawn starts an unsupervised process of a catalog behavior on its node,
// with its args, state and name, and reports its pid; a name registered
// on the node refuses the plan before anything is committed, and one
// registered between planning and the run fails the operation, clearly,
// with nothing started.
func TestSpawnPlan(t *testing.T) {
	var grab atomic.Bool
	var pc *pcluster
	pc = newPCluster(t, 3, map[string]func(context.Context, string, string){
		"n1": func(ctx context.Context, _, _ string) {
			if !grab.Load() {
				return
			}
			rt := pc.rt("n1")
			pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "echo", Name: "late"})
			if err != nil {
				t.Errorf("hook: %v", err)
				return
			}
			t.Logf("hook: %s took the name late", pid)
		},
	})
	id := pc.apply(t, 0, `{"operations":[
	 {"id":"tally","type":"spawn","node":"n2","params":{"behavior":"counter","args":{"start":"5"},"name":"tally","state":"{\"count\":7}"}},
	 {"id":"anon","type":"spawn","node":"n3","params":{"behavior":"echo"}}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan:\n%s", report(rec))
	}
	tally := resultPIDOf(t, rec, "tally")
	if tally.Node != "n2" {
		t.Fatalf("tally spawned as %s, not on n2", tally)
	}
	if pid, ok := pc.rt("n2").WhereIs("tally"); !ok || pid != tally {
		t.Fatalf("tally is registered to %s (%v), the plan reported %s", pid, ok, tally)
	}
	info, err := pc.rt("n2").Process(tally)
	if err != nil || info.Tree != "" || !info.Parent.IsZero() || info.Behavior != "counter" {
		t.Fatalf("tally: %+v, %v", info, err)
	}
	if c := counterValue(t, pc.rt("n2"), tally); c != 7 {
		t.Fatalf("tally counts %d, want the state given (7), not its args' start", c)
	}
	anon := resultPIDOf(t, rec, "anon")
	if info, err := pc.rt("n3").Process(anon); err != nil || info.Behavior != "echo" || info.RegisteredName != "" {
		t.Fatalf("anon %s: %+v, %v", anon, info, err)
	}

	for plan, want := range map[string]string{
		`{"operations":[{"id":"again","type":"spawn","node":"n2","params":{"behavior":"echo","name":"tally"}}]}`: `again: name "tally" on node n2 is already registered to ` + tally.String(),
		`{"operations":[{"id":"bad","type":"spawn","node":"n2","params":{"behavior":"nosuch"}}]}`:                `unknown behavior "nosuch"`,
		`{"operations":[{"id":"bad","type":"spawn","target":{"name":"tally"},"params":{"behavior":"echo"}}]}`:    "spawn takes no target",
	} {
		_, err := pc.coord(1).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(plan), Filename: "p.json"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("apply %s: %v, want %q", plan, err, want)
		}
	}

	// The name taken after the pre-checks, just before the operation runs.
	grab.Store(true)
	before := pc.rt("n1").ProcessCount()
	id = pc.apply(t, 0, `{"safety_level":"permissive","operations":[{"id":"late","type":"spawn","node":"n1","params":{"behavior":"counter","name":"late"}}]}`)
	rec = pc.wait(t, id, 30*time.Second)
	grab.Store(false)
	if rec.Status != state.PlanFailed {
		t.Fatalf("want failed:\n%s", report(rec))
	}
	var msg string
	for _, s := range rec.Stages[0].Steps {
		for _, o := range s.Operations {
			msg = o.Error
		}
	}
	if !strings.Contains(msg, `name "late" on node n1 is registered to n1/`) || !strings.Contains(msg, actor.ErrNameTaken.Error()) {
		t.Fatalf("the operation's error %q:\n%s", msg, report(rec))
	}
	if now := pc.rt("n1").ProcessCount(); now != before+1 {
		t.Fatalf("n1 runs %d processes, %d before: the spawn started one besides the hook's", now, before)
	}
}

// Rolling back a spawn kills the process it started, by the pid in its
// result.
func TestSpawnRollsBack(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.trees(t, `{"name":"fragile","node":"n1","max_restarts":0,"max_seconds":5,"children":[{"id":"w","behavior":"echo"}]}`)
	// The kill makes fragile's root give up, so the phase's post-checks
	// fail; the spawn of the same phase completed and is undone.
	id := pc.apply(t, 0, `{"safety_level":"moderate","operations":[
	 {"id":"sp","type":"spawn","node":"n1","params":{"behavior":"counter","name":"doomed"}},
	 {"id":"kill","type":"kill_process","target":{"supervisor":"fragile","child_id":"w"}}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanRolledBack {
		t.Fatalf("want rolled_back:\n%s", report(rec))
	}
	sp := resultPIDOf(t, rec, "sp")
	last := rec.Stages[len(rec.Stages)-1]
	ran := false
	for _, s := range last.Steps {
		for _, o := range s.Operations {
			if !o.Ok {
				t.Fatalf("compensation %s failed:\n%s", o.Op, report(rec))
			}
			ran = ran || o.Op == "rollback-sp"
		}
	}
	if !ran {
		t.Fatalf("no compensation of the spawn:\n%s", report(rec))
	}
	if _, err := pc.rt("n1").Process(sp); !errors.Is(err, actor.ErrNoProc) {
		t.Fatalf("the spawned %s after the rollback: %v", sp, err)
	}
	if pid, ok := pc.rt("n1").WhereIs("doomed"); ok {
		t.Fatalf("doomed still registered to %s", pid)
	}
}
