package actor_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// hog is a native behavior that uses what it is told to: "burn N" runs
// for N ms (on a manual clock it advances the runtime's clock by N ms, as
// a callback running that long would; on the wall clock it spins), "size
// N" makes its Sizer report N bytes, "sizepanic" makes its Sizer panic,
// "state" changes its exported state.
type hog struct {
	idle
	clock     *actortest.ManualClock // nil: spin on the wall clock
	size      int
	panicSize bool
	state     int
	burns     *atomic.Int64
}

func (h *hog) HandleCast(p actor.Proc, m actor.Message) error {
	if op, arg, _ := strings.Cut(string(m.Body), " "); op == "loop" { // "loop N": burn N ms, again and again
		n, _ := strconv.Atoi(arg)
		spin(time.Duration(n) * time.Millisecond)
		_ = p.Cast(p.Self(), m.Body)
		return nil
	}
	_, err := h.HandleCall(p, m)
	return err
}

func (h *hog) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	op, arg, _ := strings.Cut(string(m.Body), " ")
	n, _ := strconv.Atoi(arg)
	switch op {
	case "burn":
		d := time.Duration(n) * time.Millisecond
		if h.clock != nil {
			h.clock.Advance(d)
		} else {
			spin(d)
		}
		if h.burns != nil {
			h.burns.Add(1)
		}
	case "size":
		h.size = n
	case "sizepanic":
		h.panicSize = true
	case "state":
		h.state++
	}
	return m.Body, nil
}

func (h *hog) ApproxSize() int {
	if h.panicSize {
		panic("size unknown")
	}
	return h.size
}

func (h *hog) ExportState() ([]byte, error) { return []byte(strconv.Itoa(h.state)), nil }

// spin keeps a core busy for d of wall-clock time.
func spin(d time.Duration) {
	end := time.Now().Add(d)
	x := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x += i * i
		}
	}
	_ = x
}

// registerHog registers "hog" instances on the env's manual clock,
// counting their burns in burns.
func (e *env) registerHog(burns *atomic.Int64) {
	e.t.Helper()
	if err := e.cat.Register(actor.Entry{Name: "hog", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		return &hog{clock: e.clock, burns: burns}, nil
	}}); err != nil {
		e.t.Fatal(err)
	}
}

// newUsageEnv is newSandboxEnv with the hog registered before the
// sandbox "box" starts (children default to one hog "h").
func newUsageEnv(t *testing.T, burns *atomic.Int64, pol actor.SandboxPolicy, children ...spec.ChildSpec) *sandboxEnv {
	t.Helper()
	e := newEnv(t)
	ag := e.registerAgents()
	e.registerHog(burns)
	svc := worker("svc", "echo")
	svc.Name = "svc"
	e.apply(tree("outside", spec.OneForOne, svc, worker("other", "echo")))
	if len(children) == 0 {
		children = []spec.ChildSpec{worker("h", "hog")}
	}
	if err := e.rt.ApplySandbox(e.ctx, tree("box", spec.OneForOne, children...), pol); err != nil {
		t.Fatal(err)
	}
	return &sandboxEnv{env: e, ag: ag}
}

func sandboxStatus(t *testing.T, rt *actor.Runtime, tree string) actor.SandboxStatus {
	t.Helper()
	st, err := rt.SandboxStatus(tree)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A CPU-hungry native behavior in a sandbox at cpu_percent 10, with a
// neighbouring sandbox: each callback burns 20 ms of the runtime's clock.
// Past the budget (100 ms, refilled at 10 %) the sandbox is throttled:
// one cpu_throttled violation, its worker takes no next message (its
// queue waits) until the budget is back, system requests are still
// served, and the neighbour sandbox serves throughout. Over the run, the
// runtime's accounting puts the hungry sandbox's share of the clock near
// 10 % (bounded with generous margins, not measured in latency).
func TestSandboxCPUThrottle(t *testing.T) {
	e := newEnv(t)
	var burns atomic.Int64
	e.registerHog(&burns)
	if err := e.rt.ApplySandbox(e.ctx, tree("nb", spec.OneForOne, worker("svc", "echo")), actor.SandboxPolicy{}); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.ApplySandbox(e.ctx, tree("box", spec.OneForOne, worker("h", "hog")), actor.SandboxPolicy{CPUPercent: 10}); err != nil {
		t.Fatal(err)
	}
	s := &sandboxEnv{env: e}
	h, svc := e.resolve("box", "h"), e.resolve("nb", "svc")
	start := e.clock.Now()
	const queued = 300
	for i := 0; i < queued; i++ {
		if err := e.rt.Cast(h, actor.Message{Body: []byte("burn 20")}); err != nil {
			t.Fatal(err)
		}
	}
	v := s.violation(actor.ViolationCPU)
	if v.PID != h || v.Limit != 10 || v.Value < 10 || v.Response != actor.ResponseThrottle {
		t.Fatalf("violation %+v", v)
	}
	// Throttled: the burns wait in the mailbox, the clock stands still.
	st := s.status()
	if !st.Throttled || st.Throttles != 1 {
		t.Fatalf("not throttled: %+v", st)
	}
	// The budget (100 ms) plus the callback that went over it.
	if n := burns.Load(); n != 6 {
		t.Fatalf("%d burns before the throttle, want 6", n)
	}
	if n, err := e.rt.QueueLen(h); err != nil || n != queued-6 {
		t.Fatalf("queue %d (%v), want %d", n, err, queued-6)
	}
	if got := e.call(svc, "ping"); got != "ping" {
		t.Fatalf("neighbour answered %q", got)
	}
	if _, err := e.rt.GetState(e.ctx, h); err != nil {
		t.Fatalf("a system request while throttled: %v", err)
	}
	// Let the budget refill, step by step, each time until the hog is
	// throttled again (or done).
	for i := 0; i < 100; i++ {
		e.clock.Advance(50 * time.Millisecond)
		actortest.Eventually(t, "throttled again", func() bool {
			n, _ := e.rt.QueueLen(h)
			return s.status().Throttled || n == 0
		})
		if i%10 == 0 {
			if got := e.call(svc, "ping"); got != "ping" {
				t.Fatalf("neighbour answered %q", got)
			}
		}
	}
	st = s.status()
	elapsed := e.clock.Now().Sub(start)
	frac := float64(st.CPUUsed) / float64(elapsed)
	t.Logf("hog: %d burns, %s of %s (%.1f %%), throttled %d times for %s", burns.Load(), st.CPUUsed, elapsed, frac*100, st.Throttles, st.ThrottledTime)
	if st.CPUUsed != time.Duration(burns.Load())*20*time.Millisecond {
		t.Fatalf("accounted %s for %d burns of 20 ms", st.CPUUsed, burns.Load())
	}
	if frac > 0.20 || frac < 0.05 {
		t.Fatalf("the hog used %.1f %% of the clock under cpu_percent 10", frac*100)
	}
	if st.Throttles < 10 || st.ThrottledTime < elapsed/2 {
		t.Fatalf("throttled %d times for %s of %s", st.Throttles, st.ThrottledTime, elapsed)
	}
	// One violation per CPU window at most.
	if windows := uint64(elapsed/actor.SandboxCPUWindow) + 1; st.Violations > windows {
		t.Fatalf("%d violations in %d windows", st.Violations, windows)
	}
	if _, err := e.rt.Process(h); err != nil {
		t.Fatalf("throttling took the process down: %v", err)
	}
	if nb := sandboxStatus(t, e.rt, "nb"); nb.Throttles != 0 || nb.Throttled {
		t.Fatalf("neighbour throttled: %+v", nb)
	}
	if got := e.call(svc, "ping"); got != "ping" {
		t.Fatalf("neighbour answered %q", got)
	}
	e.valid()
}

// Without cpu_percent the callbacks are accounted (CPUUsed, the samples'
// CPU percent) but never throttled; the policy's bounds are validated.
func TestSandboxCPUAccountingOnly(t *testing.T) {
	e := newEnv(t)
	e.registerHog(nil)
	if err := e.rt.ApplySandbox(e.ctx, tree("box", spec.OneForOne, worker("h", "hog")), actor.SandboxPolicy{}); err != nil {
		t.Fatal(err)
	}
	h := e.resolve("box", "h")
	for i := 0; i < 20; i++ {
		e.call(h, "burn 100")
	}
	st := sandboxStatus(t, e.rt, "box")
	if st.CPUUsed != 2*time.Second || st.Throttled || st.Throttles != 0 || st.Violations != 0 {
		t.Fatalf("status %+v", st)
	}
	for field, pol := range map[string]actor.SandboxPolicy{
		"cpu_percent":     {CPUPercent: 101},
		"history_samples": {HistorySamples: -1},
	} {
		if err := pol.Validate(); !errors.Is(err, actor.ErrBadSandbox) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

// Every monitoring interval the sandbox samples its processes, memory,
// total queue and CPU percent over the interval into SandboxStatus (the
// latest, and the last SandboxSampleRing, oldest first).
func TestSandboxUsageSamples(t *testing.T) {
	s := newUsageEnv(t, nil, actor.SandboxPolicy{MonitorInterval: time.Second}, worker("a", "agent"), worker("h", "hog"))
	a := s.resolve("box", "a")
	t0 := s.clock.Now()
	s.call(a, "grow 600")
	if err := s.rt.Cast(a, actor.Message{Body: []byte("block")}); err != nil {
		t.Fatal(err)
	}
	recv(t, s.ag.entered)
	for i := 0; i < 5; i++ {
		if err := s.rt.Cast(a, actor.Message{Body: []byte("noop")}); err != nil {
			t.Fatal(err)
		}
	}
	hp := s.resolve("box", "h")
	for i := 0; i < 3; i++ {
		s.call(hp, "burn 100") // 300 ms of the first second
	}
	if st := s.status(); st.Usage != nil || len(st.Samples) != 0 {
		t.Fatalf("a sample before the interval ended: %+v", st.Usage)
	}
	s.clock.Advance(t0.Add(time.Second).Sub(s.clock.Now()))
	st := s.status()
	u := st.Usage
	if u == nil {
		t.Fatal("no sample after one interval")
	}
	if !u.Time.Equal(t0.Add(time.Second)) || u.Interval != time.Second || u.Processes != 3 || u.MemoryBytes != 600 ||
		u.Queue != 5 || math.Abs(u.CPUPercent-30) > 1e-9 || u.Throttled != 0 || len(u.Unreadable) != 0 {
		t.Fatalf("sample %+v", *u)
	}
	close(s.ag.release)
	actortest.Eventually(t, "queue drained", func() bool { n, _ := s.rt.QueueLen(a); return n == 0 })
	s.clock.Advance(time.Duration(actor.SandboxSampleRing+3) * time.Second)
	st = s.status()
	if len(st.Samples) != actor.SandboxSampleRing {
		t.Fatalf("%d samples kept, want %d", len(st.Samples), actor.SandboxSampleRing)
	}
	for i, x := range st.Samples {
		want := t0.Add(time.Duration(i+5) * time.Second)
		if !x.Time.Equal(want) {
			t.Fatalf("sample %d at %s, want %s", i, x.Time, want)
		}
	}
	if last := st.Samples[len(st.Samples)-1]; !reflect.DeepEqual(*st.Usage, last) || last.Queue != 0 || last.CPUPercent != 0 {
		t.Fatalf("latest %+v, last %+v", *st.Usage, last)
	}
	if st.Violations != 0 {
		t.Fatalf("clean samples raised %d violations", st.Violations)
	}
}

// A process whose size cannot be read at a sample (its Sizer reports a
// negative size, or panics) makes the sample an unreadable violation
// naming it, not a clean one; once its size reads again the samples are
// clean. A panicking Sizer does not take the process down.
func TestSandboxUsageUnreadable(t *testing.T) {
	for _, bad := range []string{"size -1", "sizepanic"} {
		t.Run(bad, func(t *testing.T) {
			s := newUsageEnv(t, nil, actor.SandboxPolicy{MonitorInterval: time.Second, MaxMemoryBytes: 1 << 20})
			h := s.resolve("box", "h")
			s.call(h, "size 100")
			s.call(h, bad)
			s.call(h, "noop") // the previous callback's size is read before this one runs
			s.clock.Advance(time.Second)
			v := s.violation(actor.ViolationUnreadable)
			if v.PID != h || v.Value != 1 || v.Response != actor.ResponseLog {
				t.Fatalf("violation %+v", v)
			}
			st := s.status()
			if st.Usage == nil || len(st.Usage.Unreadable) != 1 || st.Usage.Unreadable[0] != h {
				t.Fatalf("sample %+v", st.Usage)
			}
			if st.Usage.MemoryBytes != 100 {
				t.Fatalf("memory %d: the last size read is kept", st.Usage.MemoryBytes)
			}
			if bad == "sizepanic" {
				s.rt.Kill(h, actor.Kill) // a fresh instance sizes again
				s.awaitChild(actor.EventRestarted, "box", "h")
				h = s.resolve("box", "h")
			}
			s.call(h, "size 10")
			s.clock.Advance(time.Second)
			st = s.status()
			if len(st.Usage.Unreadable) != 0 || st.Violations != 1 {
				t.Fatalf("after a good size: sample %+v, %d violations", st.Usage, st.Violations)
			}
			s.neighbourServes()
		})
	}
}

func hasEdge(g actor.FlowGraph, from, to actor.PID) bool {
	for _, e := range g.Edges {
		if e.From == from && e.To == to {
			return true
		}
	}
	return false
}

// A moderate threshold violation turns the offender's own tracing up to
// full for SandboxTraceUpIntervals monitoring intervals: its messages are
// edges of the flow graph and its state is captured after each callback,
// while its sibling's are not and the tree's tracing stays off; the
// status lists it with its deadline; afterwards nothing more is recorded.
// The tree-level SetTracing keeps working beside it.
func TestSandboxTraceUpPerProcess(t *testing.T) {
	s := newUsageEnv(t, nil, actor.SandboxPolicy{Isolation: actor.IsolationModerate, MonitorInterval: time.Second},
		worker("a", "agent"), worker("b", "hog"))
	a, b := s.resolve("box", "a"), s.resolve("box", "b")
	svc, other := s.resolve("outside", "svc"), s.resolve("outside", "other")
	var outside []actor.PID
	for i := 0; i < actor.ModerateOutsideTargets+1; i++ {
		p, err := s.rt.Spawn(s.ctx, actor.SpawnOptions{Behavior: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		outside = append(outside, p)
	}
	t0 := s.clock.Now()
	for _, p := range outside {
		if err := s.attempt("a", "send "+p.String()); err != nil {
			t.Fatal(err)
		}
	}
	s.violation(actor.ViolationOutsideTargets)
	ev := actortest.AwaitEvent(t, s.sub, func(e actor.Event) bool { return e.Type == actor.EventTracingChanged && e.PID == a })
	if !strings.Contains(ev.Detail, "messages=full states=full") {
		t.Fatalf("event %+v", ev)
	}
	st := s.status()
	until := t0.Add(actor.SandboxTraceUpIntervals * time.Second)
	if len(st.TracedUp) != 1 || st.TracedUp[0].PID != a || st.TracedUp[0].ChildID != "a" || !st.TracedUp[0].Until.Equal(until) {
		t.Fatalf("traced up %+v, want %s until %s", st.TracedUp, a, until)
	}
	if ti, err := s.rt.Tree("box"); err != nil || ti.Tracing.Flow || ti.Tracing.History {
		t.Fatalf("tree tracing %+v %v", ti.Tracing, err)
	}
	if err := s.attempt("a", "send "+svc.String()); err != nil {
		t.Fatal(err)
	}
	s.call(b, "state")
	s.call(b, "noop")
	g, err := s.rt.FlowGraph("box")
	if err != nil {
		t.Fatal(err)
	}
	if !hasEdge(g, a, svc) {
		t.Fatalf("the traced-up process's message is not in the graph: %+v", g.Edges)
	}
	for _, e := range g.Edges {
		if e.From == b || e.To == b {
			t.Fatalf("the sibling's messages are traced: %+v", e)
		}
	}
	if h, err := s.rt.History(a); err != nil || len(h) == 0 {
		t.Fatalf("traced-up state history: %v %v", h, err)
	}
	if h, _ := s.rt.History(b); len(h) != 0 {
		t.Fatalf("the sibling's state is traced: %v", h)
	}
	// After the intervals: off again.
	s.clock.Advance(actor.SandboxTraceUpIntervals * time.Second)
	if st := s.status(); len(st.TracedUp) != 0 {
		t.Fatalf("still traced up: %+v", st.TracedUp)
	}
	if err := s.attempt("a", "send "+other.String()); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.rt.FlowGraph("box"); hasEdge(g, a, other) {
		t.Fatal("recorded after the traced-up intervals")
	}
	// The tree's tracing API is unchanged.
	if err := s.rt.SetTracing("box", actor.Tracing{Flow: true}); err != nil {
		t.Fatal(err)
	}
	s.call(b, "noop")
	if g, _ := s.rt.FlowGraph("box"); !hasEdge(g, actor.PID{}, b) {
		t.Fatalf("tree-level tracing did not record b: %+v", g.Edges)
	}
	if err := s.rt.SetTracing("box", actor.Tracing{}); err != nil {
		t.Fatal(err)
	}
	if ti, _ := s.rt.Tree("box"); ti.Tracing.Flow {
		t.Fatal("flow tracing still on")
	}
	if _, err := s.rt.Process(a); err != nil {
		t.Fatalf("a moderate violation took the process down: %v", err)
	}
}

// A sandbox's traces are bounded as in the seed: the flow graph keeps
// edges between at most max_processes+10 distinct processes (more are
// dropped and counted), a tree-level flow trace is switched off an hour
// after it was switched on, and the state history keeps the policy's
// HistorySamples per process (default 100).
func TestSandboxTraceBounds(t *testing.T) {
	s := newUsageEnv(t, nil, actor.SandboxPolicy{Isolation: actor.IsolationPermissive, MaxProcesses: 3, HistorySamples: 3},
		worker("a", "agent"), worker("h", "hog"))
	h := s.resolve("box", "h")
	if err := s.rt.SetTracing("box", actor.Tracing{Flow: true, History: true, HistoryInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	var outside []actor.PID
	for i := 0; i < 20; i++ { // agents: they do not answer a send
		p, err := s.rt.Spawn(s.ctx, actor.SpawnOptions{Behavior: "agent", Impl: s.ag.newAgent()})
		if err != nil {
			t.Fatal(err)
		}
		outside = append(outside, p)
	}
	for _, p := range outside {
		if err := s.attempt("a", "send "+p.String()); err != nil {
			t.Fatal(err)
		}
	}
	g, err := s.rt.FlowGraph("box")
	if err != nil {
		t.Fatal(err)
	}
	procs := map[actor.PID]bool{}
	for _, e := range g.Edges {
		for _, p := range []actor.PID{e.From, e.To} {
			if !p.IsZero() {
				procs[p] = true
			}
		}
	}
	// a's casts from the API (a zero sender) and a's sends to 12 of the
	// 20: a plus 12 outside ends make 13 = max_processes + 10.
	if len(procs) != 3+actor.SandboxTraceExtraProcesses || len(g.Edges) != 13 || g.Dropped != 8 {
		t.Fatalf("%d processes, %d edges, %d dropped: %+v", len(procs), len(g.Edges), g.Dropped, g.Edges)
	}
	// History: 3 distinct states kept of 5.
	for i := 0; i < 5; i++ {
		s.call(h, "state")
		s.clock.Advance(time.Second)
		want := s.clock.Now()
		actortest.Eventually(t, "state captured", func() bool {
			hs, _ := s.rt.History(h)
			return len(hs) > 0 && hs[len(hs)-1].Time.Equal(want)
		})
	}
	if hs, _ := s.rt.History(h); len(hs) != 3 || string(hs[0].State) != "3" || string(hs[2].State) != "5" {
		t.Fatalf("history %+v", hs)
	}
	// An hour after it was switched on, the flow trace is off.
	s.clock.Advance(actor.SandboxTraceMaxAge - 5*time.Second)
	actortest.AwaitEvent(t, s.sub, func(e actor.Event) bool {
		return e.Type == actor.EventTracingChanged && e.Tree == "box" && strings.HasPrefix(e.Detail, "flow=false")
	})
	if ti, _ := s.rt.Tree("box"); ti.Tracing.Flow || !ti.Tracing.History {
		t.Fatalf("tracing after an hour %+v", ti.Tracing)
	}
	if st := s.status(); st.Policy.HistorySamples != 3 {
		t.Fatalf("policy %+v", st.Policy)
	}
	if st := sandboxStatus(t, newUsageEnv(t, nil, actor.SandboxPolicy{}).rt, "box"); st.Policy.HistorySamples != actor.DefaultSandboxHistorySamples {
		t.Fatalf("default history samples %d", st.Policy.HistorySamples)
	}
}

// flooder floods: each "flood" sends 1,000 messages to its sibling "sink"
// (most dropped by max_messages_per_second), then casts itself "flood"
// (or, when that is dropped too, has it sent after 1 ms).
type flooder struct{ idle }

func (f flooder) HandleCast(p actor.Proc, m actor.Message) error {
	if sink, ok := p.WhereIs("ab-sink"); ok {
		for i := 0; i < 1000; i++ {
			_ = p.Send(sink, []byte("x"))
		}
	}
	if p.Cast(p.Self(), m.Body) != nil {
		p.SendAfter(time.Millisecond, m.Body)
	}
	return nil
}

func (f flooder) HandleInfo(p actor.Proc, m actor.Message) error { return f.HandleCast(p, m) }

// bomber spawn-bombs its own simple_one_for_one supervisor: each "bomb"
// starts children until max_processes refuses one, kills them, and casts
// itself "bomb" again.
type bomber struct {
	idle
	rt *actor.Runtime
}

func (bm bomber) HandleCast(p actor.Proc, m actor.Message) error {
	ctx := context.Background()
	var kids []actor.PID
	for i := 0; i < 100; i++ {
		pid, err := bm.rt.StartDynamicChild(ctx, p.Parent(), nil)
		if err != nil {
			break
		}
		kids = append(kids, pid)
	}
	for _, k := range kids {
		bm.rt.Kill(k, actor.Kill)
	}
	return p.Cast(p.Self(), m.Body)
}

// BenchmarkSandboxNeighbour is the call latency of a process in a
// neighbouring sandbox (p50 and p99 per call, ReportMetric), alone and
// while an abusive sandbox runs beside it under one policy (cpu_percent
// 10, message_deadline 50ms, max_messages_per_second 10000, max_mailbox
// 1000, max_processes 20): a native CPU loop (5 ms burns, forever), a
// message flood, a spawn bomb. abuser-cpu-% is the abusive sandbox's
// accounted running time over the run, in percent of one core.
func BenchmarkSandboxNeighbour(b *testing.B) {
	abusive := actor.SandboxPolicy{Isolation: actor.IsolationModerate, CPUPercent: 10, MessageDeadline: 50 * time.Millisecond,
		MaxMessagesPerSecond: 10_000, MaxMailbox: 1000, MaxProcesses: 20, Response: actor.ResponseLog}
	cases := []struct {
		name  string
		abuse func(b *testing.B, rt *actor.Runtime)
	}{
		{"alone", nil},
		{"cpu-loop", func(b *testing.B, rt *actor.Runtime) {
			applyBench(b, rt, spec.Tree{Name: "ab", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 1000, MaxSeconds: 1,
				Children: []spec.ChildSpec{{ID: "h1", Behavior: "hog"}, {ID: "h2", Behavior: "hog"}}}}, abusive)
			for _, id := range []string{"h1", "h2"} {
				pid, err := rt.Resolve(actor.Target{Tree: "ab", Path: id})
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.Cast(pid, actor.Message{Body: []byte("loop 5")}); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"flood", func(b *testing.B, rt *actor.Runtime) {
			applyBench(b, rt, spec.Tree{Name: "ab", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 1000, MaxSeconds: 1,
				Children: []spec.ChildSpec{{ID: "sink", Behavior: "idle", Name: "ab-sink"}, {ID: "f1", Behavior: "flooder"}, {ID: "f2", Behavior: "flooder"}}}}, abusive)
			for _, id := range []string{"f1", "f2"} {
				pid, err := rt.Resolve(actor.Target{Tree: "ab", Path: id})
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.Cast(pid, actor.Message{Body: []byte("flood")}); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"spawn-bomb", func(b *testing.B, rt *actor.Runtime) {
			applyBench(b, rt, spec.Tree{Name: "ab", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.SimpleOneForOne, MaxRestarts: 1000, MaxSeconds: 1,
				Children: []spec.ChildSpec{{ID: "bomb", Behavior: "bomber", Restart: spec.Temporary}}}}, abusive)
			root, err := rt.Resolve(actor.Target{Tree: "ab"})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				pid, err := rt.StartDynamicChild(context.Background(), root, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.Cast(pid, actor.Message{Body: []byte("bomb")}); err != nil {
					b.Fatal(err)
				}
			}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rt := benchRuntime(b, nil)
			for _, e := range []actor.Entry{
				{Name: "idle", New: func(map[string]string) (actor.Behavior, error) { return idle{}, nil }},
				{Name: "hog", New: func(map[string]string) (actor.Behavior, error) { return &hog{}, nil }},
				{Name: "flooder", New: func(map[string]string) (actor.Behavior, error) { return flooder{}, nil }},
				{Name: "bomber", New: func(map[string]string) (actor.Behavior, error) { return bomber{rt: rt}, nil }},
			} {
				if err := rt.Catalog().Register(e); err != nil {
					b.Fatal(err)
				}
			}
			applyBench(b, rt, spec.Tree{Name: "nb", SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 10, MaxSeconds: 10,
				Children: []spec.ChildSpec{{ID: "svc", Behavior: "idle"}}}}, actor.SandboxPolicy{Isolation: actor.IsolationStrict})
			svc, err := rt.Resolve(actor.Target{Tree: "nb", Path: "svc"})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if c.abuse != nil {
				c.abuse(b, rt)
			}
			ctx := context.Background()
			body := []byte("ping")
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := time.Now()
				if _, err := rt.Call(ctx, svc, actor.Message{Body: body}); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t)
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			if c.abuse != nil {
				if st, err := rt.SandboxStatus("ab"); err == nil {
					b.ReportMetric(float64(st.CPUUsed)*100/float64(time.Since(start)), "abuser-cpu-%")
				}
			}
		})
	}
}

func applyBench(b *testing.B, rt *actor.Runtime, tr spec.Tree, pol actor.SandboxPolicy) {
	b.Helper()
	if err := rt.ApplySandbox(context.Background(), tr, pol); err != nil {
		b.Fatal(err)
	}
}
