package actor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
)

// A runtime of creation 3 hands out seqs from 3*CreationSpan+1; a pid at
// or below 3*CreationSpan is from an earlier run of the node (ErrNoProc,
// saying so), one above the last handed out is unknown as before.
func TestCreationFirstSeq(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.Creation = 3 })
	a := e.spawn("echo", nil)
	b := e.spawn("echo", nil)
	if a.Seq != 3*actor.CreationSpan+1 || b.Seq != 3*actor.CreationSpan+2 {
		t.Fatalf("pids %s, %s: want seqs %d and %d", a, b, 3*actor.CreationSpan+1, 3*actor.CreationSpan+2)
	}
	if a.String() != "n1/3000000001" {
		t.Fatalf("pid renders %q, want n1/3000000001 (node/seq unchanged)", a)
	}
	if got := e.rt.Stats().Spawned; got != 2 {
		t.Fatalf("Stats.Spawned %d, want 2 (PIDs handed out by this run, not the seq)", got)
	}

	// The 12th pid of run 2, and a pid of a run of creation 0 (a node
	// from before creations): both died with their run.
	for _, old := range []actor.PID{{Node: "n1", Seq: 2*actor.CreationSpan + 12}, {Node: "n1", Seq: 12}, {Node: "n1", Seq: 3 * actor.CreationSpan}} {
		_, err := e.rt.Process(old)
		if !errors.Is(err, actor.ErrNoProc) || errors.Is(err, actor.ErrUnknownPID) {
			t.Fatalf("Process(%s): %v, want ErrNoProc only", old, err)
		}
		if !strings.Contains(err.Error(), "earlier run of node \"n1\"") || !strings.Contains(err.Error(), "n1/3000000001") {
			t.Fatalf("Process(%s): %q does not say the pid is from an earlier run and where this run's start", old, err)
		}
		wantErr(t, e.rt.SendChecked(old, actor.Message{Body: []byte("x")}), actor.ErrNoProc)
		wantErr(t, e.rt.Kill(old, ""), actor.ErrNoProc)
	}
	if _, err := e.rt.Process(actor.PID{Node: "n1", Seq: 2*actor.CreationSpan + 12}); !strings.Contains(err.Error(), "creation 2; this run is creation 3") {
		t.Fatalf("the error names neither creation: %v", err)
	}

	// Past the last seq handed out: never spawned, as before.
	next := actor.PID{Node: "n1", Seq: b.Seq + 1}
	_, err := e.rt.Process(next)
	wantErr(t, err, actor.ErrUnknownPID)
	if errors.Is(err, actor.ErrNoProc) {
		t.Fatalf("Process(%s): %v is also ErrNoProc", next, err)
	}

	// A process of this run that exited is "exited", not "earlier run".
	if err := e.rt.Kill(a, ""); err != nil {
		t.Fatal(err)
	}
	e.await(actor.EventExited, a)
	_, err = e.rt.Process(a)
	wantErr(t, err, actor.ErrNoProc)
	if strings.Contains(err.Error(), "earlier run") {
		t.Fatalf("Process(%s) of this run: %q calls it an earlier run's", a, err)
	}
	if _, err := e.rt.Process(b); err != nil {
		t.Fatalf("Process(%s): %v", b, err)
	}
}

// Creation 0, the default, starts at seq 1 as before.
func TestCreationZeroStartsAtOne(t *testing.T) {
	e := newEnv(t)
	if pid := e.spawn("echo", nil); pid.Seq != 1 {
		t.Fatalf("first pid %s, want seq 1", pid)
	}
}

// MaxCreation's range fits in a uint64; one more is refused by name.
func TestCreationLimit(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.Creation = actor.MaxCreation })
	if pid := e.spawn("echo", nil); pid.Seq != actor.MaxCreation*actor.CreationSpan+1 {
		t.Fatalf("pid %s: want seq %d", pid, uint64(actor.MaxCreation*actor.CreationSpan+1))
	}
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Creation = actor.MaxCreation + 1
	err := cfg.Validate()
	wantErr(t, err, actor.ErrBadConfig)
	if !strings.Contains(err.Error(), "Creation") {
		t.Fatalf("%q does not name the field", err)
	}
}
