package backup

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/steward/steward/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeOperator answers each Restore stream with the next of its answers,
// after receiving the whole stream.
type fakeOperator struct {
	pb.OperatorClient
	answers []error
	streams []*fakeRestoreStream
}

func (f *fakeOperator) Restore(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[pb.BackupRestoreChunk, pb.BackupRestoreResponse], error) {
	s := &fakeRestoreStream{err: f.answers[len(f.streams)]}
	f.streams = append(f.streams, s)
	return s, nil
}

type fakeRestoreStream struct {
	grpc.ClientStream
	err  error
	data int
}

func (s *fakeRestoreStream) Send(m *pb.BackupRestoreChunk) error {
	s.data += len(m.GetData())
	return nil
}

func (s *fakeRestoreStream) CloseAndRecv() (*pb.BackupRestoreResponse, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &pb.BackupRestoreResponse{RestoredIndex: 42, Index: 50, Leader: "n2"}, nil
}

// A restore whose outcome is unknown (the leader lost its leadership while
// Raft installed it) is sent again, whole; a refusal is not; and the
// attempts are bounded.
func TestRestoreSendsAgainAfterAnUnknownOutcome(t *testing.T) {
	content := bytes.Repeat([]byte("state!"), 100000)
	path := filepath.Join(t.TempDir(), "b.backup")
	if err := Write(path, sampleHeader(content), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	lost := status.Error(codes.Aborted, "raft restore: leadership lost while committing; the write may or may not have been applied")

	op := &fakeOperator{answers: []error{lost, nil}}
	_, resp, err := Restore(t.Context(), op, path, RestoreOptions{})
	if err != nil || resp.Leader != "n2" || len(op.streams) != 2 || op.streams[1].data != len(content) {
		t.Fatalf("after an unknown outcome: %+v %v, %d attempts", resp, err, len(op.streams))
	}

	op = &fakeOperator{answers: []error{status.Error(codes.FailedPrecondition, "backup of another cluster"), nil}}
	if _, _, err := Restore(t.Context(), op, path, RestoreOptions{}); status.Code(err) != codes.FailedPrecondition || len(op.streams) != 1 {
		t.Fatalf("a refusal was sent again: %v, %d attempts", err, len(op.streams))
	}

	op = &fakeOperator{answers: []error{lost, lost, lost, nil}}
	if _, _, err := Restore(t.Context(), op, path, RestoreOptions{}); status.Code(err) != codes.Aborted || len(op.streams) != restoreAttempts {
		t.Fatalf("unbounded attempts: %v, %d attempts", err, len(op.streams))
	}
}
