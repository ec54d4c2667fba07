package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// EXPERIMENT_CREATE returns the stored *pb.ExperimentRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_EXPERIMENT_CREATE,
		func() proto.Message { return new(pb.ExperimentCreateCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ExperimentCreate(idx, e.ProposedAtUnixNano, p.(*pb.ExperimentCreateCommand))
		})
	// SANDBOX_STATUS returns the stored *pb.SandboxRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS,
		func() proto.Message { return new(pb.SandboxStatusCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.SandboxStatus(idx, e.ProposedAtUnixNano, p.(*pb.SandboxStatusCommand))
		})
	// SANDBOX_PLACE returns the stored *pb.SandboxRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_SANDBOX_PLACE,
		func() proto.Message { return new(pb.SandboxPlaceCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.SandboxPlace(idx, p.(*pb.SandboxPlaceCommand))
		})
	// EXPERIMENT_ABORT returns the failed *pb.ExperimentRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_EXPERIMENT_ABORT,
		func() proto.Message { return new(pb.ExperimentAbortCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ExperimentAbort(idx, e.ProposedAtUnixNano, p.(*pb.ExperimentAbortCommand))
		})
	// EXPERIMENT_DELETE returns the removed sandboxes' names ([]string).
	registerCommand(pb.CommandType_COMMAND_TYPE_EXPERIMENT_DELETE,
		func() proto.Message { return new(pb.ExperimentDeleteCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ExperimentDelete(idx, p.(*pb.ExperimentDeleteCommand))
		})
}
