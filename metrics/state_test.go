package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
)

// StateCollector counts the committed plans by status and reports the
// replica's index.
func TestStateCollectorCountsPlans(t *testing.T) {
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	create := func(idx uint64, id string) {
		r := &plan.Result{
			SafetyLevel: plan.Permissive, Timeout: "30s",
			Operations: []plan.Operation{{ID: "a", Type: plan.SuspendProcess, Node: "n1", Target: plan.Target{Supervisor: "web", ChildID: "a"}}},
			Phases:     []plan.Phase{{Index: 0, Operations: []string{"a"}, EstimatedMS: 100}},
		}
		res, _ := json.Marshal(r)
		if _, err := st.PlanCreate(idx, 1, &pb.PlanCreateCommand{
			Id: id, Spec: &pb.PlanSpecRecord{Id: id, ResultJson: res, Shape: state.PlanShapeOf(r)},
			DeadlineUnixNano: 1 << 40, StageTimeoutMs: 5000,
		}); err != nil {
			t.Fatal(err)
		}
	}
	create(10, "p1")
	create(11, "p2")
	create(12, "p3")
	if err := st.PlanCancel(13, 2, &pb.PlanCancelCommand{PlanId: "p3"}); err != nil {
		t.Fatal(err)
	}
	r := New("state")
	if err := r.Register(StateCollector(func() *state.Store { return st })); err != nil {
		t.Fatal(err)
	}
	fams := gather(t, r)
	p3, _, _ := st.Plan(nil, "p3")
	p1, _, _ := st.Plan(nil, "p1")
	if p1.Status == p3.Status {
		t.Fatalf("p1 and the cancelled p3 are both %s", p1.Status)
	}
	if m := findSeries(fams["steward_plans"], map[string]string{"status": p1.Status}); m == nil || m.GetGauge().GetValue() != 2 {
		t.Errorf("plans %s: %v, want 2", p1.Status, m)
	}
	if m := findSeries(fams["steward_plans"], map[string]string{"status": p3.Status}); m == nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("plans %s: %v, want 1", p3.Status, m)
	}
	if m := findSeries(fams["steward_state_index"], map[string]string{}); m == nil || m.GetGauge().GetValue() != float64(st.LatestIndex()) || st.LatestIndex() < 13 {
		t.Errorf("state index %v, the store's %d", m, st.LatestIndex())
	}
}

var _ prometheus.Collector = StateCollector(nil)

// ThresholdCollector reports every metric with a threshold, 1 with its
// value, limit and age while over it, 0 otherwise.
func TestThresholdCollector(t *testing.T) {
	now := time.Unix(1000, 0)
	var active []ThresholdViolation
	r := New("thresholds")
	if err := r.Register(ThresholdCollector(ThresholdSource{
		Metrics:    []string{"memory_bytes", "process_count"},
		Violations: func() []ThresholdViolation { return active },
		Now:        func() time.Time { return now },
	})); err != nil {
		t.Fatal(err)
	}
	fams := gather(t, r)
	for _, m := range []string{"memory_bytes", "process_count"} {
		if s := findSeries(fams["steward_health_threshold_exceeded"], map[string]string{"metric": m}); s == nil || s.GetGauge().GetValue() != 0 {
			t.Errorf("%s within: %v", m, s)
		}
	}
	if fams["steward_health_threshold_value"] != nil {
		t.Errorf("a value reported with no violation")
	}
	active = []ThresholdViolation{{Metric: "process_count", Value: 120, Limit: 100, Since: now.Add(-30 * time.Second)}}
	fams = gather(t, r)
	pc := map[string]string{"metric": "process_count"}
	if s := findSeries(fams["steward_health_threshold_exceeded"], pc); s == nil || s.GetGauge().GetValue() != 1 {
		t.Errorf("process_count over: %v", s)
	}
	if s := findSeries(fams["steward_health_threshold_exceeded"], map[string]string{"metric": "memory_bytes"}); s == nil || s.GetGauge().GetValue() != 0 {
		t.Errorf("memory_bytes within: %v", s)
	}
	if s := findSeries(fams["steward_health_threshold_exceeded_seconds"], pc); s == nil || s.GetGauge().GetValue() != 30 {
		t.Errorf("process_count over for %v, want 30 s", s)
	}
	if v, l := findSeries(fams["steward_health_threshold_value"], pc), findSeries(fams["steward_health_threshold_limit"], pc); v == nil || l == nil || v.GetGauge().GetValue() != 120 || l.GetGauge().GetValue() != 100 {
		t.Errorf("value %v limit %v, want 120 and 100", v, l)
	}
}

// WatchFinished counts a plan that finishes after the watch starts, with
// its duration and its stages', and not one finished before.
func TestWatchFinishedCountsPlans(t *testing.T) {
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	create := func(idx uint64, id string) {
		r := &plan.Result{
			SafetyLevel: plan.Permissive, Timeout: "30s",
			Operations: []plan.Operation{{ID: "a", Type: plan.SuspendProcess, Node: "n1", Target: plan.Target{Supervisor: "web", ChildID: "a"}}},
			Phases:     []plan.Phase{{Index: 0, Operations: []string{"a"}, EstimatedMS: 100}},
		}
		res, _ := json.Marshal(r)
		if _, err := st.PlanCreate(idx, int64(time.Second), &pb.PlanCreateCommand{
			Id: id, Spec: &pb.PlanSpecRecord{Id: id, ResultJson: res, Shape: state.PlanShapeOf(r)},
			DeadlineUnixNano: 1 << 40, StageTimeoutMs: 5000,
		}); err != nil {
			t.Fatal(err)
		}
	}
	create(10, "old")
	if err := st.PlanCancel(11, int64(2*time.Second), &pb.PlanCancelCommand{PlanId: "old"}); err != nil {
		t.Fatal(err)
	}
	create(12, "new")
	r := New("finished")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := WatchFinished(ctx, r, func() *state.Store { return st }); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := st.Plan(nil, "old")
	cancelled := map[string]string{"status": rec.Status}
	// The watch's first pass has run once a later change is counted; until
	// then nothing may be counted.
	if err := st.PlanCancel(13, int64(4*time.Second), &pb.PlanCancelCommand{PlanId: "new"}); err != nil {
		t.Fatal(err)
	}
	testkitEventually(t, 20*time.Second, func() error {
		fams := gather(t, r)
		m := findSeries(fams["steward_plans_finished_total"], cancelled)
		if m == nil || m.GetCounter().GetValue() != 1 {
			return fmt.Errorf("plans finished %v, want 1 (only the plan cancelled after the watch began)", m)
		}
		h := findSeries(fams["steward_plan_duration_seconds"], cancelled)
		if h == nil || h.GetHistogram().GetSampleCount() != 1 || h.GetHistogram().GetSampleSum() != 3 {
			return fmt.Errorf("plan duration %v, want one of 3 s", h)
		}
		return nil
	})
}

// WatchFinished counts each stage once, as it finishes after the watch
// starts, however many later commits change its plan: a pass reads the
// stages only of plans whose record changed, and remembers what it counted.
func TestWatchFinishedCountsEachStageOnce(t *testing.T) {
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	r3 := &plan.Result{SafetyLevel: plan.Strict, Timeout: "30s"}
	for i := 0; i < 3; i++ {
		op := fmt.Sprintf("o%d", i)
		r3.Operations = append(r3.Operations, plan.Operation{ID: op, Type: plan.SendMessage, Node: "n1",
			Target: plan.Target{Supervisor: "web", ChildID: op}})
		r3.Phases = append(r3.Phases, plan.Phase{Index: i, Level: i, Operations: []string{op}, EstimatedMS: 10,
			Rollback: []plan.Compensation{{Op: op, Note: "cannot recall a message"}}})
	}
	res, _ := json.Marshal(r3)
	idx := uint64(10)
	next := func() uint64 { idx++; return idx }
	if _, err := st.PlanCreate(next(), int64(time.Second), &pb.PlanCreateCommand{
		Id: "p", Spec: &pb.PlanSpecRecord{Id: "p", ResultJson: res, Shape: state.PlanShapeOf(r3)},
		DeadlineUnixNano: 1 << 50, StageTimeoutMs: 5000,
	}); err != nil {
		t.Fatal(err)
	}
	runPhase := func(i int) {
		t.Helper()
		stage, op := fmt.Sprintf("phase-%d", i), fmt.Sprintf("o%d", i)
		if err := st.PlanStepStart(next(), int64(2*time.Second), &pb.PlanStepStartCommand{PlanId: "p", Stage: stage, Node: "n1", Nonce: "x"}); err != nil {
			t.Fatalf("start %s: %v", stage, err)
		}
		if err := st.PlanStepReport(next(), int64(3*time.Second), &pb.PlanStepReportCommand{PlanId: "p", Stage: stage,
			Step: &pb.Step{Node: "n1", Nonce: "x", Operations: []*pb.OpOutcome{{Op: op, Ran: true, Ok: true}}}}); err != nil {
			t.Fatalf("report %s: %v", stage, err)
		}
	}
	runPhase(0) // finished before the watch: not counted
	r := New("stages")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := WatchFinished(ctx, r, func() *state.Store { return st }); err != nil {
		t.Fatal(err)
	}
	runPhase(1)
	runPhase(2)
	if rec, _, _ := st.Plan(nil, "p"); rec.Status != state.PlanSucceeded {
		t.Fatalf("plan %s, want succeeded", rec.Status)
	}
	// A later commit to another plan, counted once the watch has passed
	// over every change before it.
	create := &pb.PlanCreateCommand{Id: "marker", Spec: &pb.PlanSpecRecord{Id: "marker", ResultJson: res, Shape: state.PlanShapeOf(r3)},
		DeadlineUnixNano: 1 << 50, StageTimeoutMs: 5000}
	if _, err := st.PlanCreate(next(), int64(4*time.Second), create); err != nil {
		t.Fatal(err)
	}
	if err := st.PlanCancel(next(), int64(5*time.Second), &pb.PlanCancelCommand{PlanId: "marker"}); err != nil {
		t.Fatal(err)
	}
	marker, _, _ := st.Plan(nil, "marker")
	testkitEventually(t, 20*time.Second, func() error {
		fams := gather(t, r)
		if m := findSeries(fams["steward_plans_finished_total"], map[string]string{"status": marker.Status}); m == nil || m.GetCounter().GetValue() != 1 {
			return fmt.Errorf("marker plan not counted yet: %v", m)
		}
		return nil
	})
	fams := gather(t, r)
	if m := findSeries(fams["steward_plans_finished_total"], map[string]string{"status": state.PlanSucceeded}); m == nil || m.GetCounter().GetValue() != 1 {
		t.Fatalf("succeeded plans counted %v, want 1", m)
	}
	// The marker's cancel ends its running stage as cancelled; the plan's
	// stages succeeded.
	h := findSeries(fams["steward_plan_stage_duration_seconds"], map[string]string{"kind": state.StageKindPhase, "status": state.StageSucceeded})
	if n := h.GetHistogram().GetSampleCount(); n != 2 {
		t.Fatalf("succeeded phase stages counted %d times, want 2 (phase-1 and phase-2, once each)", n)
	}
}

// testkitEventually retries f every 10 ms until it succeeds or d passes
// (testkit imports node, which imports this package).
func testkitEventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var last error
	if err := poll.Until(ctx, clock.System(), poll.Every(10*time.Millisecond), func() (bool, error) {
		last = f()
		return last == nil, nil
	}); err != nil {
		t.Fatal(last)
	}
}
