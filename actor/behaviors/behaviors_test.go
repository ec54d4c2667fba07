package behaviors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
)

func newRT(t *testing.T) (*actor.Runtime, *actortest.ManualClock, context.Context) {
	t.Helper()
	clock := actortest.NewManualClock(time.Time{})
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = clock
	cfg.Catalog = behaviors.NewCatalog()
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return rt, clock, actortest.Context(t)
}

func spawn(t *testing.T, rt *actor.Runtime, ctx context.Context, name string, args map[string]string) actor.PID {
	t.Helper()
	pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: name, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func call(t *testing.T, rt *actor.Runtime, ctx context.Context, pid actor.PID, body string) (string, error) {
	t.Helper()
	b, err := rt.Call(ctx, pid, actor.Message{Body: []byte(body)})
	return string(b), err
}

func mustCall(t *testing.T, rt *actor.Runtime, ctx context.Context, pid actor.PID, body string) string {
	t.Helper()
	s, err := call(t, rt, ctx, pid, body)
	if err != nil {
		t.Fatalf("call %q: %v", body, err)
	}
	return s
}

func TestCatalog(t *testing.T) {
	c := behaviors.NewCatalog()
	if got := strings.Join(c.Names(), ","); got != "counter,crasher,echo,flaky_start,gate,gated_start,ignore_start,kv,slow_start,slow_stop,stubborn,ticker" {
		t.Fatalf("names %s", got)
	}
	if err := behaviors.Register(c); !errors.Is(err, actor.ErrDuplicateBehavior) {
		t.Fatalf("second register: %v", err)
	}
	_, err := c.Lookup("nope")
	if !errors.Is(err, actor.ErrUnknownBehavior) || !strings.Contains(err.Error(), "counter, crasher") {
		t.Fatalf("lookup error %v", err)
	}
	e, err := c.Lookup("kv")
	if err != nil || e.Version != behaviors.Version {
		t.Fatalf("kv entry %+v %v", e, err)
	}
}

func TestArgsValidation(t *testing.T) {
	cases := []struct {
		behavior string
		args     map[string]string
		ok       bool
	}{
		{"counter", nil, true},
		{"counter", map[string]string{"start": "5"}, true},
		{"counter", map[string]string{"start": "-1"}, false},
		{"counter", map[string]string{"start": "x"}, false},
		{"counter", map[string]string{"begin": "1"}, false},
		{"kv", map[string]string{"max_keys": "0"}, false},
		{"kv", map[string]string{"max_keys": "10"}, true},
		{"echo", map[string]string{"prefix": ">"}, true},
		{"echo", map[string]string{"suffix": ">"}, false},
		{"ticker", map[string]string{"target": "sink", "interval": "1s"}, true},
		{"ticker", map[string]string{"interval": "1s"}, false},
		{"ticker", map[string]string{"target": "sink"}, false},
		{"ticker", map[string]string{"target": "sink", "interval": "0s"}, false},
		{"ticker", map[string]string{"target": "sink", "interval": "1s", "mode": "shout"}, false},
		{"ticker", map[string]string{"target": "n1/3", "interval": "1s", "mode": "send", "count": "2"}, true},
		{"crasher", map[string]string{"crash_after": "0"}, false},
		{"crasher", map[string]string{"crash_in_init": "maybe"}, false},
		{"crasher", map[string]string{"reason": ""}, false},
		{"crasher", map[string]string{"crash_after": "3", "reason": "r", "trap_exit": "true"}, true},
	}
	c := behaviors.NewCatalog()
	for _, tc := range cases {
		e, _ := c.Lookup(tc.behavior)
		_, err := e.New(tc.args)
		if tc.ok != (err == nil) {
			t.Errorf("%s %v: err %v, want ok=%t", tc.behavior, tc.args, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, actor.ErrBadArgs) || !strings.Contains(err.Error(), tc.behavior)) {
			t.Errorf("%s %v: error %q does not wrap ErrBadArgs or name the behavior", tc.behavior, tc.args, err)
		}
	}
}

func TestCounter(t *testing.T) {
	rt, _, ctx := newRT(t)
	c := spawn(t, rt, ctx, "counter", map[string]string{"start": "2"})
	for _, b := range []string{"inc", "inc 3", "hello"} {
		if err := rt.Cast(c, actor.Message{Body: []byte(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustCall(t, rt, ctx, c, "get"); got != "7" {
		t.Fatalf("count %s", got)
	}
	if got := mustCall(t, rt, ctx, c, "inc 10"); got != "17" {
		t.Fatalf("inc call %s", got)
	}
	if _, err := call(t, rt, ctx, c, "inc ten"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("bad inc: %v", err)
	}
	st, _ := rt.GetState(ctx, c)
	if string(st) != `{"count":17,"messages":6}` {
		t.Fatalf("state %s", st)
	}
	if got := mustCall(t, rt, ctx, c, "reset"); got != "0" {
		t.Fatalf("reset %s", got)
	}
	if err := rt.ReplaceState(ctx, c, []byte(`{"messages":3}`)); err == nil {
		t.Fatal("state without count accepted")
	}
}

func TestKV(t *testing.T) {
	rt, _, ctx := newRT(t)
	k := spawn(t, rt, ctx, "kv", map[string]string{"max_keys": "2"})
	mustCall(t, rt, ctx, k, "put a hello world")
	if err := rt.Cast(k, actor.Message{Body: []byte("put b 2")}); err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, rt, ctx, k, "get a"); got != "hello world" {
		t.Fatalf("get a = %q", got)
	}
	if _, err := call(t, rt, ctx, k, "put c 3"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("put past max_keys: %v", err)
	}
	if got := mustCall(t, rt, ctx, k, "keys"); got != "a\nb" {
		t.Fatalf("keys %q", got)
	}
	mustCall(t, rt, ctx, k, "del a")
	if _, err := call(t, rt, ctx, k, "get a"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("get deleted: %v", err)
	}
	if got := mustCall(t, rt, ctx, k, "size"); got != "1" {
		t.Fatalf("size %s", got)
	}
	st, _ := rt.GetState(ctx, k)
	if string(st) != `{"data":{"b":"2"}}` {
		t.Fatalf("state %s", st)
	}
	if err := rt.ReplaceState(ctx, k, []byte(`{"data":{"x":"1","y":"2","z":"3"}}`)); err == nil {
		t.Fatal("state past max_keys accepted")
	}
	if _, err := call(t, rt, ctx, k, "frob"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestEcho(t *testing.T) {
	rt, _, ctx := newRT(t)
	e := spawn(t, rt, ctx, "echo", map[string]string{"prefix": "> "})
	if got := mustCall(t, rt, ctx, e, "hi"); got != "> hi" {
		t.Fatalf("echo %q", got)
	}
	sink := spawn(t, rt, ctx, "counter", nil)
	if err := rt.Cast(e, actor.Message{From: sink, Body: []byte("inc 4")}); err != nil {
		t.Fatal(err)
	}
	// The echoed "> inc 4" is not an inc command: it counts one.
	actortest.Eventually(t, "echo reached the sink", func() bool {
		got, _ := call(t, rt, ctx, sink, "get")
		return got == "1"
	})
	st, _ := rt.GetState(ctx, e)
	if string(st) != `{"echoed":2}` {
		t.Fatalf("state %s", st)
	}
}

func TestCrasher(t *testing.T) {
	rt, _, ctx := newRT(t)
	sub := rt.Subscribe(64)
	defer sub.Close()
	c := spawn(t, rt, ctx, "crasher", map[string]string{"crash_after": "3", "reason": "third"})
	if got := mustCall(t, rt, ctx, c, "ping"); got != "pong" {
		t.Fatalf("ping %q", got)
	}
	if got := mustCall(t, rt, ctx, c, "count"); got != "2" {
		t.Fatalf("count %q", got)
	}
	_, err := call(t, rt, ctx, c, "ping")
	if !errors.Is(err, actor.ErrNoProc) || !strings.Contains(err.Error(), "third") {
		t.Fatalf("third message: %v", err)
	}
	if ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, c)); ev.Reason != "third" {
		t.Fatalf("exit %q", ev.Reason)
	}
	_, err = rt.Spawn(ctx, actor.SpawnOptions{Behavior: "crasher", Args: map[string]string{"crash_in_init": "true"}})
	if !errors.Is(err, actor.ErrStartFailed) {
		t.Fatalf("init crash: %v", err)
	}
	c2 := spawn(t, rt, ctx, "crasher", map[string]string{"trap_exit": "true"})
	if info, _ := rt.Process(c2); !info.TrapExit {
		t.Fatal("trap_exit not set")
	}
	if err := rt.Cast(c2, actor.Message{Body: []byte("exit custom")}); err != nil {
		t.Fatal(err)
	}
	if ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, c2)); ev.Reason != "custom" {
		t.Fatalf("exit %q", ev.Reason)
	}
}

func TestTicker(t *testing.T) {
	rt, clock, ctx := newRT(t)
	sink := spawn(t, rt, ctx, "counter", nil)
	tk := spawn(t, rt, ctx, "ticker", map[string]string{"target": sink.String(), "interval": "100ms", "count": "3", "body": "inc 2"})
	sub := rt.Subscribe(64)
	defer sub.Close()
	for i := 0; i < 3; i++ {
		if err := clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(100 * time.Millisecond)
	}
	if ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, tk)); ev.Reason != actor.Normal {
		t.Fatalf("ticker exit %q", ev.Reason)
	}
	if got := mustCall(t, rt, ctx, sink, "get"); got != "6" {
		t.Fatalf("sink count %s, want 3 ticks of 2", got)
	}
	// An unresolvable name counts as missed.
	tk2 := spawn(t, rt, ctx, "ticker", map[string]string{"target": "nobody", "interval": "1s"})
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	actortest.Eventually(t, "missed tick", func() bool {
		st, _ := rt.GetState(ctx, tk2)
		return string(st) == `{"ticks":0,"missed":1}`
	})
}

func TestCodeChangeKeepsState(t *testing.T) {
	rt, _, ctx := newRT(t)
	if err := rt.Catalog().Register(actor.Entry{Name: "kv2", Version: "2", New: behaviors.NewKV}); err != nil {
		t.Fatal(err)
	}
	k := spawn(t, rt, ctx, "kv", nil)
	mustCall(t, rt, ctx, k, "put a 1")
	if _, err := rt.ChangeCode(ctx, k, "kv2"); err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, rt, ctx, k, "get a"); got != "1" {
		t.Fatalf("after code change %q", got)
	}
}
