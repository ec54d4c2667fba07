package state

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"google.golang.org/protobuf/proto"
)

// BenchmarkStrictPlanStepCommands is the state machine's cost of a strict
// plan's step commands, per command: a plan of 100 phases of one
// operation each (BenchmarkPlanToCompletion's strict plan of 100
// operations), each phase's start and report applied in turn, as every
// node applies them.
func BenchmarkStrictPlanStepCommands(b *testing.B) {
	const phases = 100
	defer func(v bool) { verifyPlanCopies = v }(verifyPlanCopies)
	verifyPlanCopies = false // its own copy and compare per command
	r := &plan.Result{SafetyLevel: plan.Strict, Timeout: "10m"}
	for i := range phases {
		id := fmt.Sprintf("op%d", i)
		node := fmt.Sprintf("n%d", i%3+1)
		r.Operations = append(r.Operations, plan.Operation{ID: id, Type: plan.SendMessage, Node: node,
			Target: plan.Target{Supervisor: "web", ChildID: fmt.Sprintf("c%d", i)}})
		r.Phases = append(r.Phases, plan.Phase{Index: i, Level: i, Operations: []string{id}, EstimatedMS: 10,
			Rollback: []plan.Compensation{{Op: id, Note: "cannot recall a message"}}})
	}
	res, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New()
	if err != nil {
		b.Fatal(err)
	}
	idx := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += 2 * phases {
		id := fmt.Sprintf("p%d", n)
		idx++
		if _, err := s.PlanCreate(idx, t0, &pb.PlanCreateCommand{
			Id: id, Spec: &pb.PlanSpecRecord{Id: id, ResultJson: res, Shape: PlanShapeOf(r)},
			DeadlineUnixNano: t0 + int64(time.Hour), StageTimeoutMs: 60000,
		}); err != nil {
			b.Fatal(err)
		}
		for i := range phases {
			stage, node := fmt.Sprintf("phase-%d", i), fmt.Sprintf("n%d", i%3+1)
			idx++
			if err := s.PlanStepStart(idx, t0+1, &pb.PlanStepStartCommand{PlanId: id, Stage: stage, Node: node, Nonce: "x"}); err != nil {
				b.Fatal(err)
			}
			idx++
			if err := s.PlanStepReport(idx, t0+2, &pb.PlanStepReportCommand{PlanId: id, Stage: stage,
				Step: okStep(node, "x", fmt.Sprintf("op%d", i))}); err != nil {
				b.Fatal(err)
			}
		}
		if rec, _, _ := s.Plan(nil, id); rec.Status != PlanSucceeded {
			b.Fatalf("plan %s", rec.Status)
		}
	}
}

// The feed's sizes (cachedSize) rely on this: a stage copied with
// proto.Clone and then changed is sized afresh, not with the size its
// original cached.
func TestClonedStageIsSizedAfresh(t *testing.T) {
	st := newStage("phase-0", StageKindPhase, 0, []string{"a"}, []string{"n1"})
	before := cachedSize.Size(st)
	c := proto.Clone(st).(*pb.Stage)
	c.Reason = "a reason long enough to change the size"
	if got, want := cachedSize.Size(c), proto.Size(c); got != want || got == before {
		t.Fatalf("cloned and changed stage sized %d, want %d (the original: %d)", got, want, before)
	}
}
