package transport

import (
	"context"
	"errors"

	"github.com/steward/steward/fsm"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

var codeTable = []struct {
	err  error
	code codes.Code
}{
	{ErrNotLeader, codes.Unavailable},
	{ErrNoLeader, codes.Unavailable},
	{ErrShuttingDown, codes.Unavailable},
	{ErrLeadershipLost, codes.Aborted},
	{ErrUnknownPeer, codes.NotFound},
	{ErrNotFound, codes.NotFound},
	{state.ErrNotFound, codes.NotFound},
	{ErrInvalidRequest, codes.InvalidArgument},
	{state.ErrInvalidKey, codes.InvalidArgument},
	{state.ErrValueTooLarge, codes.InvalidArgument},
	{state.ErrInvalidRecord, codes.InvalidArgument},
	{fsm.ErrMalformedCommand, codes.InvalidArgument},
	{state.ErrCASConflict, codes.FailedPrecondition},
	{ErrConflict, codes.FailedPrecondition},
	{fsm.ErrHalted, codes.Internal},
	{fsm.ErrUnknownCommand, codes.Internal},
	{ErrTimeout, codes.DeadlineExceeded},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

// RegisterCode maps a package's sentinel error to a gRPC code. Later layers
// call it from init for their own sentinels.
func RegisterCode(err error, code codes.Code) {
	codeTable = append(codeTable, struct {
		err  error
		code codes.Code
	}{err, code})
}

// ToStatus turns an error into a gRPC status error with the code of its
// sentinel, keeping the message intact so the CLI can print it.
func ToStatus(err error) error { return toStatus(err) }

func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}
