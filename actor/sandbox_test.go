package actor_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// agent is an adversarial native behavior: each call "op arg" makes it
// attempt one operation (send, cast, call, link, monitor, lookup a PID or
// name; block until released; grow its state), and report the outcome on
// results before replying.
type agent struct {
	proc    actor.Proc
	results chan error
	entered chan struct{}
	release chan struct{}
	state   []byte
}

func (a *agent) Init(p actor.Proc) error { a.proc = p; return nil }

func (a *agent) HandleCall(p actor.Proc, m actor.Message) ([]byte, error) {
	return nil, a.do(p, string(m.Body))
}

func (a *agent) HandleCast(p actor.Proc, m actor.Message) error { return a.do(p, string(m.Body)) }
func (a *agent) HandleInfo(actor.Proc, actor.Message) error     { return nil }
func (a *agent) Terminate(actor.Proc, actor.Reason)             {}
func (a *agent) CodeChange(string, []byte) error                { return nil }
func (a *agent) ExportState() ([]byte, error)                   { return []byte(`{}`), nil }
func (a *agent) ImportState([]byte) error                       { return nil }
func (a *agent) ApproxSize() int                                { return len(a.state) }

func (a *agent) do(p actor.Proc, cmd string) error {
	op, arg, _ := strings.Cut(cmd, " ")
	var err error
	pid, _ := actor.ParsePID(arg)
	switch op {
	case "send":
		err = p.Send(pid, []byte("hi"))
	case "cast":
		err = p.Cast(pid, []byte("hi"))
	case "call":
		ctx, cancel := context.WithTimeout(context.Background(), actortest.Timeout)
		_, err = p.Call(ctx, pid, []byte("hi"))
		cancel()
	case "link":
		err = p.Link(pid)
	case "monitor":
		_, err = p.Monitor(pid)
	case "lookup":
		if _, ok := p.WhereIs(arg); !ok {
			err = actor.ErrNameNotFound
		}
	case "block":
		a.entered <- struct{}{}
		<-a.release
		return nil
	case "grow":
		n, _ := strconv.Atoi(arg)
		a.state = append(a.state, make([]byte, n)...)
		return nil
	case "noop", "hi": // "hi" is what agents send each other
		return nil
	default:
		err = fmt.Errorf("agent: unknown command %q", cmd)
	}
	a.results <- err
	return nil
}

// agents is the catalog entry "agent"; every instance shares its
// channels.
type agents struct {
	results chan error
	entered chan struct{}
	release chan struct{}
}

func (e *env) registerAgents() *agents {
	ag := &agents{results: make(chan error, 64), entered: make(chan struct{}, 64), release: make(chan struct{})}
	err := e.cat.Register(actor.Entry{Name: "agent", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		return ag.newAgent(), nil
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	return ag
}

func (ag *agents) newAgent() *agent {
	return &agent{results: ag.results, entered: ag.entered, release: ag.release}
}

// sandboxEnv is a runtime with an unsandboxed neighbour tree "outside"
// (an echo registered as "svc", and a second echo "other") and a
// sandboxed tree "box" running one agent (child "a").
type sandboxEnv struct {
	*env
	ag *agents
}

func newSandboxEnv(t *testing.T, pol actor.SandboxPolicy, children ...spec.ChildSpec) *sandboxEnv {
	t.Helper()
	e := newEnv(t)
	ag := e.registerAgents()
	svc := worker("svc", "echo")
	svc.Name = "svc"
	e.apply(tree("outside", spec.OneForOne, svc, worker("other", "echo")))
	if len(children) == 0 {
		children = []spec.ChildSpec{worker("a", "agent")}
	}
	if err := e.rt.ApplySandbox(e.ctx, tree("box", spec.OneForOne, children...), pol); err != nil {
		t.Fatal(err)
	}
	return &sandboxEnv{env: e, ag: ag}
}

// neighbourServes asserts that the unsandboxed tree still answers a call.
func (s *sandboxEnv) neighbourServes() {
	s.t.Helper()
	if got := s.call(s.resolve("outside", "svc"), "ping"); got != "ping" {
		s.t.Fatalf("neighbour answered %q", got)
	}
}

// attempt makes the agent at path try cmd and returns the outcome.
func (s *sandboxEnv) attempt(path, cmd string) error {
	s.t.Helper()
	if err := s.rt.Cast(s.resolve("box", path), actor.Message{Body: []byte(cmd)}); err != nil {
		s.t.Fatalf("cast %q: %v", cmd, err)
	}
	return recv(s.t, s.ag.results)
}

func (s *sandboxEnv) violation(kind actor.SandboxViolationKind) actor.SandboxViolation {
	s.t.Helper()
	ev := actortest.AwaitEvent(s.t, s.sub, func(e actor.Event) bool {
		return e.Type == actor.EventSandboxViolation && e.Violation != nil && e.Violation.Kind == kind
	})
	return *ev.Violation
}

func (s *sandboxEnv) status() actor.SandboxStatus {
	s.t.Helper()
	st, err := s.rt.SandboxStatus("box")
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func crossed(st actor.SandboxStatus, pid actor.PID, op actor.BoundaryOp) bool {
	for _, c := range st.Crossings {
		if c.PID == pid && c.Op == op {
			return true
		}
	}
	return false
}

// The adversarial agent tries every kind of crossing at each isolation
// level. strict: the agent sees ErrBoundary (a lookup answers not found),
// a boundary violation names it, the op and the other end, and the agent
// is killed (sandbox_violation) and restarted by its supervisor; the
// target got nothing. moderate and permissive: the operation happens and
// the crossing is recorded, without a violation (the agent stays). In
// every case the neighbour keeps serving.
func TestSandboxBoundaryLevels(t *testing.T) {
	ops := []actor.BoundaryOp{actor.OpSend, actor.OpCast, actor.OpCall, actor.OpLink, actor.OpMonitor, actor.OpLookup}
	for _, level := range []actor.Isolation{actor.IsolationStrict, actor.IsolationModerate, actor.IsolationPermissive} {
		t.Run(string(level), func(t *testing.T) {
			s := newSandboxEnv(t, actor.SandboxPolicy{Isolation: level})
			svc := s.resolve("outside", "svc")
			for _, op := range ops {
				a := s.resolve("box", "a")
				arg := svc.String()
				if op == actor.OpLookup {
					arg = "svc"
				}
				err := s.attempt("a", string(op)+" "+arg)
				switch level {
				case actor.IsolationStrict:
					if op == actor.OpLookup {
						wantErr(t, err, actor.ErrNameNotFound)
					} else {
						wantErr(t, err, actor.ErrBoundary)
					}
					v := s.violation(actor.ViolationBoundary)
					if v.PID != a || v.Op != op || v.Other != svc || v.OtherTree != "outside" || v.Response != actor.ResponseKill {
						t.Fatalf("%s: violation %+v", op, v)
					}
					ex := s.await(actor.EventExited, a)
					if ex.Reason != actor.ReasonSandboxViolation {
						t.Fatalf("%s: agent exited with %q", op, ex.Reason)
					}
					s.awaitChild(actor.EventRestarted, "box", "a")
				default:
					if err != nil {
						t.Fatalf("%s at %s: %v", op, level, err)
					}
					if !crossed(s.status(), a, op) {
						t.Fatalf("%s at %s: crossing not recorded: %+v", op, level, s.status().Crossings)
					}
				}
				s.neighbourServes()
			}
			vs, err := s.rt.SandboxViolations("box")
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if level == actor.IsolationStrict {
				want = len(ops)
			}
			if len(vs) != want {
				t.Fatalf("%d violations kept, want %d: %v", len(vs), want, vs)
			}
			if level != actor.IsolationStrict {
				// The link and monitor took effect: svc's exit reaches the
				// agent (linked, not trapping: it dies with svc's reason).
				a := s.resolve("box", "a")
				s.rt.Kill(svc, actor.Kill)
				ex := s.await(actor.EventExited, a)
				if ex.Reason != actor.Killed {
					t.Fatalf("linked agent exited with %q", ex.Reason)
				}
			}
			s.valid()
		})
	}
}

// An outside process sending, calling, linking, monitoring or looking up
// a strict sandbox's process is blocked with ErrBoundary, and the
// violation is kept by the sandbox against its process; nobody is killed
// (the offender is not the sandbox's). Operator calls (the runtime's API)
// are the system's and pass. A spawn linked into the sandbox is refused.
func TestSandboxStrictInbound(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{Isolation: actor.IsolationStrict})
	inner := s.resolve("box", "a")
	out, err := s.rt.Spawn(s.ctx, actor.SpawnOptions{Behavior: "agent", Impl: s.ag.newAgent(), Name: "intruder"})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"send", "call", "link", "monitor"} {
		if err := s.rt.Cast(out, actor.Message{Body: []byte(op + " " + inner.String())}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, recv(t, s.ag.results), actor.ErrBoundary)
		v := s.violation(actor.ViolationBoundary)
		if v.PID != inner || v.Other != out || string(v.Op) != op {
			t.Fatalf("%s: violation %+v", op, v)
		}
	}
	if _, err := s.rt.Spawn(s.ctx, actor.SpawnOptions{Behavior: "agent", Impl: s.ag.newAgent(), Link: inner}); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("spawn linked into the sandbox: %v", err)
	}
	if got := s.call(inner, "noop"); got != "" {
		t.Fatalf("operator call answered %q", got)
	}
	if pi, err := s.rt.Process(inner); err != nil || pi.PID != inner {
		t.Fatalf("the sandboxed process is gone: %v", err)
	}
	s.neighbourServes()
	s.valid()
}

// The allow list: a strict sandbox reaches an allowed name and an allowed
// tree as if they were inside; anything else stays blocked.
func TestSandboxAllowList(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{Isolation: actor.IsolationStrict, AllowNames: []string{"svc"}})
	if err := s.attempt("a", "call "+s.resolve("outside", "svc").String()); err != nil {
		t.Fatalf("call to an allowed name: %v", err)
	}
	if err := s.attempt("a", "lookup svc"); err != nil {
		t.Fatalf("lookup of an allowed name: %v", err)
	}
	if err := s.attempt("a", "send "+s.resolve("outside", "other").String()); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("send to an unlisted process: %v", err)
	}
	s.violation(actor.ViolationBoundary)

	s2 := newSandboxEnv(t, actor.SandboxPolicy{Isolation: actor.IsolationStrict, AllowTrees: []string{"outside"}})
	if err := s2.attempt("a", "link "+s2.resolve("outside", "other").String()); err != nil {
		t.Fatalf("link into an allowed tree: %v", err)
	}
	if vs, _ := s2.rt.SandboxViolations("box"); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
}

// moderate: more than 5 distinct outside ends, or more than 2 outside
// links, per process per monitoring interval raise one violation each;
// the next interval starts the counts again.
func TestSandboxModerateThresholds(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{Isolation: actor.IsolationModerate, MonitorInterval: 5 * time.Second})
	var outside []actor.PID
	for i := 0; i < 7; i++ {
		p, err := s.rt.Spawn(s.ctx, actor.SpawnOptions{Behavior: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		outside = append(outside, p)
	}
	a := s.resolve("box", "a")
	round := func() {
		t.Helper()
		for _, p := range outside[:7] {
			if err := s.attempt("a", "send "+p.String()); err != nil {
				t.Fatal(err)
			}
		}
		v := s.violation(actor.ViolationOutsideTargets)
		if v.PID != a || v.Limit != actor.ModerateOutsideTargets || v.Value != actor.ModerateOutsideTargets+1 || v.Response != actor.ResponseLog {
			t.Fatalf("targets violation %+v", v)
		}
		for _, p := range outside[:3] {
			if err := s.attempt("a", "link "+p.String()); err != nil {
				t.Fatal(err)
			}
		}
		v = s.violation(actor.ViolationOutsideLinks)
		if v.PID != a || v.Limit != actor.ModerateOutsideLinks || v.Value != actor.ModerateOutsideLinks+1 {
			t.Fatalf("links violation %+v", v)
		}
	}
	round()
	if st := s.status(); st.Violations != 2 {
		t.Fatalf("%d violations after one interval, want 2 (one per kind)", st.Violations)
	}
	// Tracing turned up for the offender alone (the tree's tracing is
	// left off; see TestSandboxTraceUpPerProcess).
	if st := s.status(); len(st.TracedUp) != 1 || st.TracedUp[0].PID != a {
		t.Fatalf("tracing not turned up for %s: %+v", a, st.TracedUp)
	}
	s.clock.Advance(5 * time.Second)
	round()
	if st := s.status(); st.Violations != 4 {
		t.Fatalf("%d violations after two intervals, want 4", st.Violations)
	}
	if _, err := s.rt.Process(a); err != nil {
		t.Fatalf("a moderate violation took the process down: %v", err)
	}
	s.neighbourServes()
}

// A spawn bomb against max_processes: dynamic children start until the
// cap (the root supervisor counts), the next is refused with
// ErrTooManyProcesses as the spawner sees it, a violation is raised, and
// the neighbour serves.
func TestSandboxSpawnBomb(t *testing.T) {
	e := newEnv(t)
	e.registerAgents()
	e.apply(tree("outside", spec.OneForOne, func() spec.ChildSpec { c := worker("svc", "echo"); c.Name = "svc"; return c }()))
	tmpl := worker("bomb", "agent")
	tmpl.Restart = spec.Temporary
	if err := e.rt.ApplySandbox(e.ctx, tree("box", spec.SimpleOneForOne, tmpl), actor.SandboxPolicy{MaxProcesses: 5}); err != nil {
		t.Fatal(err)
	}
	s := &sandboxEnv{env: e}
	root, err := e.rt.Resolve(actor.Target{Tree: "box"})
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for i := 0; i < 100; i++ {
		_, err := e.rt.StartDynamicChild(e.ctx, root, nil)
		if err != nil {
			wantErr(t, err, actor.ErrTooManyProcesses)
			break
		}
		started++
	}
	if started != 4 {
		t.Fatalf("%d children started under max_processes 5 (root included), want 4", started)
	}
	v := s.violation(actor.ViolationProcesses)
	if v.Limit != 5 || v.Value != 6 {
		t.Fatalf("violation %+v", v)
	}
	if st := s.status(); st.Processes != 5 {
		t.Fatalf("status counts %d processes", st.Processes)
	}
	s.neighbourServes()
	e.valid()
}

// A restart past max_processes is a failed start. The tree (root, b, and
// a simple_one_for_one "pool") runs at its cap of 4 with one pool
// instance; while the root is suspended, b is killed and a second pool
// instance takes its slot; resumed, the root's restart of b is refused,
// reported as start_failed (and retried, counting against the
// intensity). A spec over the cap is refused whole.
func TestSandboxRestartPastCap(t *testing.T) {
	pool := sup("pool", spec.SimpleOneForOne, func() spec.ChildSpec { c := worker("w", "agent"); c.Restart = spec.Temporary; return c }())
	children := []spec.ChildSpec{worker("b", "agent"), pool}
	s := newSandboxEnv(t, actor.SandboxPolicy{MaxProcesses: 4}, children...)
	poolPID := s.resolve("box", "pool")
	if _, err := s.rt.StartDynamicChild(s.ctx, poolPID, nil); err != nil {
		t.Fatal(err)
	}
	root, err := s.rt.Resolve(actor.Target{Tree: "box"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Suspend(root); err != nil {
		t.Fatal(err)
	}
	s.rt.Kill(s.resolve("box", "b"), actor.Kill)
	if _, err := s.rt.StartDynamicChild(s.ctx, poolPID, nil); err != nil {
		t.Fatalf("the freed slot: %v", err)
	}
	if err := s.rt.Resume(root); err != nil {
		t.Fatal(err)
	}
	ev := s.awaitChild(actor.EventStartFailed, "box", "b")
	if !strings.Contains(string(ev.Reason), actor.ErrTooManyProcesses.Error()) {
		t.Fatalf("start_failed reason %q", ev.Reason)
	}
	if v := s.violation(actor.ViolationProcesses); v.Limit != 4 || v.Value != 5 {
		t.Fatalf("violation %+v", v)
	}
	s.neighbourServes()

	big := tree("box2", spec.OneForOne, worker("a", "agent"), worker("b", "agent"))
	err = s.rt.ApplySandbox(s.ctx, big, actor.SandboxPolicy{MaxProcesses: 2})
	wantErr(t, err, actor.ErrTooManyProcesses)
	wantErr(t, err, actor.ErrInvalidSpec)
	if _, err := s.rt.Tree("box2"); !errors.Is(err, actor.ErrTreeNotFound) {
		t.Fatalf("a refused sandbox left a tree: %v", err)
	}
}

// A flood against max_messages_per_second: within one second of the
// runtime's clock the first 100 messages are delivered and the rest are
// dropped with ErrRateLimited, counted, with one violation per window;
// the next second admits again. Nothing is queued past the rate.
func TestSandboxRateFlood(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{MaxMessagesPerSecond: 100})
	a := s.resolve("box", "a")
	sent, dropped := 0, 0
	for i := 0; i < 150; i++ {
		err := s.rt.Cast(a, actor.Message{Body: []byte("noop")})
		switch {
		case err == nil:
			sent++
		case errors.Is(err, actor.ErrRateLimited):
			dropped++
		default:
			t.Fatal(err)
		}
	}
	if sent != 100 || dropped != 50 {
		t.Fatalf("sent %d dropped %d, want 100 and 50", sent, dropped)
	}
	v := s.violation(actor.ViolationRate)
	if v.Limit != 100 || v.Value != 101 || v.PID != a {
		t.Fatalf("violation %+v", v)
	}
	st := s.status()
	if st.RateDropped != 50 || st.Violations != 1 {
		t.Fatalf("status: %d dropped, %d violations", st.RateDropped, st.Violations)
	}
	s.neighbourServes() // the neighbour's messages do not count
	s.clock.Advance(time.Second)
	if err := s.rt.Cast(a, actor.Message{Body: []byte("noop")}); err != nil {
		t.Fatalf("next second: %v", err)
	}
}

// A flood against max_mailbox: while the process is busy, 10 messages
// queue and the 11th is refused with ErrMailboxFull (dropped, never
// queued), counted, with a violation; the queue never holds more than 10.
func TestSandboxMailboxFlood(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{MaxMailbox: 10})
	a := s.resolve("box", "a")
	if err := s.rt.Cast(a, actor.Message{Body: []byte("block")}); err != nil {
		t.Fatal(err)
	}
	recv(t, s.ag.entered)
	refused := 0
	for i := 0; i < 50; i++ {
		if err := s.rt.Cast(a, actor.Message{Body: []byte("noop")}); err != nil {
			wantErr(t, err, actor.ErrMailboxFull)
			refused++
		}
	}
	if refused != 40 {
		t.Fatalf("%d refused, want 40", refused)
	}
	if n, err := s.rt.QueueLen(a); err != nil || n != 10 {
		t.Fatalf("queue %d (%v), want 10", n, err)
	}
	v := s.violation(actor.ViolationMailbox)
	if v.PID != a || v.Limit != 10 {
		t.Fatalf("violation %+v", v)
	}
	if st := s.status(); st.MailboxDropped != 40 || st.Violations != 1 {
		t.Fatalf("status: %d dropped, %d violations", st.MailboxDropped, st.Violations)
	}
	s.neighbourServes()
	close(s.ag.release)
}

// A slow callback over message_deadline: once the runtime's clock passes
// the deadline with the callback still running, the process is killed
// (reason message_deadline) and a violation names the limit and the time
// taken; a callback within the deadline is left alone. Native code cannot
// be interrupted: the goroutine runs on until the callback returns, and
// its effects are discarded.
func TestSandboxMessageDeadline(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{MessageDeadline: 100 * time.Millisecond})
	a := s.resolve("box", "a")
	if got := s.call(a, "noop"); got != "" {
		t.Fatal(got)
	}
	s.clock.Advance(time.Second) // a finished callback's deadline is disarmed
	if _, err := s.rt.Process(a); err != nil {
		t.Fatalf("a fast callback was killed: %v", err)
	}
	if err := s.rt.Cast(a, actor.Message{Body: []byte("block")}); err != nil {
		t.Fatal(err)
	}
	recv(t, s.ag.entered)
	s.clock.Advance(100 * time.Millisecond)
	v := s.violation(actor.ViolationDeadline)
	if v.PID != a || v.Limit != 100 || v.Value != 100 || v.Response != actor.ResponseKill {
		t.Fatalf("violation %+v", v)
	}
	ex := s.await(actor.EventExited, a)
	if ex.Reason != actor.ReasonMessageDeadline {
		t.Fatalf("exited with %q", ex.Reason)
	}
	s.neighbourServes() // while the slow callback still runs
	close(s.ag.release)
	s.awaitChild(actor.EventRestarted, "box", "a")
}

// A state growing past max_memory_bytes (as its Sizer reports it, after
// each message): under the budget nothing happens; past it a violation
// names the limit and the sandbox's total, and the response applies —
// kill_process restarts the process with its state gone, terminate_sandbox
// fails the tree, log leaves it running.
func TestSandboxMemoryBudget(t *testing.T) {
	for _, resp := range []actor.Response{actor.ResponseKill, actor.ResponseTerminate, actor.ResponseLog} {
		t.Run(string(resp), func(t *testing.T) {
			s := newSandboxEnv(t, actor.SandboxPolicy{MaxMemoryBytes: 1000, Response: resp})
			a := s.resolve("box", "a")
			s.call(a, "grow 600")
			// Accounted after the callback, once its reply is out.
			actortest.Eventually(t, "600 bytes accounted", func() bool { return s.status().MemoryBytes == 600 })
			if st := s.status(); st.Violations != 0 {
				t.Fatalf("under budget: %+v", st)
			}
			s.call(a, "grow 600")
			v := s.violation(actor.ViolationMemory)
			if v.PID != a || v.Limit != 1000 || v.Value != 1200 || v.Response != resp {
				t.Fatalf("violation %+v", v)
			}
			switch resp {
			case actor.ResponseKill:
				if ex := s.await(actor.EventExited, a); ex.Reason != actor.ReasonSandboxViolation {
					t.Fatalf("exited with %q", ex.Reason)
				}
				s.awaitChild(actor.EventRestarted, "box", "a")
				if st := s.status(); st.MemoryBytes != 0 {
					t.Fatalf("memory after the restart: %d", st.MemoryBytes)
				}
			case actor.ResponseTerminate:
				ev := actortest.AwaitEvent(t, s.sub, func(e actor.Event) bool { return e.Type == actor.EventTreeFailed && e.Tree == "box" })
				if ev.Reason != actor.ReasonSandboxViolation {
					t.Fatalf("tree failed with %q", ev.Reason)
				}
			case actor.ResponseLog:
				if _, err := s.rt.Process(a); err != nil {
					t.Fatalf("log response took the process down: %v", err)
				}
			}
			s.neighbourServes()
		})
	}
}

// Policies are validated with the field named; an unsandboxed running
// tree cannot become a sandbox in place; sandbox queries on an
// unsandboxed tree say so.
func TestSandboxPolicyValidation(t *testing.T) {
	for field, pol := range map[string]actor.SandboxPolicy{
		"isolation":        {Isolation: "loose"},
		"response":         {Response: "shrug"},
		"allow_names[0]":   {AllowNames: []string{"1bad"}},
		"allow_trees[0]":   {AllowTrees: []string{"a/b"}},
		"max_processes":    {MaxProcesses: -1},
		"message_deadline": {MessageDeadline: -time.Second},
	} {
		err := pol.Validate()
		if !errors.Is(err, actor.ErrBadSandbox) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	s := newSandboxEnv(t, actor.SandboxPolicy{})
	err := s.rt.ApplySandbox(s.ctx, tree("outside", spec.OneForOne, worker("svc", "echo")), actor.SandboxPolicy{})
	wantErr(t, err, actor.ErrNotSandboxed)
	_, err = s.rt.SandboxStatus("outside")
	wantErr(t, err, actor.ErrNotSandboxed)
	if st := s.status(); st.Policy.Isolation != actor.IsolationModerate || st.Policy.MonitorInterval != actor.DefaultMonitorInterval || st.Policy.Response != actor.ResponseKill {
		t.Fatalf("defaults: %+v", st.Policy)
	}
}

// A sandbox outlives updates and goes with its tree: ApplyTree on a
// sandboxed tree keeps its policy (a child added later is inside and
// checked), a remote PID is outside (refused by a strict sandbox before
// any routing), and StopTree removes the sandbox with the tree.
func TestSandboxLifecycle(t *testing.T) {
	s := newSandboxEnv(t, actor.SandboxPolicy{Isolation: actor.IsolationStrict, Response: actor.ResponseLog})
	if err := s.rt.ApplyTree(s.ctx, tree("box", spec.OneForOne, worker("a", "agent"), worker("late", "agent"))); err != nil {
		t.Fatal(err)
	}
	late := s.resolve("box", "late")
	if err := s.attempt("late", "send "+s.resolve("outside", "svc").String()); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("a child added by ApplyTree: %v", err)
	}
	if v := s.violation(actor.ViolationBoundary); v.PID != late || v.Response != actor.ResponseLog {
		t.Fatalf("violation %+v", v)
	}
	if err := s.attempt("a", "call "+s.resolve("box", "late").String()); err != nil {
		t.Fatalf("a call inside: %v", err)
	}
	if err := s.attempt("a", "send n2/7"); !errors.Is(err, actor.ErrBoundary) {
		t.Fatalf("send to a remote pid: %v", err)
	}
	if st := s.status(); st.Policy.Isolation != actor.IsolationStrict || st.Processes != 3 {
		t.Fatalf("status after the update: %+v", st)
	}
	if err := s.rt.StopTree(s.ctx, "box"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.rt.SandboxStatus("box"); !errors.Is(err, actor.ErrTreeNotFound) {
		t.Fatalf("status after StopTree: %v", err)
	}
	s.neighbourServes()
	s.valid()
}

// spammer crosses the boundary as fast as it can: each cast names a PID
// it sends to, links to and monitors 50 times, ignoring every error.
type spammer struct{ idle }

func (spammer) HandleCast(p actor.Proc, m actor.Message) error {
	to, err := actor.ParsePID(string(m.Body))
	if err != nil {
		return err
	}
	for i := 0; i < 50; i++ {
		_ = p.Send(to, []byte("x"))
		_ = p.Link(to)
		_, _ = p.Monitor(to)
	}
	return nil
}

// Many processes crossing at once, while they are killed and restarted:
// the sandbox's process count matches its tree's, the runtime's
// consistency checks pass, the ring stays bounded, and the neighbour
// serves throughout.
func TestSandboxConcurrentCrossings(t *testing.T) {
	for _, level := range []actor.Isolation{actor.IsolationStrict, actor.IsolationModerate} {
		t.Run(string(level), func(t *testing.T) {
			e := newEnv(t)
			if err := e.cat.Register(actor.Entry{Name: "spammer", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
				return spammer{}, nil
			}}); err != nil {
				t.Fatal(err)
			}
			s := &sandboxEnv{env: e}
			svc := worker("svc", "echo")
			svc.Name = "svc"
			e.apply(tree("outside", spec.OneForOne, svc))
			var kids []spec.ChildSpec
			for i := 0; i < 8; i++ {
				kids = append(kids, worker(fmt.Sprintf("s%d", i), "spammer"))
			}
			box := tree("box", spec.OneForOne, kids...)
			box.MaxRestarts = 1000
			if err := e.rt.ApplySandbox(e.ctx, box, actor.SandboxPolicy{Isolation: level}); err != nil {
				t.Fatal(err)
			}
			target := []byte(s.resolve("outside", "svc").String())
			for round := 0; round < 20; round++ {
				for i := range kids {
					pid, err := e.rt.Resolve(actor.Target{Tree: "box", Path: kids[i].ID})
					if err != nil {
						continue // between its death and its restart
					}
					_ = e.rt.Cast(pid, actor.Message{Body: target})
				}
				s.neighbourServes()
			}
			if level == actor.IsolationStrict {
				// The casts are handled asynchronously: wait for the
				// spammers to have crossed (and been refused) at least once.
				actortest.Eventually(t, "a boundary violation", func() bool { return s.status().Violations > 0 })
			}
			actortest.Eventually(t, "sandbox count = tree count", func() bool {
				ti, err := e.rt.Tree("box")
				st := s.status()
				return err == nil && st.Processes == int64(ti.Processes) && ti.Processes == len(kids)+1
			})
			// The spammers go on: the ring first, then the count, which
			// only grows, so the ring never holds more than it counts.
			vs, _ := e.rt.SandboxViolations("box")
			st := s.status()
			if len(vs) > actor.SandboxViolationRing || uint64(len(vs)) > st.Violations {
				t.Fatalf("%d kept of %d", len(vs), st.Violations)
			}
			if level == actor.IsolationStrict && st.Violations == 0 {
				t.Fatal("no violation recorded")
			}
			s.valid()
			s.neighbourServes()
		})
	}
}
