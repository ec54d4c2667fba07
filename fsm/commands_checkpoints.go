package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// CHECKPOINT_CREATE returns the stored *pb.CheckpointRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE,
		func() proto.Message { return new(pb.CheckpointCreateCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.CheckpointCreate(idx, e.ProposedAtUnixNano, p.(*pb.CheckpointCreateCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE,
		func() proto.Message { return new(pb.CheckpointDeleteCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.CheckpointDelete(idx, p.(*pb.CheckpointDeleteCommand))
		})
}
