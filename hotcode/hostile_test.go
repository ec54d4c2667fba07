package hotcode_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/internal/wasmbin"
	"github.com/steward/steward/spec"
)

// hostile runs fixture f as "h@1" beside a wasm counter and a native
// counter, with the host's config edited; it returns the runtime, the
// hostile process, and a check that the neighbours still work.
func hostile(t *testing.T, f *fixture, edit func(*hotcode.Config)) (*actor.Runtime, actor.PID, *actor.Subscription, func()) {
	t.Helper()
	h := newHost(t, edit)
	f.manifest.Name = "h"
	hm := compile(t, h, f.bytes())
	v1 := compile(t, h, counterV1(t))
	rt, _ := newRuntime(t, h, hm, v1)
	sub := rt.Subscribe(256)
	t.Cleanup(sub.Close)
	w := spawn(t, rt, "counter@1", nil)
	n := spawn(t, rt, "counter", nil)
	p := spawn(t, rt, "h@1", nil)
	alive := func() {
		t.Helper()
		cast(t, rt, w, "inc")
		cast(t, rt, n, "inc")
		if got := mustCall(t, rt, w, "get"); got == "0" {
			t.Fatal("the wasm neighbour lost a message")
		}
		if got := mustCall(t, rt, n, "get"); got == "0" {
			t.Fatal("the native neighbour lost a message")
		}
		if r := rt.Validate(actortest.Context(t)); !r.OK() {
			t.Fatalf("runtime inconsistent: %+v", r)
		}
	}
	return rt, p, sub, alive
}

// crashed waits for p's exit and checks its reason.
func crashed(t *testing.T, sub *actor.Subscription, p actor.PID, reason string) {
	t.Helper()
	ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, p))
	if !strings.Contains(string(ev.Reason), reason) {
		t.Fatalf("exit reason %q, want %q", ev.Reason, reason)
	}
}

// An infinite loop in handle_call: the deadline stops it, the process
// crashes, the runtime and the other processes carry on.
func TestHostileInfiniteLoop(t *testing.T) {
	f := newFixture("h")
	f.bodies["handle_call"] = cat(opLoopForever, opUnreachable)
	rt, p, sub, alive := hostile(t, f, func(c *hotcode.Config) { c.MessageDeadline = 100 * time.Millisecond })
	start := time.Now()
	_, err := call(t, rt, p, "spin")
	if !errors.Is(err, actor.ErrNoProc) {
		t.Fatalf("call: %v", err)
	}
	crashed(t, sub, p, "h@1: handle_call ran past its 100ms deadline")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stopped after %s", d)
	}
	alive()
}

// The same loop in a supervised child: the supervisor restarts it.
func TestHostileLoopSupervised(t *testing.T) {
	h := newHost(t, func(c *hotcode.Config) { c.MessageDeadline = 50 * time.Millisecond })
	f := newFixture("h")
	f.bodies["handle_cast"] = cat(opLoopForever, opUnreachable)
	hm := compile(t, h, f.bytes())
	rt, _ := newRuntime(t, h, hm)
	ctx := actortest.Context(t)
	if err := rt.ApplyTree(ctx, spec.Tree{Name: "t", SupervisorSpec: spec.SupervisorSpec{
		Strategy: spec.OneForOne, MaxRestarts: 5, MaxSeconds: 5,
		Children: []spec.ChildSpec{{ID: "spin", Behavior: "h@1"}},
	}}); err != nil {
		t.Fatal(err)
	}
	sub := rt.Subscribe(64)
	defer sub.Close()
	p, _ := rt.Resolve(actor.Target{Tree: "t", Path: "spin"})
	cast(t, rt, p, "go")
	crashed(t, sub, p, "deadline")
	actortest.AwaitEvent(t, sub, func(e actor.Event) bool { return e.Type == actor.EventRestarted && e.ChildID == "spin" })
	q, err := rt.Resolve(actor.Target{Tree: "t", Path: "spin"})
	if err != nil || q == p {
		t.Fatalf("restarted as %s (%v)", q, err)
	}
	if _, err := call(t, rt, q, "x"); err != nil {
		t.Fatalf("the restarted child: %v", err)
	}
}

// memory.grow past the page cap fails (wazero returns -1 to the guest):
// this fixture turns that into status 9, which crashes it. Growing within
// the cap works.
func TestHostileMemoryGrow(t *testing.T) {
	grow := func(pages int32) []byte {
		// grow(pages) == -1 ? 9 : 0
		return cat(i32c(pages), opGrow, i32c(-1), opI32Eq, []byte{0x04, 0x7f}, i32c(9), []byte{0x05}, i32c(0), []byte{0x0b})
	}
	f := newFixture("h")
	f.bodies["handle_cast"] = grow(4)
	f.bodies["handle_info"] = grow(1)
	rt, p, sub, alive := hostile(t, f, func(c *hotcode.Config) { c.MaxMemoryPages = 4 })
	if err := rt.Send(p, actor.Message{Body: []byte("one page")}); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, rt, p, "still there?"); err != nil {
		t.Fatalf("after growing within the cap: %v", err)
	}
	info, _ := rt.Process(p)
	if info.MemoryBytes < 2*65536 {
		t.Fatalf("memory estimate %d, want the instance's two pages in it", info.MemoryBytes)
	}
	cast(t, rt, p, "four more pages")
	crashed(t, sub, p, "h@1: handle_cast returned status 9")
	alive()
}

// A trap (unreachable) crashes the process with wasm's reason.
func TestHostileTrap(t *testing.T) {
	f := newFixture("h")
	f.bodies["handle_cast"] = cat(opUnreachable)
	rt, p, sub, alive := hostile(t, f, nil)
	cast(t, rt, p, "boom")
	crashed(t, sub, p, "h@1: handle_cast: wasm error: unreachable")
	alive()
}

// An out-of-bounds ptr/len returned to the host crashes the process.
func TestHostileOutOfBoundsReply(t *testing.T) {
	f := newFixture("h")
	f.bodies["handle_call"] = i64c(int64(60000)<<32 | 10000)
	rt, p, sub, alive := hostile(t, f, nil)
	if _, err := call(t, rt, p, "x"); !errors.Is(err, actor.ErrNoProc) {
		t.Fatalf("call: %v", err)
	}
	crashed(t, sub, p, "h@1: handle_call returned ptr 60000 len 10000, outside memory (65536 bytes)")
	alive()
}

// A reply over the host's limit crashes the process.
func TestHostileOversizedReply(t *testing.T) {
	f := newFixture("h")
	f.memory.Min = 2
	f.bodies["handle_call"] = i64c(int64(1024)<<32 | 70000)
	rt, p, sub, alive := hostile(t, f, func(c *hotcode.Config) { c.MaxMessageBytes = 65536 })
	_, _ = call(t, rt, p, "x")
	crashed(t, sub, p, "h@1: handle_call returned 70000 bytes, over the 65536-byte limit")
	alive()
}

// An out-of-bounds buffer handed to a host function traps the guest.
func TestHostileOutOfBoundsHostArg(t *testing.T) {
	f := newFixture("h").importHost("send")
	// send(pid at 65530, len 100, ...)
	f.bodies["handle_cast"] = cat(i32c(65530), i32c(100), i32c(0), i32c(0), []byte{0x10, 0x00})
	rt, p, sub, alive := hostile(t, f, nil)
	cast(t, rt, p, "x")
	crashed(t, sub, p, "h@1: handle_cast: pid: ptr 65530 len 100 is outside memory (65536 bytes)")
	alive()
}

// A huge message: the counter's alloc cannot grow memory past the cap and
// returns 0; a fixture's alloc that hands out memory it does not have is
// caught too. Both crash their process only.
func TestHostileHugeAlloc(t *testing.T) {
	big := strings.Repeat("x", 300_000)
	t.Run("alloc returns 0", func(t *testing.T) {
		h := newHost(t, func(c *hotcode.Config) { c.MaxMemoryPages = 2 })
		v1 := compile(t, h, counterV1(t))
		rt, _ := newRuntime(t, h, v1)
		sub := rt.Subscribe(64)
		defer sub.Close()
		p := spawn(t, rt, "counter@1", nil)
		cast(t, rt, p, big)
		crashed(t, sub, p, "counter@1: alloc(300000) returned 0 (out of memory)")
	})
	t.Run("alloc out of bounds", func(t *testing.T) {
		f := newFixture("h")
		rt, p, sub, alive := hostile(t, f, nil)
		cast(t, rt, p, big)
		crashed(t, sub, p, "h@1: alloc(300000) returned 2048: the buffer is outside memory (65536 bytes)")
		alive()
	})
}

// Statuses: 1 refuses a call (the process carries on), 2 stops normally,
// anything else crashes; init failing fails the start.
func TestHostileStatuses(t *testing.T) {
	f := newFixture("h")
	f.bodies["handle_call"] = i64c(statusWord(1))
	f.bodies["handle_info"] = i32c(2)
	f.bodies["handle_cast"] = i32c(7)
	rt, p, sub, alive := hostile(t, f, nil)
	if _, err := call(t, rt, p, "x"); !errors.Is(err, actor.ErrRefused) {
		t.Fatalf("refused call: %v", err)
	}
	cast(t, rt, p, "x")
	crashed(t, sub, p, "h@1: handle_cast returned status 7")
	q := spawn(t, rt, "h@1", nil)
	if err := rt.Send(q, actor.Message{Body: []byte("stop")}); err != nil {
		t.Fatal(err)
	}
	if ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, q)); ev.Reason != actor.Normal {
		t.Fatalf("status 2: %q", ev.Reason)
	}
	alive()

	g := newFixture("g")
	g.bodies["init"] = i32c(1)
	h := newHost(t, nil)
	gm := compile(t, h, g.bytes())
	rt2, _ := newRuntime(t, h, gm)
	_, err := rt2.Spawn(actortest.Context(t), actor.SpawnOptions{Behavior: "g@1"})
	if !errors.Is(err, actor.ErrStartFailed) || !strings.Contains(err.Error(), "g@1: init returned status 1") {
		t.Fatalf("init failing: %v", err)
	}
}

// The compiler of record refuses hostile binaries before anything runs.
func TestHostileCompileRefused(t *testing.T) {
	h := newHost(t, nil)
	ctx := actortest.Context(t)
	start := newFixture("h")
	start.start = true
	env := newFixture("h")
	env.imports = append(env.imports, wasmbin.Import{Module: "env", Name: "x", Type: ft(nil)})
	nomem := newFixture("h")
	nomem.memory.Min = 300
	for name, bin := range map[string][]byte{"start section": start.bytes(), "env import": env.bytes(), "memory": nomem.bytes(), "WASI not declared": func() []byte {
		f := newFixture("h")
		f.imports = append(f.imports, wasmbin.Import{Module: "wasi_snapshot_preview1", Name: "fd_write", Type: ft(vals(i32, i32, i32, i32), i32)})
		return f.bytes()
	}()} {
		if _, err := h.Compile(ctx, bin); !errors.Is(err, hotcode.ErrInvalidModule) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(h.Modules()) != 0 {
		t.Fatalf("loaded %v", h.Modules())
	}
}

// WASI at permissive: one preopened directory per process, read-only
// unless declared writable, at most max_file_handles open.
func TestWASIFilesystem(t *testing.T) {
	const eagain, ok = 6, 0
	run := func(t *testing.T, bin []byte) (*actor.Runtime, actor.PID, string) {
		if _, err := hotcode.Validate(actortest.Context(t), bin, hotcode.ValidateOptions{Name: "w", Level: hotcode.Permissive}); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		h := newHost(t, func(c *hotcode.Config) { c.WASIDir = dir })
		m := compile(t, h, bin)
		rt, _ := newRuntime(t, h, m)
		p := spawn(t, rt, "w@1", nil)
		return rt, p, filepath.Join(dir, "w", "n1_"+strings.TrimPrefix(p.String(), "n1/"))
	}
	t.Run("writable, limited handles", func(t *testing.T) {
		rt, p, pdir := run(t, wasiFixture(true, 3))
		// the preopen counts as one: two files open, the third refused
		for i, want := range []byte{ok, ok, eagain} {
			got := mustCall(t, rt, p, "f"+string(rune('a'+i)))
			if got[0] != want {
				t.Fatalf("open %d: errno %d, want %d", i, got[0], want)
			}
		}
		if _, err := os.Stat(filepath.Join(pdir, "fa")); err != nil {
			t.Fatalf("the file is not in the process's directory: %v", err)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		rt, p, pdir := run(t, wasiFixture(true, 0))
		const enosys = 52 // wazero's read-only filesystem refuses writes so
		if got := mustCall(t, rt, p, "new"); got[0] != enosys {
			t.Fatalf("opening for writing in a read-only directory: errno %d, want ENOSYS", got[0])
		}
		if _, err := os.Stat(filepath.Join(pdir, "new")); err == nil {
			t.Fatal("the file was created")
		}
	})
	t.Run("no fs_dir without WASIDir", func(t *testing.T) {
		h := newHost(t, nil)
		if _, err := h.Compile(actortest.Context(t), wasiFixture(true, 3)); !errors.Is(err, hotcode.ErrBadOptions) || !strings.Contains(err.Error(), "WASIDir") {
			t.Fatalf("compile: %v", err)
		}
	})
}
