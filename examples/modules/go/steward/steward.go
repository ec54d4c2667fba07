//go:build wasip1

// Package steward is a tiny SDK for steward modules in Go (module ABI 1,
// docs/MODULES.md): it exports the ABI's functions (alloc, dealloc, init,
// handle_call, ...) with //go:wasmexport and forwards each callback to
// the Behavior the module registers, so a module author writes only the
// callbacks. The host functions are wrapped below; only those a module
// calls end up imported (the linker drops the rest), and each must be
// listed in the manifest's host_functions.
//
// Build with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, then
// cmd/lazyinit (the host never calls _initialize: see README.md).
package steward

import "unsafe"

// Status is a callback's or a host function's status (docs/MODULES.md,
// "Callbacks and status codes" and "Host functions").
type Status uint32

// Callback statuses.
const (
	OK     Status = 0 // carry on
	Refuse Status = 1 // refuse the call, drop the message
	Stop   Status = 2 // stop with reason normal
)

// Host statuses.
const (
	HostOK          Status = 0
	HostBadArgument Status = 1
	HostNotFound    Status = 2
	HostUnavailable Status = 3
	HostRefused     Status = 4
	HostTimeout     Status = 5
	HostFull        Status = 6
	HostFailed      Status = 7
)

// Message kinds of HandleInfo.
const (
	KindPlain = 0
	KindExit  = 3
	KindDown  = 4
)

// Code change directions.
const (
	Up   = 0
	Down = 1
)

// Behavior is a module's callbacks. Byte slices given to a callback are
// valid only until it returns (the host reuses its input buffer): keep a
// copy. A reply or exported state is copied by the host when the
// callback returns.
type Behavior interface {
	Init(args []byte) Status
	// HandleCall returns the reply; a status other than OK replaces it.
	HandleCall(body []byte) ([]byte, Status)
	HandleCast(body []byte) Status
	HandleInfo(kind uint32, body []byte) Status
	Terminate(reason []byte)
	CodeChange(vsn []byte, direction uint32, extra, state []byte) Status
	// StateExport returns the state; a status other than OK replaces it.
	StateExport() ([]byte, Status)
	StateImport(state []byte) Status
}

var behavior Behavior

// Register sets the module's behavior; call it from an init function
// (a c-shared module's main is never called).
func Register(b Behavior) { behavior = b }

// ---- memory ----

// pinned holds every buffer given out by alloc until dealloc, so the
// collector (which does not move objects) keeps it.
var pinned = map[uint32][]byte{}

// result keeps the last reply alive until the host has copied it.
var result []byte

//go:wasmexport alloc
func alloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	pinned[p] = b
	return p
}

//go:wasmexport dealloc
func dealloc(ptr, size uint32) { delete(pinned, ptr) }

func bytesAt(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(nil, uintptr(ptr))), n)
}

func ptrOf(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

const statusMark = uint64(0xFFFFFFFF) << 32

func packStatus(s Status) uint64 { return statusMark | uint64(s) }

func pack(b []byte, s Status) uint64 {
	if s != OK || len(b) == 0 {
		return packStatus(s)
	}
	result = b
	return uint64(ptrOf(b))<<32 | uint64(len(b))
}

// unpack reads a host function's packed result: a buffer (valid until
// the callback returns) or a status.
func unpack(r uint64) ([]byte, Status) {
	if r>>32 == 0xFFFFFFFF {
		return nil, Status(uint32(r))
	}
	return bytesAt(uint32(r>>32), uint32(r)), HostOK
}

// ---- the ABI's exports ----

//go:wasmexport init
func initExport(ptr, n uint32) uint32 { return uint32(behavior.Init(bytesAt(ptr, n))) }

//go:wasmexport handle_call
func handleCall(ptr, n uint32) uint64 { return pack(behavior.HandleCall(bytesAt(ptr, n))) }

//go:wasmexport handle_cast
func handleCast(ptr, n uint32) uint32 { return uint32(behavior.HandleCast(bytesAt(ptr, n))) }

//go:wasmexport handle_info
func handleInfo(kind, ptr, n uint32) uint32 {
	return uint32(behavior.HandleInfo(kind, bytesAt(ptr, n)))
}

//go:wasmexport terminate
func terminate(ptr, n uint32) { behavior.Terminate(bytesAt(ptr, n)) }

//go:wasmexport code_change
func codeChange(vp, vn, dir, ep, en, sp, sn uint32) uint32 {
	return uint32(behavior.CodeChange(bytesAt(vp, vn), dir, bytesAt(ep, en), bytesAt(sp, sn)))
}

//go:wasmexport state_export
func stateExport() uint64 { return pack(behavior.StateExport()) }

//go:wasmexport state_import
func stateImport(ptr, n uint32) uint32 { return uint32(behavior.StateImport(bytesAt(ptr, n))) }

// ---- host functions (module "steward") ----

//go:wasmimport steward send
func hostSend(pp, pn, bp, bn uint32) uint32

//go:wasmimport steward cast
func hostCast(pp, pn, bp, bn uint32) uint32

//go:wasmimport steward call
func hostCall(pp, pn, bp, bn, timeoutMS uint32) uint64

//go:wasmimport steward self
func hostSelf() uint64

//go:wasmimport steward from
func hostFrom() uint64

//go:wasmimport steward log
func hostLog(level, p, n uint32)

//go:wasmimport steward now
func hostNow() int64

//go:wasmimport steward send_after
func hostSendAfter(delayMS int64, bp, bn uint32) uint32

//go:wasmimport steward whereis
func hostWhereis(p, n uint32) uint64

//go:wasmimport steward link
func hostLink(p, n uint32) uint32

//go:wasmimport steward unlink
func hostUnlink(p, n uint32) uint32

//go:wasmimport steward monitor
func hostMonitor(p, n uint32) uint64

//go:wasmimport steward demonitor
func hostDemonitor(ref int64)

//go:wasmimport steward trap_exit
func hostTrapExit(on uint32)

//go:wasmimport steward register
func hostRegister(p, n uint32) uint32

//go:wasmimport steward spawn
func hostSpawn(bp, bn, ap, an, flags uint32) uint64

//go:wasmimport steward exit
func hostExit(pp, pn, rp, rn uint32) uint32

// Send sends a plain message (HandleInfo, kind 0) to a PID ("node/seq").
func Send(pid, body []byte) Status {
	return Status(hostSend(ptrOf(pid), uint32(len(pid)), ptrOf(body), uint32(len(body))))
}

// Cast casts body to a PID.
func Cast(pid, body []byte) Status {
	return Status(hostCast(ptrOf(pid), uint32(len(pid)), ptrOf(body), uint32(len(body))))
}

// Call calls a PID; timeoutMS 0 is the runtime's default. The reply is
// valid until the current callback returns.
func Call(pid, body []byte, timeoutMS uint32) ([]byte, Status) {
	return unpack(hostCall(ptrOf(pid), uint32(len(pid)), ptrOf(body), uint32(len(body)), timeoutMS))
}

// Self is this process's PID.
func Self() ([]byte, Status) { return unpack(hostSelf()) }

// From is the sender of the message being handled (empty when none).
func From() ([]byte, Status) { return unpack(hostFrom()) }

// Log writes a log line: level 0 trace, 1 debug, 2 info, 3 warn, 4+ error.
func Log(level uint32, msg []byte) { hostLog(level, ptrOf(msg), uint32(len(msg))) }

// Now is the runtime's clock in Unix nanoseconds.
func Now() int64 { return hostNow() }

// SendAfter sends body to this process as a plain message after delayMS.
func SendAfter(delayMS int64, body []byte) Status {
	return Status(hostSendAfter(delayMS, ptrOf(body), uint32(len(body))))
}

// Whereis is the PID registered under name on this node.
func Whereis(name []byte) ([]byte, Status) {
	return unpack(hostWhereis(ptrOf(name), uint32(len(name))))
}

// Link links with a local process.
func Link(pid []byte) Status { return Status(hostLink(ptrOf(pid), uint32(len(pid)))) }

// Unlink drops a link.
func Unlink(pid []byte) Status { return Status(hostUnlink(ptrOf(pid), uint32(len(pid)))) }

// Monitor monitors a local process: the reference (>= 1) or a status.
func Monitor(pid []byte) (int64, Status) {
	r := hostMonitor(ptrOf(pid), uint32(len(pid)))
	if r>>32 == 0xFFFFFFFF {
		return 0, Status(uint32(r))
	}
	return int64(r), HostOK
}

// Demonitor drops a monitor.
func Demonitor(ref int64) { hostDemonitor(ref) }

// TrapExit turns exit signals from linked processes into EXIT messages.
func TrapExit(on bool) {
	if on {
		hostTrapExit(1)
	} else {
		hostTrapExit(0)
	}
}

// RegisterName registers this process under a name (dangerous).
func RegisterName(name []byte) Status { return Status(hostRegister(ptrOf(name), uint32(len(name)))) }

// Spawn starts a standalone process running a catalog behavior with args
// (a JSON object of strings); link links it to this process (dangerous).
func Spawn(behaviorName, args []byte, link bool) ([]byte, Status) {
	var flags uint32
	if link {
		flags = 1
	}
	return unpack(hostSpawn(ptrOf(behaviorName), uint32(len(behaviorName)), ptrOf(args), uint32(len(args)), flags))
}

// Exit sends an exit signal with reason to a local process; an empty PID
// stops this process (dangerous).
func Exit(pid, reason []byte) Status {
	return Status(hostExit(ptrOf(pid), uint32(len(pid)), ptrOf(reason), uint32(len(reason))))
}
