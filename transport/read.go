package transport

import (
	"context"

	"github.com/steward/steward/fsm"
	"google.golang.org/protobuf/proto"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc"
)

// Read answers a read in the consistency mode the request asks for: stale
// reads from the local replica; default reads on the leader after a read
// barrier, which makes them linearizable.
func Read[Req, Resp any](ctx context.Context, s *Server, req Req, opts *pb.ReadOptions,
	remote func(context.Context, *grpc.ClientConn, Req) (Resp, error),
	read func(*state.Store, Req) (Resp, error),
) (Resp, error) {
	if opts.GetStale() {
		addr, err := s.backend.StaleReadsFrom()
		if err != nil {
			var zero Resp
			return zero, toStatus(err)
		}
		if addr != "" {
			conn, err := s.pool.Get(addr)
			if err != nil {
				var zero Resp
				return zero, toStatus(err)
			}
			return remote(ctx, conn, req)
		}
		resp, err := read(s.backend.State(), req)
		return resp, toStatus(err)
	}
	return OnLeader(ctx, s, req, remote, func(ctx context.Context, r Req) (Resp, error) {
		if err := s.backend.ReadBarrier(ctx); err != nil {
			var zero Resp
			return zero, err
		}
		return read(s.backend.State(), r)
	})
}

// Apply proposes a command on this node (the leader) and folds the command's
// domain error into the returned error.
func (s *Server) Apply(ctx context.Context, t pb.CommandType, payload proto.Message) (*fsm.Result, error) {
	res, err := s.backend.Apply(ctx, t, payload)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return res, res.Err
	}
	return res, nil
}

// WriteMeta describes a committed write for a response.
func (s *Server) WriteMeta(idx uint64) *pb.WriteMeta { return s.writeMeta(idx) }

// ReadMeta describes a read for a response.
func (s *Server) ReadMeta(idx uint64) *pb.ReadMeta { return s.readMeta(idx) }

func (s *Server) readMeta(idx uint64) *pb.ReadMeta {
	name, _ := s.backend.Leader()
	return &pb.ReadMeta{
		Index:         idx,
		KnownLeader:   name != "",
		ServedBy:      s.backend.NodeName(),
		LastContactMs: s.backend.LastContact().Milliseconds(),
	}
}

func (s *Server) writeMeta(idx uint64) *pb.WriteMeta {
	name, _ := s.backend.Leader()
	return &pb.WriteMeta{Index: idx, Leader: name}
}
