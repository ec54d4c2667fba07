package hotcode_test

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/spec"
)

// A tree of counter v1 processes: casts and calls, a native process
// reached from wasm and back, a native ticker sending to wasm by name,
// and a crash restarted by the supervisor.
func TestCounterTree(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	rt, clock := newRuntime(t, h, v1)
	ctx := actortest.Context(t)
	tree := spec.Tree{Name: "app", SupervisorSpec: spec.SupervisorSpec{
		Strategy: spec.OneForOne, MaxRestarts: 3, MaxSeconds: 5,
		Children: []spec.ChildSpec{
			{ID: "a", Behavior: "counter@1", Name: "wa"},
			{ID: "b", Behavior: "counter@1", Args: map[string]string{"start": "40"}},
			{ID: "echo", Behavior: "echo", Name: "echo"},
			{ID: "native", Behavior: "counter", Name: "native"},
			{ID: "tick", Behavior: "ticker", Args: map[string]string{"target": "wa", "interval": "1s", "count": "3", "body": "inc 2"}},
		},
	}}
	if err := rt.ApplyTree(ctx, tree); err != nil {
		t.Fatal(err)
	}
	pid := func(path string) actor.PID {
		p, err := rt.Resolve(actor.Target{Tree: "app", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, native := pid("a"), pid("b"), pid("native")
	if got := h.Instances(); got != 2 {
		t.Fatalf("instances %d, want one per wasm process", got)
	}

	// casts and calls
	cast(t, rt, b, "inc 5")
	cast(t, rt, b, "hello")
	if got := mustCall(t, rt, b, "get"); got != "46" {
		t.Fatalf("b = %s, want 46", got)
	}
	if got := mustCall(t, rt, b, "inc 4"); got != "50" {
		t.Fatalf("inc call = %s", got)
	}
	if _, err := call(t, rt, b, "inc lots"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("bad inc: %v", err)
	}
	if _, err := call(t, rt, b, "frobnicate"); !errors.Is(err, actor.ErrRefused) || !strings.Contains(err.Error(), "counter@1: handle_call refused") {
		t.Fatalf("unknown call: %v", err)
	}
	if got := state(t, rt, b); got != `{"count":50}` {
		t.Fatalf("state %s", got)
	}
	if got := mustCall(t, rt, b, "reset"); got != "0" {
		t.Fatalf("reset %s", got)
	}

	// wasm -> native call, and the reply back
	cast(t, rt, native, "inc 7")
	if got := mustCall(t, rt, a, "ask native get"); got != "7" {
		t.Fatalf("ask native = %q", got)
	}
	if _, err := call(t, rt, a, "ask nobody get"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("ask an unknown name: %v", err)
	}
	// wasm -> native cast; the native echo sends it back to wasm
	if got := mustCall(t, rt, a, "relay echo inc 5"); got != "ok" {
		t.Fatalf("relay %q", got)
	}
	actortest.Eventually(t, "the echo reached the wasm counter", func() bool {
		got, _ := call(t, rt, a, "get")
		return got == "5"
	})
	// native -> wasm by registered name: three ticks of "inc 2"
	for i := 0; i < 3; i++ {
		if err := clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	actortest.Eventually(t, "three ticks reached the wasm counter", func() bool {
		got, _ := call(t, rt, a, "get")
		return got == "11"
	})

	// A process killed: the supervisor restarts it on a fresh instance.
	sub := rt.Subscribe(64)
	defer sub.Close()
	if err := rt.Kill(b, "test"); err != nil {
		t.Fatal(err)
	}
	actortest.AwaitEvent(t, sub, func(e actor.Event) bool { return e.Type == actor.EventRestarted && e.ChildID == "b" })
	if got := mustCall(t, rt, pid("b"), "get"); got != "40" {
		t.Fatalf("restarted b = %s, want its start arg", got)
	}
	// The killed process ran no Terminate: its instance is freed when its
	// behavior is collected.
	actortest.Eventually(t, "the killed instance is freed", func() bool {
		goruntimeGC()
		return h.Instances() == 2
	})
	if r := rt.Validate(ctx); !r.OK() {
		t.Fatalf("runtime inconsistent: %+v", r)
	}
	if err := rt.StopTree(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if got := h.Instances(); got != 0 {
		t.Fatalf("instances after the tree stopped: %d", got)
	}
}

// Args are checked against the manifest's list before anything starts.
func TestArgs(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	rt, _ := newRuntime(t, h, v1)
	_, err := rt.Spawn(actortest.Context(t), actor.SpawnOptions{Behavior: "counter@1", Args: map[string]string{"begin": "3"}})
	if !errors.Is(err, actor.ErrBadArgs) || !strings.Contains(err.Error(), "unknown arg begin (known: start)") {
		t.Fatalf("unknown arg: %v", err)
	}
	if h.Instances() != 0 {
		t.Fatal("a refused spawn instantiated")
	}
}

// Code change v1 -> v2 keeps the count and adds a field; v2 -> v1 goes
// back down through v2's code_change; the process keeps its identity.
func TestCodeChangeUpAndDown(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	v2 := compile(t, h, counterV2(t))
	rt, _ := newRuntime(t, h, v1, v2)
	ctx := actortest.Context(t)
	watcher := spawn(t, rt, "counter", nil)
	p, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "counter@1", Name: "c", Link: watcher})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := rt.Monitor(watcher, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		cast(t, rt, p, "inc 3")
	}
	if got := mustCall(t, rt, p, "get"); got != "15" {
		t.Fatalf("v1 count %s", got)
	}
	sub := rt.Subscribe(16)
	defer sub.Close()
	if _, err := rt.ChangeCode(ctx, p, "counter@2"); err != nil {
		t.Fatal(err)
	}
	if ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventCodeChanged, p)); ev.Detail != "counter@1@1 -> counter@2@2" {
		t.Fatalf("event %q", ev.Detail)
	}
	if got := state(t, rt, p); got != `{"count":15,"messages":0}` {
		t.Fatalf("after the upgrade %s", got)
	}
	cast(t, rt, p, "inc 5")
	if got := mustCall(t, rt, p, "messages"); got != "2" {
		t.Fatalf("v2 messages %s", got)
	}
	if got := mustCall(t, rt, p, "get"); got != "20" {
		t.Fatalf("v2 count %s", got)
	}
	if _, err := rt.ChangeCode(ctx, p, "counter@1"); err != nil {
		t.Fatal(err)
	}
	if got := state(t, rt, p); got != `{"count":20}` {
		t.Fatalf("after the downgrade %s", got)
	}
	if got := mustCall(t, rt, p, "get"); got != "20" {
		t.Fatalf("v1 again %s", got)
	}
	info, err := rt.Process(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Behavior != "counter@1" || info.Version != "1" || info.RegisteredName != "c" || !slices.Contains(info.Links, watcher) || !slices.Contains(info.MonitoredBy, watcher) {
		t.Fatalf("identity after two code changes: %+v", info)
	}
	if pid, ok := rt.WhereIs("c"); !ok || pid != p {
		t.Fatal("the name moved")
	}
	_ = ref
	// Old instances are freed once collected: one instance per process.
	actortest.Eventually(t, "the replaced instances are freed", func() bool {
		goruntimeGC()
		return h.Instances() == 1
	})
}

// A module version without downgrade support cannot be left downwards;
// the process stays on it, state untouched. The same for an unknown
// version.
func TestCodeChangeDownRefused(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	v3 := compile(t, h, remanifest(t, counterV2(t), func(m *hotcode.Manifest) { m.Version = "3"; m.SupportsDowngrade = false }))
	rt, _ := newRuntime(t, h, v1, v3)
	ctx := actortest.Context(t)
	p := spawn(t, rt, "counter@3", map[string]string{"start": "9"})
	_, err := rt.ChangeCode(ctx, p, "counter@1")
	if !errors.Is(err, hotcode.ErrNoDowngrade) || !strings.Contains(err.Error(), "counter@3 does not support downgrade") {
		t.Fatalf("down from v3: %v", err)
	}
	if got := state(t, rt, p); got != `{"count":9,"messages":0}` {
		t.Fatalf("state after a refused downgrade %s", got)
	}
	if info, _ := rt.Process(p); info.Behavior != "counter@3" {
		t.Fatalf("moved to %s", info.Behavior)
	}
}

// A native counter moves onto wasm and keeps its count and messages.
func TestCodeChangeNativeToWasm(t *testing.T) {
	h := newHost(t, nil)
	v2 := compile(t, h, counterV2(t))
	rt, _ := newRuntime(t, h, v2)
	p := spawn(t, rt, "counter", map[string]string{"start": "3"})
	cast(t, rt, p, "inc 4")
	if _, err := rt.ChangeCode(actortest.Context(t), p, "counter@2"); err != nil {
		t.Fatal(err)
	}
	if got := state(t, rt, p); got != `{"count":7,"messages":1}` {
		t.Fatalf("state %s", got)
	}
}

// A failing code_change leaves the process on its old instance.
func TestCodeChangeFails(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	f := newFixture("counter")
	f.manifest.Version = "5"
	f.bodies["code_change"] = opUnreachable
	bad := compile(t, h, f.bytes())
	rt, _ := newRuntime(t, h, v1, bad)
	p := spawn(t, rt, "counter@1", nil)
	cast(t, rt, p, "inc 8")
	_, err := rt.ChangeCode(actortest.Context(t), p, "counter@5")
	if err == nil || !strings.Contains(err.Error(), "counter@5: code_change: wasm error: unreachable") {
		t.Fatalf("trapping code_change: %v", err)
	}
	if got := mustCall(t, rt, p, "get"); got != "8" {
		t.Fatalf("after the failed change %s", got)
	}
}

// GetState and ReplaceState go through state_export and state_import; a
// state the module refuses changes nothing.
func TestStateExportImport(t *testing.T) {
	h := newHost(t, nil)
	v2 := compile(t, h, counterV2(t))
	rt, _ := newRuntime(t, h, v2)
	ctx := actortest.Context(t)
	p := spawn(t, rt, "counter@2", nil)
	if err := rt.ReplaceState(ctx, p, []byte(`{"count":123,"messages":4}`)); err != nil {
		t.Fatal(err)
	}
	if got := state(t, rt, p); got != `{"count":123,"messages":4}` {
		t.Fatalf("state %s", got)
	}
	err := rt.ReplaceState(ctx, p, []byte(`{"count":"many"}`))
	if err == nil || !strings.Contains(err.Error(), "counter@2: state_import returned status 1") {
		t.Fatalf("bad state: %v", err)
	}
	if got := mustCall(t, rt, p, "get"); got != "123" {
		t.Fatalf("count after a refused state %s", got)
	}
}

// Every host function, through the probe module.
func TestHostFunctions(t *testing.T) {
	h := newHost(t, nil)
	pm := compile(t, h, probe(t))
	v1 := compile(t, h, counterV1(t))
	rt, clock := newRuntime(t, h, pm, v1)
	ctx := actortest.Context(t)
	sub := rt.Subscribe(256)
	defer sub.Close()
	pr := spawn(t, rt, "probe@1", nil)

	if got := mustCall(t, rt, pr, "S"); got != pr.String() {
		t.Fatalf("self %q", got)
	}
	if got := mustCall(t, rt, pr, "F"); got != "" {
		t.Fatalf("from, no sender: %q", got)
	}
	// from: a wasm counter asks the probe, which answers with its sender
	if got := mustCall(t, rt, pr, "Rprobe"); got != "0" {
		t.Fatalf("register %q", got)
	}
	if pid, ok := rt.WhereIs("probe"); !ok || pid != pr {
		t.Fatal("register did not register")
	}
	if got := mustCall(t, rt, pr, "Rother"); got != strconv.Itoa(hotcode.HostFailed) {
		t.Fatalf("a second name: %q", got)
	}
	c := spawn(t, rt, "counter@1", nil)
	if got := mustCall(t, rt, c, "ask probe F"); got != c.String() {
		t.Fatalf("from: %q, want %s", got, c)
	}
	if got := mustCall(t, rt, pr, "Wprobe"); got != pr.String() {
		t.Fatalf("whereis %q", got)
	}
	if got := mustCall(t, rt, pr, "Wnobody"); got != strconv.Itoa(hotcode.HostNoProc) {
		t.Fatalf("whereis nobody %q", got)
	}
	// now: the runtime's clock
	got := mustCall(t, rt, pr, "N")
	if n := int64(binary.LittleEndian.Uint64([]byte(got))); n != clock.Now().UnixNano() {
		t.Fatalf("now %d, want %d", n, clock.Now().UnixNano())
	}
	if got := mustCall(t, rt, pr, "Ghello from the probe"); got != "0" {
		t.Fatalf("log %q", got)
	}
	// send: a plain message to a native counter counts one
	nat := spawn(t, rt, "counter", nil)
	if got := mustCall(t, rt, pr, "D"+nat.String()); got != "0" {
		t.Fatalf("send %q", got)
	}
	actortest.Eventually(t, "the send arrived", func() bool { return mustCall(t, rt, nat, "get") == "1" })
	if got := mustCall(t, rt, pr, "Dnot-a-pid"); got != strconv.Itoa(hotcode.HostBadArg) {
		t.Fatalf("send to a bad pid %q", got)
	}
	// call: the probe calls the native counter with "get"
	if got := mustCall(t, rt, pr, "C"+nat.String()); got != "1" {
		t.Fatalf("call %q", got)
	}
	// send_after on the runtime's clock
	if got := mustCall(t, rt, pr, "A"); got != "0" {
		t.Fatalf("send_after %q", got)
	}
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Millisecond)
	actortest.Eventually(t, "the timer fired", func() bool { return state(t, rt, pr) == "0:tick" })
	// link, unlink
	if got := mustCall(t, rt, pr, "L"+nat.String()); got != "0" {
		t.Fatalf("link %q", got)
	}
	if info, _ := rt.Process(pr); !slices.Contains(info.Links, nat) {
		t.Fatalf("not linked: %v", info.Links)
	}
	if got := mustCall(t, rt, pr, "U"+nat.String()); got != "0" {
		t.Fatalf("unlink %q", got)
	}
	if info, _ := rt.Process(pr); slices.Contains(info.Links, nat) {
		t.Fatal("still linked")
	}
	// monitor: DOWN reaches handle_info as kind 4
	target := spawn(t, rt, "counter", nil)
	got = mustCall(t, rt, pr, "M"+target.String())
	if ref := binary.LittleEndian.Uint64([]byte(got)); ref == 0 || ref>>32 == 0xffffffff {
		t.Fatalf("monitor ref %x", ref)
	}
	if err := rt.Kill(target, "gone"); err != nil {
		t.Fatal(err)
	}
	actortest.Eventually(t, "DOWN reached the probe", func() bool { return state(t, rt, pr) == "4:gone" })
	// trap_exit, then spawn linked: the child's exit is an EXIT message
	if got := mustCall(t, rt, pr, "T"); got != "0" {
		t.Fatalf("trap_exit %q", got)
	}
	child, err := actor.ParsePID(mustCall(t, rt, pr, "Pcounter"))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := rt.Process(child); info.Behavior != "counter" || !slices.Contains(info.Links, pr) {
		t.Fatalf("spawned %+v", info)
	}
	// exit of another process: the child, with reason "bye"
	if got := mustCall(t, rt, pr, "X"+child.String()); got != "0" {
		t.Fatalf("exit other %q", got)
	}
	actortest.Eventually(t, "EXIT reached the probe", func() bool { return state(t, rt, pr) == "3:bye" })
	// exit of self: the probe stops with "bye" (Terminate runs)
	_, err = call(t, rt, pr, "X")
	if !errors.Is(err, actor.ErrNoProc) {
		t.Fatalf("exit self: %v", err)
	}
	if ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, pr)); ev.Reason != "bye" {
		t.Fatalf("probe exit reason %q", ev.Reason)
	}
}

// Without Bind the dangerous functions answer "unavailable".
func TestHostFunctionsUnbound(t *testing.T) {
	h := newHost(t, nil)
	pm := compile(t, h, probe(t))
	rt, _ := newRuntime(t, h, pm)
	h.Bind(nil)
	pr := spawn(t, rt, "probe@1", nil)
	if got := mustCall(t, rt, pr, "Rname"); got != strconv.Itoa(hotcode.HostUnavailable) {
		t.Fatalf("register unbound %q", got)
	}
}

func TestHostCompile(t *testing.T) {
	h := newHost(t, nil)
	ctx := context.Background()
	a := compile(t, h, counterV1(t))
	if b := compile(t, h, counterV1(t)); a != b {
		t.Fatal("the same bytes compiled twice")
	}
	other := remanifest(t, counterV1(t), func(m *hotcode.Manifest) { m.SupportsDowngrade = true })
	if _, err := h.Compile(ctx, other); !errors.Is(err, hotcode.ErrVersionConflict) {
		t.Fatalf("other bytes as counter@1: %v", err)
	}
	if m, ok := h.Module("counter", "1"); !ok || m != a || m.Ref() != "counter@1" || m.Version() != "1" || m.Name() != "counter" {
		t.Fatal("lookup")
	}
	if got := h.Modules(); !slices.Equal(got, []string{"counter@1"}) {
		t.Fatalf("modules %v", got)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Module("counter", "1"); ok {
		t.Fatal("closed module still loaded")
	}
	// The compilation cache is on disk: a second host over the same
	// directory reuses it.
	dir := t.TempDir()
	h1 := newHost(t, func(c *hotcode.Config) { c.CacheDir = dir })
	compile(t, h1, counterV2(t))
	h2 := newHost(t, func(c *hotcode.Config) { c.CacheDir = dir })
	compile(t, h2, counterV2(t))
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		edit  func(*hotcode.Config)
		field string
	}{
		{func(c *hotcode.Config) { c.MaxMemoryPages = 0 }, "MaxMemoryPages"},
		{func(c *hotcode.Config) { c.MaxMemoryPages = hotcode.MaxMemoryPagesLimit + 1 }, "MaxMemoryPages"},
		{func(c *hotcode.Config) { c.MessageDeadline = 0 }, "MessageDeadline"},
		{func(c *hotcode.Config) { c.MaxMessageBytes = -1 }, "MaxMessageBytes"},
	} {
		cfg := hotcode.DefaultConfig()
		tc.edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, hotcode.ErrBadOptions) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
}

// ChangeCode hands back the state the old instance exported, which
// RestoreCode can put back on the old version as it was (the revert of a
// module without a downgrade path); each replaced instance is freed, and a
// module without a health export says so to Probe.
func TestChangeCodeCapturesAndRestoreCodeImports(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, counterV1(t))
	v2 := compile(t, h, counterV2(t))
	rt, _ := newRuntime(t, h, v1, v2)
	ctx := actortest.Context(t)
	p := spawn(t, rt, "counter@1", nil)
	cast(t, rt, p, "inc 7")
	if got := mustCall(t, rt, p, "get"); got != "7" {
		t.Fatalf("count %s", got)
	}
	live := h.Instances()
	old, err := rt.ChangeCode(ctx, p, "counter@2")
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != `{"count":7}` {
		t.Fatalf("captured %q", old)
	}
	if n := h.Instances(); n != live {
		t.Fatalf("instances after a code change: %d, before %d (the old one is not freed)", n, live)
	}
	cast(t, rt, p, "inc 1")
	if err := rt.RestoreCode(ctx, p, "counter@1", old); err != nil {
		t.Fatal(err)
	}
	if got := state(t, rt, p); got != `{"count":7}` {
		t.Fatalf("restored %s", got)
	}
	if info, err := rt.Process(p); err != nil || info.Version != "1" {
		t.Fatalf("after the restore: %+v %v", info, err)
	}
	// A state the old version refuses leaves the process as it was.
	if err := rt.RestoreCode(ctx, p, "counter@2", []byte("not json")); err == nil {
		t.Fatal("a bad state was imported")
	}
	if got := state(t, rt, p); got != `{"count":7}` {
		t.Fatalf("after a refused restore %s", got)
	}
	if n := h.Instances(); n != live {
		t.Fatalf("instances after a refused restore: %d, want %d", n, live)
	}
	if err := rt.Probe(ctx, p); !errors.Is(err, actor.ErrNotSupported) {
		t.Fatalf("probe of a module without health: %v", err)
	}
}

// A module's before_upgrade export is told first, between two messages,
// that a code change is coming; a non-zero status refuses it and the
// process stays on its version with its state.
func TestBeforeUpgradeCanRefuse(t *testing.T) {
	h := newHost(t, nil)
	v1 := compile(t, h, readFile(t, "testdata/counter-v1-veto.wasm"))
	v2 := compile(t, h, counterV2(t))
	rt, _ := newRuntime(t, h, v1, v2)
	ctx := actortest.Context(t)
	veto := spawn(t, rt, "counter@1", nil)
	cast(t, rt, veto, "inc 99")
	if _, err := rt.ChangeCode(ctx, veto, "counter@2"); err == nil || !strings.Contains(err.Error(), "refused by before_upgrade") {
		t.Fatalf("upgrade at count 99: %v, want refused by before_upgrade", err)
	}
	if got := state(t, rt, veto); got != `{"count":99}` {
		t.Fatalf("after a refused upgrade: %s", got)
	}
	if info, _ := rt.Process(veto); info.Version != "1" {
		t.Fatalf("refused upgrade moved the process to %s", info.Version)
	}
	cast(t, rt, veto, "inc 1")
	if _, err := rt.ChangeCode(ctx, veto, "counter@2"); err != nil {
		t.Fatalf("upgrade at count 100: %v", err)
	}
	if got := state(t, rt, veto); got != `{"count":100,"messages":0}` {
		t.Fatalf("after the upgrade: %s", got)
	}
}
