package actor_test

// Stopping supervisors, mirrored from OTP's
// lib/stdlib/test/supervisor_SUITE.erl (issue 11), each test named after
// the case it follows: the instances of a simple_one_for_one supervisor
// are stopped all at once under one shutdown timer (OTP's
// terminate_dynamic_children); children that exit by themselves while
// their supervisor stops keep their own exit reasons; a child that
// unlinked from its supervisor does not hang terminate_child.

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// registerBlockers adds behavior name: a probe whose Terminate waits on
// block when it was started with the arg "block" set to "1".
func (e *env) registerBlockers(name string, block chan struct{}) {
	e.t.Helper()
	err := e.cat.Register(actor.Entry{Name: name, Version: "1", New: func(args map[string]string) (actor.Behavior, error) {
		p := newProbe()
		if args["block"] == "1" {
			p.block = block
		}
		return p, nil
	}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// stopTree stops tree name in the background; the result comes on the
// channel.
func (e *env) stopTree(name string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.rt.StopTree(e.ctx, name) }()
	return done
}

// exited matches the exited event of pid.
func exited(pid actor.PID) func(actor.Event) bool { return actortest.Is(actor.EventExited, pid) }

// awaitExits waits for the exits of pids, emitted in any order, and
// returns their reasons by pid.
func (e *env) awaitExits(pids ...actor.PID) map[actor.PID]actor.Reason {
	e.t.Helper()
	matches := make([]func(actor.Event) bool, len(pids))
	for i, pid := range pids {
		matches[i] = exited(pid)
	}
	out := make(map[actor.PID]actor.Reason, len(pids))
	for _, ev := range actortest.AwaitEvents(e.t, e.sub, matches...) {
		out[ev.PID] = ev.Reason
	}
	return out
}

// supervisor_SUITE:sup_stop_timeout_dynamic: stopping a simple_one_for_one
// supervisor (temporary instances, shutdown 1 s), an instance that stops
// at once exits with shutdown and one stuck in Terminate is killed when
// the timeout elapses. Past the suite: two stuck instances are killed by
// the same, single, timeout (OTP's terminate_dynamic_children asks them
// all first, then waits once), not one after the other.
func TestSupStopTimeoutDynamic(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	defer close(block)
	e.registerBlockers("sup1", block)
	c := temporary(worker("child", "sup1"))
	c.Shutdown = "1s"
	tr := tree("t", spec.SimpleOneForOne, c)
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	var pids [3]actor.PID
	for i, blocks := range []string{"0", "1", "1"} {
		pid, err := e.rt.StartDynamicChild(e.ctx, root, map[string]string{"block": blocks})
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = pid
	}
	done := e.stopTree("t")
	// Every instance is asked at once: the free one exits before any
	// time passes, while the two stuck ones wait for the one timer.
	if r := e.exitOf(pids[0]); r != actor.Shutdown {
		t.Fatalf("instance 1 exited %q, want shutdown", r)
	}
	if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second - time.Millisecond)
	if !e.alive(pids[1]) || !e.alive(pids[2]) {
		t.Fatal("a stuck instance was killed before its 1 s shutdown")
	}
	e.clock.Advance(time.Millisecond)
	for pid, r := range e.awaitExits(pids[1], pids[2]) {
		if r != actor.Killed {
			t.Fatalf("stuck instance %s exited %q, want killed", pid, r)
		}
	}
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// supervisor_SUITE:sup_stop_brutal_kill_dynamic: stopping a
// simple_one_for_one supervisor whose template is brutal_kill kills its
// ten instances; the supervisor exits with shutdown.
func TestSupStopBrutalKillDynamic(t *testing.T) {
	e := newEnv(t)
	c := temporary(worker("child", "counter"))
	c.Shutdown = spec.BrutalKill
	tr := tree("t", spec.SimpleOneForOne, c)
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	pids := make([]actor.PID, 10)
	for i := range pids {
		pid, err := e.rt.StartDynamicChild(e.ctx, root, nil)
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = pid
	}
	done := e.stopTree("t")
	for pid, r := range e.awaitExits(pids...) {
		if r != actor.Killed {
			t.Fatalf("instance %s exited %q, want killed", pid, r)
		}
	}
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// supervisor_SUITE:simple_one_for_one_shutdown: three instances whose
// Terminate takes 1 s, 1 s and 5 s (on the manual clock) under a
// shutdown of 2 s. The stop waits for the first two, which exit with
// shutdown at 1 s, and kills the last at 2 s: it takes longer than the
// fastest instance and less than the slowest (OTP's bounds), the two
// shutdown timeouts of a sequential stop being one.
func TestSimpleOneForOneShutdown(t *testing.T) {
	e := newEnv(t)
	err := e.cat.Register(actor.Entry{Name: "sup2", Version: "1", New: func(args map[string]string) (actor.Behavior, error) {
		var d time.Duration
		if v := args["stop"]; v != "" {
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				return nil, err
			}
		}
		return &clockStop{probe: newProbe(), e: e, d: d}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Lets the killed instance's Terminate end.
	defer e.clock.Advance(time.Hour)
	c := worker("child", "sup2")
	c.Shutdown = "2s"
	tr := tree("t", spec.SimpleOneForOne, c)
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	var pids []actor.PID
	for _, stop := range []string{"1s", "1s", "5s"} {
		pid, err := e.rt.StartDynamicChild(e.ctx, root, map[string]string{"stop": stop})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	done := e.stopTree("t")
	// Three Terminates wait on the clock and the supervisor's one
	// shutdown timer runs: all were asked at once.
	if err := e.clock.WaitForTimers(e.ctx, 4); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	for pid, r := range e.awaitExits(pids[0], pids[1]) {
		if r != actor.Shutdown {
			t.Fatalf("instance %s exited %q, want shutdown after its 1 s Terminate", pid, r)
		}
	}
	if !e.alive(pids[2]) || !e.alive(root) {
		t.Fatal("the stop ended before the shutdown timeout (2 s) elapsed")
	}
	e.clock.Advance(time.Second)
	if r := e.exitOf(pids[2]); r != actor.Killed {
		t.Fatalf("slow instance exited %q, want killed at 2 s", r)
	}
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// clockStop is a probe whose Terminate takes d on the test's manual
// clock (OTP's supervisor_2 child).
type clockStop struct {
	*probe
	e *env
	d time.Duration
}

func (c *clockStop) Terminate(_ actor.Proc, r actor.Reason) {
	elapsed := make(chan struct{})
	tm := c.e.clock.AfterFunc(c.d, func() { close(elapsed) })
	defer tm.Stop()
	select {
	case <-elapsed:
	case <-c.e.ctx.Done():
	}
	c.ended <- r
}

// supervisor_SUITE:sup_stop_race: while the supervisor's stop waits for
// its last child z (a slow Terminate), children of each restart type
// exit by themselves with normal, shutdown, "shutdown: test" and other.
// The stop completes: z and the first child, a, exit with shutdown, the
// others keep their own reasons; none is restarted, nothing escalates.
func TestSupStopRace(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	e.registerBlockers("sup2", block)
	a := temporary(worker("child_a", "counter"))
	a.Shutdown = "1s"
	children := []spec.ChildSpec{a}
	type racer struct {
		id     string
		cast   string
		reason actor.Reason
	}
	var racers []racer
	for _, restart := range []spec.Restart{spec.Temporary, spec.Transient, spec.Permanent} {
		for i, r := range []struct {
			cast   string
			reason actor.Reason
		}{
			{"stop", actor.Normal},
			{"exit shutdown", actor.Shutdown},
			{"exit shutdown: test", "shutdown: test"},
			{"exit other", "other"},
		} {
			id := fmt.Sprintf("child_%s_%d", restart, i)
			c := worker(id, "crasher")
			c.Restart, c.Shutdown = restart, "1s"
			children = append(children, c)
			racers = append(racers, racer{id, r.cast, r.reason})
		}
	}
	z := temporary(worker("child_z", "sup2", "block", "1"))
	z.Shutdown = "2s"
	children = append(children, z)
	tr := tree("t", spec.OneForOne, children...)
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root, apid, zpid := e.resolve("t", ""), e.resolve("t", "child_a"), e.resolve("t", "child_z")
	pids := make([]actor.PID, len(racers))
	for i, r := range racers {
		pids[i] = e.resolve("t", r.id)
	}
	e.mark()

	done := e.stopTree("t")
	// z is stopped first (reverse start order); its Terminate holds the
	// supervisor's stop meanwhile.
	actortest.Eventually(t, "z asked to stop", func() bool { return actor.StopRequested(e.rt, zpid) })
	for i, r := range racers {
		e.cast(pids[i], r.cast)
		if got := e.exitOf(pids[i]); got != r.reason {
			t.Fatalf("%s exited %q, want its own %q", r.id, got, r.reason)
		}
	}
	close(block)
	if r := e.exitOf(zpid); r != actor.Shutdown {
		t.Fatalf("child_z exited %q, want shutdown", r)
	}
	if r := e.exitOf(apid); r != actor.Shutdown {
		t.Fatalf("child_a exited %q, want shutdown", r)
	}
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, ev := range e.rt.Events(e.marked) {
		switch ev.Type {
		case actor.EventRestarted, actor.EventSupervisorEscalated, actor.EventTreeFailed:
			t.Fatalf("during the stop: %+v", ev)
		}
	}
}

// naughty is supervisor_SUITE's naughty_child: it unlinks from its
// supervisor in Init.
type naughty struct{ *probe }

func (n naughty) Init(p actor.Proc) error {
	p.Unlink(p.Parent())
	return n.probe.Init(p)
}

// supervisor_SUITE:child_unlink: a child that unlinked from its
// supervisor is still stopped by terminate_child, which returns (the
// supervisor waits for the process, not for an exit signal over a link
// that is gone); the supervisor then serves its mailbox (OTP's check:
// a message sent to it is consumed).
func TestChildUnlink(t *testing.T) {
	e := newEnv(t)
	err := e.cat.Register(actor.Entry{Name: "naughty_child", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		return naughty{newProbe()}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tree("t", spec.OneForOne)
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	c := worker("naughty_child", "naughty_child")
	c.Shutdown = "1s"
	cpid, err := e.rt.StartChild(e.ctx, root, c)
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.rt.Process(cpid)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range info.Links {
		if l == root {
			t.Fatalf("the child is still linked to its supervisor: %v", info.Links)
		}
	}
	done := make(chan error, 1)
	go func() { done <- e.rt.TerminateChild(e.ctx, root, "naughty_child") }()
	if err := e.rt.Send(root, actor.Message{Body: []byte("foo")}); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("terminate_child: %v", err)
	}
	if r := e.exitOf(cpid); r != actor.Shutdown {
		t.Fatalf("child exited %q, want shutdown", r)
	}
	e.awaitQueued(root, 0)
	e.wantStates(root, map[string]string{"naughty_child": "terminated"})
	e.wantCounts(root, 1, 0, 0, 1)
	e.valid()
}
