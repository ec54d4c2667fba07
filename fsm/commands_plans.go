package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// PLAN_CREATE returns the new *pb.PlanRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_PLAN_CREATE,
		func() proto.Message { return new(pb.PlanCreateCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.PlanCreate(idx, e.ProposedAtUnixNano, p.(*pb.PlanCreateCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
		func() proto.Message { return new(pb.PlanStepStartCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.PlanStepStart(idx, e.ProposedAtUnixNano, p.(*pb.PlanStepStartCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
		func() proto.Message { return new(pb.PlanStepReportCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.PlanStepReport(idx, e.ProposedAtUnixNano, p.(*pb.PlanStepReportCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF,
		func() proto.Message { return new(pb.PlanStepHandoffCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.PlanStepHandoff(idx, e.ProposedAtUnixNano, p.(*pb.PlanStepHandoffCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_PLAN_EXPIRE,
		func() proto.Message { return new(pb.PlanExpireCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.PlanExpire(idx, e.ProposedAtUnixNano, p.(*pb.PlanExpireCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_PLAN_CANCEL,
		func() proto.Message { return new(pb.PlanCancelCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.PlanCancel(idx, e.ProposedAtUnixNano, p.(*pb.PlanCancelCommand))
		})
}
