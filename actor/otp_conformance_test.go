package actor_test

// Cases mirrored from OTP's lib/stdlib/test/supervisor_SUITE.erl, each
// test named after the case it follows (issue 11, items 1 and 2). OTP's
// supervisor doc: "a temporary child process is never restarted ... the
// child specification is automatically deleted when the child
// terminates" (as a bystander of a group restart too), and
// "terminate_child/2 can be used for children under simple_one_for_one
// supervisors by specifying the child's pid()"; with a pid under any
// other strategy it returns not_found.

import (
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

func temporary(cs spec.ChildSpec) spec.ChildSpec {
	cs.Restart = spec.Temporary
	return cs
}

// childIDs lists which_children's ids, in order.
func (e *env) childIDs(sup actor.PID) []string {
	e.t.Helper()
	kids, err := e.rt.WhichChildren(sup)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(kids))
	for i, k := range kids {
		ids[i] = k.ID
	}
	return ids
}

func (e *env) wantCounts(sup actor.PID, specs, active, sups, workers int) {
	e.t.Helper()
	n, err := e.rt.CountChildren(sup)
	if err != nil {
		e.t.Fatal(err)
	}
	if want := (actor.ChildCounts{Specs: specs, Active: active, Supervisors: sups, Workers: workers}); n != want {
		e.t.Fatalf("count_children %+v, want %+v", n, want)
	}
}

// awaitChildren waits until which_children lists n children.
func (e *env) awaitChildren(sup actor.PID, n int) {
	e.t.Helper()
	actortest.Eventually(e.t, "children settled", func() bool {
		kids, _ := e.rt.WhichChildren(sup)
		return len(kids) == n
	})
}

// temporaryExit is temporary_normal and temporary_abnormal: a temporary
// child started with start_child exits (how is given by cast) and is not
// restarted; its spec is deleted, so which_children is [] and
// count_children [0,0,0,0]. Past the suite: restart_child is not_found and
// start_child with the same id succeeds again.
func temporaryExit(t *testing.T, cast string, wantReason actor.Reason) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne))
	root := e.resolve("t", "")
	c1 := temporary(worker("child1", "crasher"))
	pid, err := e.rt.StartChild(e.ctx, root, c1)
	if err != nil {
		t.Fatal(err)
	}
	e.cast(pid, cast)
	if r := e.exitOf(pid); r != wantReason {
		t.Fatalf("child1 exited %q, want %q", r, wantReason)
	}
	e.awaitChildren(root, 0)
	e.wantCounts(root, 0, 0, 0, 0)

	_, err = e.rt.RestartChild(e.ctx, root, "child1")
	wantErr(t, err, actor.ErrChildNotFound)
	wantErr(t, e.rt.DeleteChild(e.ctx, root, "child1"), actor.ErrChildNotFound)
	again, err := e.rt.StartChild(e.ctx, root, c1)
	if err != nil {
		t.Fatalf("start_child of child1 again: %v", err)
	}
	if again == pid {
		t.Fatal("start_child returned the old pid")
	}
	e.wantCounts(root, 1, 1, 0, 1)
	e.valid()
}

// supervisor_SUITE:temporary_normal.
func TestTemporaryNormal(t *testing.T) { temporaryExit(t, "stop", actor.Normal) }

// supervisor_SUITE:temporary_abnormal.
func TestTemporaryAbnormal(t *testing.T) { temporaryExit(t, "crash", "crash") }

// supervisor_SUITE:temporary_shutdown: the same for an exit with reason
// shutdown.
func TestTemporaryShutdown(t *testing.T) { temporaryExit(t, "exit shutdown", actor.Shutdown) }

// supervisor_SUITE:temporary_bystander: a temporary child stopped by a
// one_for_all or rest_for_one group restart is not restarted, and
// which_children lists only child1 afterwards.
func TestTemporaryBystander(t *testing.T) {
	for _, strategy := range []spec.Strategy{spec.OneForAll, spec.RestForOne} {
		t.Run(string(strategy), func(t *testing.T) {
			e := newEnv(t)
			e.apply(tree("t", strategy))
			root := e.resolve("t", "")
			c1, err := e.rt.StartChild(e.ctx, root, worker("child1", "crasher"))
			if err != nil {
				t.Fatal(err)
			}
			c2, err := e.rt.StartChild(e.ctx, root, temporary(worker("child2", "crasher")))
			if err != nil {
				t.Fatal(err)
			}
			e.cast(c1, "stop") // permanent: restarted after a normal exit
			if r := e.exitOf(c2); r != actor.Shutdown {
				t.Fatalf("child2 exited %q, want shutdown", r)
			}
			e.until(isRestart("child1"))
			e.awaitChildren(root, 1)
			if ids := e.childIDs(root); ids[0] != "child1" {
				t.Fatalf("which_children %v, want [child1]", ids)
			}
			e.wantCounts(root, 1, 1, 0, 1)
			_, err = e.rt.RestartChild(e.ctx, root, "child2")
			wantErr(t, err, actor.ErrChildNotFound)
			// Its id is free: start_child of child2 succeeds again.
			if _, err := e.rt.StartChild(e.ctx, root, temporary(worker("child2", "crasher"))); err != nil {
				t.Fatalf("start_child of child2 again: %v", err)
			}
			e.wantCounts(root, 2, 2, 0, 2)
			e.valid()
		})
	}
}

// A temporary child of a tree's spec that exited is not started again
// when the same spec is applied again (steward's ApplyTree reconciles a
// running tree; OTP has no counterpart), but a changed spec for it is.
func TestTemporaryNotResurrectedByApply(t *testing.T) {
	e := newEnv(t)
	tm := temporary(worker("tm", "crasher"))
	e.apply(tree("t", spec.OneForOne, worker("a", "counter"), tm))
	root := e.resolve("t", "")
	p := e.resolve("t", "tm")
	e.cast(p, "crash")
	e.exitOf(p)
	e.awaitChildren(root, 1)
	e.apply(tree("t", spec.OneForOne, worker("a", "counter"), tm))
	e.wantCounts(root, 1, 1, 0, 1)
	changed := tm
	changed.Args = map[string]string{"reason": "other"}
	e.apply(tree("t", spec.OneForOne, worker("a", "counter"), changed))
	e.wantCounts(root, 2, 2, 0, 2)
	e.valid()
}

// terminate_child of a temporary child deletes its spec (OTP's del_child).
func TestTemporaryTerminateChild(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("a", "counter")))
	root := e.resolve("t", "")
	if _, err := e.rt.StartChild(e.ctx, root, temporary(worker("tm", "counter"))); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.TerminateChild(e.ctx, root, "tm"); err != nil {
		t.Fatal(err)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	_, err := e.rt.RestartChild(e.ctx, root, "tm")
	wantErr(t, err, actor.ErrChildNotFound)
	e.valid()
}

// supervisor_SUITE:simple_one_for_one, with child_adm_simple's
// terminate_child(Sup, Pid): two instances; one crashes and is restarted
// ([1,2,0,2]); terminate_child with an instance's pid stops it and it is
// not restarted; the instance id steward gives works as well; the dead
// pid again is ok (OTP's find_child); past the intensity the supervisor
// exits with shutdown.
func TestSimpleOneForOne_OTP(t *testing.T) {
	e := newEnv(t)
	tr := tree("pool", spec.SimpleOneForOne, worker("child", "crasher"))
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("pool", "")
	cp1, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.wantCounts(root, 1, 2, 0, 2) // OTP: {specs,1}, the template

	e.cast(cp1, "crash")
	e.until(isRestart("child-1"))
	e.wantCounts(root, 1, 2, 0, 2)
	kids, _ := e.rt.WhichChildren(root)
	if len(kids) != 2 || kids[1].PID != cp2 {
		t.Fatalf("which_children %+v, want child-1 restarted and %s kept", kids, cp2)
	}
	cp1b := kids[0].PID

	// terminate_child(Sup, Pid).
	if err := e.rt.TerminateChild(e.ctx, root, cp2.String()); err != nil {
		t.Fatalf("terminate_child by pid: %v", err)
	}
	if r := e.exitOf(cp2); r != actor.Shutdown {
		t.Fatalf("instance exited %q, want shutdown", r)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	if ids := e.childIDs(root); len(ids) != 1 || ids[0] != "child-1" {
		t.Fatalf("which_children %v after terminate_child, want [child-1]", ids)
	}
	// Again: ok, as OTP's child_adm_simple ("terminate non-existing
	// process is ok": the pid is dead; TestChildAdmSimple_TerminateDeadPid).
	if err := e.rt.TerminateChild(e.ctx, root, cp2.String()); err != nil {
		t.Fatalf("terminate_child of a dead instance pid: %v", err)
	}
	// The template's id is no instance (OTP: {error, simple_one_for_one}).
	wantErr(t, e.rt.TerminateChild(e.ctx, root, "child"), actor.ErrChildNotFound)

	// By the instance id steward gives instances.
	if err := e.rt.TerminateChild(e.ctx, root, "child-1"); err != nil {
		t.Fatalf("terminate_child by instance id: %v", err)
	}
	e.exitOf(cp1b)
	e.wantCounts(root, 1, 0, 0, 0)

	// Intensity (2 in 3600 s, one used by child-1): the third restart
	// escalates.
	cp3, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.cast(cp3, "crash")
	e.until(isRestart("child-3"))
	kids, _ = e.rt.WhichChildren(root)
	e.cast(kids[0].PID, "crash")
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
}

// supervisor_SUITE:child_adm (the part on pids): terminate_child with a
// pid is not allowed when the supervisor is not simple_one_for_one; the
// child stays.
func TestChildAdm_TerminateByPid(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("child1", "counter")))
	root := e.resolve("t", "")
	c := e.resolve("t", "child1")
	wantErr(t, e.rt.TerminateChild(e.ctx, root, c.String()), actor.ErrChildNotFound)
	e.wantCounts(root, 1, 1, 0, 1)
	if e.resolve("t", "child1") != c {
		t.Fatal("child1 changed")
	}
}
