package fsm

import (
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func init() {
	// SNAPSHOT_CAPTURE and SNAPSHOT_IMPORT return the new *pb.SnapshotRecord.
	registerCommand(pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE,
		func() proto.Message { return new(pb.SnapshotCaptureCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.SnapshotCapture(idx, e.ProposedAtUnixNano, p.(*pb.SnapshotCaptureCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT,
		func() proto.Message { return new(pb.SnapshotImportCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return s.SnapshotImport(idx, e.ProposedAtUnixNano, p.(*pb.SnapshotImportCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART,
		func() proto.Message { return new(pb.SnapshotPartCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.SnapshotPart(idx, e.ProposedAtUnixNano, p.(*pb.SnapshotPartCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_SNAPSHOT_FINISH,
		func() proto.Message { return new(pb.SnapshotFinishCommand) },
		func(s *state.Store, idx uint64, e *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.SnapshotFinish(idx, e.ProposedAtUnixNano, p.(*pb.SnapshotFinishCommand))
		})
	registerCommand(pb.CommandType_COMMAND_TYPE_SNAPSHOT_DELETE,
		func() proto.Message { return new(pb.SnapshotDeleteCommand) },
		func(s *state.Store, idx uint64, _ *pb.LogEntry, p proto.Message) (any, error) {
			return nil, s.SnapshotDelete(idx, p.(*pb.SnapshotDeleteCommand).SnapshotId)
		})
}
