package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/steward/steward/internal/rpcerr"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Save takes a backup through any node (the leader takes it) and writes it
// to path. The data is received into a temporary file beside path and
// checked against the leader's size and checksum before the backup file
// is written, so a broken transfer leaves no file.
func Save(ctx context.Context, c pb.OperatorClient, path string) (Header, error) {
	stream, err := c.Backup(ctx, &pb.BackupRequest{})
	if err != nil {
		return Header{}, err
	}
	first, err := stream.Recv()
	if err != nil {
		return Header{}, err
	}
	ph := first.GetHeader()
	if ph == nil {
		return Header{}, fmt.Errorf("%w: the stream did not start with a header", ErrInvalidBackup)
	}
	h := HeaderFromPB(ph)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return h, fmt.Errorf("backup file: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	sum := sha256.New()
	var got int64
	digest := ""
	for digest == "" {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return h, fmt.Errorf("%w: the stream ended after %d bytes, without its checksum", ErrInvalidBackup, got)
		}
		if err != nil {
			return h, err
		}
		switch part := msg.Part.(type) {
		case *pb.BackupChunk_Data:
			got += int64(len(part.Data))
			if got > h.Size {
				return h, fmt.Errorf("%w: more data than the %d bytes announced", ErrInvalidBackup, h.Size)
			}
			sum.Write(part.Data)
			if _, err := tmp.Write(part.Data); err != nil {
				return h, fmt.Errorf("backup file: %w", err)
			}
		case *pb.BackupChunk_Sha256:
			digest = part.Sha256
		default:
			return h, fmt.Errorf("%w: unexpected message in the stream", ErrInvalidBackup)
		}
	}
	if got != h.Size {
		return h, fmt.Errorf("%w: truncated in transit: %d bytes of the %d announced", ErrInvalidBackup, got, h.Size)
	}
	if mine := hex.EncodeToString(sum.Sum(nil)); mine != digest {
		return h, fmt.Errorf("%w: checksum mismatch in transit: received %s, the leader sent %s", ErrInvalidBackup, mine, digest)
	}
	h.SHA256 = digest
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return h, err
	}
	return h, Write(path, h, tmp)
}

// RestoreOptions are the operator's choices for a restore.
type RestoreOptions struct {
	// AllowClusterIDChange restores a backup taken from another cluster
	// (disaster recovery into a newly bootstrapped one); the cluster keeps
	// its own id. Without it such a backup is refused.
	AllowClusterIDChange bool
}

// Restore verifies the backup at path — header, size, checksum — and only
// then streams it through any node to the leader, which verifies it again
// and restores it.
//
// A restore replaces the whole replicated state, so sending it again is
// harmless: when the leader lost its leadership while Raft installed it
// (the outcome is unknown) or the request provably did not reach a leader,
// it is sent again, through the same node, up to restoreAttempts times.
func Restore(ctx context.Context, c pb.OperatorClient, path string, opts RestoreOptions) (Header, *pb.BackupRestoreResponse, error) {
	for attempt := 1; ; attempt++ {
		h, f, err := Open(path)
		if err != nil {
			return h, nil, err
		}
		resp, err := Send(ctx, c, h, f, opts)
		f.Close()
		if err == nil || attempt == restoreAttempts || ctx.Err() != nil ||
			(status.Code(err) != codes.Aborted && !rpcerr.NotApplied(err)) {
			return h, resp, err
		}
	}
}

// restoreAttempts bounds how many times Restore sends a backup whose
// restore had an unknown outcome.
const restoreAttempts = 3

// Send streams a header and content as they are, without checking them
// (the leader does): Restore is the way to restore a file.
func Send(ctx context.Context, c pb.OperatorClient, h Header, content io.Reader, opts RestoreOptions) (*pb.BackupRestoreResponse, error) {
	stream, err := c.Restore(ctx)
	if err != nil {
		return nil, err
	}
	first := &pb.BackupRestoreChunk{Part: &pb.BackupRestoreChunk_Header{Header: h.ToPB()}, AllowClusterIdChange: opts.AllowClusterIDChange}
	if err := stream.Send(first); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	buf := make([]byte, ChunkSize)
	for {
		k, rerr := io.ReadFull(content, buf)
		if k > 0 {
			if err := stream.Send(&pb.BackupRestoreChunk{Part: &pb.BackupRestoreChunk_Data{Data: buf[:k]}}); err != nil {
				// io.EOF: the leader refused and ended the stream;
				// CloseAndRecv returns why.
				break
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("backup file: %w", rerr)
		}
	}
	return stream.CloseAndRecv()
}
