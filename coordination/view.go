package coordination

import (
	"encoding/json"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
)

// View is a plan's progress for people and scripts (`steward ops status -o
// json`); its JSON keys are stable.
type View struct {
	ID          string      `json:"id"`
	Status      string      `json:"status"`
	SafetyLevel string      `json:"safety_level"`
	Reason      string      `json:"reason,omitempty"`
	Operations  int         `json:"operations"`
	CreatedAt   time.Time   `json:"created_at"`
	FinishedAt  *time.Time  `json:"finished_at,omitempty"`
	DurationMS  int64       `json:"duration_ms"`
	EstimatedMS int64       `json:"estimated_ms"`
	Phases      []StageView `json:"phases"`
	Rollback    []StageView `json:"rollback"`
	SubmittedBy string      `json:"submitted_by,omitempty"`
	// SkippedChecks are the checks the operator skipped for the plan
	// (`steward apply --skip-check`); empty when none was.
	SkippedChecks []plan.CheckKind `json:"skipped_checks"`
}

// StageView is one phase, or the rollback of one phase.
type StageView struct {
	Phase      int            `json:"phase"`
	Status     string         `json:"status"`
	Reason     string         `json:"reason,omitempty"`
	StartedAt  *time.Time     `json:"started_at,omitempty"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	Nodes      []StepView     `json:"nodes"`
	Operations []OpView       `json:"operations"`
	PreChecks  []CheckView    `json:"pre_checks"`
	PostChecks []CheckView    `json:"post_checks"`
	Captured   []CapturedView `json:"captured,omitempty"`
}

// StepView is one node's share of a stage.
type StepView struct {
	Node   string `json:"node"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// OpView is one operation and its result.
type OpView struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Target string `json:"target"`
	Node   string `json:"node"`
	// Status: pending, succeeded, failed, not_run.
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
	PID        string `json:"pid,omitempty"`
	ResultPID  string `json:"result_pid,omitempty"`
	DurationUS int64  `json:"duration_us,omitempty"`
}

// CheckView is one check on one node.
type CheckView struct {
	Node     string   `json:"node"`
	Kind     string   `json:"kind"`
	OK       bool     `json:"ok"`
	Failures []string `json:"failures,omitempty"`
}

// CapturedView is a process state captured before a strict phase.
type CapturedView struct {
	Node  string `json:"node"`
	PID   string `json:"pid"`
	Slot  string `json:"slot,omitempty"`
	Bytes int    `json:"bytes"`
}

func tp(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

// NewView builds the view of a plan from its record and result (JSON of
// plan.Result, may be empty).
func NewView(rec *pb.PlanRecord, resultJSON []byte) View {
	var res plan.Result
	_ = json.Unmarshal(resultJSON, &res)
	v := View{
		ID: rec.Id, Status: rec.Status, SafetyLevel: rec.SafetyLevel, Reason: rec.Reason,
		Operations: int(rec.Operations), CreatedAt: time.Unix(0, rec.CreatedAtUnixNano).UTC(),
		FinishedAt: tp(rec.FinishedAtUnixNano), EstimatedMS: rec.EstimatedMs, SubmittedBy: rec.SubmittedBy,
		Phases: []StageView{}, Rollback: []StageView{},
		SkippedChecks: append([]plan.CheckKind{}, res.SkippedChecks...),
	}
	end := rec.FinishedAtUnixNano
	if end == 0 {
		end = time.Now().UnixNano()
	}
	v.DurationMS = (end - rec.CreatedAtUnixNano) / int64(time.Millisecond)
	for _, st := range rec.Stages {
		sv := StageView{Phase: int(st.Phase), Status: st.Status, Reason: st.Reason,
			StartedAt: tp(st.StartedAtUnixNano), FinishedAt: tp(st.FinishedAtUnixNano),
			Nodes: []StepView{}, Operations: []OpView{}, PreChecks: []CheckView{}, PostChecks: []CheckView{}}
		outcomes := map[string]*pb.OpOutcome{}
		for _, step := range st.Steps {
			sv.Nodes = append(sv.Nodes, StepView{Node: step.Node, Status: step.Status, Error: step.Error})
			for _, o := range step.Operations {
				outcomes[o.Op] = o
			}
			for _, c := range step.PreChecks {
				sv.PreChecks = append(sv.PreChecks, CheckView{Node: step.Node, Kind: c.Kind, OK: c.Ok, Failures: c.Failures})
			}
			for _, c := range step.PostChecks {
				sv.PostChecks = append(sv.PostChecks, CheckView{Node: step.Node, Kind: c.Kind, OK: c.Ok, Failures: c.Failures})
			}
			for _, c := range step.Captured {
				sv.Captured = append(sv.Captured, CapturedView{Node: step.Node, PID: c.Pid, Slot: c.Slot, Bytes: len(c.State)})
			}
		}
		for _, id := range st.Operations {
			ov := OpView{ID: id, Status: "pending"}
			var op *plan.Operation
			if st.Kind == state.StageKindRollback {
				if c := res.Compensation(int(st.Phase), id); c != nil && c.Operation != nil {
					op = c.Operation
				}
			} else {
				op = res.Operation(id)
			}
			if op != nil {
				ov.ID, ov.Type, ov.Target, ov.Node = op.ID, string(op.Type), op.TargetLabel(), op.Node
			}
			if o := outcomes[ov.ID]; o != nil {
				ov.Error, ov.PID, ov.ResultPID, ov.DurationUS = o.Error, o.Pid, o.ResultPid, o.DurationUs
				switch {
				case !o.Ran:
					ov.Status = "not_run"
				case o.Ok:
					ov.Status = "succeeded"
				default:
					ov.Status = "failed"
				}
			} else if s := state.StageStatusOf(st); s != pb.StageStatus_STAGE_STATUS_RUNNING && s != pb.StageStatus_STAGE_STATUS_PENDING {
				ov.Status = "not_run"
			}
			sv.Operations = append(sv.Operations, ov)
		}
		if st.Kind == state.StageKindRollback {
			v.Rollback = append(v.Rollback, sv)
		} else {
			v.Phases = append(v.Phases, sv)
		}
	}
	return v
}
