package hotcode_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/internal/wasmbin"
)

// readFile reads a committed module.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func counterV1(t testing.TB) []byte { return readFile(t, "../examples/modules/counter-v1.wasm") }
func counterV2(t testing.TB) []byte { return readFile(t, "../examples/modules/counter-v2.wasm") }
func probe(t testing.TB) []byte     { return readFile(t, "testdata/probe.wasm") }

// newHost builds a host with cfg's non-zero fields over the defaults,
// closed with the test.
func newHost(t testing.TB, mod func(*hotcode.Config)) *hotcode.Host {
	t.Helper()
	cfg := hotcode.DefaultConfig()
	cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	cfg.Logger = actortest.Logger(t)
	if mod != nil {
		mod(&cfg)
	}
	h, err := hotcode.NewHost(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func compile(t testing.TB, h *hotcode.Host, bin []byte) *hotcode.Module {
	t.Helper()
	m, err := h.Compile(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newRuntime builds a runtime on node n1 whose catalog holds the natives
// and each module's entry, bound to h; the manual clock drives timers.
func newRuntime(t testing.TB, h *hotcode.Host, mods ...*hotcode.Module) (*actor.Runtime, *actortest.ManualClock) {
	t.Helper()
	cat := behaviors.NewCatalog()
	for _, m := range mods {
		if err := cat.Register(m.Entry(hotcode.EntryOptions{})); err != nil {
			t.Fatal(err)
		}
	}
	clock := actortest.NewManualClock(time.Unix(1_700_000_000, 0))
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = clock
	cfg.Catalog = cat
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Bind(rt)
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return rt, clock
}

func spawn(t testing.TB, rt *actor.Runtime, behavior string, args map[string]string) actor.PID {
	t.Helper()
	pid, err := rt.Spawn(actortest.Context(t), actor.SpawnOptions{Behavior: behavior, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func call(t testing.TB, rt *actor.Runtime, pid actor.PID, body string) (string, error) {
	t.Helper()
	b, err := rt.Call(actortest.Context(t), pid, actor.Message{Body: []byte(body)})
	return string(b), err
}

func mustCall(t testing.TB, rt *actor.Runtime, pid actor.PID, body string) string {
	t.Helper()
	s, err := call(t, rt, pid, body)
	if err != nil {
		t.Fatalf("call %s %q: %v", pid, body, err)
	}
	return s
}

func cast(t testing.TB, rt *actor.Runtime, pid actor.PID, body string) {
	t.Helper()
	if err := rt.Cast(pid, actor.Message{Body: []byte(body)}); err != nil {
		t.Fatalf("cast %s %q: %v", pid, body, err)
	}
}

func state(t testing.TB, rt *actor.Runtime, pid actor.PID) string {
	t.Helper()
	b, err := rt.GetState(actortest.Context(t), pid)
	if err != nil {
		t.Fatalf("state of %s: %v", pid, err)
	}
	return string(b)
}

// ---- fixtures built in Go ----

var (
	i32 = wasmbin.I32
	i64 = wasmbin.I64
)

func ft(params []wasmbin.ValType, results ...wasmbin.ValType) wasmbin.FuncType {
	return wasmbin.FuncType{Params: params, Results: results}
}

func vals(v ...wasmbin.ValType) []wasmbin.ValType { return v }

// Instructions.
func i32c(v int32) []byte { return wasmbin.AppendSLEB([]byte{0x41}, int64(v)) }
func i64c(v int64) []byte { return wasmbin.AppendSLEB([]byte{0x42}, v) }
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	opUnreachable = []byte{0x00}
	opLoopForever = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} // loop br 0 end
	opGrow        = []byte{0x40, 0x00}                   // memory.grow 0
	opI32Eq       = []byte{0x46}
)

// statusWord packs a status as the i64 results do.
func statusWord(s uint32) int64 { return int64(uint64(0xffffffff)<<32 | uint64(s)) }

// fixture is an ABI-complete module built in Go: every export has a
// default body (success, empty results) that a test may replace; imports,
// the memory and the manifest are set per test.
type fixture struct {
	imports  []wasmbin.Import
	bodies   map[string][]byte           // export name -> body
	sigs     map[string]wasmbin.FuncType // export name -> signature override
	omit     map[string]bool
	memory   wasmbin.Limits
	start    bool
	manifest *hotcode.Manifest
	rawMan   []byte // manifest bytes as given (over manifest)
	extra    []wasmbin.Custom
}

func newFixture(name string) *fixture {
	return &fixture{
		bodies:   map[string][]byte{},
		sigs:     map[string]wasmbin.FuncType{},
		omit:     map[string]bool{},
		memory:   wasmbin.Limits{Min: 1},
		manifest: &hotcode.Manifest{Name: name, Version: "1", ABI: 1},
	}
}

func (f *fixture) importHost(names ...string) *fixture {
	sigs := map[string]wasmbin.FuncType{
		"send": ft(vals(i32, i32, i32, i32), i32), "cast": ft(vals(i32, i32, i32, i32), i32),
		"call": ft(vals(i32, i32, i32, i32, i32), i64), "self": ft(nil, i64), "from": ft(nil, i64),
		"log": ft(vals(i32, i32, i32)), "now": ft(nil, i64), "send_after": ft(vals(i64, i32, i32), i32),
		"register": ft(vals(i32, i32), i32), "whereis": ft(vals(i32, i32), i64),
		"spawn": ft(vals(i32, i32, i32, i32, i32), i64), "link": ft(vals(i32, i32), i32),
		"unlink": ft(vals(i32, i32), i32), "monitor": ft(vals(i32, i32), i64), "demonitor": ft(vals(i64)),
		"trap_exit": ft(vals(i32)), "exit": ft(vals(i32, i32, i32, i32), i32),
	}
	for _, n := range names {
		s, ok := sigs[n]
		if !ok {
			panic("no signature for " + n)
		}
		f.imports = append(f.imports, wasmbin.Import{Module: "steward", Name: n, Type: s})
		f.manifest.HostFunctions = append(f.manifest.HostFunctions, n)
	}
	return f
}

// abiSigs are the ABI exports in order with their default bodies.
var abiSigs = []struct {
	name string
	sig  wasmbin.FuncType
	body []byte
}{
	// alloc: a bump allocator from 1024 (global 0), no bounds check.
	{"alloc", ft(vals(i32), i32), []byte{0x23, 0x00, 0x23, 0x00, 0x20, 0x00, 0x6a, 0x24, 0x00}},
	// dealloc: nothing (the fixtures' heap only grows).
	{"dealloc", ft(vals(i32, i32)), nil},
	{"init", ft(vals(i32, i32), i32), i32c(0)},
	{"handle_call", ft(vals(i32, i32), i64), i64c(statusWord(0))},
	{"handle_cast", ft(vals(i32, i32), i32), i32c(0)},
	{"handle_info", ft(vals(i32, i32, i32), i32), i32c(0)},
	{"terminate", ft(vals(i32, i32)), nil},
	{"code_change", ft(vals(i32, i32, i32, i32, i32, i32, i32), i32), i32c(0)},
	{"state_export", ft(nil, i64), i64c(0)},
	{"state_import", ft(vals(i32, i32), i32), i32c(0)},
}

func (f *fixture) bytes() []byte {
	m := &wasmbin.Module{Imports: f.imports, Memory: &f.memory, Globals: []wasmbin.Global{{Type: i32, Mutable: true, Init: 1024}}}
	m.Exports = append(m.Exports, wasmbin.Export{Name: "memory", Kind: wasmbin.KindMemory})
	for _, e := range abiSigs {
		if f.omit[e.name] {
			continue
		}
		sig, body := e.sig, e.body
		if s, ok := f.sigs[e.name]; ok {
			sig = s
		}
		if b, ok := f.bodies[e.name]; ok {
			body = b
		}
		idx := uint32(len(f.imports) + len(m.Funcs))
		m.Funcs = append(m.Funcs, wasmbin.Func{Type: sig, Body: body})
		m.Exports = append(m.Exports, wasmbin.Export{Name: e.name, Kind: wasmbin.KindFunc, Index: idx})
	}
	if f.start {
		idx := uint32(len(f.imports) + len(m.Funcs))
		m.Funcs = append(m.Funcs, wasmbin.Func{Type: ft(nil)})
		m.Start = &idx
	}
	switch {
	case f.rawMan != nil:
		m.Customs = append(m.Customs, wasmbin.Custom{Name: hotcode.ManifestSection, Data: f.rawMan})
	case f.manifest != nil:
		data, err := json.Marshal(f.manifest)
		if err != nil {
			panic(err)
		}
		m.Customs = append(m.Customs, wasmbin.Custom{Name: hotcode.ManifestSection, Data: data})
	}
	m.Customs = append(m.Customs, f.extra...)
	return m.Encode()
}

// remanifest replaces a module's manifest.
func remanifest(t testing.TB, bin []byte, edit func(*hotcode.Manifest)) []byte {
	t.Helper()
	sections, err := wasmbin.Read(bin)
	if err != nil {
		t.Fatal(err)
	}
	var man hotcode.Manifest
	out := append([]byte(nil), bin[:8]...)
	for i, s := range sections {
		end := len(bin)
		if i+1 < len(sections) {
			end = sections[i+1].Offset
		}
		if s.ID == wasmbin.IDCustom && s.Name == hotcode.ManifestSection {
			if err := json.Unmarshal(s.Data, &man); err != nil {
				t.Fatal(err)
			}
			continue
		}
		out = append(out, bin[s.Offset:end]...)
	}
	edit(&man)
	out, err = hotcode.AddManifest(out, man)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// goruntimeGC runs the collector so that dropped behaviors' cleanups run.
func goruntimeGC() { runtime.GC() }
