package actor_test

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

func (e *env) pids(tree string, paths ...string) []actor.PID {
	e.t.Helper()
	out := make([]actor.PID, len(paths))
	for i, p := range paths {
		out[i] = e.resolve(tree, p)
	}
	return out
}

// until collects events until one matches (included), ignoring those
// emitted before the last mark.
func (e *env) until(match func(actor.Event) bool) []actor.Event {
	e.t.Helper()
	var evs []actor.Event
	actortest.AwaitEvent(e.t, e.sub, func(ev actor.Event) bool {
		if ev.Seq <= e.marked {
			return false
		}
		evs = append(evs, ev)
		return match(ev)
	})
	return evs
}

// childOrder lists, in order, the child paths of events of typ in evs.
func childOrder(evs []actor.Event, typ actor.EventType) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev.ChildID)
		}
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isRestart(path string) func(actor.Event) bool {
	return func(ev actor.Event) bool { return ev.Type == actor.EventRestarted && ev.ChildID == path }
}

func TestOneForOne(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("a", "counter"), worker("b", "crasher"), worker("c", "counter")))
	before := e.pids("t", "a", "b", "c")
	e.cast(before[1], "crash")
	evs := e.until(isRestart("b"))
	if ev := evs[len(evs)-1]; ev.Reason != "crash" || ev.Detail != "restart 1" {
		t.Fatalf("restarted event %+v", ev)
	}
	if got := childOrder(evs, actor.EventExited); !sameStrings(got, []string{"b"}) {
		t.Fatalf("exits %v, want only b", got)
	}
	after := e.pids("t", "a", "b", "c")
	if after[0] != before[0] || after[2] != before[2] || after[1] == before[1] {
		t.Fatalf("before %v after %v: only b may change", before, after)
	}
	if info, _ := e.rt.Process(after[1]); info.Restarts != 1 || info.ChildID != "b" || info.Tree != "t" {
		t.Fatalf("restarted child info %+v", info)
	}
	e.valid()
}

func TestOneForAll(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForAll, worker("a", "counter"), worker("b", "crasher"), worker("c", "counter")))
	before := e.pids("t", "a", "b", "c")
	e.mark()
	e.cast(before[1], "crash")
	evs := e.until(isRestart("c"))
	// b crashed; the others stop in reverse order; all start in order.
	if got := childOrder(evs, actor.EventExited); !sameStrings(got, []string{"b", "c", "a"}) {
		t.Fatalf("exit order %v, want b c a", got)
	}
	if got := childOrder(evs, actor.EventSpawned); !sameStrings(got, []string{"a", "b", "c"}) {
		t.Fatalf("start order %v, want a b c", got)
	}
	after := e.pids("t", "a", "b", "c")
	for i := range after {
		if after[i] == before[i] {
			t.Fatalf("child %d kept its pid under one_for_all", i)
		}
	}
	e.valid()
}

func TestRestForOne(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.RestForOne, worker("a", "counter"), worker("b", "crasher"), worker("c", "counter"), worker("d", "counter")))
	before := e.pids("t", "a", "b", "c", "d")
	e.mark()
	e.cast(before[1], "crash")
	evs := e.until(isRestart("d"))
	if got := childOrder(evs, actor.EventExited); !sameStrings(got, []string{"b", "d", "c"}) {
		t.Fatalf("exit order %v, want b d c", got)
	}
	if got := childOrder(evs, actor.EventSpawned); !sameStrings(got, []string{"b", "c", "d"}) {
		t.Fatalf("start order %v, want b c d", got)
	}
	after := e.pids("t", "a", "b", "c", "d")
	if after[0] != before[0] {
		t.Fatal("a, before the crashed child, was restarted")
	}
	for i := 1; i < 4; i++ {
		if after[i] == before[i] {
			t.Fatalf("child %d kept its pid under rest_for_one", i)
		}
	}
	e.valid()
}

func TestSimpleOneForOne(t *testing.T) {
	e := newEnv(t)
	tmpl := worker("w", "crasher")
	tmpl.Restart = spec.Transient
	e.apply(tree("pool", spec.SimpleOneForOne, tmpl))
	root := e.resolve("pool", "")
	if kids, _ := e.rt.WhichChildren(root); len(kids) != 0 {
		t.Fatalf("template started by itself: %+v", kids)
	}
	w1, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := e.rt.StartDynamicChild(e.ctx, root, map[string]string{"reason": "custom"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.StartDynamicChild(e.ctx, root, map[string]string{"bogus": "1"})
	wantErr(t, err, actor.ErrBadArgs)
	if got := e.resolve("pool", "w-2"); got != w2 {
		t.Fatalf("w-2 resolves to %v", got)
	}
	// An abnormal exit restarts the instance under the same id, with its
	// extra args.
	e.cast(w2, "crash")
	evs := e.until(isRestart("w-2"))
	if r := evs[len(evs)-1].Reason; r != "custom" {
		t.Fatalf("crash reason %q, want the instance's own arg", r)
	}
	if e.resolve("pool", "w-2") == w2 {
		t.Fatal("not restarted")
	}
	// A normal exit of a transient instance removes it.
	e.cast(w1, "stop")
	e.exitOf(w1)
	actortest.Eventually(t, "w-1 removed", func() bool {
		kids, _ := e.rt.WhichChildren(root)
		return len(kids) == 1 && kids[0].ID == "w-2"
	})
	if err := e.rt.TerminateChild(e.ctx, root, "w-2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.rt.CountChildren(root); n.Specs != 1 || n.Active != 0 { // OTP: one spec, the template
		t.Fatalf("counts %+v after terminate", n)
	}
	_, err = e.rt.StartChild(e.ctx, root, worker("x", "counter"))
	wantErr(t, err, actor.ErrBadStrategy)
	e.valid()
}

func TestRestartTypes(t *testing.T) {
	e := newEnv(t)
	perm := worker("perm", "crasher")
	trans := worker("trans", "crasher")
	trans.Restart = spec.Transient
	trans2 := worker("trans2", "crasher")
	trans2.Restart = spec.Transient
	temp := worker("temp", "crasher")
	temp.Restart = spec.Temporary
	e.apply(tree("t", spec.OneForOne, perm, trans, trans2, temp))
	p := e.pids("t", "perm", "trans", "trans2", "temp")
	root := e.resolve("t", "")

	e.cast(p[0], "stop") // permanent: restarted even after a normal exit
	e.until(isRestart("perm"))

	e.cast(p[1], "exit shutdown") // transient, shutdown: not restarted
	e.exitOf(p[1])
	e.cast(p[2], "crash") // transient, abnormal: restarted
	e.until(isRestart("trans2"))

	e.cast(p[3], "crash") // temporary: never restarted, its spec deleted (OTP)
	e.exitOf(p[3])

	actortest.Eventually(t, "states settled", func() bool {
		kids, _ := e.rt.WhichChildren(root)
		return len(kids) == 3 && kids[1].State == "stopped"
	})
	kids, _ := e.rt.WhichChildren(root)
	want := []string{"running", "stopped", "running"}
	for i, k := range kids {
		if k.State != want[i] {
			t.Fatalf("%s state %s, want %s", k.ID, k.State, want[i])
		}
	}
	if kids[0].Restarts != 1 || kids[1].Restarts != 0 {
		t.Fatalf("children %+v", kids)
	}
	if n, _ := e.rt.CountChildren(root); n.Specs != 3 || n.Active != 2 || n.Workers != 3 {
		t.Fatalf("counts %+v", n)
	}
	// Applying the same spec again resurrects nothing.
	e.apply(tree("t", spec.OneForOne, perm, trans, trans2, temp))
	if n, _ := e.rt.CountChildren(root); n.Active != 2 {
		t.Fatalf("re-apply started stopped children: %+v", n)
	}
	e.valid()
}

func TestIntensityWindowAndRootEscalation(t *testing.T) {
	e := newEnv(t)
	tr := tree("t", spec.OneForOne, worker("c", "crasher"), worker("k", "counter"))
	tr.MaxRestarts, tr.MaxSeconds = 2, 10
	e.apply(tr)
	crash := func() {
		e.t.Helper()
		e.cast(e.resolve("t", "c"), "crash")
	}
	crash()
	e.until(isRestart("c"))
	crash()
	e.until(isRestart("c"))
	e.clock.Advance(11 * time.Second) // both restarts leave the window
	crash()
	e.until(isRestart("c"))
	e.clock.Advance(5 * time.Second)
	crash()
	e.until(isRestart("c"))
	root := e.resolve("t", "")
	crash() // third restart within 10 s
	esc := e.await(actor.EventSupervisorEscalated, root)
	if esc.Tree != "t" || esc.ChildID != "" || esc.Reason != "crash" {
		t.Fatalf("escalation %+v", esc)
	}
	failed := e.await(actor.EventTreeFailed, root)
	if failed.Reason != actor.Shutdown {
		t.Fatalf("tree failed with %q", failed.Reason)
	}
	info, err := e.rt.Tree("t")
	if err != nil || info.Status != actor.TreeFailed || info.Processes != 0 {
		t.Fatalf("tree info %+v, %v", info, err)
	}
	if e.rt.ProcessCount() != 0 {
		t.Fatalf("%d processes survive the escalation", e.rt.ProcessCount())
	}
	_, err = e.rt.Resolve(actor.Target{Tree: "t", Path: "k"})
	wantErr(t, err, actor.ErrTreeFailed)
	wantErr(t, e.rt.ApplyTree(e.ctx, tr), actor.ErrTreeFailed)
	e.valid()
	if err := e.rt.StopTree(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	e.apply(tr)
	if info, _ := e.rt.Tree("t"); info.Status != actor.TreeRunning || info.Processes != 3 {
		t.Fatalf("re-applied tree %+v", info)
	}
}

func TestEscalationUpNestedTree(t *testing.T) {
	e := newEnv(t)
	inner := sup("sub", spec.OneForOne, worker("w", "crasher"), worker("k", "counter"))
	inner.MaxRestarts, inner.MaxSeconds = 0, 60
	tr := tree("t", spec.OneForOne, worker("top", "counter"), inner)
	tr.MaxRestarts, tr.MaxSeconds = 1, 60
	e.apply(tr)
	top, sub1 := e.resolve("t", "top"), e.resolve("t", "sub")

	e.cast(e.resolve("t", "sub/w"), "crash")
	esc := e.await(actor.EventSupervisorEscalated, sub1)
	if esc.ChildID != "sub" || esc.Reason != "crash" {
		t.Fatalf("inner escalation %+v", esc)
	}
	rs := e.until(isRestart("sub"))
	if r := rs[len(rs)-1]; r.Reason != actor.Shutdown {
		t.Fatalf("sub restarted after %q, want shutdown", r.Reason)
	}
	sub2 := e.resolve("t", "sub")
	if sub2 == sub1 || e.resolve("t", "top") != top {
		t.Fatal("root did not restart exactly the escalated supervisor")
	}
	e.valid()

	e.cast(e.resolve("t", "sub/w"), "crash")
	e.await(actor.EventSupervisorEscalated, sub2)
	root := e.await(actor.EventSupervisorEscalated, actor.PID{})
	if root.ChildID != "" || root.Reason != actor.Shutdown {
		t.Fatalf("root escalation %+v", root)
	}
	e.await(actor.EventTreeFailed, root.PID)
	if info, _ := e.rt.Tree("t"); info.Status != actor.TreeFailed {
		t.Fatalf("tree %+v", info)
	}
}

func TestOrderedStartAndReverseShutdown(t *testing.T) {
	e := newEnv(t)
	e.mark()
	e.apply(tree("t", spec.OneForOne,
		worker("a", "counter"),
		sup("s", spec.OneForOne, worker("x", "counter"), worker("y", "counter")),
		worker("b", "counter")))
	evs := e.until(func(ev actor.Event) bool { return ev.Type == actor.EventTreeStarted })
	if got := childOrder(evs, actor.EventSpawned); !sameStrings(got, []string{"", "a", "s", "s/x", "s/y", "b"}) {
		t.Fatalf("start order %q", got)
	}
	e.mark()
	if err := e.rt.StopTree(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	evs = e.until(func(ev actor.Event) bool { return ev.Type == actor.EventTreeStopped })
	if got := childOrder(evs, actor.EventExited); !sameStrings(got, []string{"b", "s/y", "s/x", "s", "a", ""}) {
		t.Fatalf("stop order %q", got)
	}
	for _, ev := range evs {
		if ev.Type == actor.EventExited && ev.Reason != actor.Shutdown {
			t.Fatalf("%s exited %q", ev.ChildID, ev.Reason)
		}
	}
	if e.rt.ProcessCount() != 0 {
		t.Fatal("processes left after StopTree")
	}
	wantErr(t, e.rt.StopTree(e.ctx, "t"), actor.ErrTreeNotFound)
}

func TestShutdownPolicies(t *testing.T) {
	e := newEnv(t)
	started := e.registerProbes("probe", nil)
	brutal := worker("brutal", "probe")
	brutal.Shutdown = spec.BrutalKill
	graceful := worker("graceful", "probe")
	e.apply(tree("t", spec.OneForOne, graceful, brutal))
	g, b := recv(t, started), recv(t, started)
	if err := e.rt.StopTree(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, g.ended); r != actor.Shutdown {
		t.Fatalf("graceful child terminated with %q", r)
	}
	if r := e.exitOf(b.pid); r != actor.Killed {
		t.Fatalf("brutal_kill child exited %q", r)
	}
	select {
	case r := <-b.ended:
		t.Fatalf("Terminate ran after brutal_kill (%q)", r)
	default:
	}
}

func TestShutdownTimeoutKills(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	defer close(block)
	started := e.registerProbes("slow", func(p *probe) { p.block = block })
	slow := worker("slow", "slow")
	slow.Shutdown = "2s"
	e.apply(tree("t", spec.OneForOne, slow))
	p := recv(t, started)
	done := make(chan error, 1)
	go func() { done <- e.rt.StopTree(e.ctx, "t") }()
	if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("StopTree returned before the shutdown timeout: %v", err)
	default:
	}
	e.clock.Advance(2 * time.Second)
	if ev := e.await(actor.EventShutdownTimeout, p.pid); ev.ChildID != "slow" {
		t.Fatalf("event %+v", ev)
	}
	if r := e.exitOf(p.pid); r != actor.Killed {
		t.Fatalf("exited %q", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestSupervisorOperations(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("a", "counter")))
	root := e.resolve("t", "")
	a := e.resolve("t", "a")

	b, err := e.rt.StartChild(e.ctx, root, worker("b", "kv"))
	if err != nil {
		t.Fatal(err)
	}
	e.awaitChild(actor.EventChildStarted, "t", "b")
	_, err = e.rt.StartChild(e.ctx, root, worker("b", "kv"))
	wantErr(t, err, actor.ErrDuplicateID)
	_, err = e.rt.StartChild(e.ctx, root, worker("c", "nope"))
	wantErr(t, err, actor.ErrInvalidSpec)
	wantErr(t, err, actor.ErrUnknownBehavior)
	_, err = e.rt.StartChild(e.ctx, root, worker("c", "crasher", "crash_in_init", "true"))
	wantErr(t, err, actor.ErrStartFailed)
	_, err = e.rt.StartChild(e.ctx, a, worker("c", "kv"))
	wantErr(t, err, actor.ErrNotSupervisor)

	_, err = e.rt.RestartChild(e.ctx, root, "b")
	wantErr(t, err, actor.ErrChildRunning)
	wantErr(t, e.rt.DeleteChild(e.ctx, root, "b"), actor.ErrChildRunning)
	wantErr(t, e.rt.TerminateChild(e.ctx, root, "zz"), actor.ErrChildNotFound)

	if err := e.rt.TerminateChild(e.ctx, root, "b"); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(b); r != actor.Shutdown {
		t.Fatalf("terminated child exited %q", r)
	}
	kids, _ := e.rt.WhichChildren(root)
	if len(kids) != 2 || kids[1].State != "terminated" || !kids[1].PID.IsZero() {
		t.Fatalf("children %+v", kids)
	}
	e.valid() // a terminated permanent child is not a violation
	b2, err := e.rt.RestartChild(e.ctx, root, "b")
	if err != nil || b2 == b {
		t.Fatalf("restart_child = %v, %v", b2, err)
	}
	if err := e.rt.TerminateChild(e.ctx, root, "b"); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.DeleteChild(e.ctx, root, "b"); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.rt.CountChildren(root); n.Specs != 1 || n.Active != 1 {
		t.Fatalf("counts %+v", n)
	}
	st, err := e.rt.GetState(e.ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	var ss actor.SupervisorState
	if err := json.Unmarshal(st, &ss); err != nil || ss.Policy.Strategy != spec.OneForOne || len(ss.Children) != 1 || ss.Children[0].PID != a {
		t.Fatalf("supervisor state %s (%v)", st, err)
	}
	wantErr(t, e.rt.ReplaceState(e.ctx, root, []byte("{}")), actor.ErrNotSupported)
	e.valid()
}

func TestSetPolicyInPlace(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("a", "counter"), worker("b", "crasher")))
	root := e.resolve("t", "")
	before := e.pids("t", "a", "b")
	pol := actor.Policy{Strategy: spec.OneForAll, MaxRestarts: 7, MaxSeconds: 30}
	if err := e.rt.SetPolicy(e.ctx, root, pol); err != nil {
		t.Fatal(err)
	}
	ev := e.await(actor.EventStrategyChanged, root)
	if ev.Detail != "one_for_one 10/10s -> one_for_all 7/30s" {
		t.Fatalf("detail %q", ev.Detail)
	}
	if got, _ := e.rt.SupervisorPolicy(root); got != pol {
		t.Fatalf("policy %+v", got)
	}
	if after := e.pids("t", "a", "b"); after[0] != before[0] || after[1] != before[1] {
		t.Fatal("changing the policy restarted children")
	}
	e.cast(before[1], "crash")
	e.until(isRestart("b"))
	if e.resolve("t", "a") == before[0] {
		t.Fatal("one_for_all not in effect after the change")
	}
	wantErr(t, e.rt.SetPolicy(e.ctx, root, actor.Policy{Strategy: spec.SimpleOneForOne}), actor.ErrBadStrategy)
	wantErr(t, e.rt.SetPolicy(e.ctx, root, actor.Policy{Strategy: spec.OneForOne, MaxRestarts: -1, MaxSeconds: 5}), actor.ErrBadIntensity)
	wantErr(t, e.rt.SetPolicy(e.ctx, root, actor.Policy{Strategy: "one_for_many"}), actor.ErrBadStrategy)
}

func TestRestartFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	var inits atomic.Int32
	fail := errors.New("not yet")
	started := e.registerProbes("flaky", func(p *probe) {
		// The first start succeeds; the next two fail in init.
		p.initFn = func() error {
			if n := inits.Add(1); n == 2 || n == 3 {
				return fail
			}
			return nil
		}
	})
	tr := tree("t", spec.OneForOne, worker("f", "flaky"))
	tr.MaxRestarts, tr.MaxSeconds = 5, 60
	e.apply(tr)
	first := recv(t, started)
	if err := e.rt.Send(first.pid, actor.Message{Body: []byte("crash")}); err != nil {
		t.Fatal(err)
	}
	evs := e.until(isRestart("f"))
	if n := len(childOrder(evs, actor.EventStartFailed)); n != 2 {
		t.Fatalf("%d failed starts, want 2", n)
	}
	if r := evs[len(evs)-1].Detail; r != "restart 3" {
		t.Fatalf("restart detail %q", r)
	}
	e.valid()
}

// The node's restart count is OTP's: one per child exit a supervisor
// answered with a restart, however many siblings the strategy restarted
// with it; a restart beyond the intensity (escalation) is not one; a
// deleted tree's restarts still count.
func TestRestartsSinceCountsRestartDecisions(t *testing.T) {
	e := newEnv(t)
	before := time0.Add(-time.Second)
	e.apply(tree("all", spec.OneForAll, worker("a", "counter"), worker("b", "crasher"), worker("c", "counter")))
	e.mark()
	e.cast(e.resolve("all", "b"), "crash")
	e.until(isRestart("c"))
	if got := e.rt.RestartsSince(before); got != 1 {
		t.Fatalf("a one_for_all restart of 3 children counted %d restarts, want 1", got)
	}

	e.apply(tree("one", spec.OneForOne, worker("x", "crasher"), worker("y", "crasher")))
	for _, id := range []string{"x", "y"} {
		e.mark()
		e.cast(e.resolve("one", id), "crash")
		e.until(isRestart(id))
	}
	if got := e.rt.RestartsSince(before); got != 3 {
		t.Fatalf("after two one_for_one restarts: %d restarts, want 3", got)
	}
	if got := e.rt.RestartsSince(time0); got != 0 {
		t.Fatalf("restarts after the clock's now: %d", got)
	}

	if err := e.rt.StopTree(e.ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if got := e.rt.RestartsSince(before); got != 3 {
		t.Fatalf("after deleting a tree: %d restarts, want 3", got)
	}

	// Beyond the intensity (here 3 in 10 s): the exit that escalates is
	// not a restart.
	esc := tree("esc", spec.OneForOne, worker("z", "crasher"))
	esc.MaxRestarts = 3
	e.apply(esc)
	for range 3 {
		e.mark()
		e.cast(e.resolve("esc", "z"), "crash")
		e.until(isRestart("z"))
	}
	e.mark()
	e.cast(e.resolve("esc", "z"), "crash")
	e.until(func(ev actor.Event) bool { return ev.Type == actor.EventSupervisorEscalated })
	if got := e.rt.RestartsSince(before); got != 6 {
		t.Fatalf("after three restarts and an escalation: %d restarts, want 6", got)
	}
}

// RestartInPlace (restart_supervisor of a nested supervisor) restarts a
// temporary child too: a terminate_child would have deleted its spec.
func TestRestartInPlaceTemporary(t *testing.T) {
	e := newEnv(t)
	s := sup("s", spec.OneForOne, worker("w", "counter"))
	s.Restart = spec.Temporary
	e.apply(tree("t", spec.OneForOne, s))
	root := e.resolve("t", "")
	old := e.resolve("t", "s")
	pid, err := e.rt.RestartInPlace(e.ctx, root, "s")
	if err != nil {
		t.Fatal(err)
	}
	if pid == old || e.resolve("t", "s") != pid {
		t.Fatalf("s is %s, was %s, RestartInPlace said %s", e.resolve("t", "s"), old, pid)
	}
	if e.exitOf(old) != actor.Shutdown {
		t.Fatal("old s not shut down")
	}
	e.resolve("t", "s/w")
	if n, _ := e.rt.CountChildren(root); n.Specs != 1 || n.Active != 1 {
		t.Fatalf("counts %+v", n)
	}
	e.valid()
}
