package transport

import (
	"context"
	"time"

	"github.com/steward/steward/fsm"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

// Backend is what the server needs from its node to forward requests,
// answer reads and commit proposals.
type Backend interface {
	// NodeName is this node's name.
	NodeName() string
	// IsLeader reports whether this node is the Raft leader.
	IsLeader() bool
	// Leader returns the leader's node name and gRPC address, or empty
	// strings when no leader is known.
	Leader() (name, grpcAddr string)
	// Apply proposes one command on the leader and waits for it to be
	// applied. Errors are this package's sentinels (ErrNotLeader,
	// ErrLeadershipLost, ErrTimeout, ...); the command's own domain error
	// is in Result.Err.
	Apply(ctx context.Context, t pb.CommandType, payload proto.Message) (*fsm.Result, error)
	// ReadBarrier makes a subsequent read of State linearizable: on the
	// leader it confirms leadership and waits for the FSM to reach the
	// commit index.
	ReadBarrier(ctx context.Context) error
	// State is the local replica of the replicated state.
	State() *state.Store
	// LastContact is how long ago this node last heard from the leader (0
	// on the leader).
	LastContact() time.Duration
	// StaleReadsFrom is where stale reads are answered: "" for this
	// node's own replica (a server's), else the gRPC address of the server
	// a client agent streams from, since a client holds only the records
	// that concern it.
	StaleReadsFrom() (addr string, err error)
}
