package checkpoint

import (
	"context"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// service is the Checkpoints gRPC service.
type service struct {
	pb.UnimplementedCheckpointsServer
	l *Layer
}

func (s *service) srv() *transport.Server { return s.l.node.Server() }

func (s *service) Create(ctx context.Context, req *pb.CreateCheckpointRequest) (*pb.CheckpointRecord, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.CreateCheckpointRequest) (*pb.CheckpointRecord, error) {
			return pb.NewCheckpointsClient(c).Create(ctx, r)
		},
		func(ctx context.Context, r *pb.CreateCheckpointRequest) (*pb.CheckpointRecord, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			rec, err := s.l.create(ctx, r)
			if err != nil {
				return nil, err
			}
			return withoutStates(rec), nil
		})
}

func (s *service) List(ctx context.Context, req *pb.ListCheckpointsRequest) (*pb.ListCheckpointsResponse, error) {
	return transport.Read(ctx, s.srv(), req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListCheckpointsRequest) (*pb.ListCheckpointsResponse, error) {
			return pb.NewCheckpointsClient(c).List(ctx, r)
		},
		func(st *state.Store, _ *pb.ListCheckpointsRequest) (*pb.ListCheckpointsResponse, error) {
			idx, all, err := st.Checkpoints(nil)
			if err != nil {
				return nil, err
			}
			out := &pb.ListCheckpointsResponse{Index: idx, MaxCheckpoints: MaxCheckpoints}
			for _, c := range all {
				out.Checkpoints = append(out.Checkpoints, withoutStates(c))
			}
			return out, nil
		})
}

func (s *service) Inspect(ctx context.Context, req *pb.InspectCheckpointRequest) (*pb.CheckpointRecord, error) {
	return transport.Read(ctx, s.srv(), req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.InspectCheckpointRequest) (*pb.CheckpointRecord, error) {
			return pb.NewCheckpointsClient(c).Inspect(ctx, r)
		},
		func(st *state.Store, r *pb.InspectCheckpointRequest) (*pb.CheckpointRecord, error) {
			c, err := st.Checkpoint(r.Id)
			if err != nil {
				return nil, err
			}
			if c == nil {
				return nil, notFound(r.Id)
			}
			if r.IncludeStates {
				return c, nil
			}
			return withoutStates(c), nil
		})
}

func (s *service) Delete(ctx context.Context, req *pb.DeleteCheckpointRequest) (*pb.DeleteCheckpointResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DeleteCheckpointRequest) (*pb.DeleteCheckpointResponse, error) {
			return pb.NewCheckpointsClient(c).Delete(ctx, r)
		},
		func(ctx context.Context, r *pb.DeleteCheckpointRequest) (*pb.DeleteCheckpointResponse, error) {
			c, err := s.l.node.State().Checkpoint(r.Id)
			if err != nil {
				return nil, err
			}
			if c == nil {
				return nil, notFound(r.Id)
			}
			res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_CHECKPOINT_DELETE, &pb.CheckpointDeleteCommand{Id: c.Id})
			if err != nil {
				return nil, err
			}
			return &pb.DeleteCheckpointResponse{Id: c.Id, Index: res.Index}, nil
		})
}

func (s *service) Rollback(ctx context.Context, req *pb.RollbackCheckpointRequest) (*pb.RollbackCheckpointResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.RollbackCheckpointRequest) (*pb.RollbackCheckpointResponse, error) {
			return pb.NewCheckpointsClient(c).Rollback(ctx, r)
		},
		func(ctx context.Context, r *pb.RollbackCheckpointRequest) (*pb.RollbackCheckpointResponse, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			return s.l.rollback(ctx, r)
		})
}

// withoutStates is a copy of the record with the states left out (their
// sizes stay).
func withoutStates(c *pb.CheckpointRecord) *pb.CheckpointRecord {
	out := proto.Clone(c).(*pb.CheckpointRecord)
	for _, p := range out.Processes {
		p.State = nil
	}
	return out
}
