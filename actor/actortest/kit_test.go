package actortest

import (
	"testing"
	"time"

	"github.com/steward/steward/actor"
)

func newRuntime(t *testing.T) (*actor.Runtime, *actor.Subscription) {
	t.Helper()
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = Logger(t)
	cfg.Clock = NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := rt.Subscribe(64)
	t.Cleanup(sub.Close)
	return rt, sub
}

var (
	oldChild = actor.PID{Node: "n1", Seq: 4}
	newSup   = actor.PID{Node: "n1", Seq: 5}
)

// restartThenExit publishes what a killed supervisor's parent and its
// killer may emit, in the order that a busy machine can produce: the
// restart of the supervisor before the exit of its old child.
func restartThenExit(rt *actor.Runtime) {
	rt.Publish(actor.Event{Type: actor.EventSpawned, PID: newSup})
	rt.Publish(actor.Event{Type: actor.EventRestarted, PID: newSup, ChildID: "sub"})
	rt.Publish(actor.Event{Type: actor.EventExited, PID: oldChild, Reason: "operator"})
}

func isRestart(e actor.Event) bool { return e.Type == actor.EventRestarted && e.ChildID == "sub" }

// Waiting for the exit first consumes the restart that came before it: a
// second wait, for the restart, would find nothing.
func TestAwaitEventConsumesWhatItSkips(t *testing.T) {
	rt, sub := newRuntime(t)
	restartThenExit(rt)
	if e := AwaitEvent(t, sub, Is(actor.EventExited, oldChild)); e.Reason != "operator" {
		t.Fatalf("exit %+v", e)
	}
	if n := len(sub.C); n != 0 {
		t.Fatalf("%d events left after the wait, want 0: the skipped restart is consumed", n)
	}
}

func TestAwaitEventsInAnyOrder(t *testing.T) {
	rt, sub := newRuntime(t)
	restartThenExit(rt)
	evs := AwaitEvents(t, sub, Is(actor.EventExited, oldChild), isRestart)
	if len(evs) != 2 || evs[0].PID != oldChild || evs[0].Type != actor.EventExited || evs[1].PID != newSup || evs[1].Type != actor.EventRestarted {
		t.Fatalf("events %+v, want the exit then the restart (the order of the matches)", evs)
	}
	if evs[1].Seq >= evs[0].Seq {
		t.Fatalf("seqs %d, %d: the restart was published first", evs[0].Seq, evs[1].Seq)
	}
}

// One event satisfies at most one match: two matches for the same kind of
// event need two events.
func TestAwaitEventsOneEventPerMatch(t *testing.T) {
	rt, sub := newRuntime(t)
	rt.Publish(actor.Event{Type: actor.EventRestarted, PID: newSup, ChildID: "sub"})
	rt.Publish(actor.Event{Type: actor.EventExited, PID: oldChild})
	second := actor.PID{Node: "n1", Seq: 9}
	rt.Publish(actor.Event{Type: actor.EventRestarted, PID: second, ChildID: "sub"})
	evs := AwaitEvents(t, sub, isRestart, isRestart)
	if evs[0].PID != newSup || evs[1].PID != second {
		t.Fatalf("events %+v, want the two restarts in turn", evs)
	}
}
