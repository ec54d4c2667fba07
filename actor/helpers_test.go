package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

// env is one test runtime on a manual clock, with the native behaviors
// and a subscription opened before anything runs.
type env struct {
	t     *testing.T
	rt    *actor.Runtime
	clock *actortest.ManualClock
	cat   *actor.Catalog
	// sub is read by every wait (await, awaitChild, exitOf, until), each
	// skipping, for good, what it does not match: two waits in a row are
	// right only for events the runtime emits in that order. Events that
	// different goroutines emit independently (a killed process's links
	// dying on the killer's goroutine, its supervisor restarting it on
	// its own) are waited for together with actortest.AwaitEvents.
	sub *actor.Subscription
	ctx context.Context
	// marked: until ignores events up to this seq (see mark).
	marked uint64
}

// mark makes the next until ignore every event emitted so far.
func (e *env) mark() { e.marked = e.rt.Stats().LastEventSeq }

func newEnv(t *testing.T, tweak ...func(*actor.Config)) *env {
	t.Helper()
	cat := behaviors.NewCatalog()
	clock := actortest.NewManualClock(time0)
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = clock
	cfg.Catalog = cat
	for _, f := range tweak {
		f(&cfg)
	}
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rt: rt, clock: clock, cat: cat, sub: rt.Subscribe(1 << 16), ctx: actortest.Context(t)}
	t.Cleanup(func() {
		e.sub.Close()
		if err := rt.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

var time0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func (e *env) spawn(behavior string, args map[string]string) actor.PID {
	e.t.Helper()
	pid, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: behavior, Args: args})
	if err != nil {
		e.t.Fatalf("spawn %s: %v", behavior, err)
	}
	return pid
}

func (e *env) call(pid actor.PID, body string) string {
	e.t.Helper()
	b, err := e.rt.Call(e.ctx, pid, actor.Message{Body: []byte(body)})
	if err != nil {
		e.t.Fatalf("call %s %q: %v", pid, body, err)
	}
	return string(b)
}

func (e *env) cast(pid actor.PID, body string) {
	e.t.Helper()
	if err := e.rt.Cast(pid, actor.Message{Body: []byte(body)}); err != nil {
		e.t.Fatalf("cast %s %q: %v", pid, body, err)
	}
}

// await waits for an event matching typ and pid (zero pid: any).
func (e *env) await(typ actor.EventType, pid actor.PID) actor.Event {
	e.t.Helper()
	return actortest.AwaitEvent(e.t, e.sub, actortest.Is(typ, pid))
}

// awaitChild waits for an event of typ about a tree child path.
func (e *env) awaitChild(typ actor.EventType, tree, path string) actor.Event {
	e.t.Helper()
	return actortest.AwaitEvent(e.t, e.sub, func(ev actor.Event) bool {
		return ev.Type == typ && ev.Tree == tree && ev.ChildID == path
	})
}

func (e *env) apply(tr spec.Tree) {
	e.t.Helper()
	if err := e.rt.ApplyTree(e.ctx, tr); err != nil {
		e.t.Fatalf("apply %s: %v", tr.Name, err)
	}
}

func (e *env) resolve(tree, path string) actor.PID {
	e.t.Helper()
	pid, err := e.rt.Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		e.t.Fatalf("resolve %s/%s: %v", tree, path, err)
	}
	return pid
}

// valid asserts Validate finds nothing.
func (e *env) valid() {
	e.t.Helper()
	rep := e.rt.Validate(e.ctx)
	if !rep.OK() {
		e.t.Fatalf("validate: %+v", rep)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func worker(id, behavior string, args ...string) spec.ChildSpec {
	cs := spec.ChildSpec{ID: id, Behavior: behavior}
	if len(args) > 0 {
		cs.Args = map[string]string{}
		for i := 0; i+1 < len(args); i += 2 {
			cs.Args[args[i]] = args[i+1]
		}
	}
	return cs
}

func sup(id string, strategy spec.Strategy, children ...spec.ChildSpec) spec.ChildSpec {
	return spec.ChildSpec{ID: id, Type: spec.Supervisor, SupervisorSpec: spec.SupervisorSpec{
		Strategy: strategy, MaxRestarts: 10, MaxSeconds: 10, Children: children}}
}

func tree(name string, strategy spec.Strategy, children ...spec.ChildSpec) spec.Tree {
	return spec.Tree{Name: name, SupervisorSpec: spec.SupervisorSpec{
		Strategy: strategy, MaxRestarts: 10, MaxSeconds: 10, Children: children}}
}

// probe is a test behavior that reports what it receives and how it ends.
type probe struct {
	pid       actor.PID
	started   chan<- *probe // told after Init, when set
	got       chan actor.Message
	ended     chan actor.Reason
	trap      bool
	block     chan struct{} // Terminate waits on it when set
	initError error
	initFn    func() error // called by Init when set
}

func newProbe() *probe {
	return &probe{got: make(chan actor.Message, 1024), ended: make(chan actor.Reason, 8)}
}

func (p *probe) Init(proc actor.Proc) error {
	p.pid = proc.Self()
	if p.trap {
		proc.TrapExit(true)
	}
	if p.initError != nil {
		return p.initError
	}
	if p.initFn != nil {
		if err := p.initFn(); err != nil {
			return err
		}
	}
	if p.started != nil {
		p.started <- p
	}
	return nil
}
func (p *probe) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	p.got <- m
	return m.Body, nil
}
func (p *probe) HandleCast(_ actor.Proc, m actor.Message) error { p.got <- m; return nil }
func (p *probe) HandleInfo(_ actor.Proc, m actor.Message) error {
	p.got <- m
	if string(m.Body) == "crash" {
		return errors.New("probe crashed")
	}
	return nil
}
func (p *probe) Terminate(_ actor.Proc, r actor.Reason) {
	if p.block != nil {
		<-p.block
	}
	p.ended <- r
}
func (p *probe) CodeChange(string, []byte) error { return nil }
func (p *probe) ExportState() ([]byte, error)    { return []byte(`{}`), nil }
func (p *probe) ImportState([]byte) error        { return nil }

// registerProbes adds a catalog entry whose instances announce
// themselves on the returned channel once started, in start order.
func (e *env) registerProbes(name string, tune func(*probe)) <-chan *probe {
	started := make(chan *probe, 1024)
	err := e.cat.Register(actor.Entry{Name: name, Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		p := newProbe()
		p.started = started
		if tune != nil {
			tune(p)
		}
		return p, nil
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	return started
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(actortest.Timeout):
		t.Fatalf("nothing received within %s", actortest.Timeout)
	}
	var zero T
	return zero
}
