package actor

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind says how a message reaches a behavior. Values are stable: they cross
// the wire (the node package carries them in protobuf).
type Kind uint8

const (
	// KindInfo is a plain send (Erlang's !); it reaches HandleInfo.
	KindInfo Kind = iota
	// KindCast reaches HandleCast.
	KindCast
	// KindCall reaches HandleCall; the caller waits for the reply.
	KindCall
	// KindExit is an exit signal turned into a message because the
	// receiver traps exits; it reaches HandleInfo with From = the exited
	// process and Body = the reason.
	KindExit
	// KindDown is a monitor notification; it reaches HandleInfo with From
	// = the monitored process, Ref = the monitor reference and Body = the
	// reason.
	KindDown
)

var kindNames = [...]string{"info", "cast", "call", "EXIT", "DOWN"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	if s == "" {
		return KindInfo, nil
	}
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q is not one of info, cast, call, EXIT, DOWN", ErrBadKind, s)
}

// Message is what crosses process boundaries: plain data only, so a message
// to another node and a message to a future WebAssembly behavior need no
// change. Ownership of Body passes to the runtime on send: the sender must
// not modify it afterwards (the runtime does not copy it).
type Message struct {
	Kind Kind
	// From is the sending process, or the zero PID when the sender is not a
	// process (an operator, a test).
	From PID
	// Ref is the monitor reference of a KindDown message; zero otherwise.
	Ref uint64
	// Body is opaque to the runtime; its size is limited by
	// Config.MaxMessageBytes.
	Body []byte
}

// Reason is why a process exited. The well-known values below carry OTP's
// meaning; any other value (usually an error's text) is abnormal.
type Reason string

const (
	// Normal is a clean exit: it does not kill linked processes, and
	// transient children are not restarted.
	Normal Reason = "normal"
	// Shutdown is the reason a supervisor uses to stop a child; it kills
	// linked processes that do not trap exits, but does not make a
	// transient child restart.
	Shutdown Reason = "shutdown"
	// Kill is the untrappable reason: a process sent an exit signal with
	// Kill dies even if it traps exits, and exits with reason Killed.
	Kill Reason = "kill"
	// Killed is the exit reason of a process that received Kill.
	Killed Reason = "killed"
	// NoProc is the reason in a DOWN message for a monitor set on a process
	// that was already dead.
	NoProc Reason = "noproc"
)

// Abnormal reports whether the reason counts as a failure for a transient
// child: everything except normal, shutdown and "shutdown: ...".
func (r Reason) Abnormal() bool {
	return r != Normal && r != Shutdown && !strings.HasPrefix(string(r), "shutdown:")
}
