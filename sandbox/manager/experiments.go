package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// experimentService is the Experiments gRPC service.
type experimentService struct {
	pb.UnimplementedExperimentsServer
	l *Layer
}

func (s *experimentService) srv() *transport.Server { return s.l.node.Server() }

func (s *experimentService) Create(ctx context.Context, req *pb.CreateExperimentRequest) (*pb.ExperimentView, error) {
	if len(req.File) == 0 {
		return nil, transport.ToStatus(fmt.Errorf("%w: the experiment file is empty", transport.ErrInvalidRequest))
	}
	if req.DeadlineMs < 0 {
		return nil, transport.ToStatus(fmt.Errorf("%w: deadline_ms %d is negative", transport.ErrInvalidRequest, req.DeadlineMs))
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.CreateExperimentRequest) (*pb.ExperimentView, error) {
			return pb.NewExperimentsClient(c).Create(ctx, r)
		},
		s.createLocal)
}

func (s *experimentService) createLocal(ctx context.Context, req *pb.CreateExperimentRequest) (*pb.ExperimentView, error) {
	x, err := sandbox.ParseExperiment(req.File, req.Filename)
	if err != nil {
		return nil, err
	}
	deadline := x.Deadline
	if req.DeadlineMs > 0 {
		deadline = time.Duration(req.DeadlineMs) * time.Millisecond
	}
	if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
		return nil, err
	}
	if x.Name != "" {
		if e, _ := s.l.node.State().Experiment(nil, x.Name); e != nil && e.Status != state.ExperimentFailed {
			return nil, fmt.Errorf("%w: experiment %q exists (%s, %s)", transport.ErrConflict, x.Name, e.Id, e.Status)
		}
	}
	c, err := s.l.prepare(ctx, x.Name, false, x.Sandboxes, deadline)
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		e := proto.Clone(c.Experiment).(*pb.ExperimentRecord)
		e.Status = "dry_run"
		for _, sb := range c.Sandboxes {
			e.Parts = append(e.Parts, &pb.ExperimentPart{Sandbox: sb.Name, Node: sb.Node, Status: "dry_run"})
		}
		return &pb.ExperimentView{Experiment: e, Sandboxes: c.Sandboxes}, nil
	}
	idx, err := s.l.commit(ctx, c)
	if err != nil {
		return nil, err
	}
	id := c.Experiment.Id
	wait := s.l.await
	if req.NoWait {
		wait = s.l.applied
	}
	if _, err := wait(ctx, id, idx); err != nil {
		return nil, err
	}
	v, err := experimentView(s.l.node.State(), id)
	if err != nil {
		return nil, err
	}
	v.Meta = s.srv().WriteMeta(idx)
	return v, nil
}

// experimentView is a group with its sandboxes, from st.
func experimentView(st *state.Store, id string) (*pb.ExperimentView, error) {
	e, sbs, err := group(st, id)
	if err != nil {
		return nil, err
	}
	return &pb.ExperimentView{Experiment: e, Sandboxes: sbs}, nil
}

func (s *experimentService) List(ctx context.Context, req *pb.ListExperimentsRequest) (*pb.ListExperimentsResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.Read,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListExperimentsRequest) (*pb.ListExperimentsResponse, error) {
			return pb.NewExperimentsClient(c).List(ctx, r)
		},
		func(st *state.Store, r *pb.ListExperimentsRequest) (*pb.ListExperimentsResponse, error) {
			idx, all, err := st.Experiments(nil)
			if err != nil {
				return nil, err
			}
			out := &pb.ListExperimentsResponse{Meta: s.srv().ReadMeta(idx)}
			for _, e := range all {
				if e.Standalone {
					continue
				}
				v, err := experimentView(st, e.Id)
				if err != nil {
					return nil, err
				}
				out.Experiments = append(out.Experiments, v)
			}
			return out, nil
		})
}

func (s *experimentService) Status(ctx context.Context, req *pb.GetExperimentRequest) (*pb.ExperimentView, error) {
	return transport.Read(ctx, s.srv(), req, req.Read,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetExperimentRequest) (*pb.ExperimentView, error) {
			return pb.NewExperimentsClient(c).Status(ctx, r)
		},
		func(st *state.Store, r *pb.GetExperimentRequest) (*pb.ExperimentView, error) {
			return experimentView(st, r.Id)
		})
}

// Watch streams the experiment from this node's replica each time it
// changes, until it is running, failed or destroyed, or the client goes.
func (s *experimentService) Watch(req *pb.GetExperimentRequest, stream grpc.ServerStreamingServer[pb.ExperimentView]) error {
	ctx := stream.Context()
	first, err := s.Status(ctx, req) // consistent: does it exist?
	if err != nil {
		return err
	}
	id, min := first.Experiment.Id, first.Experiment.ModifyIndex
	// This node's replica may not hold what the consistent read saw yet:
	// until it does, a missing record is lag, not a destroy.
	catchUp, cancel := context.WithTimeout(ctx, replicaWait)
	defer cancel()
	var last *pb.ExperimentView
	seen := false
	for {
		st := s.l.node.State()
		ws := memdb.NewWatchSet()
		e, err := st.Experiment(ws, id)
		if err != nil {
			return transport.ToStatus(err)
		}
		if !seen && (e == nil || e.ModifyIndex < min) && catchUp.Err() == nil {
			_ = st.WaitChange(catchUp, ws, time.Time{})
			continue
		}
		seen = true
		if e == nil {
			return nil // destroyed
		}
		_, _, _ = st.Sandboxes(ws, "")
		v, err := experimentView(st, id)
		if err == nil && !s.l.node.IsServer() {
			// A client's replica holds only its own sandboxes: the view
			// is read from the servers each time the record changes here
			// (a part's status change is one of the record's).
			v, err = s.Status(ctx, &pb.GetExperimentRequest{Id: id})
			if status.Code(err) == codes.NotFound {
				return nil // destroyed
			}
		}
		if err != nil {
			return transport.ToStatus(err)
		}
		if last == nil || !proto.Equal(v, last) {
			if err := stream.Send(v); err != nil {
				return err
			}
			last = v
		}
		if e.Status != state.ExperimentPending {
			return nil
		}
		if err := st.WaitChange(ctx, ws, time.Time{}); err != nil {
			return nil
		}
	}
}

func (s *experimentService) Destroy(ctx context.Context, req *pb.GetExperimentRequest) (*pb.DestroySandboxResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetExperimentRequest) (*pb.DestroySandboxResponse, error) {
			return pb.NewExperimentsClient(c).Destroy(ctx, r)
		},
		func(ctx context.Context, r *pb.GetExperimentRequest) (*pb.DestroySandboxResponse, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			e, err := s.l.node.State().Experiment(nil, r.Id)
			if err != nil {
				return nil, err
			}
			if e == nil || e.Standalone {
				return nil, fmt.Errorf("%w: no experiment %q", state.ErrNotFound, r.Id)
			}
			return s.l.destroy(ctx, e.Id)
		})
}
