package coordination

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// stepReadyTimeout bounds one StepReady call: the notice is a hint, and a
// node that does not answer in time learns of its share from its replica.
const stepReadyTimeout = 2 * time.Second

// dispatch runs on the leader: each time a stage starts with a share on
// another node, that node is told at once (Internal.StepReady), so that its
// executor proposes the step's start without waiting for its replica. A
// follower learns that an entry is committed only with the leader's next
// AppendEntries, which Raft sends when a new entry comes or after its
// commit timeout (10 to 20 ms by default): in a strict plan, one operation
// per phase on alternating nodes, that wait came once per phase. The
// leader's own share needs no notice: its replica is the first to apply.
func (l *Layer) dispatch(ctx context.Context) {
	self := l.node.Name()
	told := map[string]bool{} // "plan\x00stage\x00node", while the stage runs
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, plans, err := st.Plans(ws)
		if err != nil {
			l.logger.Error("dispatch: read plans", "error", err)
		}
		running := map[string]bool{}
		for _, rec := range plans {
			stage := state.RunningStage(rec)
			if stage == nil {
				continue
			}
			for _, step := range stage.Steps {
				// Started too: a start proposed ahead may be committed
				// before this replica applied the report, and its node
				// waits for the stage's deadline.
				if step.Node == self || !waiting(step) {
					continue
				}
				key := rec.Id + "\x00" + stage.Key + "\x00" + step.Node
				running[key] = true
				if told[key] {
					continue
				}
				told[key] = true
				req := &pb.StepReadyRequest{PlanId: rec.Id, Stage: stage.Key, Index: rec.ModifyIndex, DeadlineUnixNano: stage.DeadlineUnixNano, StartedNonce: step.Nonce}
				wg.Add(1)
				go func(node string) {
					defer wg.Done()
					l.tellStepReady(ctx, node, req, stepReadyTimeout)
				}(step.Node)
			}
		}
		for k := range told {
			if !running[k] {
				delete(told, k)
			}
		}
		if st.WaitChange(ctx, ws, time.Time{}) != nil {
			return
		}
	}
}

// tellStepReady sends one notice and returns the answer (nil when none
// came). A node that cannot be reached, or that runs a version without
// the call, still finds its share in its replica.
func (l *Layer) tellStepReady(ctx context.Context, node string, req *pb.StepReadyRequest, timeout time.Duration) *pb.StepReadyResponse {
	addr, ok := l.node.PeerGRPCAddr(node)
	if !ok {
		return nil
	}
	conn, err := l.node.Pool().Get(addr)
	if err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := pb.NewInternalClient(conn).StepReady(cctx, req)
	if err != nil && ctx.Err() == nil {
		if status.Code(err) == codes.Unimplemented {
			l.logger.Debug("node takes no step notices", "node", node, "error", err)
			return nil
		}
		l.logger.Debug("step notice not delivered", "node", node, "plan", req.PlanId, "stage", req.Stage, "error", err)
	}
	return resp
}

// stepReady answers a notice (a peer handler on the Internal service): the
// executor takes the step on at once, as it would once its replica showed
// the stage; the start it commits first (or the handoff that carries it)
// is what the state machine checks. A handoff is answered with this
// incarnation's nonce.
func (l *Layer) stepReady(_ context.Context, req *pb.StepReadyRequest) (*pb.StepReadyResponse, error) {
	if req.PlanId == "" || req.Stage == "" {
		return nil, fmt.Errorf("%w: a step notice needs a plan id and a stage", transport.ErrInvalidRequest)
	}
	n := notice{index: req.Index, ahead: req.Ahead, handoff: req.Ahead && req.Handoff}
	if !req.Ahead {
		n.deadline, n.startedNonce = req.DeadlineUnixNano, req.StartedNonce
	}
	l.exec.take(req.PlanId, req.Stage, n)
	if n.handoff {
		return &pb.StepReadyResponse{Nonce: l.nonce}, nil
	}
	return &pb.StepReadyResponse{}, nil
}

// HandoffGossipKey is the gossip field by which a node says its state machine
// applies PLAN_STEP_HANDOFF; a report carries the next stage's starts
// only when every server says so (node.ServersGossip).
const HandoffGossipKey = "ph"

// handoffTimeout is Config.HandoffTimeout, or its default when unset.
func (l *Layer) handoffTimeout() time.Duration {
	if l.cfg.HandoffTimeout > 0 {
		return l.cfg.HandoffTimeout
	}
	return DefaultConfig().HandoffTimeout
}

// hintNext runs on a node about to report its step. When that report will
// finish its stage (this share succeeded, and every other one already had,
// as this replica holds them) and the next stage is a phase, each node of
// that phase is told ahead (StepReady, ahead) and gives its executor's
// nonce, and hintNext returns their starts, for the report to carry
// (PLAN_STEP_HANDOFF): the next phase is then started by the entry that
// ends this one, instead of by starts committed after it. A start the
// state machine drops (the report did not start the stage) is proposed by
// its executor once the stage runs. While some server cannot apply a
// handoff (a rolling upgrade), the nodes other than this one and the
// leader are only told ahead, to propose their starts at once, so that
// they follow the report in the log (one that lands first is refused and
// proposed again once the stage runs), and hintNext returns none.
func (e *executor) hintNext(planID, stageKey string, step *pb.Step) []*pb.PlanStepStartCommand {
	if !state.StepOK(step) {
		return nil
	}
	rec, _, err := e.l.node.State().Plan(nil, planID)
	if err != nil || rec == nil {
		return nil
	}
	si, st := stageByKey(rec, stageKey)
	if st == nil || st.Kind != state.StageKindPhase || si+1 >= len(rec.Stages) {
		return nil
	}
	self := e.l.node.Name()
	for _, other := range st.Steps {
		if other.Node != self && state.StepStatusOf(other) != pb.StepStatus_STEP_STATUS_SUCCEEDED {
			return nil
		}
	}
	next := rec.Stages[si+1]
	if next.Kind != state.StageKindPhase || state.StageStatusOf(next) != pb.StageStatus_STAGE_STATUS_PENDING {
		return nil
	}
	if !e.l.node.ServersGossip(HandoffGossipKey) {
		leader, _ := e.l.node.Server().Backend().Leader()
		for _, s := range next.Steps {
			if s.Node == self || s.Node == leader {
				continue
			}
			req := &pb.StepReadyRequest{PlanId: planID, Stage: next.Key, Ahead: true}
			e.wg.Add(1)
			go func(node string) {
				defer e.wg.Done()
				e.l.tellStepReady(e.l.ctx, node, req, stepReadyTimeout)
			}(s.Node)
		}
		return nil
	}
	nonces := make([]string, len(next.Steps))
	var wg sync.WaitGroup
	for i, s := range next.Steps {
		if s.Node == self {
			e.take(planID, next.Key, notice{ahead: true, handoff: true})
			nonces[i] = e.l.nonce
			continue
		}
		req := &pb.StepReadyRequest{PlanId: planID, Stage: next.Key, Ahead: true, Handoff: true}
		wg.Add(1)
		go func(i int, node string) {
			defer wg.Done()
			if resp := e.l.tellStepReady(e.l.ctx, node, req, e.l.handoffTimeout()); resp != nil {
				nonces[i] = resp.Nonce
			}
		}(i, s.Node)
	}
	wg.Wait()
	var starts []*pb.PlanStepStartCommand
	for i, s := range next.Steps {
		if nonces[i] != "" {
			starts = append(starts, &pb.PlanStepStartCommand{PlanId: planID, Stage: next.Key, Node: s.Node, Nonce: nonces[i]})
		}
	}
	return starts
}

// waiting reports whether a step has yet to report.
func waiting(s *pb.Step) bool {
	switch state.StepStatusOf(s) {
	case pb.StepStatus_STEP_STATUS_PENDING, pb.StepStatus_STEP_STATUS_STARTED:
		return true
	}
	return false
}
