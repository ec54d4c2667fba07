package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/fsm"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft != nil && n.raft.State() == raft.Leader }

// Leader returns the leader's name and the gRPC address requests for the
// leader go to: on a server the leader's own, on a client agent that of
// the server it streams from, which forwards them (a client talks to its
// server only). Both are empty while no leader is known.
func (n *Node) Leader() (string, string) {
	if n.client != nil {
		return n.client.leaderVia()
	}
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return "", ""
	}
	name := string(id)
	if name == n.cfg.Name {
		return name, n.grpcAddr
	}
	if m, ok := n.members.get(name); ok && m.Meta.GRPCAddr != "" {
		return name, m.Meta.GRPCAddr
	}
	if rec, err := n.State().Node(name); err == nil && rec != nil {
		return name, rec.GrpcAddr
	}
	return name, ""
}

// LastContact is how long ago this node heard from the leader.
func (n *Node) LastContact() time.Duration {
	if n.IsLeader() {
		return 0
	}
	if n.client != nil {
		n.client.mu.RLock()
		defer n.client.mu.RUnlock()
		if n.client.lastContact.IsZero() {
			return -1
		}
		return time.Since(n.client.lastContact)
	}
	lc := n.raft.LastContact()
	if lc.IsZero() {
		return -1
	}
	return time.Since(lc)
}

// Propose gets a command committed: applied here when this node leads,
// otherwise forwarded to the leader over the Internal service. It is the
// one way a layer commits; the command's domain error is the returned
// error (see transport.Server.Propose).
func (n *Node) Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error) {
	return n.server.Propose(ctx, t, payload)
}

// Apply proposes a command and waits until it is applied on this node
// (the leader). The command's domain error is in Result.Err.
func (n *Node) Apply(ctx context.Context, t pb.CommandType, payload proto.Message) (*fsm.Result, error) {
	if n.client != nil {
		return nil, errClientNoRaft
	}
	data, err := fsm.Encode(t, payload, n.cfg.Clock.Now(), n.cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: no time left to apply", transport.ErrTimeout)
	}
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return nil, translateRaftErr(err)
	}
	res, ok := f.Response().(*fsm.Result)
	if !ok {
		return nil, fmt.Errorf("apply %s: unexpected FSM response %T", t, f.Response())
	}
	return res, nil
}

// translateRaftErr maps Raft's errors to transport's sentinels, keeping the
// distinction between "not applied, safe to retry" and "outcome unknown".
func translateRaftErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", transport.ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return transport.ErrLeadershipLost
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: the command was not enqueued before its deadline", transport.ErrTimeout)
	case errors.Is(err, raft.ErrRaftShutdown):
		return transport.ErrShuttingDown
	case errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%w: %v", transport.ErrNotLeader, err)
	}
	return err
}

// ReadBarrier makes the next read of State linearizable (Raft's read-index
// protocol): it waits until this leader has applied an entry of its own
// term, takes the commit index, confirms with a quorum that it is still the
// leader, and waits for the FSM to apply up to that index.
func (n *Node) ReadBarrier(ctx context.Context) error {
	if n.client != nil {
		return errClientNoRaft
	}
	if !n.IsLeader() {
		return transport.ErrNotLeader
	}
	if err := n.waitReady(ctx); err != nil {
		return err
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return translateRaftErr(err)
	}
	return waitFor(ctx, func() bool { return n.raft.AppliedIndex() >= idx })
}

// waitReady waits until this node, as leader, has established leadership in
// its current term.
func (n *Node) waitReady(ctx context.Context) error {
	return waitFor(ctx, func() bool {
		return n.readyTerm.Load() != 0 && n.readyTerm.Load() == n.raft.CurrentTerm()
	}, func() error {
		if !n.IsLeader() {
			return transport.ErrNotLeader
		}
		return nil
	})
}

// waitFor polls cond until it holds, ctx ends, or abort returns an error,
// every 50 µs doubling to 6.4 ms: it waits for Raft, on the wall clock.
func waitFor(ctx context.Context, cond func() bool, abort ...func() error) error {
	var aborted error
	err := poll.Until(ctx, clock.System(), poll.Doubling(50*time.Microsecond, 6400*time.Microsecond), func() (bool, error) {
		if cond() {
			return true, nil
		}
		for _, a := range abort {
			if aborted = a(); aborted != nil {
				return true, nil
			}
		}
		return false, nil
	})
	switch {
	case aborted != nil:
		return aborted
	case err != nil:
		return fmt.Errorf("%w: %v", transport.ErrTimeout, err)
	}
	return nil
}
