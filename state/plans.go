package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The kinds of stages.
const (
	StageKindPhase    = "phase"
	StageKindRollback = "rollback"
)

// MaxPlanHistory is how many finished plans are kept; older ones are pruned
// when a plan finishes.
const MaxPlanHistory = 100

var (
	// ErrStepTaken: the step was already started by another executor
	// incarnation; it runs at most once.
	ErrStepTaken = errors.New("step already started")
	// ErrPlanNotRunning: the plan or stage is not (or no longer) running.
	ErrPlanNotRunning = errors.New("plan not running")
	// ErrNotExpired: an expiry was proposed before the deadline.
	ErrNotExpired = errors.New("deadline not reached")
)

const (
	tablePlanSpecs = "plan_specs"
	tablePlans     = "plans"
)

func init() {
	registerTable(tableDef{
		tag: 6,
		schema: &memdb.TableSchema{
			Name: tablePlanSpecs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.PlanSpecRecord) },
	})
	registerTable(tableDef{
		tag: 7,
		schema: &memdb.TableSchema{
			Name: tablePlans,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.PlanRecord) },
	})
}

// DecodePlanResult decodes a committed plan's result, the plan package's
// JSON document, for the readers that act on it (the executors, the
// leader's conflict checks, `ops status`, a deployment's view). The state
// machine never calls it: it runs the plan's shape.
//
// The answer is shared and must be treated as read-only: the last
// decodedResults results are kept by plan id (a committed result never
// changes, and the same one is read by every executor, by the leader's
// conflict checks and by a deployment's view on each Watch update; a
// 1,000-operation result costs tens of milliseconds to decode). A cached
// result is used only for the same bytes.
func DecodePlanResult(spec *pb.PlanSpecRecord) (*plan.Result, error) {
	decoded.mu.Lock()
	c, ok := decoded.m[spec.Id]
	decoded.mu.Unlock()
	if ok && bytes.Equal(c.json, spec.ResultJson) {
		return c.res, nil
	}
	var r plan.Result
	if err := json.Unmarshal(spec.ResultJson, &r); err != nil {
		return nil, fmt.Errorf("%w: plan %q: result: %v", ErrInvalidRecord, spec.Id, err)
	}
	decoded.mu.Lock()
	if decoded.m == nil {
		decoded.m = map[string]decodedResult{}
	}
	if _, ok := decoded.m[spec.Id]; !ok && len(decoded.m) >= decodedResults {
		for id := range decoded.m { // any one
			delete(decoded.m, id)
			break
		}
	}
	decoded.m[spec.Id] = decodedResult{json: spec.ResultJson, res: &r}
	decoded.mu.Unlock()
	return &r, nil
}

// decodedResults bounds DecodePlanResult's cache.
const decodedResults = 16

var decoded struct {
	mu sync.Mutex
	m  map[string]decodedResult
}

type decodedResult struct {
	json []byte // the spec's ResultJson, never modified
	res  *plan.Result
}

// shapeOf returns what the stage machine runs of a committed plan: the
// shape its PLAN_CREATE carried, or for a plan committed before shapes
// the one its result derives (legacyShape), with the safety level's name
// as that result spells it. A derived shape is decoded once per store: a
// committed result never changes, and decoding it on every report would
// cost more than the report itself.
func (s *Store) shapeOf(spec *pb.PlanSpecRecord) (*pb.PlanShape, string, error) {
	if spec.Shape != nil {
		return spec.Shape, SafetyLevelName(spec.Shape.SafetyLevel), nil
	}
	key := fmt.Sprintf("%s@%d", spec.Id, spec.CreateIndex)
	if r, ok := s.results.Load(key); ok {
		d := r.(derivedShape)
		return d.shape, d.level, nil
	}
	sh, level, err := legacyShape(spec.ResultJson)
	if err != nil {
		return nil, "", fmt.Errorf("%w: plan %q: result: %v", ErrInvalidRecord, spec.Id, err)
	}
	if spec.CreateIndex != 0 {
		s.results.Store(key, derivedShape{shape: sh, level: level})
	}
	return sh, level, nil
}

type derivedShape struct {
	shape *pb.PlanShape
	level string
}

// PlanCreate records a planned plan and starts its first phase. What it
// checks holds in every version: an id, the same in the spec; a shape
// whose phases name distinct nodes; not refused by the planner; a
// positive stage timeout and a deadline after the entry's time (the
// limits the command itself carries). Which operations, checks and
// limits make a valid plan the leader decided before proposing.
func (s *Store) PlanCreate(idx uint64, at int64, c *pb.PlanCreateCommand) (*pb.PlanRecord, error) {
	var out *pb.PlanRecord
	err := s.write(func(txn *memdb.Txn) error {
		m, err := s.createPlan(txn, idx, at, c, nil)
		if m != nil {
			out = m.rec
		}
		return err
	})
	return out, err
}

// createPlan is PlanCreate inside a write; dep is the deployment the plan
// runs, or nil.
func (s *Store) createPlan(txn *memdb.Txn, idx uint64, at int64, c *pb.PlanCreateCommand, dep *pb.DeploymentRecord) (*machine, error) {
	if c == nil || c.Spec == nil || c.Id == "" || c.Spec.Id != c.Id {
		return nil, fmt.Errorf("%w: plan create needs an id and a spec with the same id", ErrInvalidRecord)
	}
	sh, level, err := s.shapeOf(c.Spec)
	if err != nil {
		return nil, err
	}
	if err := checkShape(c.Id, sh); err != nil {
		return nil, err
	}
	if sh.Refused {
		return nil, fmt.Errorf("%w: plan %q has conflicts of error severity", ErrInvalidRecord, c.Id)
	}
	if c.StageTimeoutMs <= 0 || c.DeadlineUnixNano <= at {
		return nil, fmt.Errorf("%w: plan %q needs a positive stage timeout and a deadline after its creation", ErrInvalidRecord, c.Id)
	}
	if raw, err := txn.First(tablePlans, "id", c.Id); err != nil {
		return nil, err
	} else if raw != nil {
		return nil, fmt.Errorf("%w: plan %q already exists", ErrInvalidRecord, c.Id)
	}
	spec := proto.Clone(c.Spec).(*pb.PlanSpecRecord)
	spec.CreateIndex = idx
	rec := &pb.PlanRecord{
		Id: c.Id, SafetyLevel: level, Operations: sh.Operations,
		CreatedAtUnixNano: at, DeadlineUnixNano: c.DeadlineUnixNano, StageTimeoutMs: c.StageTimeoutMs,
		Current: -1, SubmittedBy: c.SubmittedBy, EstimatedMs: sh.EstimatedMs,
		CreateIndex: idx, ModifyIndex: idx,
	}
	setPlanStatus(rec, pb.PlanStatus_PLAN_STATUS_RUNNING)
	for i, ph := range sh.Phases {
		rec.Stages = append(rec.Stages, newStage(fmt.Sprintf("phase-%d", i), StageKindPhase, i, ph.Operations, ph.Nodes))
	}
	m := &machine{rec: rec, shape: sh, at: at, dep: dep}
	m.start(0)
	if err := txn.Insert(tablePlanSpecs, spec); err != nil {
		return nil, err
	}
	if err := s.putPlan(txn, idx, rec); err != nil {
		return nil, err
	}
	return m, bumpIndex(txn, tablePlanSpecs, idx)
}

func newStage(key, kind string, phase int, ops, nodes []string) *pb.Stage {
	st := &pb.Stage{Key: key, Kind: kind, Phase: int32(phase),
		Operations: append([]string(nil), ops...), Nodes: append([]string(nil), nodes...)}
	setStageStatus(st, pb.StageStatus_STAGE_STATUS_PENDING)
	for _, n := range nodes {
		step := &pb.Step{Node: n}
		setStepStatus(step, pb.StepStatus_STEP_STATUS_PENDING)
		st.Steps = append(st.Steps, step)
	}
	return st
}

// PlanStepStart marks one node's share of a stage as started by one
// executor incarnation (nonce). A step starts at most once: a second start
// with another nonce is refused with ErrStepTaken; the same nonce again
// (a re-proposal after a leader change) is accepted without change.
func (s *Store) PlanStepStart(idx uint64, at int64, c *pb.PlanStepStartCommand) error {
	if c.Nonce == "" {
		return fmt.Errorf("%w: step start without a nonce", ErrInvalidRecord)
	}
	return s.updatePlan(idx, at, c.PlanId, func(m *machine) (bool, error) {
		return m.startStep(c)
	})
}

func (m *machine) startStep(c *pb.PlanStepStartCommand) (bool, error) {
	step, err := m.runningStep(c.Stage, c.Node)
	if err != nil {
		return false, err
	}
	switch {
	case StepStatusOf(step) == pb.StepStatus_STEP_STATUS_PENDING:
		setStepStatus(step, pb.StepStatus_STEP_STATUS_STARTED)
		step.Nonce, step.StartedAtUnixNano = c.Nonce, m.at
		return true, nil
	case step.Nonce == c.Nonce:
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s of plan %s on %s is %s (by executor %s)", ErrStepTaken, c.Stage, c.PlanId, c.Node, step.Status, step.Nonce)
	}
}

// PlanStepReport records one node's outcome for a stage and, when every
// node has reported, advances the plan.
func (s *Store) PlanStepReport(idx uint64, at int64, c *pb.PlanStepReportCommand) error {
	if err := checkReport(c); err != nil {
		return err
	}
	return s.updatePlan(idx, at, c.PlanId, func(m *machine) (bool, error) {
		return m.reportStep(c)
	})
}

func checkReport(c *pb.PlanStepReportCommand) error {
	if c == nil || c.Step == nil || c.Step.Node == "" || c.Step.Nonce == "" {
		return fmt.Errorf("%w: step report without node or nonce", ErrInvalidRecord)
	}
	return nil
}

// PlanStepHandoff records a step's report as PlanStepReport does and, when
// that report started the next stage, starts each of the given steps of
// that stage that is still pending, under its executor's nonce, as
// PlanStepStart would: one entry for a report and the starts that follow
// it. A start that names another stage, a stage the report did not start,
// or a step that is not pending is dropped; its executor starts the step
// itself once its stage runs. A start without a node or a nonce, or for
// another plan, refuses the whole command.
func (s *Store) PlanStepHandoff(idx uint64, at int64, c *pb.PlanStepHandoffCommand) error {
	if err := checkReport(c.Report); err != nil {
		return err
	}
	for _, st := range c.Starts {
		if st.Node == "" || st.Nonce == "" || st.Stage == "" || st.PlanId != c.Report.PlanId {
			return fmt.Errorf("%w: a handoff's start needs a stage, a node, a nonce and the report's plan (%q)", ErrInvalidRecord, c.Report.PlanId)
		}
	}
	return s.updatePlan(idx, at, c.Report.PlanId, func(m *machine) (bool, error) {
		before := m.rec.Current
		changed, err := m.reportStep(c.Report)
		if err != nil || !changed || m.rec.Current == before || m.rec.Current < 0 {
			return changed, err
		}
		for _, st := range c.Starts {
			// startStep refuses a stage that is not the running one and a
			// step another executor started; either way the start is
			// dropped, and the report stands.
			_, _ = m.startStep(st)
		}
		return true, nil
	})
}

func (m *machine) reportStep(c *pb.PlanStepReportCommand) (bool, error) {
	si, st := m.stage(c.Stage)
	if st == nil {
		return false, fmt.Errorf("%w: plan %s has no stage %q", ErrNotFound, c.PlanId, c.Stage)
	}
	st = m.own(si) // a late report changes a finished stage too
	step := StepOf(st, c.Step.Node)
	if step == nil {
		return false, fmt.Errorf("%w: node %s has no share of %s", ErrInvalidRecord, c.Step.Node, c.Stage)
	}
	if step.Nonce != c.Step.Nonce {
		return false, fmt.Errorf("%w: %s on %s was started by executor %q, not %q", ErrStepTaken, c.Stage, c.Step.Node, step.Nonce, c.Step.Nonce)
	}
	switch StepStatusOf(step) {
	case pb.StepStatus_STEP_STATUS_SUCCEEDED, pb.StepStatus_STEP_STATUS_FAILED:
		return false, nil // a duplicate report
	case pb.StepStatus_STEP_STATUS_LOST:
		// Late: keep what it says for the report, the stage has moved on.
		keep := step.Error
		copyOutcome(step, c.Step, m.at)
		setStepStatus(step, pb.StepStatus_STEP_STATUS_LOST)
		step.Error = strings.TrimSpace(keep + "; reported after the deadline")
		return true, nil
	}
	copyOutcome(step, c.Step, m.at)
	if StepOK(c.Step) {
		setStepStatus(step, pb.StepStatus_STEP_STATUS_SUCCEEDED)
	} else {
		setStepStatus(step, pb.StepStatus_STEP_STATUS_FAILED)
	}
	if m.rec.Current == int32(si) && StageStatusOf(st) == pb.StageStatus_STAGE_STATUS_RUNNING && allReported(st) {
		m.finishStage(si)
	}
	return true, nil
}

func copyOutcome(dst, src *pb.Step, at int64) {
	dst.PreChecks, dst.Operations, dst.PostChecks, dst.Captured = src.PreChecks, src.Operations, src.PostChecks, src.Captured
	dst.Error = src.Error
	dst.FinishedAtUnixNano = at
}

// StepOK is the state machine's reading of a reported step: it succeeded
// when it has no error, every check passed and every operation ran and
// succeeded.
func StepOK(s *pb.Step) bool {
	if s.Error != "" {
		return false
	}
	for _, c := range s.PreChecks {
		if !c.Ok {
			return false
		}
	}
	for _, o := range s.Operations {
		if !o.Ran || !o.Ok {
			return false
		}
	}
	for _, c := range s.PostChecks {
		if !c.Ok {
			return false
		}
	}
	return true
}

func allReported(st *pb.Stage) bool {
	for _, s := range st.Steps {
		if stepWaiting(s) {
			return false
		}
	}
	return true
}

// stepWaiting reports whether a step has yet to report: it is pending or
// started.
func stepWaiting(s *pb.Step) bool {
	switch StepStatusOf(s) {
	case pb.StepStatus_STEP_STATUS_PENDING, pb.StepStatus_STEP_STATUS_STARTED:
		return true
	}
	return false
}

// PlanExpire ends a running stage whose deadline (or whose plan's deadline)
// has passed at the entry's time: steps that did not report are lost, the
// stage fails and the plan rolls back as its safety level says.
func (s *Store) PlanExpire(idx uint64, at int64, c *pb.PlanExpireCommand) error {
	return s.updatePlan(idx, at, c.PlanId, func(m *machine) (bool, error) {
		si, st := m.stage(c.Stage)
		if st == nil || m.rec.Current != int32(si) || StageStatusOf(st) != pb.StageStatus_STAGE_STATUS_RUNNING {
			return false, fmt.Errorf("%w: %s of plan %s is not the running stage", ErrPlanNotRunning, c.Stage, c.PlanId)
		}
		planTimeout := st.Kind == StageKindPhase && at >= m.rec.DeadlineUnixNano
		if at < st.DeadlineUnixNano && !planTimeout {
			return false, fmt.Errorf("%w: %s of plan %s runs until %s", ErrNotExpired, c.Stage, c.PlanId, time.Unix(0, st.DeadlineUnixNano).UTC().Format(time.RFC3339Nano))
		}
		st = m.own(si)
		var missing []string
		for _, step := range st.Steps {
			if stepWaiting(step) {
				what := "did not start"
				if StepStatusOf(step) == pb.StepStatus_STEP_STATUS_STARTED {
					what = "started but did not report"
				}
				setStepStatus(step, pb.StepStatus_STEP_STATUS_LOST)
				step.Error, step.FinishedAtUnixNano = "no report before the deadline: the node "+what, at
				missing = append(missing, step.Node)
			}
		}
		if planTimeout {
			st.Reason = "the plan's timeout ran out"
		} else {
			st.Reason = "stage deadline passed"
		}
		if len(missing) > 0 {
			st.Reason += " without a report from " + strings.Join(missing, ", ")
		}
		m.finishStage(si)
		return true, nil
	})
}

// PlanCancel stops a running plan: no further phase starts. A plan that is
// rolling back finishes its rollback and cannot be cancelled.
func (s *Store) PlanCancel(idx uint64, at int64, c *pb.PlanCancelCommand) error {
	return s.updatePlan(idx, at, c.PlanId, func(m *machine) (bool, error) {
		if m.dep != nil {
			return false, fmt.Errorf("%w: plan %s runs deployment %s: cancel, fail or revert the deployment (steward deploy)", ErrDeployState, c.PlanId, m.dep.Id)
		}
		switch PlanStatusOf(m.rec) {
		case pb.PlanStatus_PLAN_STATUS_RUNNING:
		case pb.PlanStatus_PLAN_STATUS_ROLLING_BACK:
			return false, fmt.Errorf("%w: plan %s is rolling back; it cannot be cancelled", ErrPlanNotRunning, c.PlanId)
		default:
			return false, fmt.Errorf("%w: plan %s is already %s", ErrPlanNotRunning, c.PlanId, m.rec.Status)
		}
		for i, st := range m.rec.Stages {
			switch StageStatusOf(st) {
			case pb.StageStatus_STAGE_STATUS_RUNNING:
				st = m.own(i)
				setStageStatus(st, pb.StageStatus_STAGE_STATUS_CANCELLED)
				st.FinishedAtUnixNano = at
			case pb.StageStatus_STAGE_STATUS_PENDING:
				setStageStatus(m.own(i), pb.StageStatus_STAGE_STATUS_SKIPPED)
			}
		}
		reason := "cancelled"
		if c.Reason != "" {
			reason += ": " + c.Reason
		}
		m.finish(pb.PlanStatus_PLAN_STATUS_CANCELLED, reason)
		return true, nil
	})
}

// verifyPlanCopies makes every plan update check that the stored record it
// started from (which readers may hold) is unchanged after it, and panic
// if not: the machine copies a stage only when it changes it
// (machine.own), and a write that skipped that would change what readers
// see under their feet. This package's tests set it; make test sets
// STEWARD_VERIFY_PLAN_COPIES=1 for every package's.
var verifyPlanCopies = os.Getenv("STEWARD_VERIFY_PLAN_COPIES") == "1"

// verify is verifyPlanCopies' check, deferred by each write that loads a
// machine.
func (m *machine) verify() {
	if m.before != nil && !proto.Equal(m.stored, m.before) {
		panic(fmt.Sprintf("state: an update of plan %s changed the stored record in place", m.stored.Id))
	}
}

// updatePlan runs f on a copy of the plan; when f reports a change the copy
// is stored (and finished plans beyond MaxPlanHistory are pruned).
// The plan of a deployment also settles the deployment (its status, the
// module's active version) in the same write.
func (s *Store) updatePlan(idx uint64, at int64, id string, f func(m *machine) (bool, error)) error {
	return s.write(func(txn *memdb.Txn) error {
		m, err := s.loadMachine(txn, at, id)
		if err != nil {
			return err
		}
		defer m.verify()
		if raw, err := txn.First(tableDeployments, "id", id); err != nil {
			return err
		} else if raw != nil {
			m.dep = proto.Clone(raw.(*pb.DeploymentRecord)).(*pb.DeploymentRecord)
		}
		changed, err := f(m)
		if err != nil || !changed {
			return err
		}
		if err := s.putPlan(txn, idx, m.rec); err != nil {
			return err
		}
		if m.dep != nil {
			if err := s.settleDeployment(txn, idx, m); err != nil {
				return err
			}
		}
		if PlanDone(m.rec) {
			return s.prunePlans(txn, idx)
		}
		return nil
	})
}

// loadMachine reads a plan and its shape into a machine, inside a write.
func (s *Store) loadMachine(txn *memdb.Txn, at int64, id string) (*machine, error) {
	raw, err := txn.First(tablePlans, "id", id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: plan %q", ErrNotFound, id)
	}
	specRaw, err := txn.First(tablePlanSpecs, "id", id)
	if err != nil || specRaw == nil {
		return nil, fmt.Errorf("%w: plan %q has no spec", ErrInvalidRecord, id)
	}
	sh, _, err := s.shapeOf(specRaw.(*pb.PlanSpecRecord))
	if err != nil {
		return nil, err
	}
	stored := raw.(*pb.PlanRecord)
	m := &machine{rec: copyPlanShallow(stored), stored: stored, shape: sh, at: at}
	if verifyPlanCopies {
		m.before = proto.Clone(stored).(*pb.PlanRecord)
	}
	return m, nil
}

var planStagesField = (&pb.PlanRecord{}).ProtoReflect().Descriptor().Fields().ByName("stages")

// copyPlanShallow copies a stored plan record for a change: its own
// fields, and a new list of its stages that still points at the stored
// ones (for machine.own). A record with another list, map or message
// field (a later version's) is copied whole, nothing shared.
func copyPlanShallow(src *pb.PlanRecord) *pb.PlanRecord {
	dst := &pb.PlanRecord{}
	sm, dm := src.ProtoReflect(), dst.ProtoReflect()
	whole := false
	sm.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd == planStagesField:
		case fd.IsList() || fd.IsMap() || fd.Message() != nil:
			whole = true
			return false
		default:
			dm.Set(fd, v)
		}
		return true
	})
	if whole {
		return proto.Clone(src).(*pb.PlanRecord)
	}
	dm.SetUnknown(sm.GetUnknown())
	dst.Stages = append([]*pb.Stage(nil), src.Stages...)
	return dst
}

func (s *Store) putPlan(txn *memdb.Txn, idx uint64, rec *pb.PlanRecord) error {
	rec.ModifyIndex = idx
	if err := txn.Insert(tablePlans, rec); err != nil {
		return err
	}
	return bumpIndex(txn, tablePlans, idx)
}

// prunePlans deletes the oldest finished plans beyond MaxPlanHistory.
func (s *Store) prunePlans(txn *memdb.Txn, idx uint64) error {
	it, err := txn.Get(tablePlans, "id")
	if err != nil {
		return err
	}
	var finished []*pb.PlanRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if r := raw.(*pb.PlanRecord); PlanDone(r) {
			finished = append(finished, r)
		}
	}
	if len(finished) <= MaxPlanHistory {
		return nil
	}
	sort.Slice(finished, func(i, j int) bool {
		if finished[i].FinishedAtUnixNano != finished[j].FinishedAtUnixNano {
			return finished[i].FinishedAtUnixNano < finished[j].FinishedAtUnixNano
		}
		return finished[i].CreateIndex < finished[j].CreateIndex
	})
	for _, r := range finished[:len(finished)-MaxPlanHistory] {
		if err := txn.Delete(tablePlans, r); err != nil {
			return err
		}
		if raw, _ := txn.First(tablePlanSpecs, "id", r.Id); raw != nil {
			spec := raw.(*pb.PlanSpecRecord)
			s.results.Delete(fmt.Sprintf("%s@%d", spec.Id, spec.CreateIndex))
			if err := txn.Delete(tablePlanSpecs, raw); err != nil {
				return err
			}
		}
	}
	return bumpIndex(txn, tablePlanSpecs, idx)
}

// Plan returns a plan's progress and its spec, or nils.
func (s *Store) Plan(ws memdb.WatchSet, id string) (*pb.PlanRecord, *pb.PlanSpecRecord, error) {
	txn := s.read()
	defer txn.Abort()
	ch, raw, err := txn.FirstWatch(tablePlans, "id", id)
	if err != nil {
		return nil, nil, err
	}
	ws.Add(ch)
	if raw == nil {
		return nil, nil, nil
	}
	specRaw, err := txn.First(tablePlanSpecs, "id", id)
	if err != nil || specRaw == nil {
		return raw.(*pb.PlanRecord), nil, err
	}
	return raw.(*pb.PlanRecord), specRaw.(*pb.PlanSpecRecord), nil
}

// Plans returns every plan's progress, oldest first.
func (s *Store) Plans(ws memdb.WatchSet) (uint64, []*pb.PlanRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tablePlans)
	it, err := txn.Get(tablePlans, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.PlanRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.PlanRecord))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex < out[j].CreateIndex })
	return idx, out, nil
}

// machine advances one plan record; every decision depends only on the
// record, the plan's shape and the entry's time.
type machine struct {
	rec   *pb.PlanRecord
	shape *pb.PlanShape
	at    int64
	// dep is the deployment the plan runs, nil for a plain plan: it holds
	// batches (paused, awaiting promotion) and decides what a failure does.
	dep *pb.DeploymentRecord
	// stored is the record rec was copied from (nil for a new plan): a
	// stage of rec that is still one of stored's, which readers may hold,
	// is copied by own before a change. before is, with verifyPlanCopies,
	// a copy of stored as loaded.
	stored, before *pb.PlanRecord
}

// own returns stage i for a change, copying it first when it is still the
// stored record's. Every write to a stage or its steps goes through it:
// a command changes one or a few stages of a plan of up to 1,000, and
// copying the whole record for each was a fifth of a strict plan's CPU.
func (m *machine) own(i int) *pb.Stage {
	if m.stored != nil && i < len(m.stored.Stages) && m.rec.Stages[i] == m.stored.Stages[i] {
		m.rec.Stages[i] = proto.Clone(m.rec.Stages[i]).(*pb.Stage)
	}
	return m.rec.Stages[i]
}

func (m *machine) stage(key string) (int, *pb.Stage) {
	for i, st := range m.rec.Stages {
		if st.Key == key {
			return i, st
		}
	}
	return -1, nil
}

// StepOf is node's step of stage st, nil when the stage has none for it.
func StepOf(st *pb.Stage, node string) *pb.Step {
	for _, s := range st.Steps {
		if s.Node == node {
			return s
		}
	}
	return nil
}

func (m *machine) runningStep(key, node string) (*pb.Step, error) {
	if PlanDone(m.rec) {
		return nil, fmt.Errorf("%w: plan %s is %s", ErrPlanNotRunning, m.rec.Id, m.rec.Status)
	}
	si, st := m.stage(key)
	if st == nil {
		return nil, fmt.Errorf("%w: plan %s has no stage %q", ErrNotFound, m.rec.Id, key)
	}
	if m.rec.Current != int32(si) || StageStatusOf(st) != pb.StageStatus_STAGE_STATUS_RUNNING {
		return nil, fmt.Errorf("%w: %s of plan %s is %s", ErrPlanNotRunning, key, m.rec.Id, st.Status)
	}
	step := StepOf(m.own(si), node)
	if step == nil {
		return nil, fmt.Errorf("%w: node %s has no share of %s", ErrInvalidRecord, node, key)
	}
	return step, nil
}

// start runs stage i: it gets its deadline; a stage no node takes part in
// completes at once.
func (m *machine) start(i int) {
	for i >= 0 && i < len(m.rec.Stages) {
		if m.hold(m.rec.Stages[i]) {
			m.rec.Current = -1
			return
		}
		m.rec.Current = int32(i)
		st := m.own(i)
		setStageStatus(st, pb.StageStatus_STAGE_STATUS_RUNNING)
		st.StartedAtUnixNano = m.at
		budget := time.Duration(m.rec.StageTimeoutMs) * time.Millisecond
		if st.Kind == StageKindPhase && st.Phase < int32(len(m.shape.Phases)) {
			if est := 4 * time.Duration(m.shape.Phases[st.Phase].EstimatedMs) * time.Millisecond; est > budget {
				budget = est
			}
		}
		st.DeadlineUnixNano = m.at + int64(budget)
		if st.Kind == StageKindPhase && st.DeadlineUnixNano > m.rec.DeadlineUnixNano {
			st.DeadlineUnixNano = m.rec.DeadlineUnixNano
		}
		if len(st.Steps) > 0 {
			return
		}
		setStageStatus(st, pb.StageStatus_STAGE_STATUS_SUCCEEDED)
		st.FinishedAtUnixNano = m.at
		i = m.next(i)
	}
}

// finishStage closes stage i after its last report (or its expiry) and
// moves the plan on.
func (m *machine) finishStage(i int) {
	st := m.own(i)
	st.FinishedAtUnixNano = m.at
	status := pb.StageStatus_STAGE_STATUS_SUCCEEDED
	var failed []string
	for _, s := range st.Steps {
		if StepStatusOf(s) != pb.StepStatus_STEP_STATUS_SUCCEEDED {
			status = pb.StageStatus_STAGE_STATUS_FAILED
			failed = append(failed, s.Node)
		}
	}
	setStageStatus(st, status)
	if status == pb.StageStatus_STAGE_STATUS_FAILED && st.Reason == "" {
		st.Reason = "failed on " + strings.Join(failed, ", ")
	}
	if m.dep != nil && st.Kind == StageKindPhase && m.afterStage(i, status == pb.StageStatus_STAGE_STATUS_FAILED) {
		return
	}
	if status == pb.StageStatus_STAGE_STATUS_FAILED && st.Kind == StageKindPhase {
		m.beginRollback(i)
		return
	}
	m.start(m.next(i))
}

// next returns the stage to run after stage i, finishing the plan when
// there is none; -1 then.
func (m *machine) next(i int) int {
	for j := i + 1; j < len(m.rec.Stages); j++ {
		if StageStatusOf(m.rec.Stages[j]) == pb.StageStatus_STAGE_STATUS_PENDING {
			return j
		}
	}
	switch PlanStatusOf(m.rec) {
	case pb.PlanStatus_PLAN_STATUS_RUNNING:
		m.finish(pb.PlanStatus_PLAN_STATUS_SUCCEEDED, "")
	case pb.PlanStatus_PLAN_STATUS_ROLLING_BACK:
		status := pb.PlanStatus_PLAN_STATUS_ROLLED_BACK
		for _, st := range m.rec.Stages {
			if st.Kind == StageKindRollback && StageStatusOf(st) != pb.StageStatus_STAGE_STATUS_SUCCEEDED {
				status = pb.PlanStatus_PLAN_STATUS_FAILED
			}
		}
		reason := m.rec.Reason
		if status == pb.PlanStatus_PLAN_STATUS_FAILED {
			reason += "; the rollback did not complete"
		} else {
			reason += "; rolled back"
		}
		m.finish(status, reason)
	}
	return -1
}

func (m *machine) finish(status pb.PlanStatus, reason string) {
	setPlanStatus(m.rec, status)
	m.rec.FinishedAtUnixNano, m.rec.Current = m.at, -1
	if reason != "" {
		m.rec.Reason = reason
	}
}

// beginRollback runs after phase stage i failed. What is rolled back
// depends on the safety level: strict undoes every executed phase, last
// first; moderate undoes the failed phase's completed operations;
// permissive undoes nothing. Only operations with a compensation count; a
// plan with nothing to undo ends failed.
func (m *machine) beginRollback(i int) {
	failed := m.rec.Stages[i]
	m.rec.Reason = fmt.Sprintf("phase %d failed: %s", failed.Phase, failed.Reason)
	for j := i + 1; j < len(m.rec.Stages); j++ {
		if StageStatusOf(m.rec.Stages[j]) == pb.StageStatus_STAGE_STATUS_PENDING {
			setStageStatus(m.own(j), pb.StageStatus_STAGE_STATUS_SKIPPED)
		}
	}
	var phases []int
	switch m.shape.SafetyLevel {
	case pb.SafetyLevel_SAFETY_LEVEL_STRICT:
		for p := int(failed.Phase); p >= 0; p-- {
			phases = append(phases, p)
		}
	case pb.SafetyLevel_SAFETY_LEVEL_MODERATE:
		phases = []int{int(failed.Phase)}
	}
	if m.rollback(phases) {
		return
	}
	if m.shape.SafetyLevel == pb.SafetyLevel_SAFETY_LEVEL_PERMISSIVE {
		m.rec.Reason += "; permissive plans are not rolled back"
	} else {
		m.rec.Reason += "; nothing to roll back"
	}
	m.finish(pb.PlanStatus_PLAN_STATUS_FAILED, "")
}

// rollback appends the rollback stages of phases, in that order, for the
// operations of each that ran, and starts the first; false when there is
// nothing to undo.
func (m *machine) rollback(phases []int) bool {
	first := -1
	for _, p := range phases {
		ops := m.completedOps(p)
		var comp []string
		nodes := map[string]bool{}
		// Compensations run in the phase's rollback order.
		for _, u := range m.shape.Phases[p].Rollback {
			if !ops[u.Op] {
				continue
			}
			comp = append(comp, u.Op)
			nodes[u.Node] = true
		}
		if len(comp) == 0 {
			continue
		}
		m.rec.Stages = append(m.rec.Stages, newStage(fmt.Sprintf("rollback-%d", p), StageKindRollback, p, comp, sortedKeys(nodes)))
		if first < 0 {
			first = len(m.rec.Stages) - 1
		}
	}
	if first < 0 {
		return false
	}
	setPlanStatus(m.rec, pb.PlanStatus_PLAN_STATUS_ROLLING_BACK)
	m.start(first)
	return true
}

// completedOps lists the operations of phase p that ran successfully.
func (m *machine) completedOps(p int) map[string]bool {
	out := map[string]bool{}
	for _, st := range m.rec.Stages {
		if st.Kind != StageKindPhase || int(st.Phase) != p {
			continue
		}
		for _, step := range st.Steps {
			for _, o := range step.Operations {
				if o.Ran && o.Ok {
					out[o.Op] = true
				}
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
