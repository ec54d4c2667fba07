package hotcode

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// ABIVersion is the module ABI this package implements (docs/MODULES.md);
// a manifest must declare it ("abi": 1).
const ABIVersion = 1

// ManifestSection is the name of the custom section holding the manifest.
const ManifestSection = "steward.manifest"

// HostModule is the import module name of the host functions.
const HostModule = "steward"

// WASIModule is the import module name of WASI preview 1.
const WASIModule = "wasi_snapshot_preview1"

// Status codes: what an i32 status result of a guest callback means
// (docs/MODULES.md, "Status codes").
const (
	StatusOK     = 0 // carry on
	StatusRefuse = 1 // refuse (HandleCall: the caller gets ErrRefused)
	StatusStop   = 2 // stop with reason normal
	// Any other value crashes the process.
)

// Host function status codes, returned by host functions to the guest.
const (
	HostOK          = 0 // done
	HostBadArg      = 1 // malformed PID, name, args or kind
	HostNoProc      = 2 // no such live process or registered name
	HostUnavailable = 3 // not available here (no process: code_change, state_*, a smoke run; remote PID; not bound)
	HostRefused     = 4 // the callee refused the call
	HostTimeout     = 5 // the call timed out
	HostFull        = 6 // mailbox full or message too large
	HostFailed      = 7 // any other failure (no route, name taken, ...)
)

// statusWord marks a packed i64 result as a status: its high 32 bits are
// all ones and the low 32 bits hold the status. Any other value packs a
// buffer as ptr<<32 | len.
const statusWord = uint64(0xffffffff) << 32

func packStatus(s uint32) uint64      { return statusWord | uint64(s) }
func packBuf(ptr, n uint32) uint64    { return uint64(ptr)<<32 | uint64(n) }
func isStatus(r uint64) bool          { return r&statusWord == statusWord }
func unpack(r uint64) (ptr, n uint32) { return uint32(r >> 32), uint32(r) }

// Direction of a code change, the i32 given to code_change.
const (
	DirectionUp   = 0
	DirectionDown = 1
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// export is one guest export of the ABI.
type export struct {
	name     string
	params   []api.ValueType
	results  []api.ValueType
	optional bool
}

// Export indexes into abiExports (the order is the table's).
const (
	exAlloc = iota
	exDealloc
	exInit
	exHandleCall
	exHandleCast
	exHandleInfo
	exTerminate
	exCodeChange
	exStateExport
	exStateImport
	exHealth
	exBeforeUpgrade
	numExports
)

// abiExports is the ABI's export table, in docs/MODULES.md's order.
var abiExports = [numExports]export{
	exAlloc:         {"alloc", vt(i32), vt(i32), false},
	exDealloc:       {"dealloc", vt(i32, i32), nil, true},
	exInit:          {"init", vt(i32, i32), vt(i32), false},
	exHandleCall:    {"handle_call", vt(i32, i32), vt(i64), false},
	exHandleCast:    {"handle_cast", vt(i32, i32), vt(i32), false},
	exHandleInfo:    {"handle_info", vt(i32, i32, i32), vt(i32), false},
	exTerminate:     {"terminate", vt(i32, i32), nil, false},
	exCodeChange:    {"code_change", vt(i32, i32, i32, i32, i32, i32, i32), vt(i32), false},
	exStateExport:   {"state_export", nil, vt(i64), false},
	exStateImport:   {"state_import", vt(i32, i32), vt(i32), false},
	exHealth:        {"health", nil, vt(i32), true},
	exBeforeUpgrade: {"before_upgrade", vt(i32, i32), vt(i32), true},
}

// memoryExport is the name the module's memory must be exported under.
const memoryExport = "memory"

func vt(ts ...api.ValueType) []api.ValueType { return ts }

// signature renders "(i32, i32) -> i64".
func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	r := names(results)
	if len(results) != 1 {
		r = "(" + r + ")"
	}
	return fmt.Sprintf("(%s) -> %s", names(params), r)
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
