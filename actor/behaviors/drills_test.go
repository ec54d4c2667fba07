package behaviors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

// drillEnv is a runtime whose catalog's drills wait on a clock of their
// own (dclock), apart from the runtime's (rclock: shutdown timeouts), so
// a test knows which timer it waits for.
type drillEnv struct {
	t      *testing.T
	rt     *actor.Runtime
	rclock *actortest.ManualClock
	dclock *actortest.ManualClock
	drills *behaviors.Drills
	sub    *actor.Subscription
	ctx    context.Context
}

func newDrillEnv(t *testing.T) *drillEnv {
	t.Helper()
	e := &drillEnv{t: t, rclock: actortest.NewManualClock(time.Time{}), dclock: actortest.NewManualClock(time.Time{}), ctx: actortest.Context(t)}
	e.drills = behaviors.NewDrills(e.dclock)
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = e.rclock
	cfg.Catalog = behaviors.NewCatalogWith(e.drills)
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt
	e.sub = rt.Subscribe(1 << 12)
	t.Cleanup(func() {
		e.sub.Close()
		e.drills.Release() // no drill holds the shutdown
		if err := rt.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

func drillTree(name string, maxRestarts int, children ...spec.ChildSpec) spec.Tree {
	return spec.Tree{Name: name, SupervisorSpec: spec.SupervisorSpec{
		Strategy: spec.OneForOne, MaxRestarts: maxRestarts, MaxSeconds: 10, Children: children}}
}

func child(id, behavior string, args ...string) spec.ChildSpec {
	cs := spec.ChildSpec{ID: id, Behavior: behavior, Args: map[string]string{}}
	for i := 0; i+1 < len(args); i += 2 {
		cs.Args[args[i]] = args[i+1]
	}
	return cs
}

func (e *drillEnv) apply(tr spec.Tree) {
	e.t.Helper()
	if err := e.rt.ApplyTree(e.ctx, tr); err != nil {
		e.t.Fatalf("apply %s: %v", tr.Name, err)
	}
}

// applyAsync applies tr in a goroutine (a drill's first start holds it)
// and returns the outcome's channel.
func (e *drillEnv) applyAsync(tr spec.Tree) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.rt.ApplyTree(e.ctx, tr) }()
	return done
}

func (e *drillEnv) wait(what string, ch <-chan error) {
	e.t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
	case <-e.ctx.Done():
		e.t.Fatalf("%s: not done within %s", what, actortest.Timeout)
	}
}

// timers waits until c has n timers armed.
func (e *drillEnv) timers(c *actortest.ManualClock, n int) {
	e.t.Helper()
	if err := c.WaitForTimers(e.ctx, n); err != nil {
		e.t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

func (e *drillEnv) pid(tree, path string) actor.PID {
	e.t.Helper()
	pid, err := e.rt.Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		e.t.Fatalf("resolve %s/%s: %v", tree, path, err)
	}
	return pid
}

func (e *drillEnv) call(pid actor.PID, body string) string {
	e.t.Helper()
	b, err := e.rt.Call(e.ctx, pid, actor.Message{Body: []byte(body)})
	if err != nil {
		e.t.Fatalf("call %s %q: %v", pid, body, err)
	}
	return string(b)
}

func (e *drillEnv) cast(pid actor.PID, body string) {
	e.t.Helper()
	if err := e.rt.Cast(pid, actor.Message{Body: []byte(body)}); err != nil {
		e.t.Fatalf("cast %s %q: %v", pid, body, err)
	}
}

// await waits for an event of typ about tree child path ("" for the
// tree's own events).
func (e *drillEnv) await(typ actor.EventType, tree, path string) actor.Event {
	e.t.Helper()
	return actortest.AwaitEvent(e.t, e.sub, func(ev actor.Event) bool {
		return ev.Type == typ && ev.Tree == tree && (path == "" || ev.ChildID == path)
	})
}

// childInfo is which_children's row for id under the tree's root.
func (e *drillEnv) childInfo(tree, id string) actor.ChildInfo {
	e.t.Helper()
	kids, err := e.rt.WhichChildren(e.pid(tree, ""))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range kids {
		if c.ID == id {
			return c
		}
	}
	e.t.Fatalf("no child %q in %+v", id, kids)
	return actor.ChildInfo{}
}

// flaky_start: the first start succeeds, every later one fails, counted
// per key across the child's incarnations; "reset" makes the next start
// a first again; a supervisor whose child always fails its restart
// escalates.
func TestFlakyStart(t *testing.T) {
	e := newDrillEnv(t)
	e.apply(drillTree("drill", 3, child("db", "flaky_start", "key", "db")))
	db := e.pid("drill", "db")
	if got := e.call(db, "starts"); got != "1" {
		t.Fatalf("starts after the first start: %s", got)
	}

	// reset: the restart after a crash is a first start again.
	e.call(db, "reset")
	e.cast(db, "crash")
	e.await(actor.EventRestarted, "drill", "db")
	if got := e.drills.Starts("db"); got != 1 {
		t.Fatalf("starts after reset and restart: %d", got)
	}

	// The next restart fails, and so do its retries, to escalation (3
	// restarts in 10 s: the first crash's, the second's, one retry, then
	// beyond).
	e.cast(e.pid("drill", "db"), "crash")
	ev := e.await(actor.EventStartFailed, "drill", "db")
	if !strings.Contains(string(ev.Reason), "flaky_start db: start 2 fails (ok_starts 1)") {
		t.Fatalf("start_failed reason %q", ev.Reason)
	}
	e.await(actor.EventSupervisorEscalated, "drill", "")
	e.await(actor.EventTreeFailed, "drill", "")
	if got := e.drills.Starts("db"); got != 3 {
		t.Fatalf("starts %d, want 3 (first, the reset's first, two failed)", got)
	}
}

// ignore_start: its start is ignored (OTP's ignore): the tree starts,
// the child is kept with no process and is not restarted; with a key
// whose first start only is ignored, restart_child runs it.
func TestIgnoreStart(t *testing.T) {
	e := newDrillEnv(t)
	e.apply(drillTree("drill", 3, child("never", "ignore_start"), child("later", "ignore_start", "key", "later", "ignore_starts", "1"), child("ok", "echo")))
	root := e.pid("drill", "")
	kids, err := e.rt.WhichChildren(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 3 || !kids[0].PID.IsZero() || kids[0].State != "terminated" || !kids[1].PID.IsZero() || kids[2].State != "running" {
		t.Fatalf("which_children %+v, want never and later terminated with no pid, ok running", kids)
	}
	if n, _ := e.rt.CountChildren(root); n != (actor.ChildCounts{Specs: 3, Active: 1, Workers: 3}) {
		t.Fatalf("count_children %+v", n)
	}
	if pid, err := e.rt.RestartChild(e.ctx, root, "never"); err != nil || !pid.IsZero() {
		t.Fatalf("restart_child never = %v, %v; want ignored again", pid, err)
	}
	pid, err := e.rt.RestartChild(e.ctx, root, "later")
	if err != nil || pid.IsZero() {
		t.Fatalf("restart_child later = %v, %v; want it running", pid, err)
	}
	if got := e.call(pid, "starts"); got != "2" {
		t.Fatalf("later's starts %s, want 2", got)
	}
	if got := e.drills.Starts("later"); got != 2 {
		t.Fatalf("Drills.Starts(later) %d, want 2", got)
	}
}

// flaky_start with ok_starts and start_ms: the restarting state shows
// while the retry's (slow, failing) start is in progress.
func TestFlakyStartRestartingShows(t *testing.T) {
	e := newDrillEnv(t)
	applied := e.applyAsync(drillTree("drill", 3, child("db", "flaky_start", "key", "k", "ok_starts", "2", "start_ms", "500")))
	e.timers(e.dclock, 1)
	e.dclock.Advance(500 * time.Millisecond)
	e.wait("apply", applied)

	e.cast(e.pid("drill", "db"), "crash") // start 2: slow, succeeds
	e.timers(e.dclock, 1)
	e.dclock.Advance(500 * time.Millisecond)
	e.await(actor.EventRestarted, "drill", "db")

	e.cast(e.pid("drill", "db"), "crash") // start 3: slow, fails
	e.timers(e.dclock, 1)
	e.dclock.Advance(500 * time.Millisecond)
	e.await(actor.EventStartFailed, "drill", "db")
	e.timers(e.dclock, 1) // start 4, the retry, is in progress
	if got := e.drills.Starts("k"); got != 4 {
		t.Fatalf("starts %d, want 4", got)
	}
	if c := e.childInfo("drill", "db"); c.State != "restarting" || !c.PID.IsZero() {
		t.Fatalf("during the retry: %+v, want restarting with no pid", c)
	}
	e.dclock.Advance(500 * time.Millisecond)
	e.await(actor.EventTreeFailed, "drill", "")
}

// slow_start: a restart is in progress, the child without a process,
// until start_ms elapsed.
func TestSlowStart(t *testing.T) {
	e := newDrillEnv(t)
	applied := e.applyAsync(drillTree("drill", 3, child("w", "slow_start", "start_ms", "2000")))
	e.timers(e.dclock, 1)
	select {
	case err := <-applied:
		t.Fatalf("apply returned during the slow start: %v", err)
	default:
	}
	e.dclock.Advance(2 * time.Second)
	e.wait("apply", applied)

	old := e.pid("drill", "w")
	e.cast(old, "crash")
	e.timers(e.dclock, 1) // the restart's Init waits
	if _, err := e.rt.Resolve(actor.Target{Tree: "drill", Path: "w"}); err == nil {
		t.Fatal("the child resolves while its restart is in progress")
	}
	e.dclock.Advance(2 * time.Second)
	ev := e.await(actor.EventRestarted, "drill", "w")
	if ev.PID == old || e.pid("drill", "w") != ev.PID {
		t.Fatalf("restarted as %s (old %s)", ev.PID, old)
	}
}

// slow_stop: a Terminate longer than the shutdown is killed at the
// timeout; a shorter one exits with shutdown once it is done.
func TestSlowStop(t *testing.T) {
	e := newDrillEnv(t)
	long := child("long", "slow_stop", "stop_ms", "5000")
	long.Shutdown = "1s"
	short := child("short", "slow_stop", "stop_ms", "100")
	short.Shutdown = "5s"
	e.apply(drillTree("drill", 3, long, short))
	root := e.pid("drill", "")

	terminate := func(id string) <-chan error {
		done := make(chan error, 1)
		go func() { done <- e.rt.TerminateChild(e.ctx, root, id) }()
		return done
	}

	done := terminate("long")
	e.timers(e.rclock, 1) // the shutdown timeout
	e.timers(e.dclock, 1) // Terminate is under way
	e.rclock.Advance(time.Second)
	e.await(actor.EventShutdownTimeout, "drill", "long")
	if ev := e.await(actor.EventExited, "drill", "long"); ev.Reason != actor.Killed {
		t.Fatalf("long exited %q", ev.Reason)
	}
	e.wait("terminate long", done)

	done = terminate("short")
	e.timers(e.dclock, 2) // short's Terminate (long's killed one still waits)
	e.dclock.Advance(100 * time.Millisecond)
	if ev := e.await(actor.EventExited, "drill", "short"); ev.Reason != actor.Shutdown {
		t.Fatalf("short exited %q", ev.Reason)
	}
	e.wait("terminate short", done)
}

// stubborn: traps and ignores exit signals; asked to stop, it holds
// until its supervisor's shutdown timeout kills it.
func TestStubborn(t *testing.T) {
	e := newDrillEnv(t)
	s := child("s", "stubborn")
	s.Shutdown = "2s"
	e.apply(drillTree("drill", 3, s))
	pid := e.pid("drill", "s")
	if err := e.rt.Exit(pid, "shutdown"); err != nil {
		t.Fatal(err)
	}
	actortest.Eventually(t, "the exit signal is ignored", func() bool {
		st, err := e.rt.GetState(e.ctx, pid)
		return err == nil && string(st) == `{"exits":1}`
	})

	done := make(chan error, 1)
	go func() { done <- e.rt.TerminateChild(e.ctx, e.pid("drill", ""), "s") }()
	e.timers(e.dclock, 1) // Terminate holds
	e.timers(e.rclock, 1) // the shutdown timeout
	e.rclock.Advance(2 * time.Second)
	if ev := e.await(actor.EventShutdownTimeout, "drill", "s"); ev.PID != pid {
		t.Fatalf("shutdown_timeout of %s", ev.PID)
	}
	if ev := e.await(actor.EventExited, "drill", "s"); ev.Reason != actor.Killed {
		t.Fatalf("exited %q", ev.Reason)
	}
	e.wait("terminate", done)

	// Its own stop is prompt.
	e.apply(drillTree("drill2", 3, child("s", "stubborn")))
	pid = e.pid("drill2", "s")
	e.cast(pid, "stop")
	if ev := e.await(actor.EventExited, "drill2", "s"); ev.Reason != actor.Normal {
		t.Fatalf("own stop exited %q", ev.Reason)
	}
}

// gated_start: a closed gate holds the restart until the gate process
// opens it; with timeout_ms the start fails instead.
func TestGatedStart(t *testing.T) {
	e := newDrillEnv(t)
	e.apply(drillTree("drill", 5,
		child("gate", "gate"),
		child("db", "gated_start", "gate", "db"),
		child("web", "gated_start", "gate", "web", "timeout_ms", "300"),
		child("f", "flaky_start", "key", "f")))
	gate := e.pid("drill", "gate")
	if got := e.call(gate, "reset f"); got != "f reset" || e.drills.Starts("f") != 0 {
		t.Fatalf("reset through the gate: %q, starts %d", got, e.drills.Starts("f"))
	}
	if got := e.call(gate, "close db"); got != "db closed" {
		t.Fatalf("close: %q", got)
	}
	e.cast(e.pid("drill", "db"), "crash")
	actortest.Eventually(t, "the restart waits at the gate", func() bool { return e.drills.Waiting("db") == 1 })
	if got := e.call(gate, "status"); got != `{"db":{"open":false,"waiting":1}}` {
		t.Fatalf("status %s", got)
	}
	if _, err := e.rt.Resolve(actor.Target{Tree: "drill", Path: "db"}); err == nil {
		t.Fatal("db resolves while held at the gate")
	}
	e.cast(gate, "open db")
	e.await(actor.EventRestarted, "drill", "db")
	if st, _ := e.rt.GetState(e.ctx, e.pid("drill", "gate")); string(st) != `{"db":{"open":true,"waiting":0}}` {
		t.Fatalf("gate state %s", st)
	}

	// timeout_ms: the start gives up; the retry, gate now open, succeeds.
	e.drills.Close("web")
	e.cast(e.pid("drill", "web"), "crash")
	e.timers(e.dclock, 1)
	e.dclock.Advance(300 * time.Millisecond)
	ev := e.await(actor.EventStartFailed, "drill", "web")
	if !strings.Contains(string(ev.Reason), "gate web: gate still closed after 300ms") {
		t.Fatalf("start_failed %q", ev.Reason)
	}
	e.timers(e.dclock, 1) // the retry waits
	if _, err := e.rt.Call(e.ctx, gate, actor.Message{Body: []byte("close")}); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("close without a gate: %v", err)
	}
	e.call(gate, "open")
	e.await(actor.EventRestarted, "drill", "web")
}

// The gate's closed arg closes gates as it starts: a later sibling's
// first start holds the apply until the gate opens.
func TestGateClosedArg(t *testing.T) {
	e := newDrillEnv(t)
	applied := e.applyAsync(drillTree("drill", 3,
		child("gate", "gate", "closed", "a, b"),
		child("a", "gated_start", "gate", "a")))
	actortest.Eventually(t, "a's first start waits", func() bool { return e.drills.Waiting("a") == 1 })
	if g := e.drills.Gates(); len(g) != 2 || g["b"].Open {
		t.Fatalf("gates %+v", g)
	}
	e.drills.Open("a")
	e.wait("apply", applied)
}

func TestDrillArgs(t *testing.T) {
	cases := []struct {
		behavior string
		args     map[string]string
		want     string // "" when valid; else a piece of the error
	}{
		{"flaky_start", map[string]string{"key": "k"}, ""},
		{"flaky_start", map[string]string{"key": "k", "ok_starts": "3", "start_ms": "10"}, ""},
		{"flaky_start", nil, "arg key=\"\": want a name (required)"},
		{"flaky_start", map[string]string{"key": "a b"}, "without whitespace"},
		{"flaky_start", map[string]string{"key": "k", "ok_starts": "0"}, "ok_starts=\"0\": want an integer in 1.."},
		{"flaky_start", map[string]string{"key": "k", "start_ms": "1s"}, "start_ms=\"1s\": want an integer in 0..86400000"},
		{"flaky_start", map[string]string{"key": "k", "count": "1"}, "unknown arg count (known: key, ok_starts, start_ms)"},
		{"ignore_start", nil, ""},
		{"ignore_start", map[string]string{"key": "k", "ignore_starts": "2"}, ""},
		{"ignore_start", map[string]string{"key": ""}, "want a non-empty name"},
		{"ignore_start", map[string]string{"ignore_starts": "1"}, "ignore_starts=\"1\": want a key"},
		{"ignore_start", map[string]string{"key": "k", "ignore_starts": "0"}, "ignore_starts=\"0\": want an integer in 1.."},
		{"ignore_start", map[string]string{"count": "1"}, "unknown arg count (known: key, ignore_starts)"},
		{"slow_start", nil, ""},
		{"slow_start", map[string]string{"start_ms": "-1"}, "start_ms=\"-1\""},
		{"slow_start", map[string]string{"stop_ms": "1"}, "unknown arg stop_ms"},
		{"slow_stop", map[string]string{"stop_ms": "250"}, ""},
		{"slow_stop", map[string]string{"stop_ms": "86400001"}, "stop_ms=\"86400001\""},
		{"stubborn", nil, ""},
		{"stubborn", map[string]string{"hold_ms": "0"}, "hold_ms=\"0\": want an integer in 1..86400000"},
		{"stubborn", map[string]string{"trap_exit": "true"}, "unknown arg trap_exit (known: hold_ms)"},
		{"gated_start", map[string]string{"gate": "db"}, ""},
		{"gated_start", map[string]string{"gate": "db", "timeout_ms": "x"}, "timeout_ms=\"x\""},
		{"gated_start", nil, "arg gate=\"\": want a name (required)"},
		{"gate", nil, ""},
		{"gate", map[string]string{"closed": "a,b"}, ""},
		{"gate", map[string]string{"closed": "a,,b"}, "closed=\"a,,b\""},
		{"gate", map[string]string{"open": "a"}, "unknown arg open (known: closed)"},
	}
	c := behaviors.NewCatalog()
	for _, tc := range cases {
		e, err := c.Lookup(tc.behavior)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.New(tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %v: %v", tc.behavior, tc.args, err)
		case tc.want == "":
		case err == nil:
			t.Errorf("%s %v: accepted, want %q", tc.behavior, tc.args, tc.want)
		case !errors.Is(err, actor.ErrBadArgs) || !strings.Contains(err.Error(), tc.behavior+": ") || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s %v: error %q, want ErrBadArgs naming the behavior and saying %q", tc.behavior, tc.args, err, tc.want)
		}
	}
}
