package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
)

// Rollback actions of one module.
const (
	ActionDeployed   = "deployed"
	ActionActivated  = "activated"
	ActionUnchanged  = "unchanged"
	ActionFailed     = "failed"
	ActionNotStarted = "not_started"
)

// statePlanBytes bounds one state plan's file, under plan.MaxPlanBytes
// with room for the envelope.
const statePlanBytes = plan.MaxPlanBytes - 64<<10

// rollback runs on the leader: a deployment per module whose following
// processes are not on the checkpoint's version, in dependency order,
// each waited for; then the states put back. It answers when done, or
// when ctx ends (the deployment running then goes on; the next ones are
// not started: roll back again to finish).
func (l *Layer) rollback(ctx context.Context, req *pb.RollbackCheckpointRequest) (*pb.RollbackCheckpointResponse, error) {
	st := l.node.State()
	ck, err := st.Checkpoint(req.Id)
	if err != nil {
		return nil, err
	}
	if ck == nil {
		return nil, notFound(req.Id)
	}
	safety := req.Safety
	if safety == "" {
		safety = "moderate"
	}
	if safety != "strict" && safety != "moderate" && safety != "permissive" {
		return nil, bad("safety %q is not strict, moderate or permissive", safety)
	}
	order, err := l.order(st, ck)
	if err != nil {
		return nil, err
	}
	resp := &pb.RollbackCheckpointResponse{Id: ck.Id, Complete: true}
	stopped := false
	for _, m := range order {
		rm := &pb.RollbackModule{Name: m.Name, Version: m.Version}
		resp.Modules = append(resp.Modules, rm)
		if stopped {
			rm.Action, rm.Detail = ActionNotStarted, "an earlier module's rollback did not succeed"
			continue
		}
		if err := l.rollbackModule(ctx, req, safety, m, rm); err != nil {
			rm.Action, rm.Detail = ActionFailed, err.Error()
		}
		if rm.DeploymentId != "" {
			resp.DeploymentIds = append(resp.DeploymentIds, rm.DeploymentId)
		}
		if rm.Action == ActionFailed {
			stopped, resp.Complete = true, false
		}
	}
	moved := false
	for _, rm := range resp.Modules {
		moved = moved || rm.Action != ActionUnchanged
	}
	switch {
	case stopped:
		resp.Message = "the rollback stopped: a module's deployment did not succeed; the states were not put back"
		return resp, nil
	case !ck.WithState || req.SkipState:
		if !moved {
			resp.Noop = true
			resp.Message = "nothing to do: every module already runs its checkpointed version"
			return resp, nil
		}
		resp.Message = "every module runs its checkpointed version again"
		return resp, nil
	}
	if err := l.restoreStates(ctx, safety, ck, resp); err != nil {
		resp.Complete = false
		resp.Message = "the versions are back; putting the states back failed: " + err.Error()
		return resp, nil
	}
	if !moved {
		resp.Message = "no deployment needed (every module already runs its checkpointed version); "
	} else {
		resp.Message = "every module runs its checkpointed version again; "
	}
	resp.Message += fmt.Sprintf("%d states put back, %d not", len(resp.Restored), len(resp.NotRestored))
	if len(resp.NotRestored) > 0 {
		resp.Complete = false
	}
	return resp, nil
}

func notFound(id string) error {
	return fmt.Errorf("%w: no checkpoint %q (steward checkpoint list)", transport.ErrNotFound, id)
}

// order sorts the checkpoint's modules by the dependencies their
// checkpointed versions' manifests declare (a dependency first), ties and
// cycles by name.
func (l *Layer) order(st *state.Store, ck *pb.CheckpointRecord) ([]*pb.CheckpointModule, error) {
	mans := make([]*hotcode.Manifest, len(ck.Modules))
	for i, m := range ck.Modules {
		v, err := st.ModuleVersion(m.Name, m.Version)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("%w: module %s@%s of checkpoint %s is not stored", state.ErrNotFound, m.Name, m.Version, ck.Id)
		}
		if mans[i], err = hotcode.ParseManifest(v.ManifestJson); err != nil {
			return nil, fmt.Errorf("module %s@%s: its manifest: %w", m.Name, m.Version, err)
		}
	}
	var out []*pb.CheckpointModule
	for _, i := range hotcode.DependencyOrder(mans) {
		out = append(out, ck.Modules[i])
	}
	return out, nil
}

// rollbackModule moves one module's following processes onto the
// checkpoint's version (one deployment, waited for), or sets its active
// version back when none is to move.
func (l *Layer) rollbackModule(ctx context.Context, req *pb.RollbackCheckpointRequest, safety string, m *pb.CheckpointModule, rm *pb.RollbackModule) error {
	procs, err := l.gather(ctx, []string{m.Name}, false)
	if err != nil {
		return err
	}
	froms := map[string]bool{}
	for _, p := range procs {
		if p.ModuleRef == m.Name && !p.Sandboxed && p.Version != m.Version {
			froms[p.Version] = true
		}
	}
	for f := range froms {
		rm.FromVersions = append(rm.FromVersions, f)
	}
	sort.Strings(rm.FromVersions)
	st := l.node.State()
	if len(froms) == 0 {
		a, err := st.ModuleActive(m.Name)
		if err != nil {
			return err
		}
		if a != nil && a.Version == m.Version {
			rm.Action = ActionUnchanged
			return nil
		}
		if _, err := l.node.Server().Apply(ctx, pb.CommandType_COMMAND_TYPE_MODULE_ACTIVATE, &pb.ModuleActivateCommand{Name: m.Name, Version: m.Version}); err != nil {
			return err
		}
		rm.Action, rm.Detail = ActionActivated, "no process to move: the active version is set back"
		return nil
	}
	d, err := l.deploy.Submit(ctx, &pb.DeployRequest{Module: m.Name + "@" + m.Version, Safety: safety, Options: req.Options,
		HasMaxParallel: req.HasMaxParallel, HasMinHealthyTime: req.HasMinHealthyTime,
		HasHealthyDeadline: req.HasHealthyDeadline, HasProgressDeadline: req.HasProgressDeadline})
	if err != nil {
		return err
	}
	rm.DeploymentId = d.Id
	for {
		ws := memdb.NewWatchSet()
		cur, err := st.Deployment(ws, d.Id)
		if err != nil {
			return err
		}
		if cur != nil {
			rm.Status = cur.Status
			if state.DeploymentDone(cur) {
				if state.DeploymentStatusOf(cur) != pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL {
					return fmt.Errorf("deployment %s ended %s: %s", d.Id, cur.Status, cur.StatusDescription)
				}
				rm.Action = ActionDeployed
				return nil
			}
		}
		ws.Add(st.AbandonCh())
		if err := ws.WatchCtx(ctx); err != nil {
			return fmt.Errorf("%w: deployment %s is %s still; the rollback stopped waiting (it goes on: roll back again once it ends)", transport.ErrTimeout, d.Id, rm.Status)
		}
	}
}

// restoreStates puts the captured states back, with plans of
// replace_state operations, into the processes alive with the captured
// pids and on the captured version; the others are reported.
func (l *Layer) restoreStates(ctx context.Context, safety string, ck *pb.CheckpointRecord, resp *pb.RollbackCheckpointResponse) error {
	names := make([]string, 0, len(ck.Modules))
	for _, m := range ck.Modules {
		names = append(names, m.Name)
	}
	live, err := l.gather(ctx, names, false)
	if err != nil {
		return err
	}
	byPID := map[string]*pb.CheckpointProcess{}
	for _, p := range live {
		byPID[p.Pid] = p
	}
	var ops []plan.Operation
	var opProc []*pb.CheckpointProcess
	for _, p := range ck.Processes {
		cur := byPID[p.Pid]
		var reason string
		switch {
		case cur == nil:
			reason = "the process is gone: it exited, or was restarted under another pid, since the checkpoint"
		case cur.Module != p.Module || cur.Version != p.Version:
			reason = fmt.Sprintf("it runs %s@%s; its state was captured on %s@%s", cur.Module, cur.Version, p.Module, p.Version)
		case len(p.State) == 0:
			reason = "no state was captured (the behavior exported none)"
		case !utf8.Valid(p.State):
			reason = "the captured state is not text: a replace_state operation carries text only"
		}
		if reason != "" {
			resp.NotRestored = append(resp.NotRestored, &pb.RollbackProcess{Pid: p.Pid, Node: p.Node, Reason: reason})
			continue
		}
		ops = append(ops, plan.Operation{ID: fmt.Sprintf("state-%d", len(ops)+1), Type: plan.ReplaceState, Node: p.Node,
			Target: plan.Target{PID: p.Pid}, Params: plan.Params{State: string(p.State)}})
		opProc = append(opProc, p)
	}
	if len(ops) == 0 {
		return nil
	}
	group := "checkpoint-" + strings.TrimPrefix(ck.Id, "ckpt-")
	for _, b := range planBatches(ops) {
		body, err := json.Marshal(plan.Plan{SafetyLevel: plan.SafetyLevel(safety), Timeout: "10m", Group: group, Operations: ops[b[0]:b[1]]})
		if err != nil {
			return err
		}
		ap, err := l.coord.Submit(ctx, body, "checkpoint-restore.json")
		if err != nil {
			for _, p := range opProc[b[0]:] {
				resp.NotRestored = append(resp.NotRestored, &pb.RollbackProcess{Pid: p.Pid, Node: p.Node, Reason: "its state plan was refused: " + err.Error()})
			}
			return fmt.Errorf("state plan refused (%d submitted before it): %w", len(resp.StatePlanIds), err)
		}
		resp.StatePlanIds = append(resp.StatePlanIds, ap.Id)
		ok, err := l.waitPlan(ctx, ap.Id)
		if err != nil {
			for _, p := range opProc[b[0]:] {
				resp.NotRestored = append(resp.NotRestored, &pb.RollbackProcess{Pid: p.Pid, Node: p.Node, Reason: err.Error()})
			}
			return err
		}
		for i := b[0]; i < b[1]; i++ {
			p := opProc[i]
			if e, done := ok[ops[i].ID]; done && e == "" {
				resp.Restored = append(resp.Restored, &pb.RollbackProcess{Pid: p.Pid, Node: p.Node})
			} else {
				if e == "" {
					e = "its replace_state operation did not run (plan " + ap.Id + ")"
				}
				resp.NotRestored = append(resp.NotRestored, &pb.RollbackProcess{Pid: p.Pid, Node: p.Node, Reason: e})
			}
		}
	}
	return nil
}

// planBatches splits ops into [from, to) ranges of at most
// plan.MaxOperations operations and about statePlanBytes of states.
func planBatches(ops []plan.Operation) [][2]int {
	var out [][2]int
	from, size := 0, 0
	for i, op := range ops {
		n := len(op.Params.State) + 256
		if i > from && (i-from >= plan.MaxOperations || size+n > statePlanBytes) {
			out = append(out, [2]int{from, i})
			from, size = i, 0
		}
		size += n
	}
	return append(out, [2]int{from, len(ops)})
}

// waitPlan waits until the plan ends and returns, per operation that ran,
// its error ("" when it succeeded).
func (l *Layer) waitPlan(ctx context.Context, id string) (map[string]string, error) {
	st := l.node.State()
	for {
		ws := memdb.NewWatchSet()
		rec, _, err := st.Plan(ws, id)
		if err != nil {
			return nil, err
		}
		if rec != nil && state.PlanDone(rec) {
			out := map[string]string{}
			for _, sg := range rec.Stages {
				for _, step := range sg.Steps {
					for _, o := range step.Operations {
						switch {
						case o.Ok:
							if _, seen := out[o.Op]; !seen {
								out[o.Op] = ""
							}
						case o.Error != "":
							out[o.Op] = o.Error
						default:
							out[o.Op] = "failed"
						}
					}
					if step.Error != "" {
						for _, o := range sg.Operations {
							if _, seen := out[o]; !seen {
								out[o] = "its step failed: " + step.Error
							}
						}
					}
				}
			}
			return out, nil
		}
		ws.Add(st.AbandonCh())
		if err := ws.WatchCtx(ctx); err != nil {
			return nil, fmt.Errorf("%w: state plan %s has not ended; the rollback stopped waiting", transport.ErrTimeout, id)
		}
	}
}
