package state

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// MaxDeploymentHistory is how many finished deployments are kept; older
// ones are pruned when one finishes.
const MaxDeploymentHistory = 100

const tableDeployments = "deployments"

func init() {
	registerTable(tableDef{
		tag: 16,
		schema: &memdb.TableSchema{
			Name: tableDeployments,
			Indexes: map[string]*memdb.IndexSchema{
				"id":     {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
				"module": {Name: "module", Indexer: &memdb.StringFieldIndex{Field: "Module"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.DeploymentRecord) },
	})
}

var deployStatuses = newEnumNames("DEPLOYMENT_STATUS", map[pb.DeploymentStatus]string{
	pb.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING: "running", pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED: "paused",
	pb.DeploymentStatus_DEPLOYMENT_STATUS_AWAITING_PROMOTION: "awaiting_promotion",
	pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL:         "successful", pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED: "failed",
	pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTING: "reverting", pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED: "reverted",
	pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED: "cancelled",
})

// DeploymentStatusOf returns a deployment's status.
func DeploymentStatusOf(d *pb.DeploymentRecord) pb.DeploymentStatus {
	return deployStatuses.of(d.StatusCode, d.Status)
}

// DeploymentStatusName is a deployment status's name.
func DeploymentStatusName(s pb.DeploymentStatus) string { return deployStatuses.name(s) }

// DeploymentDone reports whether a deployment has ended: successful,
// failed, reverted or cancelled. A successful one may still be reverted.
func DeploymentDone(d *pb.DeploymentRecord) bool {
	switch DeploymentStatusOf(d) {
	case pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED,
		pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
		return true
	}
	return false
}

func setDeployStatus(d *pb.DeploymentRecord, s pb.DeploymentStatus, desc string) {
	d.StatusCode, d.Status, d.StatusDescription = s, deployStatuses.name(s), desc
}

// DeployCreate records a deployment and its plan in one entry, and starts
// the plan's first batch. What it checks holds in every version: the ids
// agree, the module and version are named, the plan is valid as
// PlanCreate checks it, no other deployment of the module is under way,
// and the canary count fits the plan. The module's version being stored,
// the targets and the options' ranges the leader checked.
func (s *Store) DeployCreate(idx uint64, at int64, c *pb.DeployCreateCommand) (*pb.DeploymentRecord, error) {
	d := c.GetDeployment()
	if d == nil || c.Plan == nil || d.Id == "" || d.Id != c.Plan.Id || d.Module == "" || d.Version == "" || d.Options == nil {
		return nil, fmt.Errorf("%w: deploy create needs a deployment with an id, a module, a version and options, and its plan under the same id", ErrInvalidRecord)
	}
	sh, _, err := s.shapeOf(c.Plan.GetSpec())
	if err != nil {
		return nil, err
	}
	if int(d.CanaryPhases) > len(sh.GetPhases()) || d.CanaryPhases > 1 {
		return nil, fmt.Errorf("%w: deployment %q: %d canary phases of %d", ErrInvalidRecord, d.Id, d.CanaryPhases, len(sh.GetPhases()))
	}
	if d.RevertMode != "down" && d.RevertMode != "restore" {
		return nil, fmt.Errorf("%w: deployment %q: revert mode %q", ErrInvalidRecord, d.Id, d.RevertMode)
	}
	names := map[string]bool{}
	for _, m := range DeploymentModules(d) {
		if m.Module == "" || m.Version == "" || names[m.Module] || m.RevertMode != "down" && m.RevertMode != "restore" {
			return nil, fmt.Errorf("%w: deployment %q: module %q at %q (revert %q) named twice or incomplete", ErrInvalidRecord, d.Id, m.Module, m.Version, m.RevertMode)
		}
		names[m.Module] = true
	}
	var out *pb.DeploymentRecord
	err = s.write(func(txn *memdb.Txn) error {
		it, err := txn.Get(tableDeployments, "id")
		if err != nil {
			return err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			o := raw.(*pb.DeploymentRecord)
			if DeploymentDone(o) {
				continue
			}
			for _, m := range DeploymentModules(o) {
				if names[m.Module] {
					return fmt.Errorf("%w: deployment %s of %s is %s; one deployment of a module runs at a time", ErrDeployState, o.Id, m.Module, o.Status)
				}
			}
		}
		if raw, err := txn.First(tableDeployments, "id", d.Id); err != nil {
			return err
		} else if raw != nil {
			return fmt.Errorf("%w: deployment %q already exists", ErrInvalidRecord, d.Id)
		}
		rec := proto.Clone(d).(*pb.DeploymentRecord)
		rec.CreatedAtUnixNano, rec.FinishedAtUnixNano, rec.CreateIndex = at, 0, idx
		rec.Paused, rec.PausedOnFailure, rec.Promoted, rec.ActiveMoved = false, false, false, false
		rec.Requested, rec.RequestedReason = pb.DeployAction_DEPLOY_ACTION_UNSPECIFIED, ""
		for _, m := range deploymentModules(rec) {
			m.ActiveMoved = false
			if a, err := txn.First(tableModuleActive, "id", m.Module); err != nil {
				return err
			} else if a != nil {
				m.PreviousActive = a.(*pb.ModuleActive).Version
			}
			m.sync()
		}
		setDeployStatus(rec, pb.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, "Deployment is running")
		m, err := s.createPlan(txn, idx, at, c.Plan, rec)
		if err != nil {
			return err
		}
		if err := s.settleDeployment(txn, idx, m); err != nil {
			return err
		}
		out = m.dep
		return nil
	})
	return out, err
}

// DeployControl pauses, resumes, promotes, fails, reverts or cancels a
// deployment. Fail, revert and cancel asked while a batch runs are
// recorded and applied when the batch ends, so that a revert knows every
// process the batch moved.
func (s *Store) DeployControl(idx uint64, at int64, c *pb.DeployControlCommand) error {
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableDeployments, "id", c.Id)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: deployment %q", ErrNotFound, c.Id)
		}
		dep := proto.Clone(raw.(*pb.DeploymentRecord)).(*pb.DeploymentRecord)
		if c.Action == pb.DeployAction_DEPLOY_ACTION_REVERT {
			// Only the newest deployment of a module can be reverted: a
			// later one may have moved the same processes again.
			mine := map[string]bool{}
			for _, m := range DeploymentModules(dep) {
				mine[m.Module] = true
			}
			it, err := txn.Get(tableDeployments, "id")
			if err != nil {
				return err
			}
			for r := it.Next(); r != nil; r = it.Next() {
				o := r.(*pb.DeploymentRecord)
				if o.CreateIndex <= dep.CreateIndex {
					continue
				}
				for _, m := range DeploymentModules(o) {
					if mine[m.Module] {
						return fmt.Errorf("%w: deployment %s of %s came after %s; revert the newest first", ErrDeployState, o.Id, m.Module, dep.Id)
					}
				}
			}
		}
		m, err := s.loadMachine(txn, at, c.Id)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: deployment %s is %s and its plan is no longer kept (the last %d finished plans are): it cannot be steered", ErrDeployState, dep.Id, dep.Status, MaxPlanHistory)
		}
		if err != nil {
			return err
		}
		defer m.verify()
		m.dep = dep
		if err := m.control(c.Action, c.Reason); err != nil {
			return err
		}
		if err := s.putPlan(txn, idx, m.rec); err != nil {
			return err
		}
		return s.settleDeployment(txn, idx, m)
	})
}

// control applies one action; see DeployControl.
func (m *machine) control(a pb.DeployAction, reason string) error {
	d := m.dep
	ps := PlanStatusOf(m.rec)
	running := ps == pb.PlanStatus_PLAN_STATUS_RUNNING
	batch := running && m.rec.Current >= 0
	why := func(what string) string {
		if reason != "" {
			return what + ": " + reason
		}
		return what
	}
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: deployment %s is %s: "+format, append([]any{ErrDeployState, d.Id, d.Status}, args...)...)
	}
	if d.Requested != pb.DeployAction_DEPLOY_ACTION_UNSPECIFIED && running {
		return refuse("%s was asked and waits for the running batch to end", actionName(d.Requested))
	}
	switch a {
	case pb.DeployAction_DEPLOY_ACTION_PAUSE:
		if !running || d.Paused {
			return refuse("only a running deployment can be paused")
		}
		d.Paused = true
	case pb.DeployAction_DEPLOY_ACTION_RESUME:
		switch {
		case !running || !d.Paused:
			return refuse("only a paused deployment can be resumed")
		case d.PausedOnFailure:
			return refuse("it paused because a batch failed: revert it (deploy revert) or mark it failed (deploy fail)")
		}
		d.Paused = false
		m.resume()
	case pb.DeployAction_DEPLOY_ACTION_PROMOTE:
		switch {
		case !running || d.CanaryPhases == 0 || d.Promoted:
			return refuse("only a running deployment with canaries not yet promoted can be promoted")
		case d.PausedOnFailure:
			return refuse("its canaries failed")
		}
		d.Promoted = true
		m.resume()
	case pb.DeployAction_DEPLOY_ACTION_FAIL, pb.DeployAction_DEPLOY_ACTION_CANCEL:
		if !running {
			return refuse("it is not running")
		}
		if batch {
			d.Requested, d.RequestedReason = a, reason
			return nil
		}
		m.stop(a, reason)
	case pb.DeployAction_DEPLOY_ACTION_REVERT:
		switch ps {
		case pb.PlanStatus_PLAN_STATUS_ROLLING_BACK, pb.PlanStatus_PLAN_STATUS_ROLLED_BACK:
			return refuse("it is already reverted or reverting")
		}
		if batch {
			d.Requested, d.RequestedReason = a, reason
			return nil
		}
		m.revert(why("reverted by an operator"))
	default:
		return fmt.Errorf("%w: unknown deployment action %d", ErrInvalidRecord, a)
	}
	return nil
}

func actionName(a pb.DeployAction) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "DEPLOY_ACTION_"))
}

// hold reports whether phase stage st may not start yet: the deployment
// is paused, or st is the first batch after the canaries and they are not
// promoted.
func (m *machine) hold(st *pb.Stage) bool {
	d := m.dep
	if d == nil || st.Kind != StageKindPhase {
		return false
	}
	if d.Paused {
		return true
	}
	return d.CanaryPhases > 0 && st.Phase == int32(d.CanaryPhases) && !d.Promoted && !d.Options.GetAutoPromote()
}

// resume starts the next pending batch of a held deployment.
func (m *machine) resume() {
	if m.rec.Current >= 0 || PlanStatusOf(m.rec) != pb.PlanStatus_PLAN_STATUS_RUNNING {
		return
	}
	for i, st := range m.rec.Stages {
		if StageStatusOf(st) == pb.StageStatus_STAGE_STATUS_PENDING {
			m.start(i)
			return
		}
	}
	m.next(len(m.rec.Stages))
}

// afterStage runs when phase stage i of a deployment ended: an action
// asked meanwhile applies now, a failure reverts, pauses or fails the
// deployment by its safety level and options. It reports whether it took
// over from the plan's own handling.
func (m *machine) afterStage(i int, failed bool) bool {
	d := m.dep
	st := m.rec.Stages[i]
	if req := d.Requested; req != pb.DeployAction_DEPLOY_ACTION_UNSPECIFIED {
		reason := d.RequestedReason
		d.Requested, d.RequestedReason = pb.DeployAction_DEPLOY_ACTION_UNSPECIFIED, ""
		if failed {
			m.rec.Reason = fmt.Sprintf("phase %d failed: %s", st.Phase, st.Reason)
		}
		if req == pb.DeployAction_DEPLOY_ACTION_REVERT {
			r := "reverted by an operator"
			if reason != "" {
				r += ": " + reason
			}
			m.revert(r)
		} else {
			m.stop(req, reason)
		}
		return true
	}
	if !failed {
		return false
	}
	m.rec.Reason = fmt.Sprintf("phase %d failed: %s", st.Phase, st.Reason)
	switch {
	case d.Options.GetAutoRevert() || d.Safety == "strict":
		m.revert(m.rec.Reason)
	case d.Safety == "moderate":
		d.Paused, d.PausedOnFailure = true, true
		m.rec.Current = -1
	default:
		m.skipPending()
		m.finish(pb.PlanStatus_PLAN_STATUS_FAILED, m.rec.Reason+"; a permissive deployment is not reverted without auto_revert")
	}
	return true
}

// stop ends a deployment by fail (reverting it when auto_revert is set,
// as Nomad's deployment fail does) or cancel.
func (m *machine) stop(a pb.DeployAction, reason string) {
	what := "failed by an operator"
	if a == pb.DeployAction_DEPLOY_ACTION_CANCEL {
		what = "cancelled"
	}
	if reason != "" {
		what += ": " + reason
	}
	if a == pb.DeployAction_DEPLOY_ACTION_FAIL && m.dep.Options.GetAutoRevert() {
		m.revert(what)
		return
	}
	m.skipPending()
	status := pb.PlanStatus_PLAN_STATUS_FAILED
	if a == pb.DeployAction_DEPLOY_ACTION_CANCEL {
		status = pb.PlanStatus_PLAN_STATUS_CANCELLED
	}
	m.finish(status, what)
}

func (m *machine) skipPending() {
	for i, st := range m.rec.Stages {
		if StageStatusOf(st) == pb.StageStatus_STAGE_STATUS_PENDING {
			setStageStatus(m.own(i), pb.StageStatus_STAGE_STATUS_SKIPPED)
		}
	}
}

// revert moves back every process the deployment moved: the rollbacks of
// every batch that ran, last first (a finished deployment is reopened).
func (m *machine) revert(reason string) {
	last := -1
	for _, st := range m.rec.Stages {
		if st.Kind != StageKindPhase {
			continue
		}
		switch StageStatusOf(st) {
		case pb.StageStatus_STAGE_STATUS_SUCCEEDED, pb.StageStatus_STAGE_STATUS_FAILED, pb.StageStatus_STAGE_STATUS_CANCELLED:
			last = max(last, int(st.Phase))
		}
	}
	m.skipPending()
	m.dep.Paused, m.dep.PausedOnFailure = false, false
	m.rec.Reason = reason
	m.rec.FinishedAtUnixNano = 0
	setPlanStatus(m.rec, pb.PlanStatus_PLAN_STATUS_RUNNING)
	var phases []int
	for p := last; p >= 0; p-- {
		phases = append(phases, p)
	}
	if !m.rollback(phases) {
		m.finish(pb.PlanStatus_PLAN_STATUS_ROLLED_BACK, reason+"; nothing had moved")
	}
}

// settleDeployment derives the deployment's status from its plan, moves
// the module's active version on success (and back on a revert of a
// successful deployment), and stores the deployment.
func (s *Store) settleDeployment(txn *memdb.Txn, idx uint64, m *machine) error {
	d := m.dep
	var status pb.DeploymentStatus
	var desc string
	switch PlanStatusOf(m.rec) {
	case pb.PlanStatus_PLAN_STATUS_RUNNING:
		switch {
		case d.PausedOnFailure:
			status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, "Deployment is paused: "+m.rec.Reason+" (revert or fail it)"
		case d.Paused && m.rec.Current >= 0:
			status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, "Deployment is paused; the running batch finishes"
		case d.Paused:
			status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED, "Deployment is paused"
		case m.rec.Current < 0:
			status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_AWAITING_PROMOTION, "Deployment is running but requires manual promotion"
		default:
			status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, "Deployment is running"
		}
	case pb.PlanStatus_PLAN_STATUS_ROLLING_BACK:
		status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTING, "Reverting: "+m.rec.Reason
	case pb.PlanStatus_PLAN_STATUS_SUCCEEDED:
		status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, "Deployment completed successfully"
	case pb.PlanStatus_PLAN_STATUS_ROLLED_BACK:
		status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, m.rec.Reason
	case pb.PlanStatus_PLAN_STATUS_CANCELLED:
		status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED, m.rec.Reason
	default:
		status, desc = pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED, m.rec.Reason
	}
	setDeployStatus(d, status, desc)
	d.FinishedAtUnixNano = 0
	if DeploymentDone(d) {
		d.FinishedAtUnixNano = m.rec.FinishedAtUnixNano
	}
	for _, mod := range deploymentModules(d) {
		switch {
		case status == pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL && mod.MovesActive && !mod.ActiveMoved:
			if err := setActive(txn, idx, m.at, mod.Module, mod.Version); err != nil {
				return err
			}
			mod.ActiveMoved = true
		case status == pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED && mod.ActiveMoved:
			if mod.PreviousActive != "" {
				if err := setActive(txn, idx, m.at, mod.Module, mod.PreviousActive); err != nil {
					return err
				}
			}
			mod.ActiveMoved = false
		}
		mod.sync()
	}
	d.ModifyIndex = idx
	if err := txn.Insert(tableDeployments, d); err != nil {
		return err
	}
	if err := bumpIndex(txn, tableDeployments, idx); err != nil {
		return err
	}
	if DeploymentDone(d) {
		return pruneDeployments(txn, idx)
	}
	return nil
}

// setActive moves a module's active version record, when that version is
// still stored (a version deleted meanwhile leaves the record as it is).
func setActive(txn *memdb.Txn, idx uint64, at int64, name, version string) error {
	raw, err := txn.First(tableModules, "id", ModuleID(name, version))
	if err != nil || raw == nil {
		return err
	}
	rec := &pb.ModuleActive{Name: name, Version: version, UpdatedAtUnixNano: at, CreateIndex: idx, ModifyIndex: idx}
	if old, err := txn.First(tableModuleActive, "id", name); err != nil {
		return err
	} else if old != nil {
		rec.CreateIndex = old.(*pb.ModuleActive).CreateIndex
	}
	if err := txn.Insert(tableModuleActive, rec); err != nil {
		return err
	}
	return bumpIndex(txn, tableModuleActive, idx)
}

// pruneDeployments deletes the oldest finished deployments beyond
// MaxDeploymentHistory.
func pruneDeployments(txn *memdb.Txn, idx uint64) error {
	it, err := txn.Get(tableDeployments, "id")
	if err != nil {
		return err
	}
	var done []*pb.DeploymentRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if d := raw.(*pb.DeploymentRecord); DeploymentDone(d) {
			done = append(done, d)
		}
	}
	if len(done) <= MaxDeploymentHistory {
		return nil
	}
	sort.Slice(done, func(i, j int) bool { return done[i].CreateIndex < done[j].CreateIndex })
	for _, d := range done[:len(done)-MaxDeploymentHistory] {
		if err := txn.Delete(tableDeployments, d); err != nil {
			return err
		}
	}
	return bumpIndex(txn, tableDeployments, idx)
}

// Deployment returns one deployment, or nil.
func (s *Store) Deployment(ws memdb.WatchSet, id string) (*pb.DeploymentRecord, error) {
	txn := s.read()
	defer txn.Abort()
	ch, raw, err := txn.FirstWatch(tableDeployments, "id", id)
	if err != nil {
		return nil, err
	}
	ws.Add(ch)
	if raw == nil {
		return nil, nil
	}
	return raw.(*pb.DeploymentRecord), nil
}

// Deployments returns every deployment (of module, when set), newest
// first, with the table's index.
func (s *Store) Deployments(ws memdb.WatchSet, module string) (uint64, []*pb.DeploymentRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableDeployments)
	var it memdb.ResultIterator
	var err error
	if module != "" {
		it, err = txn.Get(tableDeployments, "module", module)
	} else {
		it, err = txn.Get(tableDeployments, "id")
	}
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.DeploymentRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.DeploymentRecord))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex > out[j].CreateIndex })
	return idx, out, nil
}

// DeploymentModules lists a deployment's modules, its first (the record's
// own fields) then the others, in dependency order.
func DeploymentModules(d *pb.DeploymentRecord) []*pb.DeployModule {
	out := []*pb.DeployModule{{Module: d.Module, Version: d.Version, FromVersions: d.FromVersions, RevertMode: d.RevertMode,
		Targets: d.Targets, MovesActive: d.MovesActive, PreviousActive: d.PreviousActive, ActiveMoved: d.ActiveMoved}}
	return append(out, d.Also...)
}

// deployModule is one module of a deployment to update in place: the
// first's fields live in the record itself, sync writes them back.
type deployModule struct {
	*pb.DeployModule
	sync func()
}

func deploymentModules(d *pb.DeploymentRecord) []deployModule {
	first := DeploymentModules(d)[0]
	out := []deployModule{{first, func() { d.PreviousActive, d.ActiveMoved = first.PreviousActive, first.ActiveMoved }}}
	for _, m := range d.Also {
		out = append(out, deployModule{m, func() {}})
	}
	return out
}
