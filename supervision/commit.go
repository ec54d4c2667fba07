package supervision

import (
	"context"

	"github.com/steward/steward/pb"
)

// The supervision layer is the one writer of tree records: its API,
// placement and other layers (a snapshot restore) commit desired state
// through these, so the rules of a tree record live in one place.

// PutTree commits a tree's desired state (forwarded to the leader when
// this node does not lead), with a check-and-set on the record's modify
// index when cas is set (0: only if absent). It returns the Raft index of
// the commit; the record's own modify index stays older when nothing
// changed.
func (l *Layer) PutTree(ctx context.Context, rec *pb.TreeRecord, cas *uint64) (uint64, error) {
	return l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_TREE_APPLY, &pb.TreeApplyCommand{Tree: rec, Cas: cas})
}

// RemoveTree commits the deletion of a tree's desired state; its node then
// stops it.
func (l *Layer) RemoveTree(ctx context.Context, name string) (uint64, error) {
	return l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_TREE_DELETE, &pb.TreeDeleteCommand{Name: name})
}
