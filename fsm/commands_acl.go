package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// ACL_BOOTSTRAP returns the stored management *pb.ACLToken; a second
	// bootstrap is refused (state.ErrACLBootstrapped).
	registerCommand(pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP,
		func() proto.Message { return new(pb.ACLBootstrapCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ACLBootstrap(idx, e.ProposedAtUnixNano, p.(*pb.ACLBootstrapCommand))
		})
	// ACL_POLICY_UPSERT returns the stored *pb.ACLPolicy.
	registerCommand(pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT,
		func() proto.Message { return new(pb.ACLPolicyUpsertCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			return s.ACLPolicyUpsert(idx, p.(*pb.ACLPolicyUpsertCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE,
		func() proto.Message { return new(pb.ACLPolicyDeleteCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ACLPolicyDelete(idx, p.(*pb.ACLPolicyDeleteCommand))
		})
	// ACL_TOKEN_UPSERT returns the stored *pb.ACLToken.
	registerCommand(pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		func() proto.Message { return new(pb.ACLTokenUpsertCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.ACLTokenUpsert(idx, e.ProposedAtUnixNano, p.(*pb.ACLTokenUpsertCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_ACL_TOKEN_DELETE,
		func() proto.Message { return new(pb.ACLTokenDeleteCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ACLTokenDelete(idx, p.(*pb.ACLTokenDeleteCommand))
		})
}
