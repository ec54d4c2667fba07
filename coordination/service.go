package coordination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

func init() {
	transport.RegisterCode("state.step_taken", state.ErrStepTaken, codes.FailedPrecondition)
	transport.RegisterCode("state.plan_not_running", state.ErrPlanNotRunning, codes.FailedPrecondition)
	transport.RegisterCode("state.not_expired", state.ErrNotExpired, codes.FailedPrecondition)
}

// ErrStaleIndex: apply's check index no longer matches the cluster.
var ErrStaleIndex = errors.New("the cluster changed since the dry run")

func init() {
	transport.RegisterCode("coordination.stale_index", ErrStaleIndex, codes.FailedPrecondition)
}

type service struct {
	pb.UnimplementedCoordinationServer
	l *Layer
}

func (s *service) srv() *transport.Server { return s.l.node.Server() }

func checkSize(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: the plan is empty", transport.ErrInvalidRequest)
	}
	if len(data) > plan.MaxPlanBytes {
		return fmt.Errorf("%w: the plan is %d bytes, the limit is %d", transport.ErrInvalidRequest, len(data), plan.MaxPlanBytes)
	}
	return nil
}

// DryRun plans on the leader and returns what would happen.
func (s *service) DryRun(ctx context.Context, req *pb.PlanRequest) (*pb.DryRunResponse, error) {
	if err := checkSize(req.Plan); err != nil {
		return nil, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.PlanRequest) (*pb.DryRunResponse, error) {
			return pb.NewCoordinationClient(c).DryRun(ctx, r)
		},
		func(ctx context.Context, r *pb.PlanRequest) (*pb.DryRunResponse, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			p, err := s.l.prepare(ctx, r.Plan, r.Filename, r.SkipChecks, s.l.clock.Now())
			if p == nil || p.result == nil {
				return nil, err
			}
			// A refused plan is still shown: the dry run says why.
			body, merr := json.Marshal(p.result.DryRun())
			if merr != nil {
				return nil, merr
			}
			return &pb.DryRunResponse{DryRunJson: body, CheckIndex: p.checkIndex}, nil
		})
}

// Apply plans on the leader and commits the plan.
func (s *service) Apply(ctx context.Context, req *pb.ApplyPlanRequest) (*pb.ApplyPlanResponse, error) {
	if err := checkSize(req.Plan); err != nil {
		return nil, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ApplyPlanRequest) (*pb.ApplyPlanResponse, error) {
			return pb.NewCoordinationClient(c).Apply(ctx, r)
		},
		s.applyLocal)
}

func (s *service) applyLocal(ctx context.Context, r *pb.ApplyPlanRequest) (*pb.ApplyPlanResponse, error) {
	if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
		return nil, err
	}
	if r.CheckIndex != nil {
		if cur := s.l.node.State().TableIndex(checkTables...); cur != *r.CheckIndex {
			return nil, fmt.Errorf("%w: the check index is %d, the cluster is now at %d; run `steward plan` again", ErrStaleIndex, *r.CheckIndex, cur)
		}
	}
	now := s.l.clock.Now()
	p, err := s.l.prepare(ctx, r.Plan, r.Filename, r.SkipChecks, now)
	if err != nil {
		if p != nil && p.result != nil {
			return nil, fmt.Errorf("%w%s", err, conflictSummary(p.result))
		}
		return nil, err
	}
	timeout, err := time.ParseDuration(p.result.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: timeout %q: %v", transport.ErrInvalidRequest, p.result.Timeout, err)
	}
	id := newPlanID()
	cmd, err := s.l.createCommand(id, p, now.Add(timeout), s.l.cfg.StageTimeout)
	if err != nil {
		return nil, err
	}
	res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_PLAN_CREATE, cmd)
	if err != nil {
		return nil, err
	}
	dry, _ := json.Marshal(p.result.DryRun())
	return &pb.ApplyPlanResponse{Id: id, Meta: s.srv().WriteMeta(res.Index), DryRunJson: dry}, nil
}

// conflictSummary lists the conflicts that refused a plan.
func conflictSummary(r *plan.Result) string {
	out := ""
	for _, c := range r.Conflicts {
		if c.Severity == plan.SeverityError {
			out += fmt.Sprintf("\n  %s: %s", c.Kind, c.Message)
		}
	}
	return out
}

func (s *service) List(ctx context.Context, req *pb.ListPlansRequest) (*pb.ListPlansResponse, error) {
	switch req.Filter {
	case "", "all", "running", "finished":
	default:
		return nil, transport.ToStatus(fmt.Errorf("%w: filter %q is not one of running, finished, all", transport.ErrInvalidRequest, req.Filter))
	}
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListPlansRequest) (*pb.ListPlansResponse, error) {
			return pb.NewCoordinationClient(c).List(ctx, r)
		},
		func(st *state.Store, r *pb.ListPlansRequest) (*pb.ListPlansResponse, error) {
			idx, recs, err := st.Plans(nil)
			if err != nil {
				return nil, err
			}
			out := &pb.ListPlansResponse{Meta: s.srv().ReadMeta(idx)}
			for _, rec := range recs {
				fin := state.PlanDone(rec)
				if (r.Filter == "running" && fin) || (r.Filter == "finished" && !fin) {
					continue
				}
				out.Plans = append(out.Plans, rec)
			}
			return out, nil
		})
}

func (s *service) Get(ctx context.Context, req *pb.GetPlanRequest) (*pb.GetPlanResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetPlanRequest) (*pb.GetPlanResponse, error) {
			return pb.NewCoordinationClient(c).Get(ctx, r)
		},
		func(st *state.Store, r *pb.GetPlanRequest) (*pb.GetPlanResponse, error) {
			return s.get(st, nil, r.Id)
		})
}

func (s *service) get(st *state.Store, ws memdb.WatchSet, id string) (*pb.GetPlanResponse, error) {
	rec, spec, err := st.Plan(ws, id)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: plan %q (plans are kept until %d newer ones have finished)", transport.ErrNotFound, id, state.MaxPlanHistory)
	}
	resp := &pb.GetPlanResponse{Meta: s.srv().ReadMeta(rec.ModifyIndex), Plan: rec}
	if spec != nil {
		resp.ResultJson = spec.ResultJson
	}
	return resp, nil
}

// Watch streams a plan from this node's replica each time it changes,
// until it finishes or the client goes away. A plan this replica does not
// have yet (committed a moment ago through another node) is looked up on
// the leader first, then awaited here.
func (s *service) Watch(req *pb.GetPlanRequest, stream grpc.ServerStreamingServer[pb.GetPlanResponse]) error {
	ctx := stream.Context()
	var last uint64
	checkedLeader := false
	for {
		st := s.l.node.State()
		ws := memdb.NewWatchSet()
		resp, err := s.get(st, ws, req.Id)
		if errors.Is(err, transport.ErrNotFound) && !checkedLeader {
			// Consistent read: does the plan exist at all?
			if _, err := s.Get(ctx, &pb.GetPlanRequest{Id: req.Id}); err != nil {
				return err
			}
			checkedLeader = true
			if err := s.awaitLocal(ctx, req.Id); err != nil {
				return transport.ToStatus(err)
			}
			continue
		}
		if err != nil {
			return transport.ToStatus(err)
		}
		if resp.Plan.ModifyIndex != last {
			last = resp.Plan.ModifyIndex
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
		if state.PlanDone(resp.Plan) {
			return nil
		}
		wctx, cancel := context.WithCancel(ctx)
		select {
		case <-ws.WatchCh(wctx):
		case <-st.AbandonCh():
		case <-ctx.Done():
			cancel()
			return nil
		}
		cancel()
	}
}

// awaitLocal waits until this node's replica has the plan.
func (s *service) awaitLocal(ctx context.Context, id string) error {
	for {
		st := s.l.node.State()
		ws := memdb.NewWatchSet()
		rec, _, err := st.Plan(ws, id)
		if err != nil || rec != nil {
			return err
		}
		ws.Add(st.AbandonCh())
		if err := ws.WatchCtx(ctx); err != nil {
			return fmt.Errorf("%w: plan %s not replicated to this node yet: %v", transport.ErrTimeout, id, err)
		}
	}
}

func (s *service) Cancel(ctx context.Context, req *pb.CancelPlanRequest) (*pb.CancelPlanResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.CancelPlanRequest) (*pb.CancelPlanResponse, error) {
			return pb.NewCoordinationClient(c).Cancel(ctx, r)
		},
		func(ctx context.Context, r *pb.CancelPlanRequest) (*pb.CancelPlanResponse, error) {
			res, err := s.srv().Apply(ctx, pb.CommandType_COMMAND_TYPE_PLAN_CANCEL, &pb.PlanCancelCommand{PlanId: r.Id, Reason: r.Reason})
			if err != nil {
				return nil, err
			}
			return &pb.CancelPlanResponse{Meta: s.srv().WriteMeta(res.Index)}, nil
		})
}

// facts answers the leader's Facts call for the operations on this node
// (a peer handler on the Internal service).
func (l *Layer) facts(_ context.Context, req *pb.FactsRequest) (*pb.FactsResponse, error) {
	var ops []plan.Operation
	if err := json.Unmarshal(req.OperationsJson, &ops); err != nil {
		return nil, fmt.Errorf("%w: operations: %v", transport.ErrInvalidRequest, err)
	}
	body, err := json.Marshal(l.localFacts(ops))
	if err != nil {
		return nil, err
	}
	return &pb.FactsResponse{FactsJson: body}, nil
}

// createCommand is the command that commits a prepared plan. The
// result's JSON is for the executors and `ops status`; the state machine
// runs the shape, built here with this version's planner.
func (l *Layer) createCommand(id string, p *prepared, deadline time.Time, stageTimeout time.Duration) (*pb.PlanCreateCommand, error) {
	planJSON, err := json.Marshal(p.plan)
	if err != nil {
		return nil, err
	}
	factsJSON, err := json.Marshal(p.facts)
	if err != nil {
		return nil, err
	}
	resJSON, err := json.Marshal(p.result)
	if err != nil {
		return nil, err
	}
	return &pb.PlanCreateCommand{
		Id:               id,
		Spec:             &pb.PlanSpecRecord{Id: id, PlanJson: planJSON, FactsJson: factsJSON, ResultJson: resJSON, Shape: state.PlanShapeOf(p.result)},
		DeadlineUnixNano: deadline.UnixNano(),
		StageTimeoutMs:   stageTimeout.Milliseconds(),
		SubmittedBy:      l.node.Name(),
	}, nil
}

// PlanDeployment plans a deployment's operations (upgrade_code, with
// explicit batches and a health gate) against live facts, on the leader,
// and returns the plan command a deployment command carries, with the
// result. A plan that conflicts with another active plan or deployment on
// the same processes is refused with ErrConflict, as Apply refuses it.
func (l *Layer) PlanDeployment(ctx context.Context, p *plan.Plan, id string, deadline time.Time, stageTimeout time.Duration) (*pb.PlanCreateCommand, *plan.Result, error) {
	prep, err := l.preparePlan(ctx, p, plan.Options{Now: l.clock.Now(), KnownBehavior: l.knownBehavior, Deployment: true})
	if err != nil {
		if prep != nil && prep.result != nil {
			return nil, prep.result, fmt.Errorf("%w%s", err, conflictSummary(prep.result))
		}
		return nil, nil, err
	}
	cmd, err := l.createCommand(id, prep, deadline, stageTimeout)
	return cmd, prep.result, err
}

// Submit plans and commits a plan from within the leader (another layer's
// request, such as a snapshot restore), exactly as Apply would.
func (l *Layer) Submit(ctx context.Context, data []byte, filename string) (*pb.ApplyPlanResponse, error) {
	return (&service{l: l}).applyLocal(ctx, &pb.ApplyPlanRequest{Plan: data, Filename: filename})
}

// DryRunLocal plans without committing, on the leader.
func (l *Layer) DryRunLocal(ctx context.Context, data []byte, filename string) (*plan.Result, error) {
	p, err := l.prepare(ctx, data, filename, nil, l.clock.Now())
	if p == nil {
		return nil, err
	}
	return p.result, err
}
