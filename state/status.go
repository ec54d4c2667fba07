package state

import (
	"fmt"
	"strings"

	"github.com/steward/steward/pb"
)

// Statuses (issue 10.1). Every status a record keeps is a protobuf enum,
// its status_code field, which the store decides on; next to it the
// record keeps the status's lowercase name, the string status field,
// which binaries before the enums read and which users see (the CLI and
// JSON output print it). The store writes both.
//
// A record written before the enums (a state restored from then) has only
// the name: the ...StatusOf functions map it. An enum value this binary
// does not know, written by a newer one, is kept as it is: it is none of
// the statuses this binary acts on, the same way on every replica, and its
// name, written by that newer binary, is still what users see.
//
// The constants below are the names. Compare statuses through the
// ...StatusOf functions, never by name.

// The names of the plan, stage and step statuses.
const (
	PlanRunning     = "running"
	PlanRollingBack = "rolling_back"
	PlanSucceeded   = "succeeded"
	PlanFailed      = "failed"
	PlanRolledBack  = "rolled_back"
	PlanCancelled   = "cancelled"

	StagePending   = "pending"
	StageRunning   = "running"
	StageSucceeded = "succeeded"
	StageFailed    = "failed"
	StageSkipped   = "skipped"
	StageCancelled = "cancelled"

	StepPending   = "pending"
	StepStarted   = "started"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepLost      = "lost"
)

// The names of the snapshot and part statuses.
const (
	SnapshotCapturing = "capturing"
	SnapshotComplete  = "complete"
	SnapshotPartial   = "partial"
	SnapshotImporting = "importing"

	PartPending  = "pending"
	PartComplete = "complete"
	PartMissing  = "missing"
	PartCorrupt  = "corrupt"
)

// The names of the node statuses in the registry.
const (
	NodeAlive  = "alive"
	NodeLeft   = "left"
	NodeFailed = "failed"
)

// enumNames maps each value of an enum this binary knows to its name,
// both ways. Lookups only: nothing depends on map order.
type enumNames[E ~int32] struct {
	prefix string // of the enum's value names, for a value not known
	names  map[E]string
	values map[string]E
}

func newEnumNames[E ~int32](prefix string, names map[E]string) enumNames[E] {
	return enumNames[E]{prefix: prefix, names: names, values: invert(names)}
}

// name returns v's name, or for a value this binary does not know the
// enum's prefix and the number ("plan_status_9").
func (e enumNames[E]) name(v E) string {
	if n, ok := e.names[v]; ok {
		return n
	}
	return fmt.Sprintf("%s_%d", strings.ToLower(e.prefix), int32(v))
}

// nameOr returns v's name, or for a value this binary does not know the
// name given with it (a record keeps the name its newer writer gave), or
// when none was, name(v).
func (e enumNames[E]) nameOr(v E, given string) string {
	if _, ok := e.names[v]; ok || given == "" {
		return e.name(v)
	}
	return given
}

// value returns the value a name spells, and 0 (unspecified) for a name
// this binary does not know.
func (e enumNames[E]) value(name string) E { return e.values[name] }

// of is the status of a record: its enum when set, else the value its
// name spells (a record written before the enums).
func (e enumNames[E]) of(code E, name string) E {
	if code != 0 {
		return code
	}
	return e.value(name)
}

var (
	planStatuses = newEnumNames("PLAN_STATUS", map[pb.PlanStatus]string{
		pb.PlanStatus_PLAN_STATUS_RUNNING: PlanRunning, pb.PlanStatus_PLAN_STATUS_ROLLING_BACK: PlanRollingBack,
		pb.PlanStatus_PLAN_STATUS_SUCCEEDED: PlanSucceeded, pb.PlanStatus_PLAN_STATUS_FAILED: PlanFailed,
		pb.PlanStatus_PLAN_STATUS_ROLLED_BACK: PlanRolledBack, pb.PlanStatus_PLAN_STATUS_CANCELLED: PlanCancelled,
	})
	stageStatuses = newEnumNames("STAGE_STATUS", map[pb.StageStatus]string{
		pb.StageStatus_STAGE_STATUS_PENDING: StagePending, pb.StageStatus_STAGE_STATUS_RUNNING: StageRunning,
		pb.StageStatus_STAGE_STATUS_SUCCEEDED: StageSucceeded, pb.StageStatus_STAGE_STATUS_FAILED: StageFailed,
		pb.StageStatus_STAGE_STATUS_SKIPPED: StageSkipped, pb.StageStatus_STAGE_STATUS_CANCELLED: StageCancelled,
	})
	stepStatuses = newEnumNames("STEP_STATUS", map[pb.StepStatus]string{
		pb.StepStatus_STEP_STATUS_PENDING: StepPending, pb.StepStatus_STEP_STATUS_STARTED: StepStarted,
		pb.StepStatus_STEP_STATUS_SUCCEEDED: StepSucceeded, pb.StepStatus_STEP_STATUS_FAILED: StepFailed,
		pb.StepStatus_STEP_STATUS_LOST: StepLost,
	})
	snapshotStatuses = newEnumNames("SNAPSHOT_STATUS", map[pb.SnapshotStatus]string{
		pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING: SnapshotCapturing, pb.SnapshotStatus_SNAPSHOT_STATUS_COMPLETE: SnapshotComplete,
		pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL: SnapshotPartial, pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING: SnapshotImporting,
	})
	partStatuses = newEnumNames("SNAPSHOT_PART_STATUS", map[pb.SnapshotPartStatus]string{
		pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING: PartPending, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE: PartComplete,
		pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_MISSING: PartMissing, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_CORRUPT: PartCorrupt,
	})
	nodeStatuses = newEnumNames("NODE_STATUS", map[pb.NodeStatus]string{
		pb.NodeStatus_NODE_STATUS_ALIVE: NodeAlive, pb.NodeStatus_NODE_STATUS_LEFT: NodeLeft, pb.NodeStatus_NODE_STATUS_FAILED: NodeFailed,
	})
)

// PlanStatusOf returns a plan's status.
func PlanStatusOf(r *pb.PlanRecord) pb.PlanStatus { return planStatuses.of(r.StatusCode, r.Status) }

// StageStatusOf returns a stage's status.
func StageStatusOf(s *pb.Stage) pb.StageStatus { return stageStatuses.of(s.StatusCode, s.Status) }

// RunningStage is the plan's current stage while that stage runs, nil
// otherwise (no current stage, or one not running).
func RunningStage(rec *pb.PlanRecord) *pb.Stage {
	if rec.Current < 0 || int(rec.Current) >= len(rec.Stages) {
		return nil
	}
	stage := rec.Stages[rec.Current]
	if StageStatusOf(stage) != pb.StageStatus_STAGE_STATUS_RUNNING {
		return nil
	}
	return stage
}

// StepStatusOf returns a step's status.
func StepStatusOf(s *pb.Step) pb.StepStatus { return stepStatuses.of(s.StatusCode, s.Status) }

// SnapshotStatusOf returns a cluster snapshot's status.
func SnapshotStatusOf(r *pb.SnapshotRecord) pb.SnapshotStatus {
	return snapshotStatuses.of(r.StatusCode, r.Status)
}

// SnapshotFinalStatusOf returns the status an imported snapshot takes
// once its parts are in.
func SnapshotFinalStatusOf(r *pb.SnapshotRecord) pb.SnapshotStatus {
	return snapshotStatuses.of(r.FinalStatusCode, r.FinalStatus)
}

// PartStatusOf returns a snapshot part's status.
func PartStatusOf(p *pb.SnapshotPartInfo) pb.SnapshotPartStatus {
	return partStatuses.of(p.StatusCode, p.Status)
}

// NodeStatusOf returns a registry node's status.
func NodeStatusOf(n *pb.NodeRecord) pb.NodeStatus { return nodeStatuses.of(n.StatusCode, n.Status) }

// PlanStatusName is a plan status's name ("running"); for a value this
// binary does not know, "plan_status_<number>". The names of the other
// statuses likewise.
func PlanStatusName(s pb.PlanStatus) string { return planStatuses.name(s) }

// StageStatusName is a stage status's name.
func StageStatusName(s pb.StageStatus) string { return stageStatuses.name(s) }

// StepStatusName is a step status's name.
func StepStatusName(s pb.StepStatus) string { return stepStatuses.name(s) }

// SnapshotStatusName is a snapshot status's name.
func SnapshotStatusName(s pb.SnapshotStatus) string { return snapshotStatuses.name(s) }

// PartStatusName is a snapshot part status's name.
func PartStatusName(s pb.SnapshotPartStatus) string { return partStatuses.name(s) }

// NodeStatusName is a node status's name.
func NodeStatusName(s pb.NodeStatus) string { return nodeStatuses.name(s) }

// PlanDone reports whether a plan has reached a final status.
func PlanDone(r *pb.PlanRecord) bool { return planFinal(PlanStatusOf(r)) }

// PlanFinished reports whether a plan status, by its name, is final.
func PlanFinished(status string) bool { return planFinal(planStatuses.value(status)) }

func planFinal(s pb.PlanStatus) bool {
	switch s {
	case pb.PlanStatus_PLAN_STATUS_SUCCEEDED, pb.PlanStatus_PLAN_STATUS_FAILED,
		pb.PlanStatus_PLAN_STATUS_ROLLED_BACK, pb.PlanStatus_PLAN_STATUS_CANCELLED:
		return true
	}
	return false
}

// The setters write a status as the store keeps it: the enum and its
// name. The store sets only values this binary knows.

func setPlanStatus(r *pb.PlanRecord, s pb.PlanStatus) {
	r.StatusCode, r.Status = s, planStatuses.name(s)
}

func setStageStatus(st *pb.Stage, s pb.StageStatus) {
	st.StatusCode, st.Status = s, stageStatuses.name(s)
}

func setStepStatus(st *pb.Step, s pb.StepStatus) { st.StatusCode, st.Status = s, stepStatuses.name(s) }

func setSnapshotStatus(r *pb.SnapshotRecord, s pb.SnapshotStatus) {
	r.StatusCode, r.Status = s, snapshotStatuses.name(s)
}

func setPartStatus(p *pb.SnapshotPartInfo, s pb.SnapshotPartStatus) {
	p.StatusCode, p.Status = s, partStatuses.name(s)
}
