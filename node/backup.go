package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/transport"
)

// Backups of the replicated state (package backup streams them): a user
// Raft snapshot taken on the leader, and a restore of one through Raft,
// which replaces the state of every node.

// OpenSnapshot takes a Raft snapshot on this node, which must be the
// leader, and opens it for reading; the caller closes the reader. A
// barrier first makes sure everything committed is in the FSM, so the
// snapshot covers it (and is not refused for a configuration change the FSM
// has not seen).
func (n *Node) OpenSnapshot(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error) {
	if !n.IsLeader() {
		return nil, nil, transport.ErrNotLeader
	}
	if err := n.waitReady(ctx); err != nil {
		return nil, nil, err
	}
	if err := n.raft.Barrier(untilDeadline(ctx, n.cfg.ApplyTimeout)).Error(); err != nil {
		return nil, nil, translateRaftErr(err)
	}
	f := n.raft.Snapshot()
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNothingNewToSnapshot) {
			return nil, nil, fmt.Errorf("%w: the replicated state is empty", transport.ErrConflict)
		}
		return nil, nil, fmt.Errorf("raft snapshot: %w", translateRaftErr(err))
	}
	meta, rc, err := f.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open raft snapshot: %w", err)
	}
	return meta, rc, nil
}

// RestoreSnapshot replaces the replicated state with a snapshot's content
// (Raft's user restore): the leader installs it as a new snapshot past its
// last index, and the followers, finding the gap, receive it through
// InstallSnapshot. It returns once a no-op entry after the restore is
// committed. The content must already be verified: Raft panics when the
// FSM cannot restore it.
func (n *Node) RestoreSnapshot(ctx context.Context, meta *raft.SnapshotMeta, r io.Reader) error {
	if !n.IsLeader() {
		return transport.ErrNotLeader
	}
	if err := n.waitReady(ctx); err != nil {
		return err
	}
	if err := n.raft.Restore(meta, r, untilDeadline(ctx, n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("raft restore: %w", translateRaftErr(err))
	}
	return nil
}

// LastIndex is the index of the last entry in this node's Raft log; on a
// client agent, the last index its work stream brought it to.
func (n *Node) LastIndex() uint64 {
	if n.client != nil {
		return n.State().LatestIndex()
	}
	return n.raft.LastIndex()
}

// untilDeadline is what is left of ctx's deadline, or def without one.
func untilDeadline(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return def
}
