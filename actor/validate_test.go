package actor_test

import (
	"context"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// healthy builds a runtime exercising every invariant: a nested tree with
// a registered name, links and monitors between standalone processes.
func healthy(t *testing.T) *env {
	e := newEnv(t)
	tr := tree("t", spec.OneForAll, worker("a", "crasher"), sup("s", spec.OneForOne, worker("x", "kv"), worker("y", "echo")))
	tr.Children[0].Name = "hits"
	e.apply(tr)
	p1, p2 := e.spawn("counter", nil), e.spawn("counter", nil)
	if err := e.rt.Link(p1, p2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Monitor(p1, e.resolve("t", "s/x")); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestValidateHealthyRuntime(t *testing.T) {
	e := healthy(t)
	rep := e.rt.Validate(e.ctx)
	if !rep.OK() || rep.Checked != 7 || rep.Node != "n1" {
		t.Fatalf("report %+v", rep)
	}
	// Still clean after restarts, admin operations and exits.
	e.cast(e.resolve("t", "a"), "crash")
	e.awaitChild(actor.EventRestarted, "t", "s")
	e.valid()
	if err := e.rt.Kill(e.resolve("t", "s/y"), "x"); err != nil {
		t.Fatal(err)
	}
	e.awaitChild(actor.EventRestarted, "t", "s/y")
	if err := e.rt.TerminateChild(e.ctx, e.resolve("t", "s"), "x"); err != nil {
		t.Fatal(err)
	}
	e.valid()
}

func TestValidateCatchesEachBrokenInvariant(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(e *env) string // returns the expected subject
		kind    actor.ViolationKind
	}{
		{"one-sided link", func(e *env) string {
			a, b := e.spawn("counter", nil), e.spawn("counter", nil)
			if err := e.rt.Link(a, b); err != nil {
				e.t.Fatal(err)
			}
			actor.BreakLinkOneSided(e.rt, a, b)
			return b.String()
		}, actor.ViolationLink},
		{"one-sided monitor", func(e *env) string {
			w, tg := e.spawn("counter", nil), e.spawn("counter", nil)
			ref, err := e.rt.Monitor(w, tg)
			if err != nil {
				e.t.Fatal(err)
			}
			actor.BreakMonitorOneSided(e.rt, w, ref)
			return w.String()
		}, actor.ViolationMonitor},
		{"stale name", func(e *env) string {
			actor.StaleName(e.rt, "ghost", actor.PID{Node: "n1", Seq: 4242})
			return "name:ghost"
		}, actor.ViolationName},
		{"dead process in the table", func(e *env) string {
			p := e.spawn("counter", nil)
			actor.MarkDeadInPlace(e.rt, p)
			return p.String()
		}, actor.ViolationProcessState},
		{"child missing from its supervisor", func(e *env) string {
			root, a := e.resolve("t", ""), e.resolve("t", "a")
			actor.ForgetChild(e.rt, root, "a")
			return a.String()
		}, actor.ViolationSupervisorChildren},
		{"child unlinked from its supervisor", func(e *env) string {
			s := e.resolve("t", "s")
			actor.BreakLinkOneSided(e.rt, s, e.resolve("t", "s/x"))
			return s.String()
		}, actor.ViolationSupervisorChildren},
		{"process missing from its tree", func(e *env) string {
			x := e.resolve("t", "s/x")
			actor.DetachFromTree(e.rt, x)
			return x.String()
		}, actor.ViolationTree},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := healthy(t)
			subject := c.breakIt(e)
			rep := e.rt.Validate(e.ctx)
			found := false
			for _, v := range rep.Violations {
				if v.Kind == c.kind && v.Subject == subject && v.Node == "n1" && v.Detail != "" {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s violation on %s in %+v", c.kind, subject, rep)
			}
		})
	}
}

func TestValidateWaitsForBusySupervisors(t *testing.T) {
	e := healthy(t)
	s := e.resolve("t", "s")
	// A suspended supervisor with an exit signal queued has not settled.
	if err := e.rt.Suspend(s); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Exit(s, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Millisecond)
	defer cancel()
	rep := e.rt.Validate(ctx)
	if rep.OK() || len(rep.Unsettled) != 1 || rep.Unsettled[0] != s || len(rep.Violations) != 0 {
		t.Fatalf("report %+v", rep)
	}
	done := make(chan actor.Report, 1)
	go func() { done <- e.rt.Validate(e.ctx) }()
	actortest.Eventually(t, "validate waiting", func() bool { return actor.SettleWaiters(e.rt) == 1 })
	select {
	case rep := <-done:
		t.Fatalf("validate returned while a supervisor was busy: %+v", rep)
	default:
	}
	if err := e.rt.Resume(s); err != nil {
		t.Fatal(err)
	}
	if rep := recv(t, done); !rep.OK() {
		t.Fatalf("after settling %+v", rep)
	}
	if !e.alive(s) {
		t.Fatal("an exit signal from outside stopped a supervisor")
	}
}
