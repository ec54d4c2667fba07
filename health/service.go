package health

import (
	"context"
	"errors"
	"fmt"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// service is the Health gRPC service of one node.
type service struct {
	pb.UnimplementedHealthServer
	l *Layer
}

func (s *service) server() *transport.Server { return s.l.node.Server() }

// Validate runs on the leader (consistent) or here (stale).
func (s *service) Validate(ctx context.Context, req *pb.ValidateRequest) (*pb.ValidateResponse, error) {
	if req.GetRead().GetStale() {
		resp, err := s.l.validateCluster(ctx, req, 0)
		return resp, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, s.server(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ValidateRequest) (*pb.ValidateResponse, error) {
			return pb.NewHealthClient(c).Validate(ctx, r)
		},
		func(ctx context.Context, r *pb.ValidateRequest) (*pb.ValidateResponse, error) {
			idx, err := s.l.consistentIndex(ctx)
			if err != nil {
				return nil, err
			}
			return s.l.validateCluster(ctx, r, idx)
		})
}

// validateNode answers the leader's ValidateNode for this node (a peer
// handler on the Internal service).
func (l *Layer) validateNode(ctx context.Context, req *pb.ValidateNodeRequest) (*pb.NodeValidation, error) {
	return l.validateLocal(ctx, req.MinIndex, l.settleFor(req.SettleMs)), nil
}

func (s *service) GetThresholds(ctx context.Context, req *pb.GetThresholdsRequest) (*pb.ThresholdsResponse, error) {
	return transport.Read(ctx, s.server(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetThresholdsRequest) (*pb.ThresholdsResponse, error) {
			return pb.NewHealthClient(c).GetThresholds(ctx, r)
		},
		func(st *state.Store, _ *pb.GetThresholdsRequest) (*pb.ThresholdsResponse, error) {
			idx, rec, isDefault, err := st.Thresholds(nil)
			if err != nil {
				return nil, err
			}
			return &pb.ThresholdsResponse{ReadMeta: s.server().ReadMeta(idx), Thresholds: rec, IsDefault: isDefault}, nil
		})
}

// casRetries bounds how often SetThresholds without a cas merges again
// after another change won the race.
const casRetries = 5

func (s *service) SetThresholds(ctx context.Context, req *pb.SetThresholdsRequest) (*pb.ThresholdsResponse, error) {
	if req.MaxMemoryBytes == nil && req.MaxProcessCount == nil && req.MaxMessageQueueLength == nil && req.MaxCpuPercent == nil {
		return nil, transport.ToStatus(fmt.Errorf("%w: nothing to set: give at least one of max_memory_bytes, max_process_count, max_message_queue_length, max_cpu_percent", transport.ErrInvalidRequest))
	}
	// Refuse what is out of bounds whatever it is merged with, before
	// anything is forwarded or proposed.
	if err := state.ValidateThresholds(merge(&pb.ThresholdsRecord{}, req)); err != nil {
		return nil, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, s.server(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.SetThresholdsRequest) (*pb.ThresholdsResponse, error) {
			return pb.NewHealthClient(c).SetThresholds(ctx, r)
		},
		s.setLocal)
}

// setLocal merges the request into the thresholds the leader holds and
// commits them with a check-and-set on the index it read.
func (s *service) setLocal(ctx context.Context, req *pb.SetThresholdsRequest) (*pb.ThresholdsResponse, error) {
	for attempt := 1; ; attempt++ {
		_, cur, _, err := s.l.node.State().Thresholds(nil)
		if err != nil {
			return nil, err
		}
		next := merge(cur, req)
		if err := state.ValidateThresholds(next); err != nil {
			return nil, err
		}
		cas := req.Cas
		if cas == nil {
			idx := cur.ModifyIndex
			cas = &idx
		}
		res, err := s.server().Apply(ctx, pb.CommandType_COMMAND_TYPE_THRESHOLDS_SET, &pb.ThresholdsSetCommand{Thresholds: next, Cas: cas})
		if errors.Is(err, state.ErrCASConflict) && req.Cas == nil && attempt < casRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		rec, ok := res.Value.(*pb.ThresholdsRecord)
		if !ok {
			return nil, fmt.Errorf("thresholds set: unexpected result %T", res.Value)
		}
		return &pb.ThresholdsResponse{WriteMeta: s.server().WriteMeta(res.Index), Thresholds: rec}, nil
	}
}

// merge returns cur with the fields the request gives.
func merge(cur *pb.ThresholdsRecord, req *pb.SetThresholdsRequest) *pb.ThresholdsRecord {
	next := proto.Clone(cur).(*pb.ThresholdsRecord)
	if req.MaxMemoryBytes != nil {
		next.MaxMemoryBytes = *req.MaxMemoryBytes
	}
	if req.MaxProcessCount != nil {
		next.MaxProcessCount = *req.MaxProcessCount
	}
	if req.MaxMessageQueueLength != nil {
		next.MaxMessageQueueLength = *req.MaxMessageQueueLength
	}
	if req.MaxCpuPercent != nil {
		next.MaxCpuPercent = *req.MaxCpuPercent
	}
	return next
}

// NodeHealth answers for this node or forwards to the named one.
func (s *service) NodeHealth(ctx context.Context, req *pb.NodeHealthRequest) (*pb.NodeHealthResponse, error) {
	if req.Node != "" && req.Node != s.l.node.Name() {
		addr, ok := s.l.node.PeerGRPCAddr(req.Node)
		if !ok {
			return nil, transport.ToStatus(fmt.Errorf("%w: %q is not a member of this cluster", ErrUnknownNode, req.Node))
		}
		conn, err := s.l.node.Pool().Get(addr)
		if err != nil {
			return nil, transport.ToStatus(err)
		}
		return pb.NewHealthClient(conn).NodeHealth(ctx, &pb.NodeHealthRequest{Node: req.Node})
	}
	th, sample, sampled, active := s.l.mon.current()
	resp := &pb.NodeHealthResponse{Node: s.l.node.Name(), Violations: toPB(active), Thresholds: th}
	if sampled {
		resp.Sample = sampleToPB(sample)
	}
	return resp, nil
}
