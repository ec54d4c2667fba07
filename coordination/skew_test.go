package coordination_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
)

// TestPlanThisNodeCannotReadFailsItsShare: the state machine runs a plan
// by the shape its PLAN_CREATE carries; the result JSON is each executor's
// to read. One this node's version cannot read (a newer leader's format)
// is committed all the same, and the node's share fails at once, with a
// report that says why, instead of being lost at the stage's deadline.
func TestPlanThisNodeCannotReadFailsItsShare(t *testing.T) {
	pc := newPCluster(t, 1, nil)
	leader := pc.Leader()
	const id = "plan-from-a-newer-leader"
	cmd := &pb.PlanCreateCommand{
		Id: id,
		Spec: &pb.PlanSpecRecord{Id: id, ResultJson: []byte(`{"phases":"in a newer format"}`), Shape: &pb.PlanShape{
			SafetyLevel: pb.SafetyLevel_SAFETY_LEVEL_MODERATE, Operations: 1,
			Phases: []*pb.PlanPhase{{Operations: []string{"a"}, Nodes: []string{leader.Name()}}},
		}},
		DeadlineUnixNano: time.Now().Add(time.Minute).UnixNano(),
		StageTimeoutMs:   time.Minute.Milliseconds(),
		SubmittedBy:      "a newer steward",
	}
	if _, err := leader.Propose(testkit.Ctx(t, 10*time.Second), pb.CommandType_COMMAND_TYPE_PLAN_CREATE, cmd); err != nil {
		t.Fatal(err)
	}
	rec := pc.wait(t, id, 20*time.Second)
	if state.PlanStatusOf(rec) != pb.PlanStatus_PLAN_STATUS_FAILED {
		t.Fatalf("plan %s: %s", rec.Status, rec.Reason)
	}
	step := rec.Stages[0].Steps[0]
	if state.StepStatusOf(step) != pb.StepStatus_STEP_STATUS_FAILED || !strings.Contains(step.Error, "cannot read the plan") {
		t.Fatalf("step %s: %q", step.Status, step.Error)
	}
}
