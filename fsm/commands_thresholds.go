package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// THRESHOLDS_SET returns the stored *pb.ThresholdsRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET,
		func() proto.Message { return new(pb.ThresholdsSetCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			c := p.(*pb.ThresholdsSetCommand)
			if c.Thresholds != nil {
				c.Thresholds.UpdatedAtUnixNano = e.ProposedAtUnixNano
				c.Thresholds.UpdatedBy = e.Proposer
			}
			return s.ThresholdsSet(idx, c.Thresholds, c.Cas)
		})
}
