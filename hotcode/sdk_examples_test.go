package hotcode_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/spec"
)

// The counter written three ways (examples/modules: WAT, C with
// c/steward.h, Go with go/steward): the same messages, state and code
// changes, from the committed .wasm files (clang is not needed here).
var sdkCounters = []struct {
	lang  string
	path  string // %d is the version
	level hotcode.Level
	// imports are every import of v1 and v2 (the Go runtime's WASI ones
	// need the wasi capability, which only permissive allows).
	imports []string
}{
	{"wat", "../examples/modules/counter-v%d.wasm", hotcode.Strict, []string{"steward.whereis", "steward.cast", "steward.call"}},
	{"c", "../examples/modules/c/counter-v%d.wasm", hotcode.Strict, []string{"steward.whereis", "steward.cast", "steward.call"}},
	{"go", "../examples/modules/go/counter-v%d.wasm", hotcode.Permissive, []string{
		"wasi_snapshot_preview1.sched_yield", "wasi_snapshot_preview1.proc_exit",
		"wasi_snapshot_preview1.args_get", "wasi_snapshot_preview1.args_sizes_get",
		"wasi_snapshot_preview1.clock_time_get", "wasi_snapshot_preview1.environ_get",
		"wasi_snapshot_preview1.environ_sizes_get", "wasi_snapshot_preview1.fd_write",
		"wasi_snapshot_preview1.random_get", "wasi_snapshot_preview1.poll_oneoff",
		"steward.cast", "steward.call", "steward.whereis",
	}},
}

// Each counter validates at the level it needs (strict runs the smoke
// run: init and state_export in a throwaway host) and imports exactly
// what the README says. The Go ones need permissive for their WASI
// imports (moderate and strict refuse any WASI import: TestImportTable).
//
// The tests run in parallel: wazero compiling a Go module (1.9 MB, 1300
// functions) takes about 1 s, and over 10 s under -race.
func TestSDKCountersValidate(t *testing.T) {
	t.Parallel()
	for _, c := range sdkCounters {
		t.Run(c.lang, func(t *testing.T) {
			t.Parallel()
			for v := 1; v <= 2; v++ {
				bin := readFile(t, fmt.Sprintf(c.path, v))
				rep, err := hotcode.Validate(context.Background(), bin, hotcode.ValidateOptions{Name: "counter", Level: c.level})
				if err != nil {
					t.Fatalf("v%d at %s: %v", v, c.level, err)
				}
				if rep.Manifest.Version != fmt.Sprint(v) || rep.Manifest.SupportsDowngrade != (v == 2) {
					t.Fatalf("v%d manifest %+v", v, rep.Manifest)
				}
				got := slices.Clone(rep.Imports)
				slices.Sort(got)
				want := slices.Clone(c.imports)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("v%d imports %v, want %v", v, rep.Imports, c.imports)
				}
				if len(rep.Warnings) != 0 {
					t.Fatalf("v%d warnings %v", v, rep.Warnings)
				}
			}
		})
	}
}

// Each counter driven with messages in a runtime (casts, plain messages,
// calls, refusals, a native process called and cast to by name), then
// moved v1 -> v2 keeping its count and v2 -> v1 through v2's
// code_change, keeping its PID and name.
func TestSDKCounters(t *testing.T) {
	t.Parallel()
	for _, c := range sdkCounters {
		t.Run(c.lang, func(t *testing.T) {
			t.Parallel()
			h := newHost(t, nil)
			v1 := compile(t, h, readFile(t, fmt.Sprintf(c.path, 1)))
			v2 := compile(t, h, readFile(t, fmt.Sprintf(c.path, 2)))
			rt, _ := newRuntime(t, h, v1, v2)
			ctx := actortest.Context(t)
			if err := rt.ApplyTree(ctx, spec.Tree{Name: "app", SupervisorSpec: spec.SupervisorSpec{
				Strategy: spec.OneForOne, MaxRestarts: 3, MaxSeconds: 5,
				Children: []spec.ChildSpec{
					{ID: "echo", Behavior: "echo", Name: "echo"},
					{ID: "native", Behavior: "counter", Name: "native"},
					{ID: "c", Behavior: "counter@1", Name: "c", Args: map[string]string{"start": "40"}},
				},
			}}); err != nil {
				t.Fatal(err)
			}
			p := mustWhereIs(t, rt, "c")

			// v1: casts, plain messages and calls
			cast(t, rt, p, "inc 5")
			cast(t, rt, p, "hello")
			if err := rt.Send(p, actor.Message{Body: []byte("inc 10")}); err != nil {
				t.Fatal(err)
			}
			if got := mustCall(t, rt, p, "get"); got != "56" {
				t.Fatalf("count %s, want 56", got)
			}
			if got := mustCall(t, rt, p, "inc 4"); got != "60" {
				t.Fatalf("inc call %s", got)
			}
			if got := mustCall(t, rt, p, "inc"); got != "61" {
				t.Fatalf("inc call without a number %s", got)
			}
			if _, err := call(t, rt, p, "inc lots"); !errors.Is(err, actor.ErrRefused) {
				t.Fatalf("bad inc: %v", err)
			}
			if _, err := call(t, rt, p, "frobnicate"); !errors.Is(err, actor.ErrRefused) || !strings.Contains(err.Error(), "counter@1: handle_call refused") {
				t.Fatalf("unknown call: %v", err)
			}
			if _, err := call(t, rt, p, "messages"); !errors.Is(err, actor.ErrRefused) {
				t.Fatalf("messages on v1: %v", err)
			}
			if got := state(t, rt, p); got != `{"count":61}` {
				t.Fatalf("v1 state %s", got)
			}
			if got := mustCall(t, rt, p, "reset"); got != "0" {
				t.Fatalf("reset %s", got)
			}
			// host functions: whereis, call and cast to native processes
			cast(t, rt, mustWhereIs(t, rt, "native"), "inc 7")
			if got := mustCall(t, rt, p, "ask native get"); got != "7" {
				t.Fatalf("ask native = %q", got)
			}
			if _, err := call(t, rt, p, "ask nobody get"); !errors.Is(err, actor.ErrRefused) {
				t.Fatalf("ask an unknown name: %v", err)
			}
			if got := mustCall(t, rt, p, "relay echo inc 5"); got != "ok" {
				t.Fatalf("relay %q", got)
			}
			actortest.Eventually(t, "the echo reached the counter", func() bool {
				got, _ := call(t, rt, p, "get")
				return got == "5"
			})
			if err := rt.ReplaceState(ctx, p, []byte(`{"count":"many"}`)); err == nil || !strings.Contains(err.Error(), "counter@1: state_import returned status 1") {
				t.Fatalf("bad state: %v", err)
			}
			if err := rt.ReplaceState(ctx, p, []byte(`{"count":15}`)); err != nil {
				t.Fatal(err)
			}

			// up: v2 keeps the count and adds messages
			if _, err := rt.ChangeCode(ctx, p, "counter@2"); err != nil {
				t.Fatal(err)
			}
			if got := state(t, rt, p); got != `{"count":15,"messages":0}` {
				t.Fatalf("after the upgrade %s", got)
			}
			cast(t, rt, p, "inc 5")
			if err := rt.Send(p, actor.Message{Body: []byte("tick")}); err != nil {
				t.Fatal(err)
			}
			if got := mustCall(t, rt, p, "get"); got != "21" {
				t.Fatalf("v2 count %s", got)
			}
			if got := mustCall(t, rt, p, "messages"); got != "4" {
				t.Fatalf("v2 messages %s", got)
			}
			if got := mustCall(t, rt, p, "ask native get"); got != "7" {
				t.Fatalf("v2 ask native = %q", got)
			}
			if got := state(t, rt, p); got != `{"count":21,"messages":5}` {
				t.Fatalf("v2 state %s", got)
			}
			if err := rt.ReplaceState(ctx, p, []byte(`{"count":30,"messages":2}`)); err != nil {
				t.Fatal(err)
			}
			if got := mustCall(t, rt, p, "messages"); got != "3" {
				t.Fatalf("v2 messages after ReplaceState %s", got)
			}

			// down: v2's code_change writes v1's format
			if _, err := rt.ChangeCode(ctx, p, "counter@1"); err != nil {
				t.Fatal(err)
			}
			if got := state(t, rt, p); got != `{"count":30}` {
				t.Fatalf("after the downgrade %s", got)
			}
			if got := mustCall(t, rt, p, "inc 2"); got != "32" {
				t.Fatalf("v1 again %s", got)
			}
			info, err := rt.Process(p)
			if err != nil {
				t.Fatal(err)
			}
			if info.Behavior != "counter@1" || info.RegisteredName != "c" {
				t.Fatalf("identity after two code changes: %+v", info)
			}
			// up again, then the tree stopped: terminate runs and every
			// instance is freed
			if _, err := rt.ChangeCode(ctx, p, "counter@2"); err != nil {
				t.Fatal(err)
			}
			if got := state(t, rt, p); got != `{"count":32,"messages":0}` {
				t.Fatalf("up again %s", got)
			}
			if err := rt.StopTree(ctx, "app"); err != nil {
				t.Fatal(err)
			}
			actortest.Eventually(t, "every instance is freed", func() bool {
				goruntimeGC()
				return h.Instances() == 0
			})
		})
	}
}

func mustWhereIs(t testing.TB, rt *actor.Runtime, name string) actor.PID {
	t.Helper()
	pid, ok := rt.WhereIs(name)
	if !ok {
		t.Fatalf("no process named %s", name)
	}
	return pid
}
