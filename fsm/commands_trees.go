package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// TREE_APPLY returns the stored *pb.TreeRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_TREE_APPLY,
		func() proto.Message { return new(pb.TreeApplyCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			c := p.(*pb.TreeApplyCommand)
			if c.Tree != nil && c.Tree.UpdatedAtUnixNano == 0 {
				c.Tree.UpdatedAtUnixNano = e.ProposedAtUnixNano
			}
			return s.TreeApply(idx, c.Tree, c.Cas)
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_TREE_DELETE,
		func() proto.Message { return new(pb.TreeDeleteCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.TreeDelete(idx, p.(*pb.TreeDeleteCommand).Name)
		})
}
