package actor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
)

func TestPIDStringAndParse(t *testing.T) {
	p := actor.PID{Node: "n1", Seq: 42}
	if p.String() != "n1/42" {
		t.Fatalf("String %q", p.String())
	}
	q, err := actor.ParsePID("n1/42")
	if err != nil || q != p {
		t.Fatalf("ParsePID = %v, %v", q, err)
	}
	for _, bad := range []string{"", "n1", "/4", "n1/", "n1/x", "n1/0", "n1/-3"} {
		if _, err := actor.ParsePID(bad); !errors.Is(err, actor.ErrBadPID) {
			t.Errorf("ParsePID(%q) = %v, want ErrBadPID", bad, err)
		}
	}
	b, _ := json.Marshal(struct{ P actor.PID }{p})
	if string(b) != `{"P":"n1/42"}` {
		t.Fatalf("json %s", b)
	}
}

func TestSendCastCallAndCounters(t *testing.T) {
	e := newEnv(t)
	c := e.spawn("counter", map[string]string{"start": "10"})
	e.cast(c, "inc")
	e.cast(c, "inc 5")
	if err := e.rt.Send(c, actor.Message{Body: []byte("anything")}); err != nil {
		t.Fatal(err)
	}
	if got := e.call(c, "get"); got != "17" {
		t.Fatalf("count = %s, want 17", got)
	}
	// A process sending counts as messages out, and the receiver's in.
	echo := e.spawn("echo", nil)
	probeP := newProbe()
	pp, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "probe", Impl: probeP})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Cast(echo, actor.Message{From: pp, Body: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	m := recv(t, probeP.got)
	if m.Kind != actor.KindInfo || m.From != echo || string(m.Body) != "hello" {
		t.Fatalf("echo back = %+v", m)
	}
	info, _ := e.rt.Process(echo)
	if info.MessagesIn != 1 || info.MessagesOut != 1 {
		t.Fatalf("echo in/out = %d/%d, want 1/1", info.MessagesIn, info.MessagesOut)
	}
	ci, _ := e.rt.Process(c)
	if ci.MessagesIn != 4 || ci.Behavior != "counter" || ci.Version != "1" || ci.Status != actor.StatusRunning {
		t.Fatalf("counter info %+v", ci)
	}
}

func TestCallAndSendErrors(t *testing.T) {
	e := newEnv(t)
	c := e.spawn("counter", nil)

	unknown := actor.PID{Node: "n1", Seq: 9999}
	_, err := e.rt.Call(e.ctx, unknown, actor.Message{Body: []byte("get")})
	wantErr(t, err, actor.ErrUnknownPID)
	wantErr(t, e.rt.SendChecked(unknown, actor.Message{}), actor.ErrUnknownPID)

	// Refused: the caller gets an error, the process lives on.
	_, err = e.rt.Call(e.ctx, c, actor.Message{Body: []byte("frobnicate")})
	wantErr(t, err, actor.ErrRefused)
	if got := e.call(c, "get"); got != "0" {
		t.Fatalf("after refusal count = %s", got)
	}

	if err := e.rt.Kill(c, "test"); err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.Call(e.ctx, c, actor.Message{Body: []byte("get")})
	wantErr(t, err, actor.ErrNoProc)
	wantErr(t, e.rt.SendChecked(c, actor.Message{}), actor.ErrNoProc)
	wantErr(t, e.rt.Kill(c, ""), actor.ErrNoProc)

	// Plain Send to dead and unknown PIDs is dropped, as in OTP, and counted.
	before := e.rt.Stats().DroppedSends
	if err := e.rt.Send(c, actor.Message{}); err != nil {
		t.Fatalf("send to dead pid: %v", err)
	}
	if err := e.rt.Send(unknown, actor.Message{}); err != nil {
		t.Fatalf("send to unknown pid: %v", err)
	}
	if got := e.rt.Stats().DroppedSends - before; got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}

	wantErr(t, e.rt.Send(c, actor.Message{Kind: actor.KindCall}), actor.ErrBadKind)
	wantErr(t, e.rt.Send(actor.PID{Node: "n2", Seq: 1}, actor.Message{}), actor.ErrNoRoute)
	_, err = e.rt.Call(e.ctx, actor.PID{}, actor.Message{})
	wantErr(t, err, actor.ErrUnknownPID)
	wantErr(t, e.rt.SendName("nobody", actor.Message{}), actor.ErrNameNotFound)
}

func TestCallTimeoutAndDeathDuringCall(t *testing.T) {
	e := newEnv(t)
	c := e.spawn("counter", nil)
	if err := e.rt.Suspend(c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	_, err := e.rt.Call(ctx, c, actor.Message{Body: []byte("get")})
	wantErr(t, err, actor.ErrCallTimeout)
	wantErr(t, err, context.DeadlineExceeded)

	// Without a deadline the default call timeout applies, on the
	// runtime's clock.
	done := make(chan error, 1)
	go func() {
		_, err := e.rt.Call(context.Background(), c, actor.Message{Body: []byte("get")})
		done <- err
	}()
	if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(actor.DefaultCallTimeout)
	wantErr(t, recv(t, done), actor.ErrCallTimeout)

	// A target dying while the caller waits gives ErrNoProc with its
	// reason.
	go func() {
		_, err := e.rt.Call(e.ctx, c, actor.Message{Body: []byte("get")})
		done <- err
	}()
	actortest.Eventually(t, "call queued", func() bool { n, _ := e.rt.QueueLen(c); return n == 3 })
	if err := e.rt.Kill(c, "boom"); err != nil {
		t.Fatal(err)
	}
	err = recv(t, done)
	wantErr(t, err, actor.ErrNoProc)
	if !bytes.Contains([]byte(err.Error()), []byte("boom")) {
		t.Fatalf("error %q does not carry the reason", err)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.MaxMessageBytes = 64 })
	c := e.spawn("echo", nil)
	big := make([]byte, 65)
	wantErr(t, e.rt.Send(c, actor.Message{Body: big}), actor.ErrMessageTooLarge)
	_, err := e.rt.Call(e.ctx, c, actor.Message{Body: big})
	wantErr(t, err, actor.ErrMessageTooLarge)
	wantErr(t, e.rt.ReplaceState(e.ctx, c, big), actor.ErrMessageTooLarge)
	if got := e.call(c, string(big[:64])); len(got) != 64 {
		t.Fatalf("64-byte call echoed %d bytes", len(got))
	}
}

func TestMailboxLimit(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.MailboxLimit = 3 })
	c := e.spawn("counter", nil)
	if err := e.rt.Suspend(c); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		e.cast(c, "inc")
	}
	wantErr(t, e.rt.Cast(c, actor.Message{Body: []byte("inc")}), actor.ErrMailboxFull)
	_, err := e.rt.Call(e.ctx, c, actor.Message{Body: []byte("get")})
	wantErr(t, err, actor.ErrMailboxFull)
	// Monitors' DOWN messages are never refused.
	w := e.spawn("counter", nil)
	if _, err := e.rt.Monitor(c, w); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Kill(w, "x"); err != nil {
		t.Fatal(err)
	}
	actortest.Eventually(t, "DOWN queued", func() bool { n, _ := e.rt.QueueLen(c); return n == 4 })
	if err := e.rt.Resume(c); err != nil {
		t.Fatal(err)
	}
	actortest.Eventually(t, "queue drained", func() bool { n, _ := e.rt.QueueLen(c); return n == 0 })
	if got := e.call(c, "get"); got != "3" {
		t.Fatalf("count %s, want 3 (the DOWN is not counted)", got)
	}
}

func TestSuspendResumeKeepsEveryMessageInOrder(t *testing.T) {
	e := newEnv(t)
	pr := newProbe()
	p, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "probe", Impl: pr})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Suspend(p); err != nil {
		t.Fatal(err)
	}
	e.await(actor.EventSuspended, p)
	const n = 500
	for i := 0; i < n; i++ {
		kind := actor.KindInfo
		if i%2 == 1 {
			kind = actor.KindCast
		}
		if err := e.rt.Send(p, actor.Message{Kind: kind, Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing is handled while suspended, and peeking consumes nothing.
	peek, err := e.rt.Peek(p, 3)
	if err != nil || len(peek) != 3 || string(peek[0].Body) != "0" || string(peek[2].Body) != "2" || peek[1].Kind != actor.KindCast {
		t.Fatalf("peek = %+v, %v", peek, err)
	}
	info, _ := e.rt.Process(p)
	if info.QueueLen != n || info.Status != actor.StatusSuspended {
		t.Fatalf("queue %d status %s", info.QueueLen, info.Status)
	}
	select {
	case m := <-pr.got:
		t.Fatalf("suspended process handled %q", m.Body)
	default:
	}
	// System requests still work while suspended.
	if _, err := e.rt.GetState(e.ctx, p); err != nil {
		t.Fatalf("get_state while suspended: %v", err)
	}
	if err := e.rt.Resume(p); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if m := recv(t, pr.got); string(m.Body) != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, m.Body)
		}
	}
	e.await(actor.EventResumed, p)
}

func TestGetAndReplaceState(t *testing.T) {
	e := newEnv(t)
	c := e.spawn("counter", nil)
	e.cast(c, "inc 3")
	st, err := e.rt.GetState(e.ctx, c)
	if err != nil || string(st) != `{"count":3,"messages":1}` {
		t.Fatalf("state %s, %v", st, err)
	}
	if err := e.rt.ReplaceState(e.ctx, c, []byte(`{"count":42}`)); err != nil {
		t.Fatal(err)
	}
	e.await(actor.EventStateReplaced, c)
	if got := e.call(c, "get"); got != "42" {
		t.Fatalf("after replace count %s", got)
	}
	// A state the behavior rejects leaves the old one.
	if err := e.rt.ReplaceState(e.ctx, c, []byte(`{"nope":1}`)); err == nil {
		t.Fatal("bad state accepted")
	}
	if got := e.call(c, "get"); got != "42" {
		t.Fatalf("after rejected replace count %s", got)
	}
	k := e.spawn("kv", nil)
	if err := e.rt.ReplaceState(e.ctx, k, []byte(`{"data":{"a":"1"}}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.call(k, "get a"); got != "1" {
		t.Fatalf("kv after replace: %s", got)
	}
}

func TestCrashAndPanicReasons(t *testing.T) {
	e := newEnv(t)
	watcher := newProbe()
	w, _ := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "probe", Impl: watcher})
	pan := &panicker{}
	p, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "panicker", Impl: pan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Monitor(w, p); err != nil {
		t.Fatal(err)
	}
	e.cast(p, "x")
	m := recv(t, watcher.got)
	if m.Kind != actor.KindDown || m.From != p || string(m.Body) != "panic: boom" {
		t.Fatalf("DOWN %+v %q", m, m.Body)
	}
	ev := e.await(actor.EventExited, p)
	if ev.Reason != "panic: boom" {
		t.Fatalf("exit reason %q", ev.Reason)
	}
	// Init failure is a start error carrying the reason.
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "crasher", Args: map[string]string{"crash_in_init": "true", "reason": "nope"}})
	wantErr(t, err, actor.ErrStartFailed)
	if !bytes.Contains([]byte(err.Error()), []byte("nope")) {
		t.Fatalf("start error %q", err)
	}
}

type panicker struct{ probe }

func (*panicker) HandleCast(actor.Proc, actor.Message) error { panic("boom") }
func (*panicker) Init(actor.Proc) error                      { return nil }
func (*panicker) Terminate(actor.Proc, actor.Reason)         {}

func TestRegisteredNames(t *testing.T) {
	e := newEnv(t)
	pid, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Name: "hits"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e.rt.WhereIs("hits"); !ok || got != pid {
		t.Fatalf("whereis = %v %v", got, ok)
	}
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Name: "hits"})
	wantErr(t, err, actor.ErrNameTaken)
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Name: "bad name"})
	wantErr(t, err, actor.ErrBadName)
	if err := e.rt.SendName("hits", actor.Message{Kind: actor.KindCast, Body: []byte("inc")}); err != nil {
		t.Fatal(err)
	}
	if got := e.call(pid, "get"); got != "1" {
		t.Fatalf("count %s", got)
	}
	other := e.spawn("counter", nil)
	wantErr(t, e.rt.Register("hits", other), actor.ErrNameTaken)
	if err := e.rt.Register("other", other); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.rt.Register("again", other), actor.ErrNameTaken)
	if err := e.rt.Unregister("other"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.rt.Unregister("other"), actor.ErrNameNotFound)
	if info, _ := e.rt.Process(other); info.RegisteredName != "" {
		t.Fatalf("unregistered process still named %q", info.RegisteredName)
	}
	// Exit releases the name at once.
	if err := e.rt.Kill(pid, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.rt.WhereIs("hits"); ok {
		t.Fatal("name still resolves after exit")
	}
	if err := e.rt.Register("hits", other); err != nil {
		t.Fatalf("re-register freed name: %v", err)
	}
	if names := e.rt.RegisteredNames(); len(names) != 1 || names[0].PID != other {
		t.Fatalf("names %+v", names)
	}
	e.valid()
}

func TestCodeChange(t *testing.T) {
	e := newEnv(t)
	var gotOld string
	registerCounterV2(t, e, &gotOld)
	c := e.spawn("counter", nil)
	e.cast(c, "inc 7")
	if _, err := e.rt.ChangeCode(e.ctx, c, "counter2"); err != nil {
		t.Fatal(err)
	}
	ev := e.await(actor.EventCodeChanged, c)
	if gotOld != "1" || ev.Detail != "counter@1 -> counter2@2" {
		t.Fatalf("old version %q, detail %q", gotOld, ev.Detail)
	}
	if got := e.call(c, "get"); got != "v2:7" {
		t.Fatalf("after code change: %s", got)
	}
	info, _ := e.rt.Process(c)
	if info.Behavior != "counter2" || info.Version != "2" {
		t.Fatalf("info %s@%s", info.Behavior, info.Version)
	}
	_, err := e.rt.ChangeCode(e.ctx, c, "nope")
	wantErr(t, err, actor.ErrUnknownBehavior)
}

// ChangeCodeFrom changes only a process still on the behavior it names:
// decided on an older view, it never converts a state twice.
func TestChangeCodeFrom(t *testing.T) {
	e := newEnv(t)
	var gotOld string
	registerCounterV2(t, e, &gotOld)
	c := e.spawn("counter", nil)
	e.cast(c, "inc 3")
	_, err := e.rt.ChangeCodeFrom(e.ctx, c, "counter2", "counter2")
	wantErr(t, err, actor.ErrCodeMoved)
	if info, _ := e.rt.Process(c); info.Behavior != "counter" || gotOld != "" {
		t.Fatalf("refused change ran: behavior %s, code_change from %q", info.Behavior, gotOld)
	}
	_, err = e.rt.ChangeCodeFrom(e.ctx, c, "", "counter2")
	wantErr(t, err, actor.ErrBadArgs)
	if _, err := e.rt.ChangeCodeFrom(e.ctx, c, "counter", "counter2"); err != nil {
		t.Fatal(err)
	}
	if got := e.call(c, "get"); got != "v2:3" || gotOld != "1" {
		t.Fatalf("after the change: %s (from %q)", got, gotOld)
	}
	// The same decision again, now stale: refused, the state untouched.
	gotOld = ""
	_, err = e.rt.ChangeCodeFrom(e.ctx, c, "counter", "counter2")
	wantErr(t, err, actor.ErrCodeMoved)
	if got := e.call(c, "get"); got != "v2:3" || gotOld != "" {
		t.Fatalf("after a stale change: %s (code_change from %q)", got, gotOld)
	}
}

// registerCounterV2 adds "counter2", version 2 of the counter, whose
// CodeChange records the version it came from in *from.
func registerCounterV2(t *testing.T, e *env, from *string) {
	t.Helper()
	if err := e.cat.Register(actor.Entry{Name: "counter2", Version: "2", New: func(a map[string]string) (actor.Behavior, error) {
		return &counterV2{probe: *newProbe(), oldVersion: from}, nil
	}}); err != nil {
		t.Fatal(err)
	}
}

type counterV2 struct {
	probe
	oldVersion *string
	count      int
}

func (c *counterV2) CodeChange(old string, st []byte) error {
	*c.oldVersion = old
	var s struct{ Count int }
	if err := json.Unmarshal(st, &s); err != nil {
		return err
	}
	c.count = s.Count
	return nil
}

func (c *counterV2) HandleCall(actor.Proc, actor.Message) ([]byte, error) {
	return []byte(fmt.Sprintf("v2:%d", c.count)), nil
}

func TestSpawnErrorsAndLimits(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.MaxProcesses = 2 })
	_, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "nope"})
	wantErr(t, err, actor.ErrUnknownBehavior)
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Args: map[string]string{"start": "-1"}})
	wantErr(t, err, actor.ErrBadArgs)
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Args: map[string]string{"strat": "1"}})
	wantErr(t, err, actor.ErrBadArgs)
	e.spawn("counter", nil)
	e.spawn("counter", nil)
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter"})
	wantErr(t, err, actor.ErrTooManyProcesses)
	if n := e.rt.ProcessCount(); n != 2 {
		t.Fatalf("count %d", n)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := actor.DefaultConfig()
	_, err := actor.New(cfg)
	wantErr(t, err, actor.ErrBadConfig)
	cfg.NodeName = "n1"
	cfg.MailboxLimit = 0
	_, err = actor.New(cfg)
	wantErr(t, err, actor.ErrBadConfig)
	if !bytes.Contains([]byte(err.Error()), []byte("MailboxLimit")) {
		t.Fatalf("error does not name the field: %v", err)
	}
}

func TestShutdownStopsEverything(t *testing.T) {
	e := newEnv(t)
	e.spawn("counter", nil)
	e.apply(tree("t", "", worker("a", "counter")))
	if err := e.rt.Shutdown(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.rt.ProcessCount(); n != 0 {
		t.Fatalf("%d processes after shutdown", n)
	}
	_, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter"})
	wantErr(t, err, actor.ErrStopped)
}

// gated records casts; a cast "gate" blocks until the gate opens, and a
// cast "suspend" suspends the process from inside its own handler.
type gated struct {
	probe
	rt   *actor.Runtime
	gate chan struct{}
	seen []string
}

func (g *gated) HandleCast(p actor.Proc, m actor.Message) error {
	switch string(m.Body) {
	case "gate":
		<-g.gate
	case "suspend":
		if err := g.rt.Suspend(p.Self()); err != nil {
			return err
		}
	}
	g.seen = append(g.seen, string(m.Body))
	g.got <- m
	return nil
}

func (g *gated) ExportState() ([]byte, error) { return json.Marshal(g.seen) }

// Messages queued together are taken as one batch; a suspension in the
// middle of it holds the rest back, visible to Peek and QueueLen.
func TestSuspendInTheMiddleOfABatch(t *testing.T) {
	e := newEnv(t)
	g := &gated{probe: *newProbe(), rt: e.rt, gate: make(chan struct{})}
	pid, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "gated", Impl: g})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Suspend(pid); err != nil {
		t.Fatal(err)
	}
	bodies := []string{"1", "2", "suspend", "4", "5", "6"}
	for _, b := range bodies {
		e.cast(pid, b)
	}
	if err := e.rt.Resume(pid); err != nil {
		t.Fatal(err)
	}
	for _, want := range bodies[:3] {
		if m := recv(t, g.got); string(m.Body) != want {
			t.Fatalf("got %q, want %q", m.Body, want)
		}
	}
	actortest.Eventually(t, "suspended again", func() bool {
		info, _ := e.rt.Process(pid)
		return info.Status == actor.StatusSuspended
	})
	if n, _ := e.rt.QueueLen(pid); n != 3 {
		t.Fatalf("queue %d after self-suspension, want 3", n)
	}
	e.cast(pid, "7")
	peek, _ := e.rt.Peek(pid, 0)
	var got []string
	for _, m := range peek {
		got = append(got, string(m.Body))
	}
	if !sameStrings(got, []string{"4", "5", "6", "7"}) {
		t.Fatalf("peek %v", got)
	}
	select {
	case m := <-g.got:
		t.Fatalf("handled %q while suspended", m.Body)
	default:
	}
	if err := e.rt.Resume(pid); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4", "5", "6", "7"} {
		if m := recv(t, g.got); string(m.Body) != want {
			t.Fatalf("got %q, want %q", m.Body, want)
		}
	}
}

// A system request queued behind messages is served after them, whether
// those messages are still queued or already taken as a batch.
func TestSystemRequestWaitsForEarlierMessages(t *testing.T) {
	e := newEnv(t)
	g := &gated{probe: *newProbe(), rt: e.rt, gate: make(chan struct{})}
	pid, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "gated", Impl: g})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Suspend(pid); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"gate", "a", "b"} {
		e.cast(pid, b)
	}
	if err := e.rt.Resume(pid); err != nil {
		t.Fatal(err)
	}
	// "gate", "a", "b" are now one batch; the process is blocked in the
	// first. Queue more, then ask for the state.
	actortest.Eventually(t, "batch taken", func() bool {
		info, _ := e.rt.Process(pid)
		return info.QueueLen == 2
	})
	e.cast(pid, "c")
	state := make(chan string, 1)
	go func() {
		st, err := e.rt.GetState(e.ctx, pid)
		if err != nil {
			state <- err.Error()
			return
		}
		state <- string(st)
	}()
	actortest.Eventually(t, "get_state queued", func() bool { return actor.SysQueueLen(e.rt, pid) == 1 })
	e.cast(pid, "d")
	close(g.gate)
	if got := recv(t, state); got != `["gate","a","b","c"]` {
		t.Fatalf("state %s: the request overtook or lagged behind messages", got)
	}
}

// busyHolder blocks in HandleCast on "hold" until released.
type busyHolder struct {
	probe
	entered, release chan struct{}
}

func (h *busyHolder) HandleCast(_ actor.Proc, m actor.Message) error {
	if string(m.Body) == "hold" {
		h.entered <- struct{}{}
		<-h.release
	}
	return nil
}

// A code change whose process is busy past the suspend timeout fails with
// ErrSuspendTimeout and never runs: when the process gets to it, it skips
// it and keeps its code (OTP's sys:suspend timing out).
func TestCodeChangeSuspendTimeout(t *testing.T) {
	e := newEnv(t)
	h := &busyHolder{probe: *newProbe(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	if err := e.cat.Register(actor.Entry{Name: "holder", Version: "1", New: func(map[string]string) (actor.Behavior, error) { return h, nil }}); err != nil {
		t.Fatal(err)
	}
	if err := e.cat.Register(actor.Entry{Name: "counter2", Version: "2", New: func(map[string]string) (actor.Behavior, error) {
		return &counterV2{probe: *newProbe(), oldVersion: new(string)}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	p := e.spawn("holder", nil)
	e.cast(p, "hold")
	<-h.entered
	timers := e.clock.Pending()
	errc := make(chan error, 1)
	go func() {
		_, err := e.rt.ChangeCode(e.ctx, p, "counter2")
		errc <- err
	}()
	if err := e.clock.WaitForTimers(e.ctx, timers+1); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(actor.DefaultSuspendTimeout)
	wantErr(t, <-errc, actor.ErrSuspendTimeout)
	close(h.release)
	e.call(p, "ping") // served after the abandoned change
	if info, err := e.rt.Process(p); err != nil || info.Behavior != "holder" {
		t.Fatalf("after an abandoned code change: %+v (%v), want holder", info, err)
	}
	for drained := false; !drained; {
		select {
		case ev := <-e.sub.C:
			if ev.Type == actor.EventCodeChanged {
				t.Fatalf("an abandoned code change ran: %+v", ev)
			}
		default:
			drained = true
		}
	}
}
