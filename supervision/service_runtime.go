package supervision

import (
	"context"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// runtimeService is the Runtime gRPC service of one node. A request about
// a process or a tree runs on the node that owns it (forwarded there once);
// listings and event streams without a node fan out to every alive node.
// TreeView and Stats are in treeview.go and stats.go.
type runtimeService struct {
	pb.UnimplementedRuntimeServer
	l *Layer
}

func (s *runtimeService) ListProcesses(ctx context.Context, req *pb.ListProcessesRequest) (*pb.ListProcessesResponse, error) {
	resp, err := s.l.listProcesses(ctx, req)
	return resp, transport.ToStatus(err)
}

func (s *runtimeService) GetProcess(ctx context.Context, req *pb.ProcessRequest) (*pb.ProcessInfo, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.ProcessRequest) (*pb.ProcessInfo, error) {
			return c.GetProcess(ctx, r)
		}, s.l.getProcess)
}

func (s *runtimeService) GetState(ctx context.Context, req *pb.ProcessRequest) (*pb.ProcessStateResponse, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.ProcessRequest) (*pb.ProcessStateResponse, error) {
			return c.GetState(ctx, r)
		}, s.l.getState)
}

func (s *runtimeService) Kill(ctx context.Context, req *pb.KillRequest) (*pb.OpResponse, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.KillRequest) (*pb.OpResponse, error) {
			return c.Kill(ctx, r)
		}, s.l.kill)
}

func (s *runtimeService) Send(ctx context.Context, req *pb.SendRequest) (*pb.OpResponse, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SendRequest) (*pb.OpResponse, error) {
			return c.Send(ctx, r)
		}, s.l.send)
}

func (s *runtimeService) Suspend(ctx context.Context, req *pb.ProcessRequest) (*pb.OpResponse, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.ProcessRequest) (*pb.OpResponse, error) {
			return c.Suspend(ctx, r)
		},
		func(_ context.Context, r *pb.ProcessRequest) (*pb.OpResponse, error) {
			return s.l.setSuspended(r, true)
		})
}

func (s *runtimeService) Resume(ctx context.Context, req *pb.ProcessRequest) (*pb.OpResponse, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.ProcessRequest) (*pb.OpResponse, error) {
			return c.Resume(ctx, r)
		},
		func(_ context.Context, r *pb.ProcessRequest) (*pb.OpResponse, error) {
			return s.l.setSuspended(r, false)
		})
}

func (s *runtimeService) History(ctx context.Context, req *pb.ProcessRequest) (*pb.HistoryResponse, error) {
	return onProcess(ctx, s.l, req.Ref, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.ProcessRequest) (*pb.HistoryResponse, error) {
			return c.History(ctx, r)
		}, s.l.history)
}

func (s *runtimeService) RestartSupervisor(ctx context.Context, req *pb.SupervisorRequest) (*pb.OpResponse, error) {
	node, err := s.l.supervisorNode(ctx, req)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return onNode(ctx, s.l, node, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SupervisorRequest) (*pb.OpResponse, error) {
			return c.RestartSupervisor(ctx, r)
		}, s.l.restartSupervisor)
}

func (s *runtimeService) Flow(ctx context.Context, req *pb.SupervisorRequest) (*pb.FlowResponse, error) {
	node, err := s.l.supervisorNode(ctx, req)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return onNode(ctx, s.l, node, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SupervisorRequest) (*pb.FlowResponse, error) {
			return c.Flow(ctx, r)
		}, s.l.flow)
}

func (s *runtimeService) SetTracing(ctx context.Context, req *pb.SetTracingRequest) (*pb.OpResponse, error) {
	node, err := s.l.supervisorNode(ctx, &pb.SupervisorRequest{Tree: req.Tree})
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return onNode(ctx, s.l, node, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SetTracingRequest) (*pb.OpResponse, error) {
			return c.SetTracing(ctx, r)
		}, s.l.setTracing)
}

// Events streams events until the client cancels (or, without follow,
// until the buffered ones are sent).
func (s *runtimeService) Events(req *pb.EventsRequest, stream grpc.ServerStreamingServer[pb.Event]) error {
	ctx := stream.Context()
	return eventsError(ctx, s.l.streamEvents(ctx, req, lockedSink(stream)))
}

func (s *runtimeService) WhichChildren(ctx context.Context, req *pb.SupervisorRequest) (*pb.WhichChildrenResponse, error) {
	node, err := s.l.supervisorNode(ctx, req)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return onNode(ctx, s.l, node, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SupervisorRequest) (*pb.WhichChildrenResponse, error) {
			return c.WhichChildren(ctx, r)
		}, s.l.whichChildren)
}

func (s *runtimeService) CountChildren(ctx context.Context, req *pb.SupervisorRequest) (*pb.CountChildrenResponse, error) {
	node, err := s.l.supervisorNode(ctx, req)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return onNode(ctx, s.l, node, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SupervisorRequest) (*pb.CountChildrenResponse, error) {
			return c.CountChildren(ctx, r)
		}, s.l.countChildren)
}

func (s *runtimeService) GetChildSpec(ctx context.Context, req *pb.ChildSpecRequest) (*pb.ChildSpecResponse, error) {
	sup := req.GetSupervisor()
	if sup == nil {
		sup = &pb.SupervisorRequest{}
	}
	node, err := s.l.supervisorNode(ctx, sup)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return onNode(ctx, s.l, node, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.ChildSpecRequest) (*pb.ChildSpecResponse, error) {
			return c.GetChildSpec(ctx, r)
		}, s.l.getChildSpec)
}
