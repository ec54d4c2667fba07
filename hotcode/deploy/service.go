package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// service is the Deployments gRPC service.
type service struct {
	pb.UnimplementedDeploymentsServer
	l *Layer
}

func (s *service) srv() *transport.Server { return s.l.node.Server() }

func (s *service) Submit(ctx context.Context, req *pb.DeployRequest) (*pb.DeploymentView, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DeployRequest) (*pb.DeploymentView, error) {
			return pb.NewDeploymentsClient(c).Submit(ctx, r)
		},
		func(ctx context.Context, r *pb.DeployRequest) (*pb.DeploymentView, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			d, res, err := s.l.submit(ctx, r)
			if err != nil {
				return nil, err
			}
			if d == nil { // a dry run
				return &pb.DeploymentView{Batches: batchesOf(res, 0)}, nil
			}
			return view(s.l.node.State(), nil, d.Id)
		})
}

func (s *service) Get(ctx context.Context, req *pb.GetDeploymentRequest) (*pb.DeploymentView, error) {
	return transport.Read(ctx, s.srv(), req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetDeploymentRequest) (*pb.DeploymentView, error) {
			return pb.NewDeploymentsClient(c).Get(ctx, r)
		},
		func(st *state.Store, r *pb.GetDeploymentRequest) (*pb.DeploymentView, error) {
			return view(st, nil, r.Id)
		})
}

func (s *service) List(ctx context.Context, req *pb.ListDeploymentsRequest) (*pb.ListDeploymentsResponse, error) {
	return transport.Read(ctx, s.srv(), req, nil,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListDeploymentsRequest) (*pb.ListDeploymentsResponse, error) {
			return pb.NewDeploymentsClient(c).List(ctx, r)
		},
		func(st *state.Store, r *pb.ListDeploymentsRequest) (*pb.ListDeploymentsResponse, error) {
			idx, recs, err := st.Deployments(nil, r.Module)
			if err != nil {
				return nil, err
			}
			out := &pb.ListDeploymentsResponse{Index: idx}
			for _, d := range recs {
				v, err := view(st, nil, d.Id)
				if err != nil {
					return nil, err
				}
				out.Deployments = append(out.Deployments, v)
			}
			return out, nil
		})
}

// Watch streams the deployment from this node's replica each time it or
// its plan changes, until it ends or the client goes away.
func (s *service) Watch(req *pb.GetDeploymentRequest, stream grpc.ServerStreamingServer[pb.DeploymentView]) error {
	ctx := stream.Context()
	if _, err := s.Get(ctx, req); err != nil { // consistent: does it exist?
		return err
	}
	var last uint64
	for {
		st := s.l.node.State()
		ws := memdb.NewWatchSet()
		v, err := view(st, ws, req.Id)
		if errors.Is(err, transport.ErrNotFound) {
			// Committed, not yet applied here.
			ws.Add(st.AbandonCh())
			if err := ws.WatchCtx(ctx); err != nil {
				return nil
			}
			continue
		}
		if err != nil {
			return transport.ToStatus(err)
		}
		if v.Index != last {
			last = v.Index
			if err := stream.Send(v); err != nil {
				return err
			}
		}
		if state.DeploymentDone(v.Deployment) {
			return nil
		}
		ws.Add(st.AbandonCh())
		if ws.WatchCtx(ctx) != nil {
			return nil
		}
	}
}

func (s *service) Control(ctx context.Context, req *pb.DeployControlRequest) (*pb.DeploymentView, error) {
	if req.Action == pb.DeployAction_DEPLOY_ACTION_UNSPECIFIED {
		return nil, transport.ToStatus(fmt.Errorf("%w: no action", transport.ErrInvalidRequest))
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DeployControlRequest) (*pb.DeploymentView, error) {
			return pb.NewDeploymentsClient(c).Control(ctx, r)
		},
		func(ctx context.Context, r *pb.DeployControlRequest) (*pb.DeploymentView, error) {
			if _, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_DEPLOY_CONTROL, &pb.DeployControlCommand{Id: r.Id, Action: r.Action, Reason: r.Reason}); err != nil {
				return nil, err
			}
			return view(s.l.node.State(), nil, r.Id)
		})
}

// view is a deployment with its plan and progress; ws, when set, watches
// both.
func view(st *state.Store, ws memdb.WatchSet, id string) (*pb.DeploymentView, error) {
	d, err := st.Deployment(ws, id)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("%w: deployment %q (the last %d finished ones are kept)", transport.ErrNotFound, id, state.MaxDeploymentHistory)
	}
	v := &pb.DeploymentView{Deployment: d, Index: d.ModifyIndex}
	rec, spec, err := st.Plan(ws, id)
	if err != nil || rec == nil || spec == nil {
		return v, err // the plan was pruned: the record says how it ended
	}
	v.Plan = rec
	if rec.ModifyIndex > v.Index {
		v.Index = rec.ModifyIndex
	}
	res, err := state.DecodePlanResult(spec)
	if err != nil {
		return v, nil
	}
	v.Batches = batchesOf(res, d.CanaryPhases)
	v.Progress = progress(rec, res)
	return v, nil
}

func batchesOf(res *plan.Result, canaries uint32) []*pb.DeployBatch {
	if res == nil {
		return nil
	}
	var out []*pb.DeployBatch
	for i, ph := range res.Phases {
		b := &pb.DeployBatch{Phase: int32(i), Canary: uint32(i) < canaries}
		for _, id := range ph.Operations {
			if op := res.Operation(id); op != nil {
				b.Pids = append(b.Pids, op.Target.PID)
			}
		}
		out = append(out, b)
	}
	return out
}

// progress counts, per node and stage that has started, the processes
// moved (or, in a revert, moved back) of those it has.
func progress(rec *pb.PlanRecord, res *plan.Result) []*pb.DeployProgress {
	var out []*pb.DeployProgress
	for _, st := range rec.Stages {
		if int(st.Phase) >= len(res.Phases) {
			continue
		}
		total := map[string]uint32{}
		for _, id := range st.Operations {
			if op := res.Operation(id); op != nil {
				total[op.Node]++
			}
		}
		for _, step := range st.Steps {
			p := &pb.DeployProgress{Node: step.Node, Phase: st.Phase, Stage: st.Key, Total: total[step.Node], Status: step.Status}
			for _, o := range step.Operations {
				if o.Ok {
					p.Done++
				} else {
					p.Failed++
				}
			}
			out = append(out, p)
		}
	}
	return out
}
