package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"google.golang.org/protobuf/proto"
)

// testResult is a two-phase plan: phase 0 runs a (on n1) and b (on n2),
// phase 1 runs c (on n1). a and c can be compensated, b cannot.
func testResult(level plan.SafetyLevel) *plan.Result {
	op := func(id, node string, t plan.OpType) plan.Operation {
		return plan.Operation{ID: id, Type: t, Node: node, Target: plan.Target{Supervisor: "web", ChildID: id}}
	}
	comp := func(id, node string) plan.Compensation {
		o := op("rollback-"+id, node, plan.ResumeProcess)
		return plan.Compensation{Op: id, Operation: &o, Note: "resume"}
	}
	return &plan.Result{
		SafetyLevel: level, Timeout: "30s",
		Operations: []plan.Operation{op("a", "n1", plan.SuspendProcess), op("b", "n2", plan.SendMessage), op("c", "n1", plan.SuspendProcess)},
		Phases: []plan.Phase{
			{Index: 0, Operations: []string{"a", "b"}, EstimatedMS: 100,
				Rollback: []plan.Compensation{{Op: "b", Note: "cannot recall a message"}, comp("a", "n1")}},
			{Index: 1, Level: 1, Operations: []string{"c"}, EstimatedMS: 100, Rollback: []plan.Compensation{comp("c", "n1")}},
		},
	}
}

const t0 = int64(1_000_000_000_000)

// createPlan commits testResult as the leader does: its JSON for the
// readers, its shape for the state machine.
func createPlan(t *testing.T, s *Store, id string, level plan.SafetyLevel) *pb.PlanRecord {
	t.Helper()
	r := testResult(level)
	res, _ := json.Marshal(r)
	rec, err := s.PlanCreate(10, t0, &pb.PlanCreateCommand{
		Id: id, Spec: &pb.PlanSpecRecord{Id: id, ResultJson: res, Shape: PlanShapeOf(r)},
		DeadlineUnixNano: t0 + int64(30*time.Second), StageTimeoutMs: 5000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func planOf(t *testing.T, s *Store, id string) *pb.PlanRecord {
	t.Helper()
	rec, _, err := s.Plan(nil, id)
	if err != nil || rec == nil {
		t.Fatalf("plan %s: %v", id, err)
	}
	return rec
}

func okStep(node, nonce string, ops ...string) *pb.Step {
	st := &pb.Step{Node: node, Nonce: nonce}
	for _, o := range ops {
		st.Operations = append(st.Operations, &pb.OpOutcome{Op: o, Ran: true, Ok: true})
	}
	return st
}

func run(t *testing.T, s *Store, id, stage string, idx uint64, steps ...*pb.Step) {
	t.Helper()
	for _, st := range steps {
		if err := s.PlanStepStart(idx, t0+1, &pb.PlanStepStartCommand{PlanId: id, Stage: stage, Node: st.Node, Nonce: st.Nonce}); err != nil {
			t.Fatalf("start %s on %s: %v", stage, st.Node, err)
		}
		idx++
		if err := s.PlanStepReport(idx, t0+2, &pb.PlanStepReportCommand{PlanId: id, Stage: stage, Step: st}); err != nil {
			t.Fatalf("report %s on %s: %v", stage, st.Node, err)
		}
		idx++
	}
}

func TestPlanRunsPhaseByPhase(t *testing.T) {
	s := mustStore(t)
	rec := createPlan(t, s, "p1", plan.Moderate)
	if rec.Status != PlanRunning || rec.Current != 0 || rec.Stages[0].Status != StageRunning {
		t.Fatalf("after create: %+v", rec)
	}
	if got := fmt.Sprint(rec.Stages[0].Nodes); got != "[n1 n2]" {
		t.Fatalf("phase 0 nodes %s", got)
	}
	if rec.Stages[0].DeadlineUnixNano != t0+int64(5*time.Second) {
		t.Fatalf("stage deadline %d", rec.Stages[0].DeadlineUnixNano-t0)
	}
	run(t, s, "p1", "phase-0", 11, okStep("n1", "x1", "a"))
	if r := planOf(t, s, "p1"); r.Current != 0 {
		t.Fatal("phase advanced before every node reported")
	}
	run(t, s, "p1", "phase-0", 20, okStep("n2", "x2", "b"))
	r := planOf(t, s, "p1")
	if r.Current != 1 || r.Stages[0].Status != StageSucceeded || r.Stages[1].Status != StageRunning {
		t.Fatalf("after phase 0: current=%d %s/%s", r.Current, r.Stages[0].Status, r.Stages[1].Status)
	}
	run(t, s, "p1", "phase-1", 30, okStep("n1", "x1", "c"))
	if r := planOf(t, s, "p1"); r.Status != PlanSucceeded || r.Current != -1 || r.FinishedAtUnixNano != t0+2 {
		t.Fatalf("final: %+v", r)
	}
}

// A step runs at most once: another executor incarnation cannot start it,
// the same incarnation may re-propose its start, and reports must come from
// the incarnation that started it.
func TestPlanStepAtMostOnce(t *testing.T) {
	s := mustStore(t)
	createPlan(t, s, "p", plan.Moderate)
	start := func(nonce string) error {
		return s.PlanStepStart(11, t0, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n1", Nonce: nonce})
	}
	if err := start("first"); err != nil {
		t.Fatal(err)
	}
	if err := start("first"); err != nil {
		t.Fatalf("re-proposed start of the same incarnation: %v", err)
	}
	if err := start("restarted"); !errors.Is(err, ErrStepTaken) {
		t.Fatalf("start by another incarnation: %v", err)
	}
	err := s.PlanStepReport(12, t0, &pb.PlanStepReportCommand{PlanId: "p", Stage: "phase-0", Step: okStep("n1", "restarted", "a")})
	if !errors.Is(err, ErrStepTaken) {
		t.Fatalf("report by another incarnation: %v", err)
	}
	if err := s.PlanStepStart(13, t0, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-1", Node: "n1", Nonce: "first"}); !errors.Is(err, ErrPlanNotRunning) {
		t.Fatalf("start of a stage not running: %v", err)
	}
	if err := s.PlanStepStart(13, t0, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n9", Nonce: "z"}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("node without a share: %v", err)
	}
}

// A handoff is a report that also starts the next stage's steps: its
// starts apply only when the report starts their stage and the step is
// still pending; any other is dropped (not refused: the report stands),
// and a malformed one refuses the whole command, the report included.
func TestPlanStepHandoff(t *testing.T) {
	s := mustStore(t)
	createPlan(t, s, "p", plan.Moderate)
	for _, n := range []string{"n1", "n2"} {
		if err := s.PlanStepStart(11, t0+1, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: n, Nonce: "x-" + n}); err != nil {
			t.Fatal(err)
		}
	}
	next := &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-1", Node: "n1", Nonce: "y-n1"}
	handoff := func(idx uint64, at int64, step *pb.Step, starts ...*pb.PlanStepStartCommand) error {
		return s.PlanStepHandoff(idx, at, &pb.PlanStepHandoffCommand{Report: &pb.PlanStepReportCommand{PlanId: "p", Stage: "phase-0", Step: step}, Starts: starts})
	}
	for name, bad := range map[string]*pb.PlanStepStartCommand{
		"no nonce":     {PlanId: "p", Stage: "phase-1", Node: "n1"},
		"no node":      {PlanId: "p", Stage: "phase-1", Nonce: "y"},
		"no stage":     {PlanId: "p", Node: "n1", Nonce: "y"},
		"another plan": {PlanId: "q", Stage: "phase-1", Node: "n1", Nonce: "y"},
	} {
		if err := handoff(12, t0+2, okStep("n1", "x-n1", "a"), bad); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("a start with %s: %v", name, err)
		}
	}
	if r := planOf(t, s, "p"); r.Stages[0].Steps[0].Status != StepStarted {
		t.Fatalf("a refused handoff recorded its report: %s", r.Stages[0].Steps[0].Status)
	}
	if err := s.PlanStepHandoff(12, t0+2, &pb.PlanStepHandoffCommand{}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("a handoff without a report: %v", err)
	}
	// n1's report does not finish phase 0 (n2 has not reported): its start
	// of phase 1 is dropped, the report recorded.
	if err := handoff(13, t0+3, okStep("n1", "x-n1", "a"), next); err != nil {
		t.Fatal(err)
	}
	r := planOf(t, s, "p")
	if r.Stages[0].Steps[0].Status != StepSucceeded || r.Stages[1].Steps[0].Status != StepPending {
		t.Fatalf("after a report that does not end its stage: %s, phase 1 %s", r.Stages[0].Steps[0].Status, r.Stages[1].Steps[0].Status)
	}
	// n2's report ends phase 0: phase 1's start applies at the entry's
	// time, and a start for phase 0 (not the stage it started) is dropped.
	if err := handoff(14, t0+4, okStep("n2", "x-n2", "b"), next, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n2", Nonce: "z"}); err != nil {
		t.Fatal(err)
	}
	r = planOf(t, s, "p")
	step := r.Stages[1].Steps[0]
	if r.Current != 1 || step.Status != StepStarted || step.Nonce != "y-n1" || step.StartedAtUnixNano != t0+4 || r.Stages[0].Steps[1].Nonce != "x-n2" {
		t.Fatalf("after the report that ends phase 0: current %d, phase 1 %s by %q at %d", r.Current, step.Status, step.Nonce, step.StartedAtUnixNano-t0)
	}
	// At most once: the step the handoff started is taken; its executor
	// may propose the same start again; it runs and reports as any other.
	if err := s.PlanStepStart(15, t0+5, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-1", Node: "n1", Nonce: "other"}); !errors.Is(err, ErrStepTaken) {
		t.Fatalf("start of a handed-off step by another incarnation: %v", err)
	}
	if err := s.PlanStepStart(15, t0+5, next); err != nil {
		t.Fatalf("the same start again: %v", err)
	}
	if err := s.PlanStepReport(16, t0+6, &pb.PlanStepReportCommand{PlanId: "p", Stage: "phase-1", Step: okStep("n1", "y-n1", "c")}); err != nil {
		t.Fatal(err)
	}
	if r := planOf(t, s, "p"); r.Status != PlanSucceeded {
		t.Fatalf("plan %s", r.Status)
	}
}

// A handoff whose report fails its stage starts nothing: the plan rolls
// back, and the next phase's starts are dropped.
func TestPlanStepHandoffOfAFailedReport(t *testing.T) {
	s := mustStore(t)
	createPlan(t, s, "p", plan.Moderate)
	run(t, s, "p", "phase-0", 11, okStep("n1", "x-n1", "a"))
	if err := s.PlanStepStart(20, t0+1, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n2", Nonce: "x-n2"}); err != nil {
		t.Fatal(err)
	}
	err := s.PlanStepHandoff(21, t0+2, &pb.PlanStepHandoffCommand{
		Report: &pb.PlanStepReportCommand{PlanId: "p", Stage: "phase-0", Step: failStep("n2", "x-n2", "b")},
		Starts: []*pb.PlanStepStartCommand{{PlanId: "p", Stage: "phase-1", Node: "n1", Nonce: "y-n1"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := planOf(t, s, "p")
	if r.Status != PlanRollingBack || r.Stages[1].Steps[0].Status != StepPending || r.Stages[1].Steps[0].Nonce != "" {
		t.Fatalf("after a failed report: plan %s, phase 1's step %s by %q", r.Status, r.Stages[1].Steps[0].Status, r.Stages[1].Steps[0].Nonce)
	}
}

func failStep(node, nonce string, failed string, ok ...string) *pb.Step {
	st := okStep(node, nonce, ok...)
	st.Operations = append(st.Operations, &pb.OpOutcome{Op: failed, Ran: true, Ok: false, Error: "boom"})
	return st
}

func TestPlanRollbackPerSafetyLevel(t *testing.T) {
	cases := []struct {
		level     plan.SafetyLevel
		rollbacks []string
		final     string
	}{
		{plan.Strict, []string{"rollback-1", "rollback-0"}, PlanRolledBack},
		{plan.Moderate, []string{"rollback-1"}, PlanRolledBack},
		{plan.Permissive, nil, PlanFailed},
	}
	for _, tc := range cases {
		t.Run(string(tc.level), func(t *testing.T) {
			s := mustStore(t)
			createPlan(t, s, "p", tc.level)
			run(t, s, "p", "phase-0", 11, okStep("n1", "a1", "a"), okStep("n2", "b1", "b"))
			// c runs, but phase 1's post-check fails.
			st := okStep("n1", "a1", "c")
			st.PostChecks = []*pb.CheckOutcome{{Kind: "operation_effect", Ok: false, Failures: []string{"web/c is not suspended"}}}
			run(t, s, "p", "phase-1", 20, st)
			r := planOf(t, s, "p")
			var keys []string
			for _, stg := range r.Stages {
				if stg.Kind == StageKindRollback {
					keys = append(keys, stg.Key)
				}
			}
			if fmt.Sprint(keys) != fmt.Sprint(tc.rollbacks) {
				t.Fatalf("rollback stages %v, want %v", keys, tc.rollbacks)
			}
			if len(keys) == 0 {
				if r.Status != tc.final {
					t.Fatalf("status %s, want %s (%s)", r.Status, tc.final, r.Reason)
				}
				return
			}
			if r.Status != PlanRollingBack {
				t.Fatalf("status %s", r.Status)
			}
			idx := uint64(40)
			for _, k := range keys {
				_, stg := (&machine{rec: r}).stage(k)
				for _, n := range stg.Nodes {
					run(t, s, "p", k, idx, okStep(n, "rb"))
					idx += 10
				}
				r = planOf(t, s, "p")
			}
			if r.Status != tc.final {
				t.Fatalf("final %s, want %s (%s)", r.Status, tc.final, r.Reason)
			}
		})
	}
}

// Only operations that completed are compensated: in the failed phase, the
// one that succeeded; an operation without a compensation is skipped.
func TestPlanRollbackCompensatesCompletedOperations(t *testing.T) {
	s := mustStore(t)
	createPlan(t, s, "p", plan.Moderate)
	run(t, s, "p", "phase-0", 11, okStep("n1", "a1", "a"), failStep("n2", "b1", "b"))
	r := planOf(t, s, "p")
	last := r.Stages[len(r.Stages)-1]
	if last.Key != "rollback-0" || fmt.Sprint(last.Operations) != "[a]" || fmt.Sprint(last.Nodes) != "[n1]" {
		t.Fatalf("rollback stage %+v", last)
	}
	if r.Stages[1].Status != StageSkipped {
		t.Fatalf("phase 1 should be skipped, is %s", r.Stages[1].Status)
	}
}

func TestPlanExpiry(t *testing.T) {
	s := mustStore(t)
	createPlan(t, s, "p", plan.Permissive)
	if err := s.PlanStepStart(11, t0+1, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n2", Nonce: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PlanExpire(12, t0+int64(time.Second), &pb.PlanExpireCommand{PlanId: "p", Stage: "phase-0"}); !errors.Is(err, ErrNotExpired) {
		t.Fatalf("early expiry: %v", err)
	}
	if err := s.PlanExpire(13, t0+int64(6*time.Second), &pb.PlanExpireCommand{PlanId: "p", Stage: "phase-0"}); err != nil {
		t.Fatal(err)
	}
	r := planOf(t, s, "p")
	if r.Status != PlanFailed || r.Stages[0].Status != StageFailed {
		t.Fatalf("after expiry: %s / %s", r.Status, r.Stages[0].Status)
	}
	for _, st := range r.Stages[0].Steps {
		if st.Status != StepLost {
			t.Fatalf("step %s is %s", st.Node, st.Status)
		}
	}
	if want := "without a report from n1, n2"; !contains(r.Stages[0].Reason, want) {
		t.Fatalf("reason %q", r.Stages[0].Reason)
	}
	// A late report is kept for the record but changes nothing.
	if err := s.PlanStepReport(14, t0+int64(7*time.Second), &pb.PlanStepReportCommand{PlanId: "p", Stage: "phase-0", Step: okStep("n2", "b", "b")}); err != nil {
		t.Fatal(err)
	}
	if r := planOf(t, s, "p"); r.Status != PlanFailed || r.Stages[0].Steps[1].Status != StepLost {
		t.Fatalf("late report changed the plan: %s", r.Status)
	}
}

func TestPlanTimeoutExpiresRunningPhase(t *testing.T) {
	s := mustStore(t)
	res := testResult(plan.Moderate)
	res.Phases[0].EstimatedMS = 60_000 // its own deadline lies beyond the plan's
	b, _ := json.Marshal(res)
	if _, err := s.PlanCreate(10, t0, &pb.PlanCreateCommand{Id: "p", Spec: &pb.PlanSpecRecord{Id: "p", ResultJson: b},
		DeadlineUnixNano: t0 + int64(2*time.Second), StageTimeoutMs: 5000}); err != nil {
		t.Fatal(err)
	}
	if r := planOf(t, s, "p"); r.Stages[0].DeadlineUnixNano != t0+int64(2*time.Second) {
		t.Fatalf("phase deadline not capped by the plan's: %d", r.Stages[0].DeadlineUnixNano-t0)
	}
	if err := s.PlanExpire(11, t0+int64(2*time.Second), &pb.PlanExpireCommand{PlanId: "p", Stage: "phase-0"}); err != nil {
		t.Fatal(err)
	}
	if r := planOf(t, s, "p"); !contains(r.Stages[0].Reason, "timeout") {
		t.Fatalf("reason %q", r.Stages[0].Reason)
	}
}

func TestPlanCancel(t *testing.T) {
	s := mustStore(t)
	createPlan(t, s, "p", plan.Moderate)
	if err := s.PlanCancel(11, t0+5, &pb.PlanCancelCommand{PlanId: "p", Reason: "operator"}); err != nil {
		t.Fatal(err)
	}
	r := planOf(t, s, "p")
	if r.Status != PlanCancelled || r.Stages[0].Status != StageCancelled || r.Stages[1].Status != StageSkipped {
		t.Fatalf("after cancel: %s %s %s", r.Status, r.Stages[0].Status, r.Stages[1].Status)
	}
	if err := s.PlanCancel(12, t0+6, &pb.PlanCancelCommand{PlanId: "p"}); !errors.Is(err, ErrPlanNotRunning) {
		t.Fatalf("cancel twice: %v", err)
	}
	if err := s.PlanStepStart(13, t0+7, &pb.PlanStepStartCommand{PlanId: "p", Stage: "phase-0", Node: "n1", Nonce: "x"}); !errors.Is(err, ErrPlanNotRunning) {
		t.Fatalf("start after cancel: %v", err)
	}
}

func TestPlanHistoryIsBounded(t *testing.T) {
	s := mustStore(t)
	for i := 0; i < MaxPlanHistory+5; i++ {
		id := fmt.Sprintf("p%03d", i)
		res, _ := json.Marshal(testResult(plan.Moderate))
		idx := uint64(100 + 10*i)
		if _, err := s.PlanCreate(idx, t0+int64(i), &pb.PlanCreateCommand{Id: id, Spec: &pb.PlanSpecRecord{Id: id, ResultJson: res},
			DeadlineUnixNano: t0 + int64(time.Hour), StageTimeoutMs: 1000}); err != nil {
			t.Fatal(err)
		}
		if err := s.PlanCancel(idx+1, t0+int64(i)+1, &pb.PlanCancelCommand{PlanId: id}); err != nil {
			t.Fatal(err)
		}
	}
	_, plans, _ := s.Plans(nil)
	if len(plans) != MaxPlanHistory || plans[0].Id != "p005" {
		t.Fatalf("%d plans kept, oldest %s", len(plans), plans[0].Id)
	}
	if rec, spec, _ := s.Plan(nil, "p000"); rec != nil || spec != nil {
		t.Fatal("pruned plan still there")
	}
}

func TestPlanCreateRefusesBadInput(t *testing.T) {
	s := mustStore(t)
	good, _ := json.Marshal(testResult(plan.Moderate))
	refused := testResult(plan.Moderate)
	refused.Conflicts = []plan.Conflict{{Kind: plan.ConflictNodeDown, Severity: plan.SeverityError}}
	bad, _ := json.Marshal(refused)
	shape := func(edit func(*pb.PlanShape)) *pb.PlanShape {
		sh := PlanShapeOf(testResult(plan.Moderate))
		edit(sh)
		return sh
	}
	cases := map[string]*pb.PlanCreateCommand{
		"no id":        {Spec: &pb.PlanSpecRecord{ResultJson: good}, DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"id mismatch":  {Id: "a", Spec: &pb.PlanSpecRecord{Id: "b", ResultJson: good}, DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"bad result":   {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", ResultJson: []byte("{")}, DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"refused plan": {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", ResultJson: bad}, DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"no deadline":  {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", ResultJson: good}, StageTimeoutMs: 1},
		"refused shape": {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", ResultJson: good, Shape: shape(func(sh *pb.PlanShape) { sh.Refused = true })},
			DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"repeated node": {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", ResultJson: good, Shape: shape(func(sh *pb.PlanShape) { sh.Phases[0].Nodes = []string{"n1", "n1"} })},
			DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"empty node": {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", ResultJson: good, Shape: shape(func(sh *pb.PlanShape) { sh.Phases[1].Nodes = []string{""} })},
			DeadlineUnixNano: t0 + 1, StageTimeoutMs: 1},
		"shape, no timeout": {Id: "a", Spec: &pb.PlanSpecRecord{Id: "a", Shape: shape(func(*pb.PlanShape) {})}, DeadlineUnixNano: t0 + 1},
	}
	for name, c := range cases {
		if _, err := s.PlanCreate(5, t0, c); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s.TableIndex(tablePlans, tablePlanSpecs) != 0 {
		t.Fatal("refused plans were stored")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// checkedResult is testResult with checks that refer to nodes in every
// way a check can (nodes, processes, limits, parameters, effects), a
// warning, and a node (n3) that only a check involves.
func checkedResult(level plan.SafetyLevel) *plan.Result {
	r := testResult(level)
	r.Estimate.TotalMS = 1234
	r.Conflicts = []plan.Conflict{{Kind: plan.ConflictSameTarget, Severity: plan.SeverityWarning, Message: "serialized"}}
	r.Phases[0].PreChecks = []plan.Check{
		{Kind: plan.CheckTargetsAlive, Processes: []plan.ProcessRef{{Tree: "web", Slot: "a", Node: "n1"}}},
		{Kind: plan.CheckResourcesAvailable, Limits: &plan.Limits{Nodes: []plan.NodeLoad{{Node: "n3", NewProcesses: 1}}}},
		{Kind: plan.CheckParametersValid, Params: []plan.ParamRule{{Op: "b", Target: plan.ProcessRef{Name: "b", Node: "n2"}}}},
	}
	r.Phases[1].PostChecks = []plan.Check{
		{Kind: plan.CheckSystemStable, Nodes: []string{"n4", "n1"}},
		{Kind: plan.CheckOperationEffect, Effects: []plan.Effect{{Op: "c", Type: plan.SuspendProcess, Target: plan.ProcessRef{Node: "n5"}}}},
	}
	return r
}

// TestPlanShapeOfAgreesWithTheLegacyDecoder: the shape the leader commits
// is the one the state machine derives from the result JSON of a plan
// committed without a shape, so both kinds of plan run alike.
func TestPlanShapeOfAgreesWithTheLegacyDecoder(t *testing.T) {
	refused := testResult(plan.Strict)
	refused.Conflicts = []plan.Conflict{{Kind: plan.ConflictNodeDown, Severity: plan.SeverityError}}
	unknownLevel := testResult("paranoid")
	for name, r := range map[string]*plan.Result{
		"strict": checkedResult(plan.Strict), "moderate": checkedResult(plan.Moderate), "permissive": checkedResult(plan.Permissive),
		"refused": refused, "unknown level": unknownLevel, "empty": {},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, level, err := legacyShape(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := PlanShapeOf(r); !proto.Equal(got, want) {
			t.Errorf("%s: derived shape\n%v\nthe leader's\n%v", name, got, want)
		}
		if level != string(r.SafetyLevel) {
			t.Errorf("%s: level %q", name, level)
		}
	}
	sh := PlanShapeOf(checkedResult(plan.Moderate))
	if got := sh.Phases[0].Nodes; fmt.Sprint(got) != "[n1 n2 n3]" {
		t.Errorf("phase 0 nodes %v", got)
	}
	if got := sh.Phases[1].Nodes; fmt.Sprint(got) != "[n1 n4 n5]" {
		t.Errorf("phase 1 nodes %v", got)
	}
	if got := sh.Phases[0].Rollback; len(got) != 1 || got[0].Op != "a" || got[0].Node != "n1" {
		t.Errorf("phase 0 rollback %v: only a can be undone", got)
	}
}

// TestLegacyShapeIgnoresMembersItDoesNotRead: the legacy decoder reads the
// result as the version that wrote it did; members it does not read, known
// to the plan package or not, change nothing.
func TestLegacyShapeIgnoresMembersItDoesNotRead(t *testing.T) {
	b, _ := json.Marshal(checkedResult(plan.Strict))
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["x_newer_field"] = map[string]any{"n": 1}
	doc["edges"] = "no longer a list"
	doc["phases"].([]any)[0].(map[string]any)["x_newer_field"] = []any{1, 2}
	edited, _ := json.Marshal(doc)
	want, _, _ := legacyShape(b)
	got, _, err := legacyShape(edited)
	if err != nil || !proto.Equal(got, want) {
		t.Fatalf("%v\n%v\nwant\n%v", err, got, want)
	}
}

// TestPlanWithAShapeRunsWithoutItsResult: the state machine reads only
// the shape; the result JSON is the executors' document, not decoded by
// Apply, so what it holds changes nothing here.
func TestPlanWithAShapeRunsWithoutItsResult(t *testing.T) {
	legacy, shaped := mustStore(t), mustStore(t)
	r := testResult(plan.Strict)
	b, _ := json.Marshal(r)
	cmd := func(spec *pb.PlanSpecRecord) *pb.PlanCreateCommand {
		return &pb.PlanCreateCommand{Id: "p", Spec: spec, DeadlineUnixNano: t0 + int64(30*time.Second), StageTimeoutMs: 5000}
	}
	if _, err := legacy.PlanCreate(10, t0, cmd(&pb.PlanSpecRecord{Id: "p", ResultJson: b})); err != nil {
		t.Fatal(err)
	}
	if _, err := shaped.PlanCreate(10, t0, cmd(&pb.PlanSpecRecord{Id: "p", ResultJson: []byte("not the plan package's JSON"), Shape: PlanShapeOf(r)})); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{legacy, shaped} {
		run(t, s, "p", "phase-0", 11, okStep("n1", "x", "a"), okStep("n2", "y", "b"))
		run(t, s, "p", "phase-1", 15, failStep("n1", "x", "c"))
		run(t, s, "p", "rollback-0", 17, okStep("n1", "x", "rollback-a"))
	}
	a, b2 := planOf(t, legacy, "p"), planOf(t, shaped, "p")
	if !proto.Equal(a, b2) {
		t.Fatalf("legacy\n%v\nshaped\n%v", a, b2)
	}
	if a.Status != PlanRolledBack || len(a.Stages) != 3 {
		t.Fatalf("plan %s with %d stages, want phase 0 rolled back", a.Status, len(a.Stages))
	}
}
