package sandbox_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
)

// world is a runtime on a manual clock with the natives, the test agent,
// and an unsandboxed tree "outside": svc (echo), spy and mark (agents).
type world struct {
	t     *testing.T
	rt    *actor.Runtime
	clock *actortest.ManualClock
	cat   *actor.Catalog
	ctx   context.Context
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, clock: actortest.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), cat: behaviors.NewCatalog(), ctx: actortest.Context(t)}
	if err := w.cat.Register(actor.Entry{Name: "agent", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		return &agent{w: w}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = w.clock
	cfg.Catalog = w.cat
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.rt = rt
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	if err := rt.ApplyTree(w.ctx, tree("outside", work("svc", "echo"), work("spy", "agent"), work("mark", "agent"))); err != nil {
		t.Fatal(err)
	}
	return w
}

func tree(name string, children ...spec.ChildSpec) spec.Tree {
	return spec.Tree{Name: name, SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 10, MaxSeconds: 10, Children: children}}
}

func work(id, behavior string) spec.ChildSpec { return spec.ChildSpec{ID: id, Behavior: behavior} }

// policy is the seed's defaults at a level, logging violations (so an
// offending agent stays to be looked at).
func policy(level actor.Isolation) sandbox.Policy {
	p := sandbox.Defaults()
	p.Isolation, p.Response = level, actor.ResponseLog
	return p
}

// box is the sandboxed tree of most tests: two agents a and b.
func box() spec.Tree { return tree("box", work("a", "agent"), work("b", "agent")) }

// start runs t as a sandbox under p (sandbox.Start: with its tracing).
func (w *world) start(t spec.Tree, p sandbox.Policy) {
	w.t.Helper()
	if err := sandbox.Start(w.ctx, w.rt, t, p); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) pid(tree, path string) actor.PID {
	w.t.Helper()
	pid, err := w.rt.Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		w.t.Fatalf("resolve %s/%s: %v", tree, path, err)
	}
	return pid
}

// do makes the agent at tree/path run cmd (see agent) and returns its
// answer: "ok" or the error.
func (w *world) do(tree, path, cmd string) string {
	w.t.Helper()
	b, err := w.rt.Call(w.ctx, w.pid(tree, path), actor.Message{Body: []byte(cmd)})
	if err != nil {
		w.t.Fatalf("%s/%s %q: %v", tree, path, cmd, err)
	}
	return string(b)
}

func (w *world) observe(tree string, t spec.Tree, p sandbox.Policy, allowed map[string][]string) sandbox.Observation {
	w.t.Helper()
	obs, err := sandbox.Observe(w.rt, tree, t, p, allowed)
	if err != nil {
		w.t.Fatal(err)
	}
	return obs
}

// agent is a native test behavior driven by calls:
//
//	send N PID     N sends to PID
//	get PID        GetState of PID on its own behalf (actor.WithCaller)
//	replace PID    ReplaceState of PID on its own behalf
//	grow N         its state grows by N bytes (reported through Sizer)
//
// Its state is {"calls": N}.
type agent struct {
	w     *world
	calls int
	size  int
}

func (a *agent) Init(actor.Proc) error { return nil }

func (a *agent) HandleCall(p actor.Proc, m actor.Message) ([]byte, error) {
	a.calls++
	f := strings.Fields(string(m.Body))
	if len(f) < 2 {
		return nil, actor.Refuse("agent: %q", m.Body)
	}
	arg := f[len(f)-1]
	pid, _ := actor.ParsePID(arg)
	ctx := actor.WithCaller(context.Background(), p)
	var err error
	switch f[0] {
	case "send":
		n, _ := strconv.Atoi(f[1])
		for i := 0; i < n && err == nil; i++ {
			err = p.Send(pid, []byte("hi"))
		}
	case "get":
		_, err = a.w.rt.GetState(ctx, pid)
	case "replace":
		err = a.w.rt.ReplaceState(ctx, pid, []byte(`{"calls":0}`))
	case "grow":
		n, _ := strconv.Atoi(arg)
		a.size += n
	default:
		return nil, actor.Refuse("agent: %q", m.Body)
	}
	if err != nil {
		return []byte(err.Error()), nil
	}
	return []byte("ok"), nil
}

func (*agent) HandleCast(actor.Proc, actor.Message) error { return nil }
func (*agent) HandleInfo(actor.Proc, actor.Message) error { return nil }
func (*agent) Terminate(actor.Proc, actor.Reason)         {}
func (*agent) CodeChange(string, []byte) error            { return nil }
func (a *agent) ExportState() ([]byte, error)             { return fmt.Appendf(nil, `{"calls":%d}`, a.calls), nil }
func (*agent) ImportState([]byte) error                   { return nil }
func (a *agent) ApproxSize() int                          { return a.size }
