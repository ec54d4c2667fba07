package hotcode_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/internal/wasmbin"
	"github.com/steward/steward/internal/fuzzseed"
)

// The host functions of the ABI with their parameter types, in the
// order of hotcode's table (docs/MODULES.md "Host functions").
var fuzzHostFuncs = []struct {
	name   string
	params []wasmbin.ValType
	result bool
}{
	{"send", vals(i32, i32, i32, i32), true},
	{"cast", vals(i32, i32, i32, i32), true},
	{"call", vals(i32, i32, i32, i32, i32), true},
	{"self", nil, true},
	{"from", nil, true},
	{"log", vals(i32, i32, i32), false},
	{"now", nil, true},
	{"send_after", vals(i64, i32, i32), true},
	{"register", vals(i32, i32), true},
	{"whereis", vals(i32, i32), true},
	{"spawn", vals(i32, i32, i32, i32, i32), true},
	{"link", vals(i32, i32), true},
	{"unlink", vals(i32, i32), true},
	{"monitor", vals(i32, i32), true},
	{"demonitor", vals(i64), false},
	{"trap_exit", vals(i32), false},
	{"exit", vals(i32, i32, i32, i32), true},
}

// hostArgSlot is the bytes each argument takes at the start of a call's
// body: an i32 argument is the little-endian u32 at the slot's start,
// plus the body's own address when the slot's next word has bit 0 set (a
// pointer into the body, wherever the guest put it); an i64 argument is
// the slot's 8 bytes.
const (
	hostArgSlot  = 8
	hostArgSlots = 5
)

// hostCaller is a module whose handle_call reads the arguments of one
// host function from the call's body (hostArgSlot) and calls it; the
// reply is empty.
func hostCaller(name string, params []wasmbin.ValType, result bool) []byte {
	f := newFixture("hf_" + name).importHost(name)
	var body []byte
	for k, p := range params {
		off := uint64(k * hostArgSlot)
		if p == i64 {
			body = cat(body, []byte{0x20, 0x00, 0x29, 0x03}, wasmbin.AppendULEB(nil, off)) // local.get 0; i64.load
			continue
		}
		body = cat(body,
			[]byte{0x20, 0x00, 0x28, 0x02}, wasmbin.AppendULEB(nil, off), // local.get 0; i32.load offset
			[]byte{0x20, 0x00, 0x20, 0x00, 0x28, 0x02}, wasmbin.AppendULEB(nil, off+4), // local.get 0; (local.get 0; i32.load offset+4)
			i32c(1), []byte{0x71, 0x6c, 0x6a}, // i32.const 1; i32.and; i32.mul; i32.add
		)
	}
	body = cat(body, []byte{0x10, 0x00}) // call 0 (the import)
	if result {
		body = cat(body, []byte{0x1a}) // drop
	}
	f.bodies["handle_call"] = cat(body, i64c(statusWord(0)))
	return f.bytes()
}

// hostArgs lays out a call body: the arguments (relative ones marked),
// then data they may point at.
func hostArgs(args []uint32, relative []bool, data []byte) []byte {
	b := make([]byte, hostArgSlot*hostArgSlots)
	for k, a := range args {
		binary.LittleEndian.PutUint32(b[k*hostArgSlot:], a)
		if relative[k] {
			b[k*hostArgSlot+4] = 1
		}
	}
	return append(b, data...)
}

// FuzzHostCall: a guest calls one host function (fn) with arguments taken
// from a hostile body: pointers in and out of memory, lengths past the
// message limit, malformed PIDs, names, behaviors, JSON args and reasons,
// negative and huge timeouts. The call returns; if the process dies, its
// reason is the host's refusal or a wasm trap, never a Go runtime error
// recovered from a host function; the runtime stays consistent.
func FuzzHostCall(f *testing.F) {
	base := uint32(hostArgSlot * hostArgSlots)
	for i := range fuzzHostFuncs {
		n := uint8(i)
		// Arguments pointing into the body's data: a PID, a body, a reason.
		data := []byte("n1/1hello{\"k\":\"v\"}counter")
		fuzzseed.Add(f, n, hostArgs([]uint32{base, 4, base + 4, 5, 10}, []bool{true, false, true, false, false}, data))
		// Out of memory, over the limits, zero lengths.
		fuzzseed.Add(f, n, hostArgs([]uint32{0xfffffff0, 64, 0, 0xffffffff, 0x7fffffff}, make([]bool, 5), nil))
		fuzzseed.Add(f, n, hostArgs([]uint32{65530, 100, 1 << 20, 1 << 24, 1}, make([]bool, 5), nil))
		fuzzseed.Add(f, n, hostArgs(nil, nil, nil))
	}
	// spawn: a behavior name and args JSON from the body; a bad flag.
	spawnData := []byte("counter{\"a\":\"b\"}")
	fuzzseed.Add(f, uint8(10), hostArgs([]uint32{base, 7, base + 7, 9, 1}, []bool{true, false, true, false, false}, spawnData))
	fuzzseed.Add(f, uint8(10), hostArgs([]uint32{base, 7, base + 7, 3, 6}, []bool{true, false, true, false, false}, spawnData))
	// exit of self with a reason; register a name.
	fuzzseed.Add(f, uint8(16), hostArgs([]uint32{0, 0, base, 4}, []bool{false, false, true, false}, []byte("boom")))
	fuzzseed.Add(f, uint8(8), hostArgs([]uint32{base, 4}, []bool{true, false}, []byte("name")))

	h := newHost(f, func(c *hotcode.Config) { c.MessageDeadline = 500 * time.Millisecond })
	var mods []*hotcode.Module
	for _, hf := range fuzzHostFuncs {
		mods = append(mods, compile(f, h, hostCaller(hf.name, hf.params, hf.result)))
	}
	f.Fuzz(func(t *testing.T, fn uint8, body []byte) {
		hf := fuzzHostFuncs[int(fn)%len(fuzzHostFuncs)]
		if len(body) < hostArgSlot*hostArgSlots {
			body = append(body, make([]byte, hostArgSlot*hostArgSlots-len(body))...)
		}
		rt, _ := newRuntime(t, h, mods...)
		sub := rt.Subscribe(1024)
		defer sub.Close()
		pid := spawn(t, rt, "hf_"+hf.name+"@1", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := rt.Call(ctx, pid, actor.Message{Body: body})
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: the call did not return within 2 minutes", hf.name)
		}
		if err != nil {
			ev := actortest.AwaitEvent(t, sub, actortest.Is(actor.EventExited, pid))
			if strings.Contains(string(ev.Reason), "runtime error") {
				t.Fatalf("%s: a Go runtime error in the host: %s", hf.name, ev.Reason)
			}
		}
		if r := rt.Validate(actortest.Context(t)); !r.OK() {
			t.Fatalf("%s: runtime inconsistent after the call: %+v", hf.name, r)
		}
	})
}
