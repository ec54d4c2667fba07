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

// guestBeh hands its Proc's SandboxGuest to the test at Init.
type guestBeh struct {
	got chan<- *actor.SandboxGuest
}

func (g *guestBeh) HandleCall(actor.Proc, actor.Message) ([]byte, error) { return nil, nil }
func (g *guestBeh) HandleCast(actor.Proc, actor.Message) error           { return nil }
func (g *guestBeh) HandleInfo(actor.Proc, actor.Message) error           { return nil }
func (g *guestBeh) Terminate(actor.Proc, actor.Reason)                   {}
func (g *guestBeh) CodeChange(string, []byte) error                      { return nil }
func (g *guestBeh) ExportState() ([]byte, error)                         { return []byte("{}"), nil }
func (g *guestBeh) ImportState([]byte) error                             { return nil }

func (g *guestBeh) Init(p actor.Proc) error {
	g.got <- actor.SandboxOf(p)
	return nil
}

func guestRuntime(t *testing.T) (*actor.Runtime, chan *actor.SandboxGuest) {
	t.Helper()
	got := make(chan *actor.SandboxGuest, 8)
	cat := behaviors.NewCatalog()
	if err := cat.Register(actor.Entry{Name: "guest", New: func(map[string]string) (actor.Behavior, error) {
		return &guestBeh{got: got}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Catalog = cat
	cfg.Clock = actortest.NewManualClock(time.Unix(1_700_000_000, 0))
	cfg.Logger = actortest.Logger(t)
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return rt, got
}

func guestTree(name string, children ...string) spec.Tree {
	t := spec.Tree{Name: name, SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 10, MaxSeconds: 1}}
	for _, c := range children {
		t.Children = append(t.Children, spec.ChildSpec{ID: c, Behavior: "guest"})
	}
	return t
}

// SandboxOf is nil outside a sandbox; inside, reservations count in the
// sandbox's memory before the fact and are refused past the budget (a
// max_memory_bytes violation, response log), and released ones come back.
func TestSandboxGuestMemory(t *testing.T) {
	rt, got := guestRuntime(t)
	ctx := actortest.Context(t)
	if _, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "guest"}); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != nil {
		t.Fatalf("a standalone process has a sandbox: %+v", g)
	}
	if err := rt.ApplySandbox(ctx, guestTree("box", "a", "b"), actor.SandboxPolicy{MaxMemoryBytes: 1000, MaxFileHandles: 7}); err != nil {
		t.Fatal(err)
	}
	a, b := <-got, <-got
	if a == nil || b == nil || a.Name() != "box" || a.Policy().MaxFileHandles != 7 || a.PID() == b.PID() {
		t.Fatalf("guests %+v %+v", a, b)
	}
	if err := a.ReserveMemory(600); err != nil {
		t.Fatal(err)
	}
	if err := b.ReserveMemory(401); !errors.Is(err, actor.ErrSandboxMemory) {
		t.Fatalf("past the budget: %v", err)
	}
	if err := b.ReserveMemory(400); err != nil {
		t.Fatal(err)
	}
	st, _ := rt.SandboxStatus("box")
	if st.MemoryBytes != 1000 {
		t.Fatalf("memory %d", st.MemoryBytes)
	}
	vs, _ := rt.SandboxViolations("box")
	if len(vs) != 1 || vs[0].Kind != actor.ViolationMemory || vs[0].Response != actor.ResponseLog || vs[0].Value != 1001 || vs[0].PID != b.PID() {
		t.Fatalf("violations %+v", vs)
	}
	a.ReleaseMemory(10_000) // never more than it holds
	st, _ = rt.SandboxStatus("box")
	if st.MemoryBytes != 400 {
		t.Fatalf("memory after release %d", st.MemoryBytes)
	}
	// An exited process's reservation goes with it; a late release or
	// reservation does nothing.
	if err := rt.Exit(b.PID(), actor.Kill); err != nil {
		t.Fatal(err)
	}
	<-got // b's restart
	actortest.Eventually(t, "b's memory released", func() bool {
		st, _ := rt.SandboxStatus("box")
		return st.MemoryBytes == 0
	})
	b.ReleaseMemory(400)
	if err := b.ReserveMemory(1); !errors.Is(err, actor.ErrNoProc) {
		t.Fatalf("reserve for an exited process: %v", err)
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("Done is open after the exit")
	}
}

// Exit and Spawn through a guest pass the boundary: refused at strict
// (ErrBoundary, a violation), let through and recorded at permissive.
func TestSandboxGuestBoundary(t *testing.T) {
	rt, got := guestRuntime(t)
	ctx := actortest.Context(t)
	out, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	<-got
	if err := rt.ApplySandbox(ctx, guestTree("strict", "a", "b"), actor.SandboxPolicy{Isolation: actor.IsolationStrict, Response: actor.ResponseLog}); err != nil {
		t.Fatal(err)
	}
	a, b := <-got, <-got
	if a.Inside(out) || !a.Inside(b.PID()) {
		t.Fatal("Inside")
	}
	if err := a.Exit(out, "bye"); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("exit out: %v", err)
	}
	if _, err := a.Spawn(ctx, actor.SpawnOptions{Behavior: "guest"}); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("spawn out: %v", err)
	}
	if _, err := rt.Process(out); err != nil {
		t.Fatalf("the outside process: %v", err)
	}
	vs, _ := rt.SandboxViolations("strict")
	if len(vs) != 2 || vs[0].Op != actor.OpExit || vs[1].Op != actor.OpSpawn {
		t.Fatalf("violations %+v", vs)
	}
	// inside: no crossing
	if err := a.Exit(b.PID(), "bye"); err != nil {
		t.Fatalf("exit inside: %v", err)
	}
	if err := rt.ApplySandbox(ctx, guestTree("open", "p"), actor.SandboxPolicy{Isolation: actor.IsolationPermissive}); err != nil {
		t.Fatal(err)
	}
	// Two guests start now, in either order: strict's b restarted, and
	// open's p.
	var p *actor.SandboxGuest
	for range 2 {
		select {
		case g := <-got:
			if g != nil && g.Name() == "open" {
				p = g
			}
		case <-ctx.Done():
			t.Fatal("waiting for b's restart and the permissive sandbox's guest")
		}
	}
	if p == nil {
		t.Fatal("the permissive sandbox's guest did not start")
	}
	if _, err := p.Spawn(ctx, actor.SpawnOptions{Behavior: "guest"}); err != nil {
		t.Fatalf("spawn out of a permissive sandbox: %v", err)
	}
	st, _ := rt.SandboxStatus("open")
	if len(st.Crossings) != 1 || st.Crossings[0].Op != actor.OpSpawn {
		t.Fatalf("crossings %+v", st.Crossings)
	}
}
