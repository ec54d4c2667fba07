// Package rpcerr reads what a steward node's gRPC errors say about
// themselves, for the node's own forwarding and for the Go client alike.
package rpcerr

import (
	"strings"

	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dialFailed is gRPC's own wording for a connection that could not be
// made: the one not-applied case that carries no detail, since no steward
// node answered.
const dialFailed = "Error while dialing"

// NotApplied reports whether a gRPC error proves its request was not
// applied: the node that answered said it is not (or no longer) the
// leader, that none is known, or that it is shutting down (a NotApplied
// status detail), or the connection could not be made. The same request
// may then be sent again, elsewhere.
func NotApplied(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, d := range st.Details() {
		if _, ok := d.(*pb.NotApplied); ok {
			return true
		}
	}
	return strings.Contains(st.Message(), dialFailed)
}
