package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// KV_PUT returns the written *pb.KVRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_KV_PUT,
		func() proto.Message { return new(pb.KVPutCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			c := p.(*pb.KVPutCommand)
			return s.KVSet(idx, c.Key, c.Value, c.Cas)
		})
	// KV_DELETE returns the number of deleted keys (int).
	registerCommand(pb.CommandType_COMMAND_TYPE_KV_DELETE,
		func() proto.Message { return new(pb.KVDeleteCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			c := p.(*pb.KVDeleteCommand)
			return s.KVDelete(idx, c.Key, c.Cas, c.Prefix)
		})
}
