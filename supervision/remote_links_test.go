package supervision_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
)

// probe is a behavior that records the EXIT and DOWN messages it gets.
type probe struct {
	mu  sync.Mutex
	got []actor.Message
}

func (b *probe) Init(actor.Proc) error                                { return nil }
func (b *probe) HandleCall(actor.Proc, actor.Message) ([]byte, error) { return nil, nil }
func (b *probe) HandleCast(actor.Proc, actor.Message) error           { return nil }
func (b *probe) Terminate(actor.Proc, actor.Reason)                   {}
func (b *probe) CodeChange(string, []byte) error                      { return nil }
func (b *probe) ExportState() ([]byte, error)                         { return []byte(`{}`), nil }
func (b *probe) ImportState([]byte) error                             { return nil }
func (b *probe) HandleInfo(_ actor.Proc, m actor.Message) error       { b.record(m); return nil }
func (b *probe) record(m actor.Message)                               { b.mu.Lock(); b.got = append(b.got, m); b.mu.Unlock() }
func (b *probe) messages() []actor.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]actor.Message(nil), b.got...)
}

// await waits for a message of kind from `from` with this body.
func (b *probe) await(t *testing.T, kind actor.Kind, from actor.PID, body string) actor.Message {
	t.Helper()
	var found actor.Message
	testkit.Eventually(t, 20*time.Second, func() error {
		for _, m := range b.messages() {
			if m.Kind == kind && m.From == from && string(m.Body) == body {
				found = m
				return nil
			}
		}
		return fmt.Errorf("no %s from %s with %q; got %+v", kind, from, body, b.messages())
	}, "%s from %s", kind, from)
	return found
}

func spawn(t *testing.T, rt *actor.Runtime, b actor.Behavior, trap bool) actor.PID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "probe", Impl: b, TrapExit: trap})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(rt *actor.Runtime, pid actor.PID) bool {
	_, err := rt.Process(pid)
	return err == nil
}

// Links and monitors across nodes, as Erlang distribution holds them: the
// exit of a remote linked process reaches a trapping process as an EXIT
// message and kills one that does not trap; the exit of a monitored remote
// process delivers DOWN with its reason; a dead remote process is noproc;
// an unlink or demonitor stops them; suspend and resume reach a process on
// another node; and a lost node fires every link and monitor that crossed
// to it with noconnection.
func TestLinksAndMonitorsAcrossNodes(t *testing.T) {
	d := newDSCluster(t, 3, testkit.WithPartitions())
	rt1, rt2, rt3 := d.layer("n1").Runtime(), d.layer("n2").Runtime(), d.layer("n3").Runtime()

	// A trapping process on n1 linked to one on n2: n2's exits, n1 gets EXIT.
	trapper := &probe{}
	a := spawn(t, rt1, trapper, true)
	b := spawn(t, rt2, &probe{}, false)
	if err := rt1.Link(a, b); err != nil {
		t.Fatalf("link across nodes: %v", err)
	}
	if err := rt2.Kill(b, "boom"); err != nil {
		t.Fatal(err)
	}
	trapper.await(t, actor.KindExit, b, "boom")

	// A process that does not trap dies with the remote end's reason, and
	// its own exit reaches the other side (linked the other way round).
	c := spawn(t, rt1, &probe{}, false)
	watcher := &probe{}
	w := spawn(t, rt2, watcher, true)
	if err := rt2.Link(w, c); err != nil {
		t.Fatal(err)
	}
	e := spawn(t, rt2, &probe{}, false)
	if err := rt1.Link(c, e); err != nil {
		t.Fatal(err)
	}
	if err := rt2.Kill(e, "crashed"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if alive(rt1, c) {
			return fmt.Errorf("%s still alive after its remote link died", c)
		}
		return nil
	}, "the linked process dead")
	watcher.await(t, actor.KindExit, c, "crashed")

	// Monitors: DOWN with the reason; a dead target is noproc at once.
	mon := &probe{}
	m := spawn(t, rt1, mon, false)
	target := spawn(t, rt3, &probe{}, false)
	ref, err := rt1.Monitor(m, target)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt3.Kill(target, "gone"); err != nil {
		t.Fatal(err)
	}
	if got := mon.await(t, actor.KindDown, target, "gone"); got.Ref != ref {
		t.Fatalf("DOWN ref %d, want %d", got.Ref, ref)
	}
	if _, err := rt1.Monitor(m, target); err != nil {
		t.Fatal(err)
	}
	mon.await(t, actor.KindDown, target, string(actor.NoProc))
	if err := rt1.Link(m, target); err == nil {
		t.Fatal("a link to a dead remote process was accepted")
	}

	// Unlink and demonitor: the remote exit no longer arrives.
	quiet := &probe{}
	q := spawn(t, rt1, quiet, true)
	r := spawn(t, rt2, &probe{}, false)
	if err := rt1.Link(q, r); err != nil {
		t.Fatal(err)
	}
	mref, err := rt1.Monitor(q, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt1.Unlink(q, r); err != nil {
		t.Fatal(err)
	}
	if err := rt1.Demonitor(q, mref); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := len(rt2.RemoteNodes()); n != 0 {
			return fmt.Errorf("n2 still holds links or monitors to %v", rt2.RemoteNodes())
		}
		return nil
	}, "n2 to drop the unlinked link and monitor")
	if err := rt2.Kill(r, "ignored"); err != nil {
		t.Fatal(err)
	}
	// A marker through the same path proves the kill's signals would have
	// arrived by now: a monitor set after them fires after them.
	marker := spawn(t, rt2, &probe{}, false)
	if _, err := rt1.Monitor(q, marker); err != nil {
		t.Fatal(err)
	}
	if err := rt2.Kill(marker, "marker"); err != nil {
		t.Fatal(err)
	}
	quiet.await(t, actor.KindDown, marker, "marker")
	for _, msg := range quiet.messages() {
		if msg.From == r {
			t.Fatalf("got %s from %s after unlink and demonitor", msg.Kind, r)
		}
	}

	// Suspend and resume across nodes.
	s := spawn(t, rt3, &probe{}, false)
	if err := rt1.Suspend(s); err != nil {
		t.Fatalf("suspend across nodes: %v", err)
	}
	if info, _ := rt3.Process(s); info.Status != actor.StatusSuspended {
		t.Fatalf("%s is %s after a remote suspend", s, info.Status)
	}
	if err := rt1.Resume(s); err != nil {
		t.Fatal(err)
	}
	if info, _ := rt3.Process(s); info.Status != actor.StatusRunning {
		t.Fatalf("%s is %s after a remote resume", s, info.Status)
	}

	// n3 lost (cut off: its processes live on, no signal can come from
	// them), as gossip declares it failed: a link and a monitor that
	// crossed to it fire with noconnection. (A node that shuts down
	// delivers its processes' own exits first, reason shutdown.)
	lost := &probe{}
	l := spawn(t, rt1, lost, true)
	onN3a, onN3b := spawn(t, rt3, &probe{}, false), spawn(t, rt3, &probe{}, false)
	if err := rt1.Link(l, onN3a); err != nil {
		t.Fatal(err)
	}
	if _, err := rt1.Monitor(l, onN3b); err != nil {
		t.Fatal(err)
	}
	d.Partition([]int{d.Index("n3")}, []int{d.Index("n1"), d.Index("n2")})
	lost.await(t, actor.KindExit, onN3a, string(actor.NoConnection))
	lost.await(t, actor.KindDown, onN3b, string(actor.NoConnection))
	if nodes := rt1.RemoteNodes(); len(nodes) != 0 {
		t.Fatalf("n1 still holds links or monitors to %v", nodes)
	}
}

// A node that restarts on its data dir before gossip declares it failed
// comes back as a later incarnation: as Erlang takes a new connection from
// a node as the end of the old one, every link and monitor held towards
// processes of the old incarnation fires with noconnection (their exits
// were never heard of: the node was cut off while it stopped), whichever
// side made it; a link made to a process of the new incarnation is kept.
func TestRestartedNodeFiresLinksToItsOldIncarnation(t *testing.T) {
	// Probes far apart: gossip does not declare the stopped node failed
	// within the test, so only its new incarnation can fire the links.
	d := newDSCluster(t, 3, testkit.WithPartitions(), testkit.WithConfig(func(c *node.Config) {
		c.GossipProbeInterval = 30 * time.Second
		c.GossipProbeTimeout = 5 * time.Second
	}))
	i2 := d.Index("n2")
	rt1, rt2 := d.layer("n1").Runtime(), d.layer("n2").Runtime()

	// n1 links to and monitors processes of n2; one of n2 links to n1.
	watcher := &probe{}
	w := spawn(t, rt1, watcher, true)
	linked, monitored, linker := spawn(t, rt2, &probe{}, false), spawn(t, rt2, &probe{}, false), spawn(t, rt2, &probe{}, false)
	if err := rt1.Link(w, linked); err != nil {
		t.Fatal(err)
	}
	if _, err := rt1.Monitor(w, monitored); err != nil {
		t.Fatal(err)
	}
	back := &probe{}
	b := spawn(t, rt1, back, true)
	if err := rt2.Link(linker, b); err != nil {
		t.Fatal(err)
	}

	// n2 stops cut off, so its processes' exits reach no one, and starts
	// again on its data dir.
	d.Partition([]int{i2}, []int{d.Index("n1"), d.Index("n3")})
	d.Kill(i2)
	d.Heal()
	d.Restart(i2)
	var rt2b *actor.Runtime
	testkit.Eventually(t, 20*time.Second, func() error {
		l := d.layer("n2")
		if l == nil || l.Runtime() == rt2 {
			return fmt.Errorf("n2's new runtime not up")
		}
		rt2b = l.Runtime()
		return nil
	}, "n2 restarted")
	// The new incarnation's pids lie above every pid of the old one (its
	// creation, counted in the data dir), so the messages tell them apart.
	fresh := spawn(t, rt2b, &probe{}, false)
	if old := max(linked.Seq, monitored.Seq, linker.Seq); fresh.Seq <= old {
		t.Fatalf("n2's new incarnation handed out %s, not above its old pids (up to seq %d)", fresh, old)
	}
	if err := rt1.Link(w, fresh); err != nil {
		t.Fatalf("link to the new incarnation: %v", err)
	}

	watcher.await(t, actor.KindExit, linked, string(actor.NoConnection))
	watcher.await(t, actor.KindDown, monitored, string(actor.NoConnection))
	back.await(t, actor.KindExit, linker, string(actor.NoConnection))
	if st := d.Node(d.Index("n1")).MemberStatus("n2"); st != node.StatusAlive && st != node.StatusSuspect {
		t.Fatalf("n1 holds n2 %s: the links fired for the failure, not the restart", st)
	}
	// The link to the new incarnation was kept: its end's exit arrives
	// with its own reason.
	if err := rt2b.Kill(fresh, "fresh"); err != nil {
		t.Fatal(err)
	}
	watcher.await(t, actor.KindExit, fresh, "fresh")
	for _, m := range watcher.messages() {
		if m.From == fresh && string(m.Body) == string(actor.NoConnection) {
			t.Fatalf("the link to %s of the new incarnation fired with noconnection", fresh)
		}
	}
}
