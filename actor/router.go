package actor

import "context"

// Router carries messages to processes on other nodes. The runtime consumes
// it; the node package implements it over gRPC. On the receiving node the
// implementation hands the message to that node's Runtime.Send.
type Router interface {
	// Route delivers msg (KindInfo or KindCast) to a process on to.Node.
	// It returns an error wrapping ErrNoRoute when the node cannot be
	// reached; what it returns for a dead remote process is the remote
	// runtime's Send result (nil, as in OTP) unless checked is asked for by
	// the caller through CheckedRouter.
	Route(ctx context.Context, to PID, msg Message) error
}

// CallRouter is the optional ability to make a synchronous call to a remote
// process; the receiving node answers with its Runtime.Call.
type CallRouter interface {
	RouteCall(ctx context.Context, to PID, msg Message) ([]byte, error)
}

// SignalRouter is the optional ability to carry links, monitors, exit
// signals, DOWN messages and suspends to processes on other nodes, as
// Erlang distribution does (remote.go); on the receiving node the
// implementation hands the signal to that node's Runtime.HandleSignal.
// Without it, links and monitors to remote processes are refused with
// ErrRemoteUnsupported.
type SignalRouter interface {
	RouteSignal(ctx context.Context, s Signal) error
}

// CheckedRouter is the optional ability to deliver with the remote
// runtime's SendChecked, so that a dead or unknown remote PID is reported.
type CheckedRouter interface {
	RouteChecked(ctx context.Context, to PID, msg Message) error
}
