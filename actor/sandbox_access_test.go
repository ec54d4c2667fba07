package actor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// reader is a behavior that reads or replaces another process's state on
// its own behalf (actor.WithCaller): a call "get PID" or "replace PID".
type reader struct{ rt *actor.Runtime }

func (r *reader) Init(actor.Proc) error { return nil }
func (r *reader) HandleCall(p actor.Proc, m actor.Message) ([]byte, error) {
	op, arg, _ := strings.Cut(string(m.Body), " ")
	pid, err := actor.ParsePID(arg)
	if err != nil {
		return nil, err
	}
	ctx := actor.WithCaller(context.Background(), p)
	switch op {
	case "get":
		_, err = r.rt.GetState(ctx, pid)
	case "replace":
		err = r.rt.ReplaceState(ctx, pid, []byte(`{"echoed":7}`))
	}
	if err != nil {
		return []byte(err.Error()), nil
	}
	return []byte("ok"), nil
}
func (*reader) HandleCast(actor.Proc, actor.Message) error { return nil }
func (*reader) HandleInfo(actor.Proc, actor.Message) error { return nil }
func (*reader) Terminate(actor.Proc, actor.Reason)         {}
func (*reader) CodeChange(string, []byte) error            { return nil }
func (*reader) ExportState() ([]byte, error)               { return []byte(`{}`), nil }
func (*reader) ImportState([]byte) error                   { return nil }

func accessOf(log actor.SandboxAccessLog, caller actor.PID, op actor.StateOp, target actor.PID) *actor.SandboxStateAccess {
	for i, a := range log.Accesses {
		if a.Caller == caller && a.Op == op && a.Target == target {
			return &log.Accesses[i]
		}
	}
	return nil
}

// A sandbox records every state access that concerns it: the system
// path's GetState, ReplaceState and ChangeCode on a process inside
// (system, allowed), an outside process reading a state inside (caller
// outside), a process inside reading a state outside (recorded in its
// sandbox, target outside) and one inside reading another inside. An
// access between unsandboxed processes is recorded nowhere, and an
// unsandboxed tree has no record.
func TestSandboxStateAccessRecord(t *testing.T) {
	e := newEnv(t)
	if err := e.cat.Register(actor.Entry{Name: "reader", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		return &reader{rt: e.rt}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	e.apply(tree("outside", spec.OneForOne, worker("svc", "echo"), worker("spy", "reader")))
	if err := e.rt.ApplySandbox(e.ctx, tree("box", spec.OneForOne, worker("b", "echo"), worker("r", "reader")), actor.SandboxPolicy{Isolation: actor.IsolationStrict}); err != nil {
		t.Fatal(err)
	}
	b, r := e.resolve("box", "b"), e.resolve("box", "r")
	svc, spy := e.resolve("outside", "svc"), e.resolve("outside", "spy")

	if _, err := e.rt.GetState(e.ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.ReplaceState(e.ctx, b, []byte(`{"echoed":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.ChangeCode(e.ctx, b, "echo"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who  actor.PID
		body string
	}{{spy, "get " + b.String()}, {spy, "replace " + b.String()}, {r, "get " + svc.String()}, {r, "get " + b.String()}, {spy, "get " + svc.String()}} {
		if got := e.call(c.who, c.body); got != "ok" {
			t.Fatalf("%s %s: %s", c.who, c.body, got)
		}
	}
	if _, err := e.rt.GetState(e.ctx, svc); err != nil {
		t.Fatal(err)
	}

	log, err := e.rt.SandboxStateAccesses("box")
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Accesses) != 7 || log.Dropped != 0 {
		t.Fatalf("%d accesses (dropped %d): %+v", len(log.Accesses), log.Dropped, log.Accesses)
	}
	for _, w := range []struct {
		caller                actor.PID
		op                    actor.StateOp
		target                actor.PID
		system, cIn, tIn      bool
		targetTree, targetKid string
	}{
		{actor.PID{}, actor.StateGet, b, true, false, true, "box", "b"},
		{actor.PID{}, actor.StateReplace, b, true, false, true, "box", "b"},
		{actor.PID{}, actor.StateCodeChange, b, true, false, true, "box", "b"},
		{spy, actor.StateGet, b, false, false, true, "box", "b"},
		{spy, actor.StateReplace, b, false, false, true, "box", "b"},
		{r, actor.StateGet, svc, false, true, false, "outside", "svc"},
		{r, actor.StateGet, b, false, true, true, "box", "b"},
	} {
		a := accessOf(log, w.caller, w.op, w.target)
		if a == nil {
			t.Fatalf("no %s %s of %s in %+v", w.caller, w.op, w.target, log.Accesses)
		}
		if a.System != w.system || a.CallerInside != w.cIn || a.TargetInside != w.tIn || a.TargetTree != w.targetTree ||
			a.TargetChildID != w.targetKid || a.Count != 1 || a.Failed != 0 || a.First.IsZero() || a.Last.IsZero() {
			t.Fatalf("%s %s of %s: %+v", w.caller, w.op, w.target, *a)
		}
	}
	if _, err := e.rt.SandboxStateAccesses("outside"); !errors.Is(err, actor.ErrNotSandboxed) {
		t.Fatalf("unsandboxed tree: %v", err)
	}
	// A failed access is counted as such.
	if err := e.rt.ReplaceState(e.ctx, b, []byte(`not json`)); err == nil {
		t.Fatal("a bad state was accepted")
	}
	log, _ = e.rt.SandboxStateAccesses("box")
	if a := accessOf(log, actor.PID{}, actor.StateReplace, b); a == nil || a.Count != 2 || a.Failed != 1 {
		t.Fatalf("failed replace: %+v", a)
	}
}
