package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	registerCommand(pb.CommandType_COMMAND_TYPE_CLUSTER_INIT,
		func() proto.Message { return new(pb.ClusterInitCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.ClusterInit(idx, p.(*pb.ClusterInitCommand).ClusterId, e.ProposedAtUnixNano)
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_NODE_UPSERT,
		func() proto.Message { return new(pb.NodeUpsertCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			n := p.(*pb.NodeUpsertCommand).Node
			return nil, s.NodeUpsert(idx, n)
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_NODE_DELETE,
		func() proto.Message { return new(pb.NodeDeleteCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.NodeDelete(idx, p.(*pb.NodeDeleteCommand).Name)
		})
}
