package actor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

func TestEventsRingAndSeq(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.EventBuffer = 8 })
	for i := 0; i < 10; i++ {
		e.spawn("counter", nil) // one spawned event each
	}
	evs := e.rt.Events(0)
	if len(evs) != 8 || evs[0].Seq != 3 || evs[7].Seq != 10 {
		t.Fatalf("ring holds %d events, seq %d..%d; want the last 8 (3..10)", len(evs), evs[0].Seq, evs[len(evs)-1].Seq)
	}
	for i, ev := range evs {
		if ev.Type != actor.EventSpawned || ev.Node != "n1" || ev.PID.Seq != ev.Seq || !ev.Time.Equal(time0) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if got := e.rt.Events(8); len(got) != 2 || got[0].Seq != 9 {
		t.Fatalf("Events(8) = %+v", got)
	}
}

func TestSlowSubscriberDropsWithoutBlocking(t *testing.T) {
	e := newEnv(t)
	slow := e.rt.Subscribe(1)
	defer slow.Close()
	for i := 0; i < 50; i++ {
		e.spawn("counter", nil)
	}
	if slow.Dropped() != 49 {
		t.Fatalf("dropped %d, want 49", slow.Dropped())
	}
	if ev := <-slow.C; ev.Seq != 1 {
		t.Fatalf("kept event %+v", ev)
	}
	slow.Close()
	if _, ok := <-slow.C; ok {
		t.Fatal("channel open after Close")
	}
	e.spawn("counter", nil) // emitting after a Close is fine
}

func TestFlowTracking(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("echo", "echo"), worker("c", "counter")))
	e.apply(tree("quiet", spec.OneForOne, worker("c", "counter")))
	echo, c := e.resolve("t", "echo"), e.resolve("t", "c")
	quiet := e.resolve("quiet", "c")
	e.cast(c, "not yet traced")
	if err := e.rt.SetTracing("t", actor.Tracing{Flow: true}); err != nil {
		t.Fatal(err)
	}
	e.await(actor.EventTracingChanged, actor.PID{})
	// c -> echo -> c, twice; the operator -> c; quiet -> echo (inbound
	// to the traced tree) is recorded; quiet alone is not.
	for i := 0; i < 2; i++ {
		if err := e.rt.Cast(echo, actor.Message{From: c, Body: []byte("inc")}); err != nil {
			t.Fatal(err)
		}
	}
	e.cast(c, "inc")
	e.clock.Advance(time.Second)
	e.cast(c, "inc")
	if err := e.rt.Cast(echo, actor.Message{From: quiet, Body: []byte("inc")}); err != nil {
		t.Fatal(err)
	}
	e.cast(quiet, "inc")
	actortest.Eventually(t, "messages handled", func() bool {
		b, _ := e.rt.Call(e.ctx, c, actor.Message{Body: []byte("get")})
		q, _ := e.rt.Call(e.ctx, quiet, actor.Message{Body: []byte("get")})
		return string(b) == "5" && string(q) == "2"
	})
	g, err := e.rt.FlowGraph("t")
	if err != nil {
		t.Fatal(err)
	}
	edges := map[[2]actor.PID]actor.FlowEdge{}
	for _, ed := range g.Edges {
		edges[[2]actor.PID{ed.From, ed.To}] = ed
	}
	want := map[[2]actor.PID]uint64{
		{c, echo}:     2, // operator-sent with From: c
		{echo, c}:     2, // echo replying
		{{}, c}:       2, // two casts, plus the "get" calls of the wait
		{quiet, echo}: 1,
		{echo, quiet}: 1, // echo answering quiet: sender in the tree
	}
	for k, n := range want {
		ed, ok := edges[k]
		if !ok {
			t.Errorf("missing edge %v -> %v", k[0], k[1])
			continue
		}
		if k[0].IsZero() {
			if ed.Count < n {
				t.Errorf("operator -> c count %d, want >= %d", ed.Count, n)
			}
			continue
		}
		if ed.Count != n {
			t.Errorf("edge %v -> %v count %d, want %d", k[0], k[1], ed.Count, n)
		}
	}
	if ed := edges[[2]actor.PID{c, echo}]; !ed.First.Equal(time0) || !ed.Last.Equal(time0) {
		t.Errorf("c -> echo first/last %v/%v", ed.First, ed.Last)
	}
	if ed := edges[[2]actor.PID{{}, c}]; !ed.Last.After(ed.First) {
		t.Errorf("operator -> c last %v not after first %v", ed.Last, ed.First)
	}
	if _, ok := edges[[2]actor.PID{{}, quiet}]; ok {
		t.Error("untraced tree's traffic recorded")
	}
	if g, _ := e.rt.FlowGraph("quiet"); len(g.Edges) != 0 {
		t.Errorf("untraced tree has a graph: %+v", g)
	}
	if err := e.rt.SetTracing("t", actor.Tracing{}); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.rt.FlowGraph("t"); len(g.Edges) != 0 {
		t.Error("graph kept after tracing off")
	}
	_, err = e.rt.FlowGraph("nope")
	wantErr(t, err, actor.ErrTreeNotFound)
}

func TestFlowGraphIsBounded(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.MaxFlowEdges = 2 })
	e.apply(tree("t", spec.OneForOne, worker("c", "counter")))
	c := e.resolve("t", "c")
	if err := e.rt.SetTracing("t", actor.Tracing{Flow: true}); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 4; i++ {
		if err := e.rt.Cast(c, actor.Message{From: actor.PID{Node: "n9", Seq: i}}); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := e.rt.FlowGraph("t")
	if len(g.Edges) != 2 || g.Dropped != 2 {
		t.Fatalf("graph %+v", g)
	}
}

func TestStateHistory(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.HistoryEntries = 3 })
	e.apply(tree("t", spec.OneForOne, worker("c", "counter"), sup("s", spec.OneForOne, worker("k", "kv"))))
	c := e.resolve("t", "c")
	if err := e.rt.SetTracing("t", actor.Tracing{History: true, HistoryInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	tick := func() {
		t.Helper()
		if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	samples := func() []actor.StateSample {
		h, err := e.rt.History(c)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	k := e.resolve("t", "s/k")
	tick()
	actortest.Eventually(t, "first capture", func() bool { h, _ := e.rt.History(k); return len(samples()) == 1 && len(h) == 1 })
	e.call(k, "put a 1")
	tick() // c is unchanged: not stored again; k changed
	actortest.Eventually(t, "kv captured", func() bool { h, _ := e.rt.History(k); return len(h) == 2 })
	// The capture was queued by the tick; a get_state queued after it
	// returns once it is done.
	if _, err := e.rt.GetState(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := len(samples()); n != 1 {
		t.Fatalf("unchanged state stored again: %d samples", n)
	}
	for i := 1; i <= 4; i++ {
		e.cast(c, "inc")
		e.call(c, "get") // the inc is handled before the next capture
		tick()
		want := min(i+1, 3)
		actortest.Eventually(t, "capture after inc", func() bool {
			h := samples()
			return len(h) == want && string(h[len(h)-1].State) == `{"count":`+string(rune('0'+i))+`,"messages":`+string(rune('0'+2*i))+`}`
		})
	}
	h := samples()
	if string(h[0].State) != `{"count":2,"messages":4}` || !h[0].Time.Before(h[2].Time) {
		t.Fatalf("history kept %s .. %s", h[0].State, h[2].State)
	}
	// After exit the history stays readable.
	if err := e.rt.Kill(c, "x"); err != nil {
		t.Fatal(err)
	}
	e.awaitChild(actor.EventRestarted, "t", "c")
	if h, err := e.rt.History(c); err != nil || len(h) != 3 {
		t.Fatalf("history of the exited process: %d, %v", len(h), err)
	}
	// Off: no more captures.
	if err := e.rt.SetTracing("t", actor.Tracing{}); err != nil {
		t.Fatal(err)
	}
	if e.clock.Pending() != 0 {
		t.Fatalf("%d timers left after history off", e.clock.Pending())
	}
}

func TestIntrospection(t *testing.T) {
	e := newEnv(t)
	tr := tree("t", spec.OneForOne, worker("c", "counter"), worker("k", "kv"))
	tr.Children[1].Name = "store"
	e.apply(tr)
	c, k, root := e.resolve("t", "c"), e.resolve("t", "k"), e.resolve("t", "")
	if _, err := e.rt.Monitor(c, k); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		e.call(k, "put key"+string(rune('a'+i%26))+" some-value-of-some-length")
	}
	if err := e.rt.Suspend(c); err != nil {
		t.Fatal(err)
	}
	e.cast(c, "inc")
	e.cast(c, "inc")
	all := e.rt.Processes()
	if len(all) != 3 || all[0].PID != root || !all[0].Supervisor || all[0].Behavior != "supervisor" {
		t.Fatalf("processes %+v", all)
	}
	ci, ki := all[1], all[2]
	if ci.Status != actor.StatusSuspended || ci.QueueLen != 2 || ci.Parent != root || len(ci.Links) != 1 || ci.Links[0] != root ||
		len(ci.Monitors) != 1 || ci.Monitors[0] != k || ci.StartedAt != time0 {
		t.Fatalf("counter info %+v", ci)
	}
	if ki.RegisteredName != "store" || len(ki.MonitoredBy) != 1 || ki.MonitoredBy[0] != c || ki.MessagesIn != 50 || ki.MessagesOut != 0 {
		t.Fatalf("kv info %+v", ki)
	}
	if ki.MemoryBytes <= ci.MemoryBytes || ci.MemoryBytes < actor.ProcessOverheadBytes {
		t.Fatalf("memory estimates kv %d counter %d", ki.MemoryBytes, ci.MemoryBytes)
	}
	st := e.rt.Stats()
	if st.Processes != 3 || st.Supervisors != 1 || st.Trees != 1 || st.QueueTotal != 2 ||
		st.MemoryBytes != all[0].MemoryBytes+ci.MemoryBytes+ki.MemoryBytes {
		t.Fatalf("stats %+v", st)
	}
	rootInfo, _ := e.rt.Process(root)
	if len(rootInfo.Links) != 2 || !rootInfo.TrapExit {
		t.Fatalf("root info %+v", rootInfo)
	}
}

// loopback routes between runtimes of one test, as the node package does
// over gRPC: sends go to the remote runtime's Send (or SendChecked), calls
// to its Call.
type loopback struct {
	mu    sync.Mutex
	nodes map[string]*actor.Runtime
	seen  []actor.Message
	down  bool
}

var errUnreachable = errors.New("unreachable")

func (l *loopback) peer(to actor.PID) (*actor.Runtime, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil, errUnreachable
	}
	rt := l.nodes[to.Node]
	if rt == nil {
		return nil, actor.ErrNoRoute
	}
	return rt, nil
}

func (l *loopback) Route(_ context.Context, to actor.PID, m actor.Message) error {
	rt, err := l.peer(to)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.seen = append(l.seen, m)
	l.mu.Unlock()
	return rt.Send(to, m)
}

func (l *loopback) RouteChecked(_ context.Context, to actor.PID, m actor.Message) error {
	rt, err := l.peer(to)
	if err != nil {
		return err
	}
	return rt.SendChecked(to, m)
}

func (l *loopback) RouteCall(ctx context.Context, to actor.PID, m actor.Message) ([]byte, error) {
	rt, err := l.peer(to)
	if err != nil {
		return nil, err
	}
	return rt.Call(ctx, to, m)
}

func TestRemoteRoutingThroughRouter(t *testing.T) {
	lb := &loopback{nodes: map[string]*actor.Runtime{}}
	e1 := newEnv(t, func(c *actor.Config) { c.Router = lb })
	e2 := newEnv(t, func(c *actor.Config) { c.NodeName = "n2"; c.Router = lb })
	lb.nodes["n1"], lb.nodes["n2"] = e1.rt, e2.rt

	remoteEcho := e2.spawn("echo", nil)
	if remoteEcho.Node != "n2" {
		t.Fatalf("pid %v", remoteEcho)
	}
	// A call from n1 crosses to n2 and back.
	if got := e1.call(remoteEcho, "hello"); got != "hello" {
		t.Fatalf("remote call = %q", got)
	}
	// A process on n1 casts to n2; echo answers across the router.
	pid, pr := e1.spawnProbe(false)
	if err := e1.rt.Cast(remoteEcho, actor.Message{From: pid, Body: []byte("ping")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, pr.got); m.From != remoteEcho || string(m.Body) != "ping" {
		t.Fatalf("reply %+v", m)
	}
	lb.mu.Lock()
	n := len(lb.seen)
	lb.mu.Unlock()
	if n != 2 {
		t.Fatalf("router carried %d messages, want 2", n)
	}
	// Errors are those of the remote runtime, or of the route.
	dead := e2.spawn("counter", nil)
	if err := e2.rt.Kill(dead, ""); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e1.rt.SendChecked(dead, actor.Message{}), actor.ErrNoProc)
	if err := e1.rt.Send(dead, actor.Message{}); err != nil {
		t.Fatalf("unchecked remote send to a dead pid: %v", err)
	}
	_, err := e1.rt.Call(e1.ctx, dead, actor.Message{})
	wantErr(t, err, actor.ErrNoProc)
	wantErr(t, e1.rt.Send(actor.PID{Node: "n3", Seq: 1}, actor.Message{}), actor.ErrNoRoute)
	lb.mu.Lock()
	lb.down = true
	lb.mu.Unlock()
	wantErr(t, e1.rt.Send(remoteEcho, actor.Message{}), errUnreachable)
	// Size limits apply before routing.
	big := make([]byte, actor.DefaultMaxMessageBytes+1)
	wantErr(t, e1.rt.Send(remoteEcho, actor.Message{Body: big}), actor.ErrMessageTooLarge)
	// Links and monitors do not cross nodes.
	wantErr(t, e1.rt.Link(pid, remoteEcho), actor.ErrRemoteUnsupported)
	wantErr(t, e1.rt.Suspend(remoteEcho), actor.ErrRemoteUnsupported)
}
