package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	registerCommand(pb.CommandType_COMMAND_TYPE_MODULE_PUT_CHUNK,
		func() proto.Message { return new(pb.ModulePutChunkCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ModulePutChunk(idx, e.ProposedAtUnixNano, p.(*pb.ModulePutChunkCommand))
		})
	// MODULE_COMMIT returns the *pb.ModuleCommitResult.
	registerCommand(pb.CommandType_COMMAND_TYPE_MODULE_COMMIT,
		func() proto.Message { return new(pb.ModuleCommitCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ModuleCommit(idx, e.ProposedAtUnixNano, p.(*pb.ModuleCommitCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_MODULE_DELETE,
		func() proto.Message { return new(pb.ModuleDeleteCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ModuleDelete(idx, e.ProposedAtUnixNano, p.(*pb.ModuleDeleteCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_MODULE_ACTIVATE,
		func() proto.Message { return new(pb.ModuleActivateCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ModuleActivate(idx, e.ProposedAtUnixNano, p.(*pb.ModuleActivateCommand))
		})
}
