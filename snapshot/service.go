package snapshot

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

func init() {
	transport.RegisterCode("state.limit", state.ErrLimit, codes.ResourceExhausted)
	transport.RegisterCode("snapshot.corrupt_file", ErrCorruptFile, codes.InvalidArgument)
	transport.RegisterCode("snapshot.not_restorable", ErrNotRestorable, codes.FailedPrecondition)
}

// exportChunk is the size of one Export message (bytes).
const exportChunk = 1 << 20

type service struct {
	pb.UnimplementedSnapshotsServer
	l *Layer
}

func (s *service) srv() *transport.Server { return s.l.node.Server() }

// Capture commits a capture request for the named (or every alive) node.
func (s *service) Capture(ctx context.Context, req *pb.CaptureRequest) (*pb.CaptureResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.CaptureRequest) (*pb.CaptureResponse, error) {
			return pb.NewSnapshotsClient(c).Capture(ctx, r)
		},
		s.l.captureLocal)
}

// captureLocal commits a capture, on the leader.
func (l *Layer) captureLocal(ctx context.Context, r *pb.CaptureRequest) (*pb.CaptureResponse, error) {
	nodes := r.Nodes
	if len(nodes) == 0 {
		nodes = l.node.AliveNodes()
	}
	for _, n := range nodes {
		if st := l.node.MemberStatus(n); st == "" {
			if rec, _ := l.node.State().Node(n); rec == nil {
				return nil, fmt.Errorf("%w: node %q is not a member of this cluster", transport.ErrInvalidRequest, n)
			}
		}
	}
	id := newID()
	res, err := l.node.Server().Apply(ctx, pb.CommandType_COMMAND_TYPE_SNAPSHOT_CAPTURE, &pb.SnapshotCaptureCommand{
		Id: id, Options: r.Options, Nodes: nodes, DeadlineUnixNano: l.clock.Now().Add(l.cfg.CaptureTimeout).UnixNano(),
	})
	if err != nil {
		return nil, err
	}
	return &pb.CaptureResponse{Id: id, Meta: l.node.Server().WriteMeta(res.Index)}, nil
}

// CaptureAndWait captures every alive node, from within the leader
// (another layer's request: a strict deployment's snapshot first), and
// waits until the capture has ended, complete or partial.
func (l *Layer) CaptureAndWait(ctx context.Context) (id string, status string, err error) {
	resp, err := l.captureLocal(ctx, &pb.CaptureRequest{})
	if err != nil {
		return "", "", err
	}
	for {
		ws := memdb.NewWatchSet()
		rec, err := l.node.State().SnapshotRecord(ws, resp.Id)
		if err != nil {
			return resp.Id, "", err
		}
		if rec != nil && state.SnapshotStatusOf(rec) != pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING {
			return resp.Id, rec.Status, nil
		}
		if err := l.node.State().WaitChange(ctx, ws, time.Time{}); err != nil {
			return resp.Id, "", fmt.Errorf("snapshot %s: %w", resp.Id, err)
		}
	}
}

func (s *service) List(ctx context.Context, req *pb.ListSnapshotsRequest) (*pb.ListSnapshotsResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListSnapshotsRequest) (*pb.ListSnapshotsResponse, error) {
			return pb.NewSnapshotsClient(c).List(ctx, r)
		},
		func(st *state.Store, _ *pb.ListSnapshotsRequest) (*pb.ListSnapshotsResponse, error) {
			idx, recs, err := st.Snapshots(nil)
			if err != nil {
				return nil, err
			}
			return &pb.ListSnapshotsResponse{Meta: s.srv().ReadMeta(idx), Snapshots: recs}, nil
		})
}

func (s *service) Get(ctx context.Context, req *pb.GetSnapshotRequest) (*pb.GetSnapshotResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetSnapshotRequest) (*pb.GetSnapshotResponse, error) {
			return pb.NewSnapshotsClient(c).Get(ctx, r)
		},
		func(st *state.Store, r *pb.GetSnapshotRequest) (*pb.GetSnapshotResponse, error) {
			return getSnapshot(st, s.srv(), r)
		})
}

func getSnapshot(st *state.Store, srv *transport.Server, r *pb.GetSnapshotRequest) (*pb.GetSnapshotResponse, error) {
	rec, err := st.SnapshotRecord(nil, r.Id)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: snapshot %q", transport.ErrNotFound, r.Id)
	}
	resp := &pb.GetSnapshotResponse{Meta: srv.ReadMeta(rec.ModifyIndex), Snapshot: rec}
	if r.WithParts {
		want := map[string]bool{}
		for _, n := range r.Nodes {
			want[n] = true
		}
		resp.Parts = map[string][]byte{}
		for _, p := range rec.Parts {
			if state.PartStatusOf(p) != pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE || (len(want) > 0 && !want[p.Node]) {
				continue
			}
			data, err := st.SnapshotPartData(rec.Id, p.Node)
			if err != nil {
				return nil, err
			}
			resp.Parts[p.Node] = data
		}
		for n := range want {
			if _, ok := resp.Parts[n]; !ok {
				return nil, fmt.Errorf("%w: snapshot %s has no complete part for node %q", transport.ErrNotFound, rec.Id, n)
			}
		}
	}
	return resp, nil
}

func (s *service) Delete(ctx context.Context, req *pb.DeleteSnapshotRequest) (*pb.DeleteSnapshotResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DeleteSnapshotRequest) (*pb.DeleteSnapshotResponse, error) {
			return pb.NewSnapshotsClient(c).Delete(ctx, r)
		},
		func(ctx context.Context, r *pb.DeleteSnapshotRequest) (*pb.DeleteSnapshotResponse, error) {
			res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_SNAPSHOT_DELETE, &pb.SnapshotDeleteCommand{SnapshotId: r.Id})
			if err != nil {
				return nil, err
			}
			return &pb.DeleteSnapshotResponse{Meta: s.srv().WriteMeta(res.Index)}, nil
		})
}

// Export streams the snapshot file, read from this node's replica after a
// read barrier through the leader.
func (s *service) Export(req *pb.GetSnapshotRequest, stream grpc.ServerStreamingServer[pb.FileChunk]) error {
	ctx := stream.Context()
	resp, err := s.Get(ctx, &pb.GetSnapshotRequest{Id: req.Id, Read: req.Read, WithParts: true})
	if err != nil {
		return err
	}
	rec := resp.Snapshot
	if s := state.SnapshotStatusOf(rec); s == pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING || s == pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING {
		return transport.ToStatus(fmt.Errorf("%w: snapshot %s is still %s", transport.ErrConflict, rec.Id, rec.Status))
	}
	h := FileHeader{ID: rec.Id, Status: rec.Status, Options: optionsOf(rec.Options),
		CreatedAt: time.Unix(0, rec.CreatedAtUnixNano).UTC(), FinishedAt: time.Unix(0, rec.FinishedAtUnixNano).UTC(),
		ExportedAt: time.Now().UTC(), ClusterID: s.l.node.State().ClusterID()}
	for _, p := range rec.Parts {
		// A part without data in the file (missing, or found corrupt) is
		// missing from it.
		status := state.PartMissing
		if state.PartStatusOf(p) == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE {
			status = state.PartComplete
		}
		h.Parts = append(h.Parts, FilePartMD{Node: p.Node, Status: status, RawBytes: p.RawBytes, Bytes: p.StoredBytes,
			Processes: p.Processes, Trees: p.Trees, SHA256: hex.EncodeToString(p.Sha256), CapturedAt: time.Unix(0, p.CapturedAtUnixNano).UTC()})
	}
	var buf bytes.Buffer
	if err := WriteFile(&buf, h, resp.Parts); err != nil {
		return transport.ToStatus(err)
	}
	data := buf.Bytes()
	for len(data) > 0 {
		n := min(len(data), exportChunk)
		if err := stream.Send(&pb.FileChunk{Data: data[:n]}); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func optionsOf(o *pb.SnapshotOptions) Options {
	return Options{State: o.GetIncludeState(), Queues: o.GetIncludeQueues(), Links: o.GetIncludeLinks()}
}

// Import receives a snapshot file, checks it whole and part by part, then
// commits the snapshot and its parts. A file that fails a check commits
// nothing.
func (s *service) Import(stream grpc.ClientStreamingServer[pb.FileChunk, pb.ImportResponse]) error {
	var buf bytes.Buffer
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if buf.Len()+len(c.Data) > MaxFileBytes {
			return transport.ToStatus(fmt.Errorf("%w: the file is larger than the %d bytes allowed", ErrCorruptFile, MaxFileBytes))
		}
		buf.Write(c.Data)
	}
	h, parts, err := ReadFile(buf.Bytes())
	if err != nil {
		return transport.ToStatus(err)
	}
	ctx := stream.Context()
	rec := &pb.SnapshotRecord{Id: h.ID, FinalStatus: h.Status, CreatedAtUnixNano: h.CreatedAt.UnixNano(),
		Options: &pb.SnapshotOptions{IncludeState: h.Options.State, IncludeQueues: h.Options.Queues, IncludeLinks: h.Options.Links},
		Note:    fmt.Sprintf("imported %s (exported %s)", time.Now().UTC().Format(time.RFC3339), h.ExportedAt.Format(time.RFC3339))}
	var cmds []*pb.SnapshotPartCommand
	for _, p := range h.Parts {
		info := &pb.SnapshotPartInfo{Node: p.Node, Status: p.Status, RawBytes: p.RawBytes, Processes: p.Processes, Trees: p.Trees,
			CapturedAtUnixNano: p.CapturedAt.UnixNano()}
		if data, ok := parts[p.Node]; ok {
			sum := checksum(data)
			pieces := chunks(data)
			info.Chunks, info.StoredBytes, info.Sha256 = uint32(len(pieces)), uint64(len(data)), sum
			for i, piece := range pieces {
				cmds = append(cmds, &pb.SnapshotPartCommand{SnapshotId: h.ID, Node: p.Node, Index: uint32(i), Total: uint32(len(pieces)),
					Data: piece, RawBytes: p.RawBytes, Processes: p.Processes, Trees: p.Trees, Sha256: sum, CapturedAtUnixNano: info.CapturedAtUnixNano})
			}
		} else {
			info.Status = state.PartMissing
		}
		rec.Parts = append(rec.Parts, info)
	}
	if !s.l.node.IsLeader() {
		// Checked here; the leader checks again and commits it.
		return s.forwardImport(stream, buf.Bytes())
	}
	res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_SNAPSHOT_IMPORT, &pb.SnapshotImportCommand{Record: rec})
	if err != nil {
		return transport.ToStatus(err)
	}
	resp := &pb.ImportResponse{Id: rec.Id, Meta: s.srv().WriteMeta(res.Index)}
	for _, c := range cmds {
		if err := s.l.commitPart(ctx, c); err != nil {
			return transport.ToStatus(err)
		}
	}
	return stream.SendAndClose(resp)
}

// forwardImport sends an import on to the leader.
func (s *service) forwardImport(stream grpc.ClientStreamingServer[pb.FileChunk, pb.ImportResponse], data []byte) error {
	_, addr := s.l.node.Leader()
	if addr == "" {
		return transport.ToStatus(transport.ErrNoLeader)
	}
	conn, err := s.l.node.Pool().Get(addr)
	if err != nil {
		return transport.ToStatus(err)
	}
	up, err := pb.NewSnapshotsClient(conn).Import(stream.Context())
	if err != nil {
		return err
	}
	for len(data) > 0 {
		n := min(len(data), exportChunk)
		if err := up.Send(&pb.FileChunk{Data: data[:n]}); err != nil {
			return err
		}
		data = data[n:]
	}
	resp, err := up.CloseAndRecv()
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

// loadParts reads and decodes the parts of the named nodes.
func loadParts(st *state.Store, rec *pb.SnapshotRecord, nodes []string) (map[string]*Part, error) {
	// The parts decode side by side: at 10,000 processes a part is a few
	// MB of JSON, and the restore waits for the last one.
	parts := make([]*Part, len(nodes))
	errs := make([]error, len(nodes))
	parallel(len(nodes), 0, func(i int) {
		data, err := st.SnapshotPartData(rec.Id, nodes[i])
		if err != nil {
			errs[i] = err
			return
		}
		if parts[i], err = DecodePart(data); err != nil {
			errs[i] = fmt.Errorf("snapshot %s, node %s: %w", rec.Id, nodes[i], err)
		}
	})
	out := make(map[string]*Part, len(nodes))
	for i, n := range nodes {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[n] = parts[i]
	}
	return out, nil
}

// parallel calls fn(i) for every i below n, at most limit at a time
// (limit <= 0: all at once), and returns when every call has.
func parallel(n, limit int, fn func(i int)) {
	if limit <= 0 || limit > n {
		limit = max(n, 1)
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

func sortedNodes(m map[string]*Part) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
