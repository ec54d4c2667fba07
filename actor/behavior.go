package actor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Behavior is what a worker process runs: OTP's gen_server callbacks with
// the state kept inside the implementation and exchanged as bytes. Every
// callback runs in the process's own goroutine, one at a time, so an
// implementation needs no locking. A WebAssembly-backed behavior implements
// the same interface by forwarding each callback into its module.
//
// Errors returned from callbacks decide the process's fate:
//   - nil: carry on;
//   - Refuse(...) (from HandleCall): the caller gets an error wrapping
//     ErrRefused and the process carries on;
//   - Stop(reason): the process runs Terminate(reason) and exits with it;
//   - anything else, or a panic: the process crashes, runs Terminate with
//     the error's text as reason, and exits with that reason.
type Behavior interface {
	// Init runs before the process receives anything; the spawner waits
	// for it. An error fails the start, except Ignore() (OTP's ignore):
	// the process exits normally and its supervisor keeps the child with
	// no process.
	Init(p Proc) error
	// HandleCall answers a Call; the returned bytes are the reply.
	HandleCall(p Proc, msg Message) ([]byte, error)
	// HandleCast handles a Cast.
	HandleCast(p Proc, msg Message) error
	// HandleInfo handles plain sends, timer messages, and EXIT and DOWN
	// messages (msg.Kind tells them apart).
	HandleInfo(p Proc, msg Message) error
	// Terminate runs when the process stops by its own decision, crashes,
	// or is shut down by its supervisor with a timeout; it does not run
	// after brutal_kill, Kill or an untrapped exit signal.
	Terminate(p Proc, reason Reason)
	// CodeChange runs on a fresh instance of the new version, receiving
	// the old version's name and exported state; it must leave the new
	// instance holding the converted state.
	CodeChange(oldVersion string, oldState []byte) error
	// ExportState serializes the state (JSON for native behaviors); used by
	// GetState, state history and code change.
	ExportState() ([]byte, error)
	// ImportState replaces the state with a serialized one (ReplaceState).
	ImportState(state []byte) error
}

// Sizer is the optional ability to report the approximate size of a
// behavior's state (bytes); the runtime adds it to the process's memory
// estimate after every message. It must be cheap.
type Sizer interface {
	ApproxSize() int
}

// Proc is the process a behavior runs in, handed to every callback. Its
// methods are meant to be called from that callback's goroutine.
type Proc interface {
	Self() PID
	// Parent is the supervisor of the process, or the zero PID.
	Parent() PID
	// Name is the process's registered name, or "".
	Name() string
	Now() time.Time
	Logger() hclog.Logger

	// Send, Cast and Call address any PID, local or remote; From is set
	// to Self. Send to a dead process is silently dropped, as in OTP.
	Send(to PID, body []byte) error
	Cast(to PID, body []byte) error
	Call(ctx context.Context, to PID, body []byte) ([]byte, error)
	// WhereIs resolves a registered name on this node to a live PID.
	WhereIs(name string) (PID, bool)
	// SendAfter delivers body to this process as a KindInfo message after
	// d (on the runtime's clock). The returned func cancels it.
	SendAfter(d time.Duration, body []byte) (cancel func())

	Link(to PID) error
	Unlink(to PID)
	Monitor(to PID) (ref uint64, err error)
	Demonitor(ref uint64)
	// TrapExit turns exit signals from linked processes into KindExit
	// messages instead of killing this process (Kill stays untrappable).
	TrapExit(on bool)
}

// stopError is returned through Stop.
type stopError struct{ reason Reason }

func (e *stopError) Error() string { return "stop: " + string(e.reason) }

// Stop makes a callback's process terminate with reason (use Normal for a
// clean exit).
func Stop(reason Reason) error { return &stopError{reason: reason} }

// Refuse makes HandleCall answer with an error (wrapping ErrRefused) while
// the process carries on.
func Refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Ignore is what Init returns to decline to run, OTP's ignore: the
// process exits with reason normal (Terminate does not run, nothing
// counts as a crash or a restart) and its starter learns that the start
// was ignored (ErrIgnore). Returned from any other callback it is an
// error like any other: the process crashes.
func Ignore() error { return ErrIgnore }

// outcome classifies a callback error.
func outcome(err error) (stop bool, reason Reason, refused bool) {
	if err == nil {
		return false, "", false
	}
	var se *stopError
	if errors.As(err, &se) {
		return true, se.reason, false
	}
	if errors.Is(err, ErrRefused) {
		return false, "", true
	}
	return true, Reason(err.Error()), false
}
