package coordination

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// executor runs this node's share of every running stage.
type executor struct {
	l *Layer

	mu sync.Mutex
	// claimed holds the steps this incarnation took on ("plan/stage").
	claimed map[string]*claim
	wg      sync.WaitGroup
}

// claim is a step this incarnation took on. ready is closed once the stage
// is known to run (the replica or the leader said so), for a step taken on
// ahead of its stage.
type claim struct {
	plan  string
	ready chan struct{}
	once  sync.Once
	// handoff: the node whose report starts the stage carries this step's
	// start (PLAN_STEP_HANDOFF); none is proposed until the stage runs.
	handoff bool
	// deadline is the stage's deadline the leader's notice gave (0:
	// none), and startedNonce the nonce the leader's replica holds the
	// step started under ("": pending); both set before ready is closed.
	deadline     int64
	startedNonce string
}

func (c *claim) running(deadline int64, startedNonce string) {
	c.once.Do(func() {
		c.deadline, c.startedNonce = deadline, startedNonce
		close(c.ready)
	})
}

// notice is how a step came to be taken on: from the replica (the zero
// value), the leader's notice, or ahead from the node whose report is
// about to start its stage (see hintNext).
type notice struct {
	// index is the leader's index of the plan record that started the
	// stage (0: the replica has it).
	index uint64
	// ahead: the stage is about to start, not running yet; handoff (with
	// ahead): that node's report will carry this step's start.
	ahead, handoff bool
	// deadline is the stage's, and startedNonce the nonce its step is
	// started under, from the leader's notice (0, "": not given).
	deadline     int64
	startedNonce string
}

func newExecutor(l *Layer) *executor {
	return &executor{l: l, claimed: map[string]*claim{}}
}

func (e *executor) run() {
	defer e.wg.Wait()
	self := e.l.node.Name()
	for {
		st := e.l.node.State()
		ws := memdb.NewWatchSet()
		_, plans, err := st.Plans(ws)
		if err != nil {
			e.l.logger.Error("executor: read plans", "error", err)
		}
		var done map[string]bool
		for _, rec := range plans {
			if state.PlanDone(rec) {
				if done == nil {
					done = map[string]bool{}
				}
				done[rec.Id] = true
				continue
			}
			stage := state.RunningStage(rec)
			if stage == nil {
				continue
			}
			step := state.StepOf(stage, self)
			if step == nil {
				continue
			}
			// Pending, or started under this incarnation's nonce by another
			// node's report (a handoff) that came after this executor gave
			// up waiting for it.
			s := state.StepStatusOf(step)
			if s == pb.StepStatus_STEP_STATUS_PENDING || (s == pb.StepStatus_STEP_STATUS_STARTED && step.Nonce == e.l.nonce) {
				e.take(rec.Id, stage.Key, notice{})
			}
		}
		e.forget(done)
		if st.WaitChange(e.l.ctx, ws, time.Time{}) != nil {
			return
		}
	}
}

// forget drops the claims of finished plans, which no step of can start
// again (the state machine refuses a start in a finished plan): a
// notice that comes late takes a step on afresh, and its start is
// refused. Only a plan the replica holds as finished is forgotten, never
// one it does not hold yet (a step taken on ahead may come before its
// plan), whose claim is what keeps this incarnation from running a step
// twice.
func (e *executor) forget(done map[string]bool) {
	if len(done) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for key, c := range e.claimed {
		if done[c.plan] {
			delete(e.claimed, key)
		}
	}
}

// claims is how many steps this incarnation holds claims for.
func (e *executor) claims() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.claimed)
}

// take runs this node's step of a stage, unless this incarnation took it
// on already: once its replica shows the stage running, when the leader's
// notice (stepReady) comes first, or ahead of the stage (n).
func (e *executor) take(planID, stageKey string, n notice) {
	key := planID + "/" + stageKey
	e.mu.Lock()
	c := e.claimed[key]
	taken := c != nil
	if !taken {
		c = &claim{plan: planID, ready: make(chan struct{}), handoff: n.ahead && n.handoff}
		e.claimed[key] = c
	}
	e.mu.Unlock()
	if !n.ahead {
		c.running(n.deadline, n.startedNonce)
	}
	if taken {
		return
	}
	e.l.trace(planID, stageKey, StepNoticed)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.runStep(planID, stageKey, n.index, c)
	}()
}

// runStep starts, runs and reports one step. Nothing runs unless the start
// is committed under this incarnation's nonce.
func (e *executor) runStep(planID, stageKey string, index uint64, c *claim) {
	self := e.l.node.Name()
	log := e.l.logger.With("plan", planID, "stage", stageKey)
	if !e.start(planID, stageKey, c, log) {
		return
	}
	e.l.trace(planID, stageKey, StepStarted)
	rec, spec, deadline, err := e.replicaHas(planID, stageKey, index, c)
	if err != nil || rec == nil || spec == nil {
		log.Error("step started but the plan is gone", "error", err)
		return
	}
	report := func(step *pb.Step) {
		step.Node, step.Nonce = self, e.l.nonce
		if e.l.ctx.Err() != nil {
			log.Warn("node stopping: step abandoned without a report")
			return
		}
		log.Debug("step done; reporting", "ok", step.Error == "")
		e.l.trace(planID, stageKey, StepChecked)
		cmd := &pb.PlanStepReportCommand{PlanId: planID, Stage: stageKey, Step: step}
		starts := e.hintNext(planID, stageKey, step)
		e.l.trace(planID, stageKey, StepHinted)
		defer e.l.trace(planID, stageKey, StepReported)
		var err error
		if len(starts) > 0 {
			err = e.commit(pb.CommandType_COMMAND_TYPE_PLAN_STEP_HANDOFF, &pb.PlanStepHandoffCommand{Report: cmd, Starts: starts})
		} else {
			err = e.commit(pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT, cmd)
		}
		if err != nil {
			log.Error("step report not committed", "error", err)
		}
	}
	res, err := state.DecodePlanResult(spec)
	if err != nil {
		// The state machine committed the plan by its shape; the result
		// is this node's to read, and one its version cannot read (a newer
		// leader's) fails its share now, reported, rather than at the
		// stage's deadline.
		log.Error("plan result", "error", err)
		report(&pb.Step{Error: "this node cannot read the plan: " + err.Error()})
		return
	}
	_, stage := stageByKey(rec, stageKey)
	// A stopping node abandons its step, as a crash would: it is lost after
	// the stage's deadline, never run twice.
	ctx, cancel := clock.WithDeadline(e.l.ctx, e.l.clock, time.Unix(0, deadline))
	defer cancel()
	var step *pb.Step
	if stage.Kind == state.StageKindRollback {
		step = e.l.rollbackStep(ctx, rec, res, stage)
	} else {
		step = e.l.phaseStep(ctx, planID, stageKey, res, int(stage.Phase))
	}
	if step == nil {
		log.Warn("step abandoned before its operations ran", "error", ctx.Err())
		return
	}
	report(step)
}

// start gets the step's start committed under this incarnation's nonce, or
// finds it committed by a handoff: true; false when it did not start (the
// claim is then dropped if its stage never ran, so that the step can be
// taken on again should it run later).
func (e *executor) start(planID, stageKey string, c *claim, log hclog.Logger) bool {
	drop := func() bool {
		// Nothing started: let the stage be taken on again if it runs
		// later (a deployment's batch held for promotion).
		log.Debug("step taken on ahead: its stage did not start")
		e.mu.Lock()
		delete(e.claimed, planID+"/"+stageKey)
		e.mu.Unlock()
		return false
	}
	useReady := true
	if c.handoff {
		// The report that starts the stage carries this start: wait for
		// the stage, then propose a start only if the report did not.
		if !e.awaitStage(planID, stageKey, c, true) {
			return drop()
		}
		if e.startedHere(planID, stageKey, c) {
			return true
		}
		useReady = false
	}
	start := &pb.PlanStepStartCommand{PlanId: planID, Stage: stageKey, Node: e.l.node.Name(), Nonce: e.l.nonce}
	err := e.commit(pb.CommandType_COMMAND_TYPE_PLAN_STEP_START, start)
	for ; errors.Is(err, state.ErrPlanNotRunning); useReady = false {
		// Taken on ahead, and the start landed before the report that
		// starts the stage (or a notice was wrong, or the stage ended):
		// the state machine refused it, nothing ran. Start it once the
		// stage runs, if it does; the leader's notice is believed once,
		// then only the replica.
		e.l.trace(planID, stageKey, StepAheadRefused)
		if !e.awaitStage(planID, stageKey, c, useReady) {
			return drop()
		}
		err = e.commit(pb.CommandType_COMMAND_TYPE_PLAN_STEP_START, start)
	}
	if err != nil {
		log.Warn("step not started", "error", err)
		return false
	}
	return true
}

// startedHere reports whether the step is committed as started under this
// incarnation's nonce, as the leader's notice (once the stage runs) or
// this node's replica holds it.
func (e *executor) startedHere(planID, stageKey string, c *claim) bool {
	select {
	case <-c.ready:
		if c.startedNonce == e.l.nonce {
			return true
		}
	default:
	}
	rec, _, err := e.l.node.State().Plan(nil, planID)
	if err != nil || rec == nil {
		return false
	}
	_, st := stageByKey(rec, stageKey)
	if st == nil {
		return false
	}
	step := state.StepOf(st, e.l.node.Name())
	return step != nil && step.Nonce == e.l.nonce && state.StepStatusOf(step) != pb.StepStatus_STEP_STATUS_PENDING
}

// replicaHas waits until this node's replica has applied the start of the
// stage (a step taken on the leader's notice may be committed before the
// replica has the entry that started its stage, or the plan) and returns
// the plan and the stage's deadline, or nils when the plan is gone; index
// is the plans' index at which the leader held the stage running (0: not
// known; the replica's plan is waited for until it shows the stage). A
// phase whose deadline the leader's notice gave (c) need not wait: its
// step needs only the plan's result and that deadline (a rollback reads
// the earlier stages' reports from the replica). It waits at most
// replicaWait.
func (e *executor) replicaHas(planID, stageKey string, index uint64, c *claim) (*pb.PlanRecord, *pb.PlanSpecRecord, int64, error) {
	ctx, cancel := context.WithTimeout(e.l.ctx, replicaWait)
	defer cancel()
	for {
		st := e.l.node.State()
		ws := memdb.NewWatchSet()
		// The index first: the plan read after it is at least as new.
		applied := st.TableIndex(planTables...)
		rec, spec, err := st.Plan(ws, planID)
		if err != nil {
			return nil, nil, 0, err
		}
		if rec != nil {
			_, stage := stageByKey(rec, stageKey)
			if stage != nil && state.StageStatusOf(stage) != pb.StageStatus_STAGE_STATUS_PENDING {
				return rec, spec, stage.DeadlineUnixNano, nil
			}
			if stage != nil && stage.Kind == state.StageKindPhase && spec != nil {
				select {
				case <-c.ready:
					if c.deadline > 0 {
						return rec, spec, c.deadline, nil
					}
				default:
				}
			}
		}
		if (index > 0 && applied >= index) || (index == 0 && rec == nil) {
			// As the replica holds it: gone, or not started.
			if rec != nil {
				if _, stage := stageByKey(rec, stageKey); stage != nil {
					return rec, spec, stage.DeadlineUnixNano, nil
				}
			}
			return rec, spec, 0, nil
		}
		ws.Add(c.ready)
		if err := st.WaitChange(ctx, ws, time.Time{}); err != nil {
			return nil, nil, 0, fmt.Errorf("stage %s of plan %s started, but this node's replica has not applied it: %w", stageKey, planID, err)
		}
	}
}

// awaitStage waits, for a step whose start was refused as early, until its
// stage runs (the replica shows it, or, with useReady, the leader's notice
// has come): true; false when the stage ended or was skipped, the plan is
// gone, or replicaWait passed.
func (e *executor) awaitStage(planID, stageKey string, c *claim, useReady bool) bool {
	ctx, cancel := context.WithTimeout(e.l.ctx, replicaWait)
	defer cancel()
	for {
		st := e.l.node.State()
		ws := memdb.NewWatchSet()
		rec, _, err := st.Plan(ws, planID)
		if err != nil || rec == nil || state.PlanDone(rec) {
			return false
		}
		if _, stage := stageByKey(rec, stageKey); stage == nil {
			return false
		} else if s := state.StageStatusOf(stage); s == pb.StageStatus_STAGE_STATUS_RUNNING {
			return true
		} else if s != pb.StageStatus_STAGE_STATUS_PENDING {
			return false
		}
		ready := c.ready
		if !useReady {
			ready = nil
		}
		wctx, wcancel := context.WithCancel(ctx)
		select {
		case <-ready:
			wcancel()
			return true
		case <-ws.WatchCh(wctx):
		case <-st.AbandonCh():
		case <-ctx.Done():
			wcancel()
			return false
		}
		wcancel()
	}
}

// replicaWait bounds how long a step started on the leader's notice waits
// for this node's replica to apply its stage; then it is abandoned, lost
// after the stage's deadline, never run twice.
const replicaWait = 15 * time.Second

// planTables hold the plans.
var planTables = []string{"plans"}

// commit proposes a step command (forwarded to the leader) until it is
// answered or the node stops. Both step commands are idempotent for one
// incarnation.
func (e *executor) commit(t pb.CommandType, cmd proto.Message) error {
	return transport.Retry(e.l.ctx, 15*time.Second, func(ctx context.Context) error {
		_, err := e.l.node.Propose(ctx, t, cmd)
		return err
	})
}

func stageByKey(rec *pb.PlanRecord, key string) (int, *pb.Stage) {
	for i, st := range rec.Stages {
		if st.Key == key {
			return i, st
		}
	}
	return -1, nil
}

// phaseStep runs this node's share of phase i: pre-checks, the operations
// on this node (in parallel), post-checks (waiting up to SettleTimeout for
// them to pass).
func (l *Layer) phaseStep(ctx context.Context, planID, stageKey string, res *plan.Result, i int) *pb.Step {
	self := l.node.Name()
	ph := res.Phases[i]
	step := &pb.Step{}
	before := l.observe()
	preOK := true
	pre := plan.NewEvaluator(before, nil)
	for _, c := range ph.PreChecks {
		r := pre.Evaluate(c.ForNode(self))
		step.PreChecks = append(step.PreChecks, checkOutcome(r))
		preOK = preOK && r.OK
		if c.Kind == plan.CheckCaptureState {
			step.Captured = append(step.Captured, l.capture(ctx, r.Captured, before)...)
		}
	}
	var mine []plan.Operation
	for _, id := range ph.Operations {
		if op := res.Operation(id); op != nil && op.Node == self {
			mine = append(mine, *op)
		}
	}
	if !preOK {
		for _, op := range mine {
			step.Operations = append(step.Operations, &pb.OpOutcome{Op: op.ID, Type: string(op.Type), Error: "not run: a pre-check failed"})
		}
		return step
	}
	if l.cfg.BeforeOperations != nil {
		l.cfg.BeforeOperations(ctx, planID, stageKey)
	}
	if ctx.Err() != nil {
		// Stopping, or the stage's deadline passed before anything ran:
		// report nothing; the deadline's expiry records the step as lost,
		// with the reason.
		return nil
	}
	l.trace(planID, stageKey, StepPreChecked)
	probes := l.probeHealth(ctx, ph.PostChecks)
	outs := make([]*pb.OpOutcome, len(mine))
	caps := make([]*pb.CapturedState, len(mine))
	var wg sync.WaitGroup
	for k, op := range mine {
		wg.Add(1)
		go func(k int, op plan.Operation) {
			defer wg.Done()
			outs[k], caps[k] = l.execute(ctx, op)
		}(k, op)
	}
	wg.Wait()
	l.trace(planID, stageKey, StepOperated)
	step.Operations = outs
	for _, c := range caps {
		if c != nil {
			step.Captured = append(step.Captured, c)
		}
	}
	// A spawn's effect is the process it reported.
	results := map[string]string{}
	for _, o := range outs {
		if o.Ok && o.ResultPid != "" {
			results[o.Op] = o.ResultPid
		}
	}
	step.PostChecks = l.postChecks(ctx, plan.BindResults(ph.PostChecks, results), before, probes)
	return step
}

// postChecks evaluates the post-checks until they all pass or SettleTimeout
// (bounded by the stage's deadline) runs out; the last evaluation is
// reported.
func (l *Layer) postChecks(ctx context.Context, checks []plan.Check, before *plan.Observed, probes latencies) []*pb.CheckOutcome {
	self := l.node.Name()
	settle := l.cfg.SettleTimeout
	var health *healthGate
	for _, c := range checks {
		if c.Kind == plan.CheckHealthy && c.Health != nil {
			health = l.startHealthGate(ctx, c.ForNode(self), probes)
			if d := time.Duration(c.Health.HealthyDeadlineMS) * time.Millisecond; d > settle {
				settle = d
			}
		}
	}
	deadline := l.clock.Now().Add(settle)
	if dl, ok := clock.Deadline(ctx); ok && dl.Before(deadline) {
		deadline = dl.Add(-100 * time.Millisecond)
	}
	if health != nil {
		// min_healthy_time: nothing counts as healthy before it has passed.
		if err := health.waitMin(ctx); err != nil {
			return []*pb.CheckOutcome{{Kind: string(plan.CheckHealthy), Failures: []string{"stopped before min_healthy_time passed: " + err.Error()}}}
		}
	}
	var out []*pb.CheckOutcome
	// Until ends only when the checks are done or ctx ends: either way the
	// last evaluation is the answer.
	_ = poll.Until(ctx, l.clock, settleBackoff, func() (bool, error) {
		after := l.observe()
		out = nil
		ok := true
		ev := plan.NewEvaluator(before, after)
		for _, c := range checks {
			r := ev.Evaluate(c.ForNode(self))
			if r.Kind == plan.CheckHealthy && health != nil {
				r = health.finish(ctx, r)
			}
			out = append(out, checkOutcome(r))
			ok = ok && r.OK
		}
		return ok || !l.clock.Now().Before(deadline), nil
	})
	return out
}

// settleBackoff spaces the evaluations of the post-checks: 5 ms, doubling
// to 160 ms.
var settleBackoff = poll.Doubling(5*time.Millisecond, 160*time.Millisecond)

func checkOutcome(r plan.CheckResult) *pb.CheckOutcome {
	return &pb.CheckOutcome{Kind: string(r.Kind), Ok: r.OK, Failures: r.Failures}
}

// capture records the state of processes a strict pre-check names.
func (l *Layer) capture(ctx context.Context, pids []string, before *plan.Observed) []*pb.CapturedState {
	where := map[string]plan.Process{}
	for _, ns := range before.Nodes {
		for _, p := range ns.Processes {
			where[p.PID] = p
		}
	}
	var out []*pb.CapturedState
	for _, s := range pids {
		pid, err := actor.ParsePID(s)
		if err != nil {
			continue
		}
		cs := &pb.CapturedState{Pid: s, Tree: where[s].Tree, Slot: where[s].Slot}
		if st, err := l.rt.GetState(ctx, pid); err == nil {
			cs.State = st
		}
		out = append(out, cs)
	}
	return out
}

// rollbackStep runs this node's compensations for a rollback stage.
func (l *Layer) rollbackStep(ctx context.Context, rec *pb.PlanRecord, res *plan.Result, stage *pb.Stage) *pb.Step {
	self := l.node.Name()
	step := &pb.Step{}
	for _, opID := range stage.Operations {
		c := res.Compensation(int(stage.Phase), opID)
		if c == nil || c.Operation == nil || c.Operation.Node != self {
			continue
		}
		op := *c.Operation
		if c.ChildFromResult {
			op.Params.ChildID = resultPID(rec, int(stage.Phase), opID)
			if op.Params.ChildID == "" {
				step.Operations = append(step.Operations, &pb.OpOutcome{Op: op.ID, Type: string(op.Type), Error: "the started child's pid is not in the phase's report"})
				continue
			}
		}
		if c.TargetFromResult {
			op.Target = plan.Target{PID: resultPID(rec, int(stage.Phase), opID)}
			if op.Target.PID == "" {
				step.Operations = append(step.Operations, &pb.OpOutcome{Op: op.ID, Type: string(op.Type), Error: "the spawned process's pid is not in the phase's report"})
				continue
			}
		}
		if c.StateFromCapture {
			cs := capturedState(rec, int(stage.Phase), op.Target.PID)
			if cs == nil {
				step.Operations = append(step.Operations, &pb.OpOutcome{Op: op.ID, Type: string(op.Type), Error: "the state captured before the upgrade of " + op.Target.PID + " is not in the phase's report"})
				continue
			}
			op.Params.State = string(cs.State)
		}
		step.Operations = append(step.Operations, l.compensate(ctx, op, c.Then))
	}
	return step
}

// compensate runs a compensation: op, then each of then once the one
// before succeeded (a start_child's terminate_child then delete_child).
// It reports as one outcome, op's: a later step's failure fails it, named.
func (l *Layer) compensate(ctx context.Context, op plan.Operation, then []plan.Operation) *pb.OpOutcome {
	out, _ := l.executeAs(ctx, op, true)
	for _, next := range then {
		if !out.Ok {
			break
		}
		o, _ := l.executeAs(ctx, next, true)
		out.DurationUs += o.DurationUs
		if !o.Ok {
			out.Ok = false
			out.Error = fmt.Sprintf("%s done, then %s: %s", op.Type, next.Type, o.Error)
		}
	}
	return out
}

// capturedState is the state phase p's step captured for pid.
func capturedState(rec *pb.PlanRecord, p int, pid string) *pb.CapturedState {
	for _, st := range rec.Stages {
		if st.Kind != state.StageKindPhase || int(st.Phase) != p {
			continue
		}
		for _, step := range st.Steps {
			for _, c := range step.Captured {
				if c.Pid == pid {
					return c
				}
			}
		}
	}
	return nil
}

// resultPID is the pid an operation of phase p reported (start_child's new
// child).
func resultPID(rec *pb.PlanRecord, p int, op string) string {
	for _, st := range rec.Stages {
		if st.Kind != state.StageKindPhase || int(st.Phase) != p {
			continue
		}
		for _, step := range st.Steps {
			for _, o := range step.Operations {
				if o.Op == op {
					return o.ResultPid
				}
			}
		}
	}
	return ""
}
