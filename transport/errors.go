package transport

import (
	"context"
	"errors"

	"github.com/steward/steward/fsm"
	"github.com/steward/steward/internal/rpcerr"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Errors a Backend returns; the server maps each to a gRPC code.
var (
	// ErrNotLeader: this node is not the leader and the request was not
	// applied. Safe to retry elsewhere.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader: the cluster has no known leader right now (election in
	// progress, or no quorum). Nothing was applied.
	ErrNoLeader = errors.New("no cluster leader")
	// ErrLeadershipLost: leadership was lost while a write was in flight;
	// it may or may not have been committed.
	ErrLeadershipLost = errors.New("leadership lost while committing; the write may or may not have been applied")
	// ErrUnknownPeer: the named node is not a Raft peer.
	ErrUnknownPeer = errors.New("unknown peer")
	// ErrInvalidRequest: the request is malformed or over a limit.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrShuttingDown: the node is shutting down.
	ErrShuttingDown = errors.New("node is shutting down")
	// ErrTimeout: the operation did not finish before its deadline.
	ErrTimeout = errors.New("timed out")
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request conflicts with the current state.
	ErrConflict = errors.New("conflict")
)

// registered is a sentinel error as it crosses the wire: its stable kind
// name (never reused for another sentinel) and its gRPC code.
type registered struct {
	kind string
	err  error
	code codes.Code
	// notApplied: the error proves nothing was applied.
	notApplied bool
}

var codeTable = []registered{
	{"transport.not_leader", ErrNotLeader, codes.Unavailable, true},
	{"transport.no_leader", ErrNoLeader, codes.Unavailable, true},
	{"transport.shutting_down", ErrShuttingDown, codes.Unavailable, true},
	{"transport.leadership_lost", ErrLeadershipLost, codes.Aborted, false},
	{"transport.unknown_peer", ErrUnknownPeer, codes.NotFound, false},
	{"transport.not_found", ErrNotFound, codes.NotFound, false},
	{"state.not_found", state.ErrNotFound, codes.NotFound, false},
	{"transport.invalid_request", ErrInvalidRequest, codes.InvalidArgument, false},
	{"state.invalid_key", state.ErrInvalidKey, codes.InvalidArgument, false},
	{"state.value_too_large", state.ErrValueTooLarge, codes.InvalidArgument, false},
	{"state.invalid_record", state.ErrInvalidRecord, codes.InvalidArgument, false},
	{"fsm.malformed_command", fsm.ErrMalformedCommand, codes.InvalidArgument, false},
	{"state.cas_conflict", state.ErrCASConflict, codes.FailedPrecondition, false},
	{"transport.conflict", ErrConflict, codes.FailedPrecondition, false},
	{"fsm.halted", fsm.ErrHalted, codes.Internal, false},
	{"fsm.unknown_command", fsm.ErrUnknownCommand, codes.Internal, false},
	{"transport.timeout", ErrTimeout, codes.DeadlineExceeded, false},
	{"context.deadline_exceeded", context.DeadlineExceeded, codes.DeadlineExceeded, false},
	{"context.canceled", context.Canceled, codes.Canceled, false},
}

// RegisterCode maps a package's sentinel error to a gRPC code, under a
// stable kind name ("package.name") by which the error is recognised when
// it comes back from another node. Later layers call it from init for
// their own sentinels; a kind registered twice is a programming error.
func RegisterCode(kind string, err error, code codes.Code) {
	if byKind(kind) != nil {
		panic("transport: error kind " + kind + " registered twice")
	}
	codeTable = append(codeTable, registered{kind: kind, err: err, code: code})
}

// ToStatus turns an error into a gRPC status error with the code of its
// sentinel, keeping the message intact so the CLI can print it. The status
// carries the sentinel's kind (a CommandError detail), and a NotApplied
// detail when the error proves nothing was applied, so that another node
// reading it (FromStatus, NotApplied) needs no matching on text.
func ToStatus(err error) error { return toStatus(err) }

func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	e := registeredFor(err)
	if e == nil {
		return status.Error(codes.Internal, err.Error())
	}
	st := status.New(e.code, err.Error())
	details := []protoadapt.MessageV1{protoadapt.MessageV1Of(commandError(err))}
	if e.notApplied {
		details = append(details, protoadapt.MessageV1Of(&pb.NotApplied{Reason: e.kind}))
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// registeredFor is the first registered sentinel err wraps, or nil.
func registeredFor(err error) *registered {
	for i := range codeTable {
		if errors.Is(err, codeTable[i].err) {
			return &codeTable[i]
		}
	}
	return nil
}

// remoteError is an error another node answered with: its message and
// code as sent, wrapping the local sentinel of its kind, so errors.Is
// works the same on every node.
type remoteError struct {
	st       *status.Status
	sentinel error
}

func (e *remoteError) Error() string              { return e.st.Message() }
func (e *remoteError) Unwrap() error              { return e.sentinel }
func (e *remoteError) GRPCStatus() *status.Status { return e.st }

// FromStatus turns an error received from another node back into one that
// wraps the sentinel the other node's status names (kept as a gRPC status,
// with its code and details, when it is sent on). Errors of no known kind
// are returned as they are.
func FromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if ce, ok := d.(*pb.CommandError); ok {
			if e := byKind(ce.Kind); e != nil {
				return &remoteError{st: st, sentinel: e.err}
			}
		}
	}
	return err
}

func byKind(kind string) *registered {
	for i := range codeTable {
		if codeTable[i].kind == kind {
			return &codeTable[i]
		}
	}
	return nil
}

// commandError encodes a command's domain error for the wire.
func commandError(err error) *pb.CommandError {
	if err == nil {
		return nil
	}
	ce := &pb.CommandError{Code: uint32(codes.Internal), Message: err.Error()}
	if e := registeredFor(err); e != nil {
		ce.Kind, ce.Code = e.kind, uint32(e.code)
	}
	return ce
}

// fromCommandError decodes a command's domain error from the wire.
func fromCommandError(ce *pb.CommandError) error {
	if ce == nil {
		return nil
	}
	st := status.New(codes.Code(ce.Code), ce.Message)
	if e := byKind(ce.Kind); e != nil {
		if withDetails, err := st.WithDetails(protoadapt.MessageV1Of(ce)); err == nil {
			st = withDetails
		}
		return &remoteError{st: st, sentinel: e.err}
	}
	return st.Err()
}

// NotApplied reports whether a failed request certainly was not applied:
// this node, or the one that answered, said it is not (or no longer) the
// leader, that none is known, or that it is shutting down, or the
// connection could not be made. The same request may then be sent again,
// elsewhere.
func NotApplied(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range codeTable {
		if e.notApplied && errors.Is(err, e.err) {
			return true
		}
	}
	return rpcerr.NotApplied(err)
}
