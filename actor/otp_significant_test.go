package actor_test

// Significant children and auto_shutdown (OTP 24+, EEP 56), each test
// named after the supervisor_SUITE case it mirrors. OTP's supervisor doc:
// a supervisor "can be configured to automatically shut itself down with
// exit reason shutdown when significant children terminate":
// any_significant "when any significant child terminates, that is, when a
// transient significant child terminates normally or when a temporary
// significant child terminates normally or abnormally"; all_significant
// "when the last active significant child terminates". Significant is
// invalid with restart permanent and under auto_shutdown never.

import (
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

func significant(cs spec.ChildSpec, restart spec.Restart) spec.ChildSpec {
	cs.Restart = restart
	cs.Significant = true
	return cs
}

func transient(cs spec.ChildSpec) spec.ChildSpec {
	cs.Restart = spec.Transient
	return cs
}

// autoTree is tree with an auto_shutdown flag.
func autoTree(name string, strategy spec.Strategy, auto spec.AutoShutdown, children ...spec.ChildSpec) spec.Tree {
	t := tree(name, strategy, children...)
	t.AutoShutdown = auto
	return t
}

// wantAutoShutdown waits for the root of tree name (pid root) to shut
// itself down: the supervisor_auto_shutdown event, its exit with reason
// shutdown, and the tree failed with reason shutdown.
func (e *env) wantAutoShutdown(name string, root actor.PID) {
	e.t.Helper()
	e.await(actor.EventSupervisorAutoShutdown, root)
	if r := e.exitOf(root); r != actor.Shutdown {
		e.t.Fatalf("root exited %q, want shutdown", r)
	}
	e.await(actor.EventTreeFailed, root)
	ti, err := e.rt.Tree(name)
	if err != nil {
		e.t.Fatal(err)
	}
	if ti.Status != actor.TreeFailed || ti.Reason != actor.Shutdown {
		e.t.Fatalf("tree %s %s (%s), want failed (shutdown)", name, ti.Status, ti.Reason)
	}
}

// wantChildState waits until which_children shows child id in state, and
// then checks that the supervisor still runs: the supervisor publishes
// after it has decided on the exit, so a shutdown would be done by then.
func (e *env) wantChildState(sup actor.PID, id, state string) {
	e.t.Helper()
	actortest.Eventually(e.t, id+" "+state, func() bool {
		kids, _ := e.rt.WhichChildren(sup)
		for _, k := range kids {
			if k.ID == id {
				return k.State == state
			}
		}
		return state == "" // gone
	})
	if !e.alive(sup) {
		e.t.Fatalf("supervisor %s shut down", sup)
	}
}

// supervisor_SUITE:significant_temporary: a temporary significant child
// terminating, normally or not, shuts down an any_significant supervisor;
// under all_significant only the last one does.
func TestSignificantTemporary(t *testing.T) {
	for _, how := range []string{"stop", "crash"} {
		t.Run("any_significant/"+how, func(t *testing.T) {
			e := newEnv(t)
			e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant,
				worker("child0", "counter"), significant(worker("child1", "crasher"), spec.Temporary)))
			root := e.resolve("t", "")
			e.cast(e.resolve("t", "child1"), how)
			e.wantAutoShutdown("t", root)
		})
	}
	t.Run("all_significant", func(t *testing.T) {
		e := newEnv(t)
		e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant,
			significant(worker("child1", "crasher"), spec.Temporary),
			significant(worker("child2", "crasher"), spec.Temporary)))
		root := e.resolve("t", "")
		e.cast(e.resolve("t", "child1"), "crash")
		e.wantChildState(root, "child1", "")
		e.cast(e.resolve("t", "child2"), "stop")
		e.wantAutoShutdown("t", root)
	})
}

// supervisor_SUITE:significant_transient: a transient significant child
// exiting normally (or with reason shutdown) shuts the supervisor down;
// exiting abnormally it is restarted and nothing shuts down.
func TestSignificantTransient(t *testing.T) {
	for _, how := range []string{"stop", "exit shutdown"} {
		t.Run("any_significant/"+how, func(t *testing.T) {
			e := newEnv(t)
			e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant,
				significant(worker("child1", "crasher"), spec.Transient)))
			root := e.resolve("t", "")
			e.cast(e.resolve("t", "child1"), how)
			e.wantAutoShutdown("t", root)
		})
	}
	t.Run("abnormal", func(t *testing.T) {
		e := newEnv(t)
		e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant,
			significant(worker("child1", "crasher"), spec.Transient)))
		root := e.resolve("t", "")
		e.mark()
		e.cast(e.resolve("t", "child1"), "crash")
		e.until(isRestart("child1"))
		e.wantChildState(root, "child1", "running")
	})
	t.Run("all_significant", func(t *testing.T) {
		e := newEnv(t)
		e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant,
			significant(worker("child1", "crasher"), spec.Transient),
			significant(worker("child2", "crasher"), spec.Transient),
			worker("child3", "counter")))
		root := e.resolve("t", "")
		e.cast(e.resolve("t", "child1"), "stop")
		e.wantChildState(root, "child1", "stopped")
		e.cast(e.resolve("t", "child2"), "stop")
		e.wantAutoShutdown("t", root)
	})
}

// supervisor_SUITE:significant_simple: OTP 27 refuses auto_shutdown on a
// simple_one_for_one supervisor ("Disallow auto-shutdown for
// simple_one_for_one"; OTP 24-26 allowed it), so a significant template
// is refused with it.
func TestSignificantSimple(t *testing.T) {
	e := newEnv(t)
	for _, auto := range []spec.AutoShutdown{spec.AnySignificant, spec.AllSignificant} {
		err := e.rt.ApplyTree(e.ctx, autoTree("t", spec.SimpleOneForOne, auto,
			significant(worker("w", "crasher"), spec.Temporary)))
		wantErr(t, err, actor.ErrInvalidSpec)
		wantErr(t, err, spec.ErrBadValue)
	}
	// Significant under simple_one_for_one's only auto_shutdown, never.
	err := e.rt.ApplyTree(e.ctx, tree("t", spec.SimpleOneForOne, significant(worker("w", "crasher"), spec.Temporary)))
	wantErr(t, err, actor.ErrInvalidSpec)
}

// supervisor_SUITE:significant_bystander: significant children a group
// restart stops as bystanders do not shut the supervisor down; only one
// that terminates by itself does. child2 (not significant) crashes:
// one_for_all restarts all three. child2 exits normally: not significant,
// the supervisor stays. child1 exits normally: it shuts down.
func TestSignificantBystander(t *testing.T) {
	for _, auto := range []spec.AutoShutdown{spec.AnySignificant, spec.AllSignificant} {
		t.Run(string(auto), func(t *testing.T) {
			e := newEnv(t)
			e.apply(autoTree("t", spec.OneForAll, auto,
				significant(worker("child1", "crasher"), spec.Transient),
				transient(worker("child2", "crasher")),
				significant(worker("child3", "crasher"), spec.Transient)))
			root := e.resolve("t", "")
			e.mark()
			e.cast(e.resolve("t", "child2"), "crash")
			e.until(isRestart("child3"))
			e.wantChildState(root, "child1", "running")
			e.cast(e.resolve("t", "child2"), "stop")
			e.wantChildState(root, "child2", "stopped")
			e.cast(e.resolve("t", "child1"), "stop")
			if auto == spec.AllSignificant {
				e.wantChildState(root, "child1", "stopped")
				e.cast(e.resolve("t", "child3"), "stop")
			}
			e.wantAutoShutdown("t", root)
		})
	}
	// A temporary significant bystander is stopped and deleted, never a
	// cause of auto shutdown.
	t.Run("temporary", func(t *testing.T) {
		e := newEnv(t)
		e.apply(autoTree("t", spec.RestForOne, spec.AnySignificant,
			worker("child1", "crasher"), significant(worker("child2", "crasher"), spec.Temporary)))
		root := e.resolve("t", "")
		e.mark()
		e.cast(e.resolve("t", "child1"), "crash")
		e.until(isRestart("child1"))
		e.wantChildState(root, "child2", "")
		e.wantCounts(root, 1, 1, 0, 1)
	})
}

// A significant transient child crashing beyond the intensity makes the
// supervisor escalate, as any child would; it is no automatic shutdown.
func TestSignificantPastIntensity(t *testing.T) {
	e := newEnv(t)
	tr := autoTree("t", spec.OneForOne, spec.AnySignificant, significant(worker("child1", "crasher"), spec.Transient))
	tr.MaxRestarts = 0
	e.apply(tr)
	root := e.resolve("t", "")
	e.mark()
	e.cast(e.resolve("t", "child1"), "crash")
	evs := e.until(func(ev actor.Event) bool { return ev.Type == actor.EventTreeFailed })
	var escalated bool
	for _, ev := range evs {
		switch ev.Type {
		case actor.EventSupervisorEscalated:
			escalated = ev.PID == root
		case actor.EventSupervisorAutoShutdown:
			t.Fatalf("auto shutdown on an abnormal exit: %+v", ev)
		}
	}
	if !escalated {
		t.Fatalf("no escalation in %v", evs)
	}
}

// supervisor_SUITE:significant_upgrade_never_any: a supervisor moved from
// never to any_significant (OTP: code_change) with a child that becomes
// significant shuts down when that child exits normally.
func TestSignificantUpgradeNeverAny(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, transient(worker("child1", "crasher"))))
	root := e.resolve("t", "")
	e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, significant(worker("child1", "crasher"), spec.Transient)))
	if e.resolve("t", "") != root {
		t.Fatal("the update restarted the root")
	}
	st, err := e.rt.WhichChildren(root)
	if err != nil || len(st) != 1 || !st[0].Significant {
		t.Fatalf("which_children %+v %v, want child1 significant", st, err)
	}
	e.cast(e.resolve("t", "child1"), "stop")
	e.wantAutoShutdown("t", root)
}

// supervisor_SUITE:significant_upgrade_any_never: back to never is refused
// while a child is significant (bad_combination); with the child no
// longer significant it is accepted, and its normal exit no longer shuts
// the supervisor down.
func TestSignificantUpgradeAnyNever(t *testing.T) {
	e := newEnv(t)
	e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, significant(worker("child1", "crasher"), spec.Transient)))
	root := e.resolve("t", "")
	err := e.rt.ApplyTree(e.ctx, tree("t", spec.OneForOne, significant(worker("child1", "crasher"), spec.Transient)))
	wantErr(t, err, actor.ErrInvalidSpec)
	e.apply(tree("t", spec.OneForOne, transient(worker("child1", "crasher"))))
	e.cast(e.resolve("t", "child1"), "stop")
	e.wantChildState(root, "child1", "stopped")
	ti, _ := e.rt.Tree("t")
	if ti.Status != actor.TreeRunning {
		t.Fatalf("tree %s", ti.Status)
	}
}

// supervisor_SUITE:significant_upgrade_any_all: moved from any_significant
// to all_significant in place, the first significant child's exit no
// longer shuts the supervisor down; the last one's does.
func TestSignificantUpgradeAnyAll(t *testing.T) {
	e := newEnv(t)
	kids := []spec.ChildSpec{
		significant(worker("child1", "crasher"), spec.Transient),
		significant(worker("child2", "crasher"), spec.Temporary),
	}
	e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, kids...))
	root := e.resolve("t", "")
	c1 := e.resolve("t", "child1")
	e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant, kids...))
	if e.resolve("t", "child1") != c1 {
		t.Fatal("the flag change restarted a child")
	}
	st, err := e.rt.GetState(e.ctx, root)
	if err != nil || !strings.Contains(string(st), `"auto_shutdown":"all_significant"`) {
		t.Fatalf("state %s %v", st, err)
	}
	e.cast(c1, "stop")
	e.wantChildState(root, "child1", "stopped")
	e.cast(e.resolve("t", "child2"), "stop")
	e.wantAutoShutdown("t", root)
}

// supervisor_SUITE:significant_upgrade_all_any: the reverse; the first
// significant child's exit now shuts it down.
func TestSignificantUpgradeAllAny(t *testing.T) {
	e := newEnv(t)
	kids := []spec.ChildSpec{
		significant(worker("child1", "crasher"), spec.Transient),
		significant(worker("child2", "crasher"), spec.Transient),
	}
	e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant, kids...))
	root := e.resolve("t", "")
	e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, kids...))
	e.cast(e.resolve("t", "child1"), "stop")
	e.wantAutoShutdown("t", root)
}

// Past the suite (child_adm with significant children): terminate_child of
// a significant child is the supervisor's own doing and shuts nothing
// down, but the child no longer counts as active for all_significant;
// start_child of a significant child is refused under never
// (bad_combination) and of a permanent significant child anywhere.
func TestSignificantChildAdm(t *testing.T) {
	e := newEnv(t)
	e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant,
		significant(worker("child1", "crasher"), spec.Transient),
		significant(worker("child2", "crasher"), spec.Transient)))
	root := e.resolve("t", "")
	if err := e.rt.TerminateChild(e.ctx, root, "child1"); err != nil {
		t.Fatal(err)
	}
	e.wantChildState(root, "child1", "terminated")
	_, err := e.rt.StartChild(e.ctx, root, worker("child3", "crasher"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.StartChild(e.ctx, root, worker("child4", "crasher"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.StartChild(e.ctx, root, significant(worker("child5", "crasher"), spec.Permanent))
	wantErr(t, err, actor.ErrInvalidSpec)
	e.cast(e.resolve("t", "child2"), "stop")
	e.wantAutoShutdown("t", root)

	e2 := newEnv(t)
	e2.apply(tree("u", spec.OneForOne))
	_, err = e2.rt.StartChild(e2.ctx, e2.resolve("u", ""), significant(worker("c", "crasher"), spec.Transient))
	wantErr(t, err, actor.ErrInvalidSpec)
}

// A nested supervisor with auto_shutdown is OTP's group supervisor: when
// its work is done it exits with shutdown, which its transient spec does
// not restart, and the tree runs on.
func TestAutoShutdownNested(t *testing.T) {
	e := newEnv(t)
	job := spec.ChildSpec{ID: "job", Type: spec.Supervisor, Restart: spec.Transient, SupervisorSpec: spec.SupervisorSpec{
		AutoShutdown: spec.AnySignificant, MaxRestarts: 3, MaxSeconds: 5,
		Children: []spec.ChildSpec{worker("helper", "counter"), significant(worker("run", "crasher"), spec.Transient)}}}
	e.apply(tree("t", spec.OneForOne, worker("keep", "counter"), job))
	root := e.resolve("t", "")
	sub := e.resolve("t", "job")
	helper := e.resolve("t", "job/helper")
	e.cast(e.resolve("t", "job/run"), "stop")
	e.await(actor.EventSupervisorAutoShutdown, sub)
	if r := e.exitOf(helper); r != actor.Shutdown {
		t.Fatalf("helper exited %q, want shutdown", r)
	}
	if r := e.exitOf(sub); r != actor.Shutdown {
		t.Fatalf("job exited %q, want shutdown", r)
	}
	e.wantChildState(root, "job", "stopped")
	ti, _ := e.rt.Tree("t")
	if ti.Status != actor.TreeRunning {
		t.Fatalf("tree %s", ti.Status)
	}
}

// supervisor_SUITE:significant_escalation: automatic shutdown passes up
// the tree. B, a significant transient supervisor with any_significant
// under A (any_significant too), shuts down when its significant C ends;
// B's exit (shutdown, not restarted) is then a significant child's, and A,
// the root, shuts down in turn.
func TestSignificantEscalation(t *testing.T) {
	e := newEnv(t)
	b := spec.ChildSpec{ID: "b", Type: spec.Supervisor, Restart: spec.Transient, Significant: true, SupervisorSpec: spec.SupervisorSpec{
		AutoShutdown: spec.AnySignificant, MaxRestarts: 3, MaxSeconds: 5,
		Children: []spec.ChildSpec{significant(worker("c", "crasher"), spec.Transient)}}}
	e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, b))
	root := e.resolve("t", "")
	sub := e.resolve("t", "b")
	e.cast(e.resolve("t", "b/c"), "stop")
	e.await(actor.EventSupervisorAutoShutdown, sub)
	if r := e.exitOf(sub); r != actor.Shutdown {
		t.Fatalf("b exited %q, want shutdown", r)
	}
	e.wantAutoShutdown("t", root)
}

// supervisor_SUITE:nonsignificant_temporary: under each auto_shutdown, a
// temporary child that is not significant ends in every way (stopped by
// terminate_child, killed, crashed, exited normally) without shutting
// the supervisor down; each time it is gone (temporary) and the
// supervisor runs on, and its own stop then ends it with shutdown.
func TestNonsignificantTemporary(t *testing.T) {
	for _, auto := range []spec.AutoShutdown{spec.Never, spec.AnySignificant, spec.AllSignificant} {
		t.Run(string(auto), func(t *testing.T) {
			e := newEnv(t)
			e.apply(autoTree("t", spec.OneForOne, auto))
			root := e.resolve("t", "")
			child1 := temporary(worker("child1", "crasher"))
			for _, how := range []string{"terminate_child", "kill", "crash", "stop"} {
				pid, err := e.rt.StartChild(e.ctx, root, child1)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				switch how {
				case "terminate_child":
					if err := e.rt.TerminateChild(e.ctx, root, "child1"); err != nil {
						t.Fatal(err)
					}
				case "kill":
					if err := e.rt.Kill(pid, actor.Killed); err != nil {
						t.Fatal(err)
					}
				default:
					e.cast(pid, how)
				}
				e.exitOf(pid)
				e.wantChildState(root, "child1", "")
				e.wantCounts(root, 0, 0, 0, 0)
			}
			for _, ev := range e.rt.Events(0) {
				if ev.Type == actor.EventSupervisorAutoShutdown {
					t.Fatalf("a non-significant child shut the supervisor down: %+v", ev)
				}
			}
			if err := e.rt.StopTree(e.ctx, "t"); err != nil {
				t.Fatal(err)
			}
			if r := e.exitOf(root); r != actor.Shutdown {
				t.Fatalf("supervisor exited %q, want shutdown", r)
			}
		})
	}
}

// supervisor_SUITE:significant_upgrade_never_all: under never a
// significant start_child is refused (bad_combination); moved to
// all_significant in place, two significant children are started, the
// first one's normal exit leaves the supervisor (and the other child)
// running, the last one's shuts it down.
func TestSignificantUpgradeNeverAll(t *testing.T) {
	e := newEnv(t)
	child1 := significant(worker("child1", "crasher"), spec.Transient)
	child2 := significant(worker("child2", "crasher"), spec.Transient)
	e.apply(tree("t", spec.OneForOne))
	root := e.resolve("t", "")
	_, err := e.rt.StartChild(e.ctx, root, child1)
	wantErr(t, err, actor.ErrInvalidSpec)
	e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant))
	if e.resolve("t", "") != root {
		t.Fatal("the update restarted the root")
	}
	st, err := e.rt.GetState(e.ctx, root)
	if err != nil || !strings.Contains(string(st), `"auto_shutdown":"all_significant"`) {
		t.Fatalf("state %s %v", st, err)
	}
	c1, err := e.rt.StartChild(e.ctx, root, child1)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.rt.StartChild(e.ctx, root, child2)
	if err != nil {
		t.Fatal(err)
	}
	e.cast(c1, "stop")
	e.wantChildState(root, "child1", "stopped")
	if !e.alive(c2) {
		t.Fatal("child2 stopped with child1")
	}
	e.cast(c2, "stop")
	e.wantAutoShutdown("t", root)
}

// supervisor_SUITE:significant_upgrade_all_never: all_significant moved
// to never. Deviation: OTP's code_change keeps child1 significant under
// never; steward's ApplyTree refuses that combination as it refuses it
// in a new tree (the tree must stay a valid spec: validation runs on the
// whole of it, and a significant child under never is invalid), so
// child1 is made not significant in the same update, in place (the same
// process). Then, as in OTP: a significant start_child is refused, the
// child's normal exit no longer shuts the supervisor down, restart_child
// starts it again, and the supervisor's stop ends both with shutdown.
func TestSignificantUpgradeAllNever(t *testing.T) {
	e := newEnv(t)
	e.apply(autoTree("t", spec.OneForOne, spec.AllSignificant, significant(worker("child1", "crasher"), spec.Transient)))
	root, c1 := e.resolve("t", ""), e.resolve("t", "child1")
	err := e.rt.ApplyTree(e.ctx, tree("t", spec.OneForOne, significant(worker("child1", "crasher"), spec.Transient)))
	wantErr(t, err, actor.ErrInvalidSpec)
	e.apply(tree("t", spec.OneForOne, transient(worker("child1", "crasher"))))
	if e.resolve("t", "") != root || e.resolve("t", "child1") != c1 {
		t.Fatal("the update restarted the root or child1")
	}
	if e.childRow(root, "child1").Significant {
		t.Fatal("child1 still significant")
	}
	_, err = e.rt.StartChild(e.ctx, root, significant(worker("child2", "crasher"), spec.Transient))
	wantErr(t, err, actor.ErrInvalidSpec)
	e.cast(c1, "stop")
	e.wantChildState(root, "child1", "stopped")
	c1b, err := e.rt.RestartChild(e.ctx, root, "child1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.StopTree(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(c1b); r != actor.Shutdown {
		t.Fatalf("child1 exited %q, want shutdown", r)
	}
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("supervisor exited %q, want shutdown", r)
	}
}

// supervisor_SUITE:significant_upgrade_child: the flags unchanged, a
// child's significant flag changes in an update. Under never, setting it
// is refused and nothing changes. Under any_significant, setting it
// keeps the process (OTP's code_change), whose normal exit then shuts
// the supervisor down; clearing it keeps the process too, whose normal
// exit then does not.
func TestSignificantUpgradeChild(t *testing.T) {
	plain := transient(worker("child", "crasher"))
	sig := significant(worker("child", "crasher"), spec.Transient)
	t.Run("never", func(t *testing.T) {
		e := newEnv(t)
		e.apply(tree("t", spec.OneForOne, plain))
		root, c := e.resolve("t", ""), e.resolve("t", "child")
		err := e.rt.ApplyTree(e.ctx, tree("t", spec.OneForOne, sig))
		wantErr(t, err, actor.ErrInvalidSpec)
		if e.resolve("t", "child") != c || e.childRow(root, "child").Significant {
			t.Fatal("the refused update touched the child")
		}
		if err := e.rt.StopTree(e.ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if r := e.exitOf(c); r != actor.Shutdown {
			t.Fatalf("child exited %q, want shutdown", r)
		}
	})
	t.Run("set", func(t *testing.T) {
		e := newEnv(t)
		e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, plain))
		root, c := e.resolve("t", ""), e.resolve("t", "child")
		e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, sig))
		if e.resolve("t", "child") != c || !e.alive(c) {
			t.Fatal("setting significant replaced the child")
		}
		if !e.childRow(root, "child").Significant {
			t.Fatal("child not significant after the update")
		}
		e.cast(c, "stop")
		e.wantAutoShutdown("t", root)
	})
	t.Run("clear", func(t *testing.T) {
		e := newEnv(t)
		e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, sig))
		root, c := e.resolve("t", ""), e.resolve("t", "child")
		e.apply(autoTree("t", spec.OneForOne, spec.AnySignificant, plain))
		if e.resolve("t", "child") != c || !e.alive(c) {
			t.Fatal("clearing significant replaced the child")
		}
		e.cast(c, "stop")
		e.wantChildState(root, "child", "stopped")
		if err := e.rt.StopTree(e.ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if r := e.exitOf(root); r != actor.Shutdown {
			t.Fatalf("supervisor exited %q, want shutdown", r)
		}
	})
}
