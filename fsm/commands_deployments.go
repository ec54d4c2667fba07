package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// DEPLOY_CREATE returns the *pb.DeploymentRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_DEPLOY_CREATE,
		func() proto.Message { return new(pb.DeployCreateCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.DeployCreate(idx, e.ProposedAtUnixNano, p.(*pb.DeployCreateCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_DEPLOY_CONTROL,
		func() proto.Message { return new(pb.DeployControlCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.DeployControl(idx, e.ProposedAtUnixNano, p.(*pb.DeployControlCommand))
		})
}
