package actor_test

// OTP's ignore start result (issue 11), mirrored from
// lib/stdlib/test/supervisor_SUITE.erl's sup_start_ignore_* cases and
// simple_one_for_one_restart_ignore, each test named after its case. A
// child whose Init returns actor.Ignore() is started without a process:
// a static child keeps its spec (terminated, OTP's pid undefined) and
// counts as a spec but not as active; a temporary child, or a
// simple_one_for_one instance, is not kept; StartChild and
// StartDynamicChild answer the zero PID and no error ({ok, undefined}).
// The ignoring process exits normally: no restart, no start_failed.

import (
	"sync/atomic"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// childRow is which_children's row for id; it fails the test if none.
func (e *env) childRow(sup actor.PID, id string) actor.ChildInfo {
	e.t.Helper()
	kids, err := e.rt.WhichChildren(sup)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range kids {
		if k.ID == id {
			return k
		}
	}
	e.t.Fatalf("which_children has no %q: %+v", id, kids)
	return actor.ChildInfo{}
}

// wantIgnored asserts that row is a kept child with no process: state
// terminated, zero PID, never restarted.
func wantIgnored(t *testing.T, row actor.ChildInfo) {
	t.Helper()
	if !row.PID.IsZero() || row.State != "terminated" || row.Restarts != 0 {
		t.Fatalf("%s: %+v, want no pid, terminated, 0 restarts (OTP's pid undefined)", row.ID, row)
	}
}

// noFailure asserts the runtime emitted no start_failed, restarted or
// escalation event about the child at path of tree t so far.
func (e *env) noFailure(tree, path string) {
	e.t.Helper()
	for _, ev := range e.rt.Events(0) {
		if ev.Tree != tree || ev.ChildID != path {
			continue
		}
		switch ev.Type {
		case actor.EventStartFailed, actor.EventRestarted:
			e.t.Fatalf("an ignored start is no failure, yet: %+v", ev)
		}
	}
	for _, ev := range e.rt.Events(0) {
		if ev.Type == actor.EventSupervisorEscalated || ev.Type == actor.EventTreeFailed {
			e.t.Fatalf("an ignored start is no failure, yet: %+v", ev)
		}
	}
}

// awaitIgnoredExit waits for the exit of the process an ignored start of
// path ran in and checks it exited normally.
func (e *env) awaitIgnoredExit(tree, path string) {
	e.t.Helper()
	if ev := e.awaitChild(actor.EventExited, tree, path); ev.Reason != actor.Normal {
		e.t.Fatalf("the ignoring process of %s exited %q, want normal", path, ev.Reason)
	}
}

// sup_start_ignore_child: start_child of a permanent child whose start
// is ignored answers {ok, undefined} and keeps the spec; which_children
// lists it with pid undefined, count_children is [2,1,0,2]. Past the
// suite: its process exited normally and, though permanent, is not
// restarted (the EXIT is served before child2's start, queued after
// it); restart_child tries the start again (ignored again: still no
// process; with a key whose first start only is ignored: it runs).
func TestSupStartIgnoreChild(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne))
	root := e.resolve("t", "")

	pid, err := e.rt.StartChild(e.ctx, root, worker("child1", "ignore_start"))
	if err != nil || !pid.IsZero() {
		t.Fatalf("start_child child1 = %v, %v; want the zero pid and no error ({ok, undefined})", pid, err)
	}
	e.awaitIgnoredExit("t", "child1")
	cpid2, err := e.rt.StartChild(e.ctx, root, worker("child2", "crasher"))
	if err != nil || cpid2.IsZero() {
		t.Fatalf("start_child child2 = %v, %v", cpid2, err)
	}
	if ids := e.childIDs(root); !sameStrings(ids, []string{"child1", "child2"}) {
		t.Fatalf("which_children %v, want [child1 child2] (start order)", ids)
	}
	wantIgnored(t, e.childRow(root, "child1"))
	if row := e.childRow(root, "child2"); row.PID != cpid2 || row.State != "running" {
		t.Fatalf("child2 %+v, want running as %s", row, cpid2)
	}
	e.wantCounts(root, 2, 1, 0, 2)

	// restart_child starts it again: ignored again, still kept.
	pid, err = e.rt.RestartChild(e.ctx, root, "child1")
	if err != nil || !pid.IsZero() {
		t.Fatalf("restart_child child1 = %v, %v; want the zero pid and no error", pid, err)
	}
	wantIgnored(t, e.childRow(root, "child1"))
	e.wantCounts(root, 2, 1, 0, 2)

	// A child whose first start only is ignored: restart_child runs it.
	pid, err = e.rt.StartChild(e.ctx, root, worker("child3", "ignore_start", "key", "c3", "ignore_starts", "1"))
	if err != nil || !pid.IsZero() {
		t.Fatalf("start_child child3 = %v, %v; want the zero pid and no error", pid, err)
	}
	wantIgnored(t, e.childRow(root, "child3"))
	pid, err = e.rt.RestartChild(e.ctx, root, "child3")
	if err != nil || pid.IsZero() {
		t.Fatalf("restart_child child3 = %v, %v; want its second start to run", pid, err)
	}
	if got := e.call(pid, "starts"); got != "2" {
		t.Fatalf("child3 counted %s starts, want 2", got)
	}
	if row := e.childRow(root, "child3"); row.PID != pid || row.State != "running" {
		t.Fatalf("child3 %+v, want running as %s", row, pid)
	}
	e.wantCounts(root, 3, 2, 0, 3)
	e.noFailure("t", "child1")
	e.noFailure("t", "child3")
	e.valid()
}

// An ignored static child at a supervisor's own start is a successful
// start (OTP's start_children): the start goes on, the tree runs, and
// the child is kept with no process. Terminate does not run for it (as
// gen_server's init returning ignore).
func TestSupStartIgnoreStaticChild(t *testing.T) {
	e := newEnv(t)
	var made atomic.Int32
	probes := make(chan *probe, 8)
	started := e.registerProbes("ignorer", func(p *probe) {
		probes <- p
		p.initFn = func() error {
			made.Add(1)
			return actor.Ignore()
		}
	})
	e.apply(tree("t", spec.OneForOne, worker("child1", "ignorer"), worker("child2", "crasher")))
	root := e.resolve("t", "")
	e.awaitIgnoredExit("t", "child1")
	wantIgnored(t, e.childRow(root, "child1"))
	if row := e.childRow(root, "child2"); row.PID.IsZero() || row.State != "running" {
		t.Fatalf("child2 %+v, want running", row)
	}
	e.wantCounts(root, 2, 1, 0, 2)
	if n := made.Load(); n != 1 {
		t.Fatalf("child1 started %d times, want 1 (not restarted)", n)
	}
	p := recv(t, probes)
	select {
	case r := <-p.ended:
		t.Fatalf("Terminate ran (%q) for an ignored start", r)
	case s := <-started:
		t.Fatalf("an ignored start announced itself as started: %v", s.pid)
	default:
	}
	e.noFailure("t", "child1")
	e.valid()
}

// sup_start_ignore_temporary_child: a temporary static child whose start
// is ignored is not kept: which_children lists child2 only, [1,1,0,1].
// Past the suite: applying the same tree again does not start it (as for
// a temporary child that exited).
func TestSupStartIgnoreTemporaryChild(t *testing.T) {
	e := newEnv(t)
	tr := tree("t", spec.OneForOne, temporary(worker("child1", "ignore_start")), temporary(worker("child2", "crasher")))
	e.apply(tr)
	root := e.resolve("t", "")
	if ids := e.childIDs(root); !sameStrings(ids, []string{"child2"}) {
		t.Fatalf("which_children %v, want [child2]", ids)
	}
	if row := e.childRow(root, "child2"); row.PID.IsZero() {
		t.Fatalf("child2 %+v, want a pid", row)
	}
	e.wantCounts(root, 1, 1, 0, 1)

	e.apply(tr)
	if ids := e.childIDs(root); !sameStrings(ids, []string{"child2"}) {
		t.Fatalf("after re-applying: which_children %v, want [child2]", ids)
	}
	e.noFailure("t", "child1")
}

// sup_start_ignore_temporary_child_start_child: start_child of a
// temporary child whose start is ignored answers {ok, undefined} and
// keeps nothing. Past the suite: the id is free, so start_child of it
// again is no already_present.
func TestSupStartIgnoreTemporaryChildStartChild(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne))
	root := e.resolve("t", "")
	child1 := temporary(worker("child1", "ignore_start"))
	pid, err := e.rt.StartChild(e.ctx, root, child1)
	if err != nil || !pid.IsZero() {
		t.Fatalf("start_child child1 = %v, %v; want the zero pid and no error", pid, err)
	}
	cpid2, err := e.rt.StartChild(e.ctx, root, temporary(worker("child2", "crasher")))
	if err != nil || cpid2.IsZero() {
		t.Fatalf("start_child child2 = %v, %v", cpid2, err)
	}
	kids, _ := e.rt.WhichChildren(root)
	if len(kids) != 1 || kids[0].ID != "child2" || kids[0].PID != cpid2 {
		t.Fatalf("which_children %+v, want [child2 %s]", kids, cpid2)
	}
	e.wantCounts(root, 1, 1, 0, 1)

	pid, err = e.rt.StartChild(e.ctx, root, child1)
	if err != nil || !pid.IsZero() {
		t.Fatalf("start_child child1 again = %v, %v; want the zero pid and no error (nothing kept)", pid, err)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	e.noFailure("t", "child1")
}

// ignoredInstanceFirst is the two sup_start_ignore_*_child_start_child_simple
// cases: under simple_one_for_one, the first start_child is ignored
// ({ok, undefined}, no instance kept), the second runs; which_children
// lists that one, [1,1,0,1].
func ignoredInstanceFirst(t *testing.T, restart spec.Restart) (*env, actor.PID, actor.PID) {
	e := newEnv(t)
	tmpl := worker("child1", "ignore_start", "key", "pool", "ignore_starts", "1")
	tmpl.Restart = restart
	e.apply(tree("pool", spec.SimpleOneForOne, tmpl))
	root := e.resolve("pool", "")
	pid, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil || !pid.IsZero() {
		t.Fatalf("start_child = %v, %v; want the zero pid and no error ({ok, undefined})", pid, err)
	}
	cpid2, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil || cpid2.IsZero() {
		t.Fatalf("second start_child = %v, %v; want a pid", cpid2, err)
	}
	kids, _ := e.rt.WhichChildren(root)
	if len(kids) != 1 || kids[0].PID != cpid2 || kids[0].State != "running" {
		t.Fatalf("which_children %+v, want the one instance %s", kids, cpid2)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	return e, root, cpid2
}

func TestSupStartIgnoreTemporaryChildStartChildSimple(t *testing.T) {
	e, _, _ := ignoredInstanceFirst(t, spec.Temporary)
	e.noFailure("pool", "child1-1")
}

// sup_start_ignore_permanent_child_start_child_simple, with its
// regression check: the supervisor then stops cleanly (shutdown), its
// instance with it.
func TestSupStartIgnorePermanentChildStartChildSimple(t *testing.T) {
	e, root, cpid2 := ignoredInstanceFirst(t, spec.Permanent)
	e.noFailure("pool", "child1-1")
	if err := e.rt.StopTree(e.ctx, "pool"); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(cpid2); r != actor.Shutdown {
		t.Fatalf("instance exited %q, want shutdown", r)
	}
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
}

// simple_one_for_one_restart_ignore: a transient or permanent instance
// killed twice is restarted twice; its third start is ignored, and the
// instance is gone: which_children [], and the supervisor stops with
// shutdown.
func TestSimpleOneForOneRestartIgnore(t *testing.T) {
	for _, restart := range []spec.Restart{spec.Transient, spec.Permanent} {
		t.Run(string(restart), func(t *testing.T) {
			e := newEnv(t)
			var starts atomic.Int32
			started := e.registerProbes("ignorer", func(p *probe) {
				p.initFn = func() error {
					if starts.Add(1) == 3 {
						return actor.Ignore()
					}
					return nil
				}
			})
			tmpl := worker("child", "ignorer")
			tmpl.Restart = restart
			e.apply(tree("pool", spec.SimpleOneForOne, tmpl))
			root := e.resolve("pool", "")
			pid, err := e.rt.StartDynamicChild(e.ctx, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p := recv(t, started); p.pid != pid {
				t.Fatalf("started %s, want %s", p.pid, pid)
			}
			if err := e.rt.Kill(pid, ""); err != nil {
				t.Fatal(err)
			}
			pid2 := recv(t, started).pid
			actortest.Eventually(t, "the restarted instance listed", func() bool {
				kids, _ := e.rt.WhichChildren(root)
				return len(kids) == 1 && kids[0].PID == pid2
			})
			if err := e.rt.Kill(pid2, ""); err != nil {
				t.Fatal(err)
			}
			actortest.AwaitEvent(t, e.sub, func(ev actor.Event) bool {
				return ev.Type == actor.EventExited && ev.ChildID == "child-1" && ev.Reason == actor.Normal
			})
			actortest.Eventually(t, "the ignored instance removed", func() bool {
				kids, _ := e.rt.WhichChildren(root)
				return len(kids) == 0
			})
			e.wantCounts(root, 1, 0, 0, 0)
			if n := starts.Load(); n != 3 {
				t.Fatalf("%d starts, want 3", n)
			}
			if err := e.rt.StopTree(e.ctx, "pool"); err != nil {
				t.Fatal(err)
			}
			if r := e.exitOf(root); r != actor.Shutdown {
				t.Fatalf("supervisor exited %q, want shutdown", r)
			}
		})
	}
}

// A group restart that meets an ignored start treats it as at a
// supervisor's start: the member is kept with no process, the group goes
// on (the members after it run again), nothing escalates; restart_child
// then starts it.
func TestIgnoreInGroupRestart(t *testing.T) {
	for _, strategy := range []spec.Strategy{spec.OneForAll, spec.RestForOne} {
		t.Run(string(strategy), func(t *testing.T) {
			e := newEnv(t)
			var starts atomic.Int32
			e.registerProbes("ignorer", func(p *probe) {
				p.initFn = func() error {
					if starts.Add(1) == 2 {
						return actor.Ignore() // its restart
					}
					return nil
				}
			})
			e.apply(tree("t", strategy, worker("a", "crasher"), worker("b", "ignorer"), worker("c", "crasher")))
			root := e.resolve("t", "")
			before := e.pids("t", "a", "b", "c")
			e.mark()
			e.cast(before[0], "crash")
			evs := e.until(isRestart("c"))
			if got := childOrder(evs, actor.EventRestarted); !sameStrings(got, []string{"a", "c"}) {
				t.Fatalf("restarted %v, want [a c] (b ignored)", got)
			}
			if row := e.childRow(root, "b"); !row.PID.IsZero() || row.State != "terminated" {
				t.Fatalf("b %+v, want no pid, terminated", row)
			}
			for i, id := range []string{"a", "c"} {
				row := e.childRow(root, id)
				if row.PID.IsZero() || row.PID == before[i*2] || row.State != "running" {
					t.Fatalf("%s %+v, want running as a new process", id, row)
				}
			}
			e.wantCounts(root, 3, 2, 0, 3)
			e.noFailure("t", "b")

			pid, err := e.rt.RestartChild(e.ctx, root, "b")
			if err != nil || pid.IsZero() {
				t.Fatalf("restart_child b = %v, %v; want its third start to run", pid, err)
			}
			e.wantCounts(root, 3, 3, 0, 3)
			e.valid()
		})
	}
}
