package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// service is the Operator gRPC service of one node. Both calls run on the
// leader: a follower relays the stream to it, once.
type service struct {
	pb.UnimplementedOperatorServer
	p *Plugin
}

// forwardedKey marks a stream relayed by a follower; the receiver answers
// it itself or fails, so a stream never bounces while leadership moves.
const forwardedKey = "steward-backup-forwarded"

func forwarded(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(forwardedKey)
	// "1": relayed by a server, which knew the leader; "client": relayed
	// by a client agent to its server, which relays it once more.
	return len(v) > 0 && v[0] != "client"
}

// leader returns nil when this node leads, else a connection to the
// leader, waiting up to LeaderWait for one to be known.
func (s *service) leader(ctx context.Context) (*grpc.ClientConn, error) {
	n := s.p.node
	wctx, cancel := context.WithTimeout(ctx, s.p.cfg.LeaderWait)
	defer cancel()
	var conn *grpc.ClientConn
	var err error // the answer, once the leader is known
	if werr := poll.Until(wctx, clock.System(), poll.Every(20*time.Millisecond), func() (bool, error) {
		if n.IsLeader() {
			return true, nil
		}
		if name, addr := n.Leader(); addr != "" && name != n.Name() {
			if forwarded(ctx) {
				err = fmt.Errorf("%w: relayed here, but %s leads now", transport.ErrNotLeader, name)
			} else {
				conn, err = n.Pool().Get(addr)
			}
			return true, nil
		}
		return false, nil
	}); werr != nil {
		return nil, fmt.Errorf("%w: none known within %s", transport.ErrNoLeader, s.p.cfg.LeaderWait)
	}
	return conn, err
}

func relayContext(ctx context.Context, n cluster) context.Context {
	mark := "1"
	if !n.IsServer() {
		mark = "client"
	}
	return metadata.AppendToOutgoingContext(ctx, forwardedKey, mark)
}

// Backup streams a Raft snapshot taken on the leader: the header, the data
// in chunks, then the data's SHA-256.
func (s *service) Backup(req *pb.BackupRequest, stream grpc.ServerStreamingServer[pb.BackupChunk]) error {
	ctx := stream.Context()
	conn, err := s.leader(ctx)
	if err != nil {
		return transport.ToStatus(err)
	}
	if conn != nil {
		up, err := pb.NewOperatorClient(conn).Backup(relayContext(ctx, s.p.node), req)
		if err != nil {
			return err
		}
		for {
			msg, err := up.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
	}
	return transport.ToStatus(s.backupLocal(ctx, stream))
}

func (s *service) backupLocal(ctx context.Context, stream grpc.ServerStreamingServer[pb.BackupChunk]) error {
	n := s.p.node
	meta, rc, err := n.OpenSnapshot(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if meta.Size > MaxBytes {
		return fmt.Errorf("%w: the snapshot is %d bytes, over the %d limit", ErrInvalidBackup, meta.Size, MaxBytes)
	}
	h := Header{
		FormatVersion: FormatVersion, ClusterID: n.State().ClusterID(), RaftIndex: meta.Index, RaftTerm: meta.Term,
		RaftSnapshotVersion: int(meta.Version), CreatedAt: time.Now().UTC(), Size: meta.Size,
		Node: n.Name(), StewardVersion: node.Version,
	}
	if err := stream.Send(&pb.BackupChunk{Part: &pb.BackupChunk_Header{Header: h.ToPB()}}); err != nil {
		return err
	}
	sum := sha256.New()
	buf := make([]byte, ChunkSize)
	var sent int64
	for {
		k, err := io.ReadFull(rc, buf)
		if k > 0 {
			sum.Write(buf[:k])
			sent += int64(k)
			if err := stream.Send(&pb.BackupChunk{Part: &pb.BackupChunk_Data{Data: buf[:k]}}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the snapshot: %w", err)
		}
	}
	if sent != meta.Size {
		return fmt.Errorf("the snapshot held %d bytes, its metadata says %d", sent, meta.Size)
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	s.p.logger.Info("backup taken", "raft_index", meta.Index, "bytes", sent, "sha256", digest)
	return stream.Send(&pb.BackupChunk{Part: &pb.BackupChunk_Sha256{Sha256: digest}})
}

// Restore receives a backup (header first, then data) and, on the leader,
// verifies and restores it.
func (s *service) Restore(stream grpc.ClientStreamingServer[pb.BackupRestoreChunk, pb.BackupRestoreResponse]) error {
	ctx := stream.Context()
	conn, err := s.leader(ctx)
	if err != nil {
		return transport.ToStatus(err)
	}
	if conn != nil {
		up, err := pb.NewOperatorClient(conn).Restore(relayContext(ctx, s.p.node))
		if err != nil {
			return err
		}
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if err := up.Send(msg); err != nil {
				break // the leader ended the stream: CloseAndRecv has its answer
			}
		}
		resp, err := up.CloseAndRecv()
		if err != nil {
			return err
		}
		return stream.SendAndClose(resp)
	}
	resp, err := s.restoreLocal(ctx, stream)
	if err != nil {
		return transport.ToStatus(err)
	}
	return stream.SendAndClose(resp)
}

func (s *service) restoreLocal(ctx context.Context, stream grpc.ClientStreamingServer[pb.BackupRestoreChunk, pb.BackupRestoreResponse]) (*pb.BackupRestoreResponse, error) {
	if !s.p.restoring.TryLock() {
		return nil, ErrRestoreInProgress
	}
	defer s.p.restoring.Unlock()
	n := s.p.node

	first, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("%w: no header received: %v", ErrInvalidBackup, err)
	}
	ph := first.GetHeader()
	if ph == nil {
		return nil, fmt.Errorf("%w: the stream must start with the header", ErrInvalidBackup)
	}
	h := HeaderFromPB(ph)
	if err := h.Check(); err != nil {
		return nil, err
	}
	cur := n.State().ClusterID()
	relabel := h.ClusterID != cur
	if relabel && !first.GetAllowClusterIdChange() {
		return nil, fmt.Errorf("%w: it was taken from cluster %s, this is cluster %s; to restore it into this cluster anyway (disaster recovery), allow the cluster id change (steward operator restore --allow-cluster-id-change)",
			ErrOtherCluster, h.ClusterID, cur)
	}

	// Receive the data into a file beside Raft's snapshots, then verify it.
	tmp, err := os.CreateTemp(s.p.cfg.TempDir, "restore-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	w := bufio.NewWriterSize(tmp, 64<<10)
	var got int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		data := msg.GetData()
		if data == nil && msg.GetHeader() != nil {
			return nil, fmt.Errorf("%w: a second header in the stream", ErrInvalidBackup)
		}
		got += int64(len(data))
		if got > h.Size {
			return nil, fmt.Errorf("%w: more data than the %d bytes the header announces", ErrInvalidBackup, h.Size)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := VerifyContent(h, tmp, nil); err != nil {
		return nil, err
	}
	// Decode it as the FSM would: Raft panics if the FSM cannot restore
	// what it was handed, so nothing undecodable may reach it.
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	decoded, err := state.Restore(tmp)
	if err != nil {
		return nil, fmt.Errorf("%w: the content does not decode: %v", ErrInvalidBackup, err)
	}
	if id := decoded.ClusterID(); id != h.ClusterID {
		return nil, fmt.Errorf("%w: the content is of cluster %q, the header says %q", ErrInvalidBackup, id, h.ClusterID)
	}
	content, size := io.ReadSeeker(tmp), h.Size
	if relabel {
		// The backup's content under this cluster's identity: the nodes'
		// data dirs and gossip stay this cluster's.
		f, fsize, err := s.relabelled(decoded, cur)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		content, size = f, fsize
		s.p.logger.Warn("restoring a backup of another cluster: the cluster id change was allowed; the cluster keeps its id",
			"backup_cluster_id", h.ClusterID, "cluster_id", cur, "raft_index", h.RaftIndex, "taken_by", h.Node)
	}
	if _, err := content.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersion(h.RaftSnapshotVersion), Index: h.RaftIndex, Term: h.RaftTerm, Size: size}
	s.p.logger.Warn("restoring the replicated state from a backup", "raft_index", h.RaftIndex, "created_at", h.CreatedAt, "bytes", h.Size, "taken_by", h.Node)
	if err := n.RestoreSnapshot(ctx, meta, content); err != nil {
		return nil, err
	}
	s.p.logger.Info("backup restored", "raft_index", h.RaftIndex, "last_index", n.LastIndex())
	return &pb.BackupRestoreResponse{RestoredIndex: h.RaftIndex, Index: n.LastIndex(), Leader: n.Name()}, nil
}

// relabelled writes the decoded backup, carrying cluster id id, to a
// temporary file removed when the restore ends, and returns it and its
// size.
func (s *service) relabelled(decoded *state.Store, id string) (*os.File, int64, error) {
	if err := decoded.Relabel(id); err != nil {
		return nil, 0, err
	}
	f, err := os.CreateTemp(s.p.cfg.TempDir, "restore-relabelled-*.tmp")
	if err != nil {
		return nil, 0, fmt.Errorf("restore: %w", err)
	}
	// Unlinked now: the open descriptor keeps the data until it is closed.
	_ = os.Remove(f.Name())
	sn := decoded.Snapshot()
	defer sn.Release()
	if err := sn.Persist(f); err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("restore: %w", err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, size, nil
}
