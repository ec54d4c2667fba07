package actor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
)

// twoNodes are runtimes "a" and "b" whose signals reach each other
// directly, each node with an incarnation the test sets.
type twoNodes struct {
	mu  sync.Mutex
	rts map[string]*actor.Runtime
	inc map[string]uint64
}

func (n *twoNodes) rt(name string) *actor.Runtime {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rts[name]
}

func (n *twoNodes) incarnation(name string) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inc[name]
}

// pairRouter is node self's router to the other.
type pairRouter struct {
	self string
	n    *twoNodes
	// tells: whether it tells incarnations (false: a node of an earlier
	// version, a plain SignalRouter).
	tells bool
}

func (r pairRouter) Route(_ context.Context, to actor.PID, m actor.Message) error {
	return r.n.rt(to.Node).Send(to, m)
}

func (r pairRouter) RouteSignal(ctx context.Context, s actor.Signal) error {
	_, err := r.route(s)
	return err
}

func (r pairRouter) route(s actor.Signal) (uint64, error) {
	if r.tells {
		s.Incarnation = r.n.incarnation(r.self)
	}
	if err := r.n.rt(s.To.Node).HandleSignal(s); err != nil {
		return 0, err
	}
	if !r.tells {
		return 0, nil
	}
	return r.n.incarnation(s.To.Node), nil
}

// incRouter adds the incarnations to pairRouter.
type incRouter struct{ pairRouter }

func (r incRouter) RouteSignalIncarnation(_ context.Context, s actor.Signal) (uint64, error) {
	return r.route(s)
}

func newTwoNodes(t *testing.T, tells bool) *twoNodes {
	n := &twoNodes{rts: map[string]*actor.Runtime{}, inc: map[string]uint64{"a": 100, "b": 200}}
	for _, name := range []string{"a", "b"} {
		cfg := actor.DefaultConfig()
		cfg.NodeName = name
		// Not t's logger: the signals an exit leaves are sent in the
		// background, and may log after the test ends.
		cfg.Logger = hclog.NewNullLogger()
		var r actor.Router = pairRouter{self: name, n: n}
		if tells {
			r = incRouter{pairRouter{self: name, n: n, tells: true}}
		}
		cfg.Router = r
		rt, err := actor.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.rts[name] = rt
		t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	}
	return n
}

func spawnProbe(t *testing.T, rt *actor.Runtime, trap bool) (actor.PID, *probe) {
	t.Helper()
	p := newProbe()
	p.trap = trap
	pid, err := rt.Spawn(actortest.Context(t), actor.SpawnOptions{Behavior: "probe", Impl: p})
	if err != nil {
		t.Fatal(err)
	}
	return pid, p
}

// expect reads p's next message and checks it.
func expect(t *testing.T, p *probe, kind actor.Kind, from actor.PID, body string) {
	t.Helper()
	select {
	case m := <-p.got:
		if m.Kind != kind || m.From != from || string(m.Body) != body {
			t.Fatalf("got %s from %s %q, want %s from %s %q", m.Kind, m.From, m.Body, kind, from, body)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s from %s %q", kind, from, body)
	}
}

// NodeRestarted fires, with noconnection, the links and monitors held
// towards an earlier incarnation of the node, on either side, and forgets
// its watchers; those towards the incarnation it names, or a later one,
// are kept, and so is everything when the incarnation is unknown.
func TestNodeRestartedFiresEarlierIncarnation(t *testing.T) {
	n := newTwoNodes(t, true)
	a, b := n.rt("a"), n.rt("b")
	w, wp := spawnProbe(t, a, true)
	linked, _ := spawnProbe(t, b, false)
	monitored, _ := spawnProbe(t, b, false)
	if err := a.Link(w, linked); err != nil {
		t.Fatal(err)
	}
	ref, err := a.Monitor(w, monitored)
	if err != nil {
		t.Fatal(err)
	}
	// b's watcher of a's process, made from b's side.
	bw, _ := spawnProbe(t, b, false)
	if _, err := b.Monitor(bw, w); err != nil {
		t.Fatal(err)
	}

	if got := a.NodeRestarted("b", 0); got != 0 {
		t.Fatalf("an unknown incarnation fired %d", got)
	}
	if got := a.NodeRestarted("b", 200); got != 0 {
		t.Fatalf("the incarnation the links are held towards fired %d", got)
	}
	if got := a.NodeRestarted("b", 150); got != 0 {
		t.Fatalf("an earlier incarnation (gossip behind the signals) fired %d", got)
	}
	if nodes := a.RemoteNodes(); len(nodes) != 1 || nodes[0] != "b" {
		t.Fatalf("a crosses to %v", nodes)
	}

	// b restarts as incarnation 300: a link made to it then is kept.
	n.mu.Lock()
	n.inc["b"] = 300
	n.mu.Unlock()
	fresh, _ := spawnProbe(t, b, false)
	if err := a.Link(w, fresh); err != nil {
		t.Fatal(err)
	}
	if got := a.NodeRestarted("b", 300); got != 2 {
		t.Fatalf("fired %d, want the link and the monitor of incarnation 200", got)
	}
	expect(t, wp, actor.KindExit, linked, string(actor.NoConnection))
	m := <-wp.got
	if m.Kind != actor.KindDown || m.From != monitored || m.Ref != ref || string(m.Body) != string(actor.NoConnection) {
		t.Fatalf("got %+v, want DOWN noconnection of %s under %d", m, monitored, ref)
	}
	// Only the link to the new incarnation is left.
	if err := b.Kill(fresh, "fresh"); err != nil {
		t.Fatal(err)
	}
	expect(t, wp, actor.KindExit, fresh, "fresh")
	if nodes := a.RemoteNodes(); len(nodes) != 0 {
		t.Fatalf("a still crosses to %v (b's watcher of incarnation 200 not forgotten?)", nodes)
	}

	// The other side: b holds a link a made, towards a's incarnation.
	x, xp := spawnProbe(t, b, true)
	y, _ := spawnProbe(t, a, false)
	if err := a.Link(y, x); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.inc["a"] = 101
	n.mu.Unlock()
	// b holds towards a's incarnation 100 the link w made to linked (b
	// did not really restart: its side is still there), bw's monitor of
	// w and the link y made to x.
	if got := b.NodeRestarted("a", 101); got != 3 {
		t.Fatalf("b fired %d, want the 3 links and monitors held towards a's incarnation 100", got)
	}
	expect(t, xp, actor.KindExit, y, string(actor.NoConnection))
}

// A router that tells no incarnations (a node of an earlier version)
// leaves the links unknown: NodeRestarted keeps them.
func TestNodeRestartedKeepsUnknownIncarnations(t *testing.T) {
	n := newTwoNodes(t, false)
	a, b := n.rt("a"), n.rt("b")
	w, _ := spawnProbe(t, a, true)
	linked, _ := spawnProbe(t, b, false)
	if err := a.Link(w, linked); err != nil {
		t.Fatal(err)
	}
	if got := a.NodeRestarted("b", 1<<62); got != 0 {
		t.Fatalf("fired %d links of an unknown incarnation", got)
	}
	if got := a.NodeDown("b"); got != 1 {
		t.Fatalf("NodeDown fired %d, want 1", got)
	}
}

// A link made under the same pid as one held towards an earlier
// incarnation of the node (the sequence starts afresh when a node
// restarts) replaces it: the old one's noconnection is delivered first, on
// either side, and the new one stays.
func TestRelinkUnderTheSamePidAfterARestart(t *testing.T) {
	n := newTwoNodes(t, true)
	a, b := n.rt("a"), n.rt("b")
	w, wp := spawnProbe(t, a, true)
	x, xp := spawnProbe(t, b, true)
	if err := a.Link(w, x); err != nil {
		t.Fatal(err)
	}
	// b as incarnation 300, and x standing for its new process of that pid.
	n.mu.Lock()
	n.inc["b"] = 300
	n.mu.Unlock()
	if err := a.Link(w, x); err != nil {
		t.Fatal(err)
	}
	expect(t, wp, actor.KindExit, x, string(actor.NoConnection))
	if got := a.NodeRestarted("b", 300); got != 0 {
		t.Fatalf("the link of incarnation 300 fired (%d)", got)
	}
	// a as incarnation 101, linking again from its side: b's side of the
	// link from incarnation 100 is replaced, its noconnection first.
	n.mu.Lock()
	n.inc["a"] = 101
	n.mu.Unlock()
	if err := a.Link(w, x); err != nil {
		t.Fatal(err)
	}
	expect(t, xp, actor.KindExit, w, string(actor.NoConnection))
	// The link stays: x's exit reaches w with its reason.
	if err := b.Kill(x, "bye"); err != nil {
		t.Fatal(err)
	}
	expect(t, wp, actor.KindExit, x, "bye")
}
