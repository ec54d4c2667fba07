package metrics

import (
	"encoding/json"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
