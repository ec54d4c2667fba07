package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// MODULE_TRUST_ADD returns the stored *pb.ModuleTrustedKey (the one
	// stored before when the same name and key were already trusted).
	registerCommand(pb.CommandType_COMMAND_TYPE_MODULE_TRUST_ADD,
		func() proto.Message { return new(pb.ModuleTrustAddCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ModuleTrustAdd(idx, e.ProposedAtUnixNano, p.(*pb.ModuleTrustAddCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_MODULE_TRUST_REMOVE,
		func() proto.Message { return new(pb.ModuleTrustRemoveCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ModuleTrustRemove(idx, p.(*pb.ModuleTrustRemoveCommand))
		})
}
