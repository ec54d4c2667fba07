package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// ErrNotRestorable: the snapshot or a node cannot be restored as asked.
var ErrNotRestorable = errors.New("cannot restore")

// RestoreReport says what a restore did (or, for a dry run, would do).
type RestoreReport struct {
	Snapshot string   `json:"snapshot"`
	Nodes    []string `json:"nodes"`
	DryRun   bool     `json:"dry_run"`
	// Trees are the desired-state changes committed for the nodes.
	Trees []TreeAction `json:"trees"`
	// Operations are what the restore plan does on the runtimes.
	Operations []RestoreOp `json:"operations"`
	// NotRestored lists what could not be brought back, with the reason.
	NotRestored []NotRestored `json:"not_restored"`
	// PlanIDs are the restore plans, when any was needed: one per
	// plan.MaxOperations operations, run side by side (their targets are
	// disjoint).
	PlanIDs []string `json:"plan_ids"`
	// Plan is the (first) restore plan's dry run (dry runs only).
	Plan *plan.DryRun `json:"plan,omitempty"`
}

// TreeAction is one desired-state change: create, update, move, keep or
// delete.
type TreeAction struct {
	Tree   string `json:"tree"`
	Node   string `json:"node"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
}

// RestoreOp is one operation of the restore plan.
type RestoreOp struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Target string `json:"target"`
	Node   string `json:"node"`
	// Stage is 1 for what starts processes again, 2 for what acts on them
	// (planned once stage 1's plans have finished).
	Stage int `json:"stage"`
}

// NotRestored is something the snapshot held that restore does not bring
// back.
type NotRestored struct {
	Node    string `json:"node"`
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
}

// Restore runs on the leader.
func (s *service) Restore(ctx context.Context, req *pb.RestoreRequest) (*pb.RestoreResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.RestoreRequest) (*pb.RestoreResponse, error) {
			return pb.NewSnapshotsClient(c).Restore(ctx, r)
		},
		func(ctx context.Context, r *pb.RestoreRequest) (*pb.RestoreResponse, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			rep, err := s.l.restore(ctx, r)
			if err != nil {
				return nil, err
			}
			body, err := json.Marshal(rep)
			if err != nil {
				return nil, err
			}
			return &pb.RestoreResponse{ReportJson: body, PlanIds: rep.PlanIDs}, nil
		})
}

func (l *Layer) restore(ctx context.Context, req *pb.RestoreRequest) (*RestoreReport, error) {
	st := l.node.State()
	rec, err := st.SnapshotRecord(nil, req.Id)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: snapshot %q", transport.ErrNotFound, req.Id)
	}
	if s := state.SnapshotStatusOf(rec); s != pb.SnapshotStatus_SNAPSHOT_STATUS_COMPLETE && s != pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL {
		return nil, fmt.Errorf("%w: snapshot %s is %s", ErrNotRestorable, rec.Id, rec.Status)
	}
	nodes, err := l.restoreNodes(rec, req.Nodes)
	if err != nil {
		return nil, err
	}
	// Where a restore's time goes, logged at its end (debug).
	var laps []any
	t0 := time.Now()
	lap := func(what string) { laps = append(laps, what, time.Since(t0)); t0 = time.Now() }
	defer func() { l.logger.Debug("restore planned", append([]any{"snapshot", rec.Id}, laps...)...) }()
	parts, err := loadParts(st, rec, nodes)
	if err != nil {
		return nil, err
	}
	lap("parts_loaded")
	rep := &RestoreReport{Snapshot: rec.Id, Nodes: nodes, DryRun: req.DryRun, Trees: []TreeAction{}, Operations: []RestoreOp{},
		NotRestored: []NotRestored{}, PlanIDs: []string{}}

	// 1. The desired state: the snapshot's trees on the nodes restored.
	facts := factsOf(parts)
	cmds, carried, err := l.treeActions(rep, parts, facts, rec.Id)
	if err != nil {
		return nil, err
	}
	// borne: the trees ("node|tree") whose start brought their captured
	// states back (TreeRecord.restore); a dry run counts on it.
	borne := carried
	if !req.DryRun {
		if err := l.commitTrees(ctx, cmds); err != nil {
			return nil, err
		}
		lap("trees_committed")
		borne = l.waitForTrees(ctx, rep, rec.Id, carried)
		lap("trees_running")
	}

	// 2. The runtimes, in two stages. The first restarts missing children
	// and starts the simple_one_for_one instances again; the plan engine
	// plans only against live targets, so what acts on those processes
	// (states, names, queued messages) is planned once the first stage's
	// plans have finished, against the processes they started.
	level := req.SafetyLevel
	if level == "" {
		level = string(plan.Moderate)
	}
	group := "restore-" + strings.TrimPrefix(newID(), "snap-")
	starts, st1 := l.startOps(ctx, rep, parts, facts, borne)
	lap("stage1_planned")
	ids, err := l.submitStage(ctx, rep, req.DryRun, level, group, 1, starts)
	if err != nil {
		return nil, err
	}
	lap("stage1_submitted")
	started := map[string]string{}
	if !req.DryRun && len(ids) > 0 {
		l.waitForPlans(ctx, rep, ids)
		started = startedPIDs(st, ids, st1.instances, st1.spawned)
	}
	lap("stage1_finished")
	fills, planned := l.fillOps(ctx, rep, parts, facts, st1, started, len(ids) == 0, borne)
	lap("stage2_planned")
	if req.DryRun && len(starts) > 0 {
		// Not planned before the first stage has run: listed only.
		recordOps(rep, 2, fills)
		return rep, nil
	}
	if _, err := l.submitStage(ctx, rep, req.DryRun, level, group, 2, fills[:planned]); err != nil {
		return nil, err
	}
	lap("stage2_submitted")
	recordOps(rep, 2, fills[planned:])
	return rep, nil
}

// submitStage records a stage's operations in rep and submits them as
// plans of at most plan.MaxOperations operations and planBytes bytes (a
// dry run plans the first one, when rep has no plan yet), up to
// submitParallel at a time (their targets are disjoint, and one group
// lets them overlap); it returns the plans' ids, in the order of their
// operations.
func (l *Layer) submitStage(ctx context.Context, rep *RestoreReport, dry bool, level, group string, stage int, ops []plan.Operation) ([]string, error) {
	recordOps(rep, stage, ops)
	var bodies [][]byte
	for _, batch := range batchesSized(ops, plan.MaxOperations, planBytes) {
		body, err := json.Marshal(plan.Plan{SafetyLevel: plan.SafetyLevel(level), Timeout: "10m", Group: group, Operations: batch})
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, body)
	}
	if dry {
		if len(bodies) > 0 && rep.Plan == nil {
			res, err := l.coord.DryRunLocal(ctx, bodies[0], "restore.json")
			if res != nil {
				d := res.DryRun()
				rep.Plan = &d
			}
			if err != nil && res == nil {
				return nil, err
			}
		}
		return nil, nil
	}
	ids := make([]string, len(bodies))
	errs := make([]error, len(bodies))
	parallel(len(bodies), submitParallel, func(i int) {
		ts := time.Now()
		resp, err := l.coord.Submit(ctx, bodies[i], "restore.json")
		l.logger.Debug("restore plan submitted", "stage", stage, "bytes", len(bodies[i]), "duration", time.Since(ts), "error", err)
		if err != nil {
			errs[i] = err
			return
		}
		ids[i] = resp.Id
	})
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	rep.PlanIDs = append(rep.PlanIDs, out...)
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("restore plan %d of stage %d was refused (%d of its %d plans submitted): %w", i+1, stage, len(out), len(bodies), err)
		}
	}
	return out, nil
}

// planBytes bounds a restore plan's operations once encoded (bytes): the
// plan file limit, less room for the rest of the file.
const planBytes = plan.MaxPlanBytes - 4<<10

// submitParallel bounds the restore plans submitted at once.
const submitParallel = 4

func recordOps(rep *RestoreReport, stage int, ops []plan.Operation) {
	for _, op := range ops {
		rep.Operations = append(rep.Operations, RestoreOp{ID: op.ID, Type: string(op.Type), Target: op.TargetLabel(), Node: op.Node, Stage: stage})
	}
}

// waitForPlans waits until every plan of ids has finished, within
// RestoreTimeout (bounded by ctx); a plan that did not succeed, or did not
// finish in time, is reported.
func (l *Layer) waitForPlans(ctx context.Context, rep *RestoreReport, ids []string) {
	timer := l.clock.NewTimer(l.cfg.RestoreTimeout)
	defer timer.Stop()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-timer.C():
			cancel()
		case <-wctx.Done():
		}
	}()
	st := l.node.State()
	for _, id := range ids {
		for {
			ws := memdb.NewWatchSet()
			rec, _, err := st.Plan(ws, id)
			if err == nil && rec != nil && state.PlanFinished(rec.Status) {
				if rec.Status != state.PlanSucceeded {
					rep.NotRestored = append(rep.NotRestored, NotRestored{Subject: "restore plan " + id,
						Reason: fmt.Sprintf("it %s: %s; what it did not start is reported below", rec.Status, rec.Reason)})
				}
				break
			}
			if err != nil || rec == nil {
				rep.NotRestored = append(rep.NotRestored, NotRestored{Subject: "restore plan " + id, Reason: fmt.Sprintf("it cannot be read: %v", err)})
				break
			}
			if st.WaitChange(wctx, ws, time.Time{}) != nil {
				rep.NotRestored = append(rep.NotRestored, NotRestored{Subject: "restore plan " + id,
					Reason: "it did not finish within " + l.cfg.RestoreTimeout.String() + "; what acts on the processes it starts was not planned"})
				return
			}
		}
	}
}

// startedPIDs maps each captured instance whose start_child succeeded, and
// each unsupervised process whose spawn did (by the operation's id in
// instances or spawned), to the pid the plan's report gives.
func startedPIDs(st *state.Store, ids []string, instances, spawned map[string]string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		rec, _, err := st.Plan(nil, id)
		if err != nil || rec == nil {
			continue
		}
		for _, stage := range rec.Stages {
			if stage.Kind != state.StageKindPhase {
				continue
			}
			for _, step := range stage.Steps {
				for _, o := range step.Operations {
					captured, ok := instances[o.Op]
					if !ok {
						captured, ok = spawned[o.Op]
					}
					if ok && o.Ok && o.ResultPid != "" {
						out[captured] = o.ResultPid
					}
				}
			}
		}
	}
	return out
}

// batches packs operations into plans of at most max operations, keeping
// each operation with those it depends on (a chain of queued messages
// stays in one plan, in order).
func batches(ops []plan.Operation, max int) [][]plan.Operation {
	return batchesSized(ops, max, 0)
}

// batchesSized is batches, each plan's operations also at most maxBytes
// once encoded as JSON (0: unbounded); a group over either bound gets a
// plan of its own.
func batchesSized(ops []plan.Operation, max, maxBytes int) [][]plan.Operation {
	var out [][]plan.Operation
	var cur []plan.Operation
	curBytes := 0
	for i := 0; i < len(ops); {
		// A group is an operation and the ones right after it that depend
		// on one of the group.
		in := map[string]bool{ops[i].ID: true}
		size := encodedSize(ops[i], maxBytes)
		j := i + 1
		for j < len(ops) && len(ops[j].DependsOn) > 0 && in[ops[j].DependsOn[0]] {
			in[ops[j].ID] = true
			size += encodedSize(ops[j], maxBytes)
			j++
		}
		if len(cur) > 0 && (len(cur)+(j-i) > max || maxBytes > 0 && curBytes+size > maxBytes) {
			out = append(out, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, ops[i:j]...)
		curBytes += size
		i = j
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// encodedSize is op's size in a plan file (bytes, with its separator),
// when sizes count (maxBytes > 0).
func encodedSize(op plan.Operation, maxBytes int) int {
	if maxBytes <= 0 {
		return 0
	}
	b, err := json.Marshal(op)
	if err != nil {
		return maxBytes // refused when submitted, alone
	}
	return len(b) + 1
}

// restoreNodes checks the nodes to restore: each has a complete part and is
// an alive member of the cluster.
func (l *Layer) restoreNodes(rec *pb.SnapshotRecord, asked []string) ([]string, error) {
	parts := map[string]*pb.SnapshotPartInfo{}
	for _, p := range rec.Parts {
		parts[p.Node] = p
	}
	nodes := append([]string(nil), asked...)
	if len(nodes) == 0 {
		for _, p := range rec.Parts {
			if state.PartStatusOf(p) == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE {
				nodes = append(nodes, p.Node)
			}
		}
	}
	sort.Strings(nodes)
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: snapshot %s has no complete part", ErrNotRestorable, rec.Id)
	}
	for _, n := range nodes {
		p, ok := parts[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: snapshot %s has no part for node %q", ErrNotRestorable, rec.Id, n)
		case state.PartStatusOf(p) != pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE:
			return nil, fmt.Errorf("%w: the part of node %s in snapshot %s is %s; restore the other nodes with --nodes", ErrNotRestorable, n, rec.Id, p.Status)
		}
		switch st := l.node.MemberStatus(n); st {
		case "alive", "suspect":
		case "":
			return nil, fmt.Errorf("%w: node %s is not a member of this cluster any more; restore the other nodes with --nodes", ErrNotRestorable, n)
		default:
			return nil, fmt.Errorf("%w: node %s is %s; restore the other nodes with --nodes", ErrNotRestorable, n, st)
		}
	}
	return nodes, nil
}

// treeCmdT is one desired-state command of a restore.
// treeCmdT is one desired-state change: put the record, or (put nil)
// delete the tree.
type treeCmdT struct {
	tree string
	put  *pb.TreeRecord
}

// treeActions decides the desired-state changes and records them in rep.
// A tree it creates or moves carries its workers' captured states in its
// record (restoreOf), for its node to start it with; carried holds those
// trees ("node|tree"). The specs are validated and encoded side by side
// (a restore's trees are large), the report keeps the parts' order.
func (l *Layer) treeActions(rep *RestoreReport, parts map[string]*Part, facts map[string]*partFacts, snapshotID string) (cmds []treeCmdT, carried map[string]bool, err error) {
	carried = map[string]bool{}
	until := l.clock.Now().Add(l.cfg.RestoreTimeout).UnixNano()
	st := l.node.State()
	cat := l.rt.Catalog()
	known := func(name string) bool { _, err := cat.Lookup(name); return err == nil }
	type captured struct {
		node  string
		tree  *Tree
		canon []byte
		auto  bool
		bad   error
	}
	var all []*captured
	for _, n := range sortedNodes(parts) {
		for i := range parts[n].Trees {
			all = append(all, &captured{node: n, tree: &parts[n].Trees[i]})
		}
	}
	parallel(len(all), runtime.GOMAXPROCS(0), func(i int) {
		c := all[i]
		sp := c.tree.Spec
		sp.Name = c.tree.Name
		spec.Normalize(&sp)
		c.canon, c.bad = spec.ValidateCanonical(&sp, spec.ValidateOptions{KnownBehavior: known})
		c.auto = sp.Node == "" || sp.Node == "auto"
	})
	inSnapshot := map[string]bool{}
	for _, c := range all {
		n, t := c.node, c.tree
		inSnapshot[t.Name] = true
		if c.bad != nil {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "tree " + t.Name, Reason: "its spec is refused now: " + c.bad.Error()})
			continue
		}
		cur, err := st.Tree(t.Name)
		if err != nil {
			return nil, nil, err
		}
		act := TreeAction{Tree: t.Name, Node: n}
		auto := c.auto
		switch {
		case cur == nil:
			act.Action = "create"
		case cur.Node != n:
			act.Action, act.Detail = "move", "from "+cur.Node
			auto = cur.AutoPlaced
		case !bytes.Equal(cur.SpecJson, c.canon):
			act.Action, act.Detail = "update", "back to the spec captured"
			auto = cur.AutoPlaced
		default:
			act.Action = "keep"
		}
		rep.Trees = append(rep.Trees, act)
		if act.Action == "keep" {
			continue
		}
		put := &pb.TreeRecord{Name: t.Name, Node: n, SpecJson: c.canon, AutoPlaced: auto}
		if act.Action == "create" || act.Action == "move" {
			// Started afresh on n: its workers can start holding their
			// states.
			if put.Restore = restoreOf(parts[n], t.Name, facts[n].instances, snapshotID, until); put.Restore != nil {
				carried[n+"|"+t.Name] = true
			}
		}
		cmds = append(cmds, treeCmdT{tree: t.Name, put: put})
	}
	for _, n := range sortedNodes(parts) {
		_, committed, err := st.Trees(nil, n)
		if err != nil {
			return nil, nil, err
		}
		for _, rec := range committed {
			if !inSnapshot[rec.Name] {
				rep.Trees = append(rep.Trees, TreeAction{Tree: rec.Name, Node: n, Action: "delete", Detail: "not in the snapshot"})
				cmds = append(cmds, treeCmdT{tree: rec.Name})
			}
		}
	}
	return cmds, carried, nil
}

// Bounds of the states one tree's record carries (TreeRecord.restore), as
// those of one import_states: a tree over either carries none, and its
// states are imported by the restore's plans.
const (
	maxCarriedStates     = plan.MaxImportStates
	maxCarriedStateBytes = plan.MaxImportStatesBytes
)

// carriesState reports whether a captured process's state goes in its
// tree's record, when the tree is created or moved: a worker of the
// tree's spec (not a simple_one_for_one instance, which the first stage
// starts again) with a state a plan could import too.
func carriesState(p Process, instances map[string]bool) bool {
	return p.Tree != "" && p.ChildID != "" && !p.Supervisor && !isInstance(instances, p) && len(p.State) > 0 && unimportable(p.State) == ""
}

// restoreOf is the restore a tree's record carries: its workers' captured
// states, by path, until until (nil when it has none, or more than the
// bounds).
func restoreOf(part *Part, tree string, instances map[string]bool, snapshotID string, until int64) *pb.TreeRestore {
	rs := &pb.TreeRestore{SnapshotId: snapshotID, UntilUnixNano: until}
	size := 0
	for _, p := range part.Processes {
		if p.Tree != tree || !carriesState(p, instances) {
			continue
		}
		size += len(p.State)
		if len(rs.States) == maxCarriedStates || size > maxCarriedStateBytes {
			return nil
		}
		rs.States = append(rs.States, &pb.RestoredState{Path: p.ChildID, Behavior: p.Behavior, State: p.State})
	}
	if len(rs.States) == 0 {
		return nil
	}
	return rs
}

// commitTrees commits the desired-state changes, up to commitParallel at
// once (each names another tree, so their order does not matter; Raft
// commits the concurrent ones together); the first error is returned,
// naming its tree.
func (l *Layer) commitTrees(ctx context.Context, cmds []treeCmdT) error {
	errs := make([]error, len(cmds))
	parallel(len(cmds), commitParallel, func(i int) {
		c := cmds[i]
		var err error
		if c.put != nil {
			_, err = l.sup.PutTree(ctx, c.put, nil)
		} else {
			_, err = l.sup.RemoveTree(ctx, c.tree)
		}
		if err != nil {
			errs[i] = fmt.Errorf("committing the desired state of %s: %w", c.tree, err)
		}
	})
	return errors.Join(errs...)
}

// commitParallel bounds the desired-state commands a restore has in
// flight, and the trees it waits for at once.
const commitParallel = 8

// waitForTrees waits until the node of every restored tree runs it at the
// committed spec, the trees side by side (up to commitParallel); a tree
// that does not come up within RestoreTimeout, or before ctx ends, is
// reported. It returns the trees of carried ("node|tree") whose start
// brought their states back (reporting each state it did not); the others
// (a node of an earlier version, which starts the tree without them) have
// theirs imported by the restore's plans.
func (l *Layer) waitForTrees(ctx context.Context, rep *RestoreReport, snapshotID string, carried map[string]bool) map[string]bool {
	timeout := l.clock.NewTimer(l.cfg.RestoreTimeout)
	defer timeout.Stop()
	// One channel closed when the timer fires, for every waiter.
	expiredCh := make(chan time.Time)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-timeout.C():
			close(expiredCh)
		case <-wctx.Done():
		}
	}()
	whys := make([]string, len(rep.Trees))
	outcomes := make([]*pb.TreeRestoreOutcome, len(rep.Trees))
	parallel(len(rep.Trees), commitParallel, func(i int) {
		a := rep.Trees[i]
		if a.Action == "delete" {
			return
		}
		expired := false
		select {
		case <-expiredCh:
			expired = true
		default:
		}
		whys[i], outcomes[i] = l.waitForTree(ctx, a, expiredCh, &expired)
	})
	borne := map[string]bool{}
	for i, a := range rep.Trees {
		if whys[i] != "" {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: a.Node, Subject: "tree " + a.Tree,
				Reason: "its node did not run it within " + l.cfg.RestoreTimeout.String() + ": " + whys[i]})
			continue
		}
		o := outcomes[i]
		if !carried[a.Node+"|"+a.Tree] || o == nil || o.SnapshotId != snapshotID {
			continue
		}
		borne[a.Node+"|"+a.Tree] = true
		for _, f := range o.Failures {
			path, why, _ := strings.Cut(f, ": ")
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: a.Node, Subject: "state of " + a.Tree + "/" + path,
				Reason: "the tree started without it: " + why})
		}
	}
	return borne
}

// waitForTree waits until a's node runs a's tree at its committed spec
// (""), looking again at every event the node reports about the tree, or
// until the restore's time is up or ctx ends (why it does not). expired
// records that timeout fired (it is closed then).
func (l *Layer) waitForTree(ctx context.Context, a TreeAction, timeout <-chan time.Time, expired *bool) (string, *pb.TreeRestoreOutcome) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	go func() {
		// A stream that ends (the node unreachable for a moment) is
		// followed again after a backoff; each end is a reason to look.
		_ = poll.Until(wctx, l.clock, watchBackoff, func() (bool, error) {
			_ = l.sup.WatchTree(wctx, a.Node, a.Tree, notify)
			notify()
			return wctx.Err() != nil, nil
		})
	}()
	for {
		why, outcome := l.treeNotRunning(ctx, a)
		if why == "" || *expired || ctx.Err() != nil {
			return why, outcome
		}
		select {
		case <-changed:
		case <-timeout:
			*expired = true
		case <-ctx.Done():
		}
	}
}

// watchBackoff spaces the attempts to follow a node's events again: 5 ms,
// doubling to 160 ms (the pace at which the tree was polled before).
var watchBackoff = poll.Doubling(5*time.Millisecond, 160*time.Millisecond)

// treeNotRunning says why a's node does not run a's tree at the committed
// spec ("": it does, and then what its start brought back of the states
// its record carried, if it took them).
func (l *Layer) treeNotRunning(ctx context.Context, a TreeAction) (string, *pb.TreeRestoreOutcome) {
	rec, _ := l.node.State().Tree(a.Tree)
	if rec == nil {
		return "not committed", nil
	}
	v, err := l.sup.TreeView(ctx, a.Node, a.Tree)
	if err != nil {
		return err.Error(), nil
	}
	if v.Status != "running" || v.AppliedIndex != rec.ModifyIndex {
		return fmt.Sprintf("%s at spec index %d, want %d", v.Status, v.AppliedIndex, rec.ModifyIndex), nil
	}
	return "", v.Restore
}

// stageOne is what the first restore stage starts.
type stageOne struct {
	// instances maps each start_child of a simple_one_for_one instance
	// (its operation id) to the instance's captured pid.
	instances map[string]string
	// spawned maps each spawn of an unsupervised process (its operation
	// id) to the process's captured pid.
	spawned map[string]string
	// restarted holds the slots ("node|tree/path") the stage starts again.
	restarted map[string]bool
	// skip holds the captured pids already reported, or left to their
	// tree (a tree that could not be restored).
	skip map[string]bool
	// fresh holds, in a dry run, the trees the restore creates, updates
	// or moves: once committed they start afresh, every child running.
	fresh map[string]bool
	// lives are the nodes' live processes the stage was planned against:
	// still those of the second stage when the first one started nothing.
	lives map[string]liveRead
}

// liveOf indexes a node's live processes by pid and by slot.
type liveOf struct {
	byPID  map[string]*pb.ProcessInfo
	bySlot map[string]*pb.ProcessInfo
}

// lives reads the live processes of every node of parts, the nodes in
// parallel (each answer is the whole runtime of its node), but for the
// nodes whose part needs none read (livesNeeded, of the borne trees):
// those get an empty view.
func (l *Layer) lives(ctx context.Context, parts map[string]*Part, facts map[string]*partFacts, borne map[string]bool) map[string]liveRead {
	nodes := sortedNodes(parts)
	out := make([]liveRead, len(nodes))
	parallel(len(nodes), 0, func(i int) {
		if !livesNeeded(nodes[i], parts[nodes[i]], facts[nodes[i]], borne) {
			out[i].lv = &liveOf{byPID: map[string]*pb.ProcessInfo{}, bySlot: map[string]*pb.ProcessInfo{}}
			return
		}
		out[i].lv, out[i].err = l.live(ctx, nodes[i])
	})
	m := make(map[string]liveRead, len(nodes))
	for i, n := range nodes {
		m[n] = out[i]
	}
	return m
}

// livesNeeded reports whether the restore's stages must read node n's
// runtime: not when every tree of its part is borne (started afresh with
// its states, every static child running) and each of its processes is a
// worker or supervisor of those trees with nothing more to bring back (no
// name its spec does not register, no queued message, not an instance).
func livesNeeded(n string, part *Part, pf *partFacts, borne map[string]bool) bool {
	for _, t := range part.Trees {
		if !borne[n+"|"+t.Name] {
			return true
		}
	}
	for _, p := range part.Processes {
		if p.Tree == "" || !borne[n+"|"+p.Tree] || isInstance(pf.instances, p) || len(p.Queue) > 0 ||
			(p.RegisteredName != "" && pf.specName[p.Tree+"/"+p.ChildID] != p.RegisteredName) {
			return true
		}
	}
	return false
}

// liveRead is one node's live processes, or why they could not be read.
type liveRead struct {
	lv  *liveOf
	err error
}

func (l *Layer) live(ctx context.Context, n string) (*liveOf, error) {
	procs, err := l.sup.LiveProcesses(ctx, n)
	if err != nil {
		return nil, err
	}
	lv := &liveOf{byPID: map[string]*pb.ProcessInfo{}, bySlot: map[string]*pb.ProcessInfo{}}
	for _, p := range procs {
		lv.byPID[p.Pid] = p
		if p.Tree != "" && p.ChildId != "" {
			lv.bySlot[p.Tree+"/"+p.ChildId] = p
		}
	}
	return lv, nil
}

// startOps compares each restored node's runtime with its part and returns
// the first stage's operations: restart_child of a missing static child,
// start_child of a temporary one (its spec is gone) and of each
// simple_one_for_one instance that no longer runs, with its captured args.
// What cannot be started goes to rep.NotRestored.
func (l *Layer) startOps(ctx context.Context, rep *RestoreReport, parts map[string]*Part, facts map[string]*partFacts, borne map[string]bool) ([]plan.Operation, *stageOne) {
	s1 := &stageOne{instances: map[string]string{}, spawned: map[string]string{}, restarted: map[string]bool{}, skip: map[string]bool{}, fresh: map[string]bool{}}
	cat := l.rt.Catalog()
	if rep.DryRun {
		for _, a := range rep.Trees {
			if a.Action != "keep" && a.Action != "delete" {
				s1.fresh[a.Tree] = true
			}
		}
	}
	failedTrees := map[string]bool{}
	for _, nr := range rep.NotRestored {
		if strings.HasPrefix(nr.Subject, "tree ") {
			failedTrees[strings.TrimPrefix(nr.Subject, "tree ")] = true
		}
	}
	var ops []plan.Operation
	seq := 0
	newID := func(kind string) string { seq++; return fmt.Sprintf("%s-%d", kind, seq) }
	if rep.DryRun {
		borne = nil // nothing started: every runtime is read
	}
	s1.lives = l.lives(ctx, parts, facts, borne)
	for _, n := range sortedNodes(parts) {
		part := parts[n]
		instances := facts[n].instances
		lv, err := s1.lives[n].lv, s1.lives[n].err
		if err != nil {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "processes", Reason: "the node's runtime could not be read: " + err.Error()})
			for _, p := range part.Processes {
				s1.skip[p.PID] = true
			}
			continue
		}
		temporary := map[string]spec.ChildSpec{}
		for _, t := range part.Trees {
			collectTemporary(t.Name, "", t.Spec.Children, temporary)
			for _, c := range t.Children {
				switch {
				case c.PID == "":
				case failedTrees[t.Name]:
					s1.skip[c.PID] = true
				case !c.Dynamic:
				case lv.byPID[c.PID] != nil && lv.byPID[c.PID].Tree == t.Name:
					// Still running since the capture.
				case s1.fresh[t.Name]:
					// A dry run: the tree starts afresh, without instances.
					id := newID("instance")
					parent, _ := splitPath(c.Path)
					ops = append(ops, instanceStart(id, n, t.Name, parent, c.Args))
					s1.instances[id] = c.PID
				case part.Version < 2:
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "process " + c.PID + " in " + t.Name + "/" + c.Path,
						Reason: "an instance of a simple_one_for_one supervisor captured in part format 1, which did not record instance args: not started again"})
					s1.skip[c.PID] = true
				default:
					id := newID("instance")
					parent, _ := splitPath(c.Path)
					ops = append(ops, instanceStart(id, n, t.Name, parent, c.Args))
					s1.instances[id] = c.PID
				}
			}
		}
		for _, p := range part.Processes {
			if p.Tree == "" || p.ChildID == "" || failedTrees[p.Tree] || s1.skip[p.PID] || isInstance(instances, p) {
				continue
			}
			slot := p.Tree + "/" + p.ChildID
			if lv.bySlot[slot] != nil || s1.fresh[p.Tree] || borne[n+"|"+p.Tree] {
				continue // running, or its tree has just started it
			}
			parent, leaf := splitPath(p.ChildID)
			s1.restarted[n+"|"+slot] = true
			if cs, ok := temporary[slot]; ok {
				// A temporary child that exited has no spec left in its
				// supervisor (OTP deletes it): start it again from the
				// captured spec.
				ops = append(ops, plan.Operation{ID: newID("start"), Type: plan.StartChild, Node: n,
					Target: plan.Target{Supervisor: p.Tree, ChildID: parent}, Params: plan.Params{Child: &cs}})
			} else {
				ops = append(ops, plan.Operation{ID: newID("restart"), Type: plan.RestartChild, Node: n,
					Target: plan.Target{Supervisor: p.Tree, ChildID: parent}, Params: plan.Params{ChildID: leaf}})
			}
		}
		ops = append(ops, spawnOps(rep, n, part, lv, cat, s1, newID)...)
	}
	return ops, s1
}

// spawnOps returns the spawns of node n's unsupervised processes that no
// longer run: each of a catalog behavior with its captured args, state
// and name. What cannot be spawned again (a Go implementation outside the
// catalog, a name another process holds now), and what a spawn does not
// bring back, goes to rep.NotRestored; the processes not spawned are
// marked in s1.skip.
func spawnOps(rep *RestoreReport, n string, part *Part, lv *liveOf, cat *actor.Catalog, s1 *stageOne, newID func(string) string) []plan.Operation {
	held := map[string]string{}
	for pid, p := range lv.byPID {
		if p.RegisteredName != "" {
			held[p.RegisteredName] = pid
		}
	}
	var ops []plan.Operation
	for _, p := range part.Processes {
		if p.Tree != "" || lv.byPID[p.PID] != nil {
			continue // supervised, or still running since the capture
		}
		subject := "process " + p.PID + " (" + p.Behavior + ")"
		notRestored := func(subject, reason string) {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: subject, Reason: reason})
		}
		if _, err := cat.Lookup(p.Behavior); err != nil {
			notRestored(subject, fmt.Sprintf("it was not supervised and its behavior %q is not in the catalog (a Go implementation spawned directly): "+
				"nothing can start it again, nor bring back its state, name or queued messages", p.Behavior))
			s1.skip[p.PID] = true
			continue
		}
		if holder := held[p.RegisteredName]; p.RegisteredName != "" && holder != "" {
			notRestored(subject, fmt.Sprintf("it was not supervised and its name %q is registered to %s now: restore does not take a name from a live process, so it is not spawned again", p.RegisteredName, holder))
			s1.skip[p.PID] = true
			continue
		}
		op := plan.Operation{ID: newID("spawn"), Type: plan.Spawn, Node: n,
			Params: plan.Params{Behavior: p.Behavior, Args: p.Args, Name: p.RegisteredName}}
		switch why := unimportable(p.State); {
		case len(p.State) > 0 && why != "":
			notRestored("state of "+subject, why+"; it is spawned again with the state its init gives")
		case len(p.State) > 0:
			op.Params.State = string(p.State)
		case p.StateError != "":
			notRestored("state of "+subject, "it could not be read at the capture ("+p.StateError+"); it is spawned again with the state its init gives")
		}
		if part.Version < 3 {
			notRestored("spawn args of "+subject, fmt.Sprintf("part format %d did not record the args of unsupervised processes: it is spawned again without args", max(part.Version, 1)))
		}
		if len(p.Links)+len(p.Monitors) > 0 {
			notRestored("links and monitors of "+subject, fmt.Sprintf("a spawn starts a process that links to and monitors nothing: its %d links and %d monitors at the capture are not made again", len(p.Links), len(p.Monitors)))
		}
		ops = append(ops, op)
		s1.spawned[op.ID] = p.PID
	}
	return ops
}

// unimportable says why a captured state cannot be carried by a plan
// operation ("": it can).
func unimportable(st []byte) string {
	switch {
	case len(st) > plan.MaxStateBytes:
		return fmt.Sprintf("%d bytes, over the %d a plan operation carries", len(st), plan.MaxStateBytes)
	case !utf8.Valid(st):
		return "not valid UTF-8: a plan carries a state as text"
	}
	return ""
}

func instanceStart(id, node, tree, sup string, args map[string]string) plan.Operation {
	if args == nil {
		args = map[string]string{}
	}
	return plan.Operation{ID: id, Type: plan.StartChild, Node: node, Target: plan.Target{Supervisor: tree, ChildID: sup},
		Params: plan.Params{Args: args}}
}

// partFacts is what a restore derives once from each node's part: its
// simple_one_for_one instances (instancePIDs) and the name each static
// child's spec registers, by "tree/child path" (collectNames).
type partFacts struct {
	instances map[string]bool
	specName  map[string]string
}

func factsOf(parts map[string]*Part) map[string]*partFacts {
	out := make(map[string]*partFacts, len(parts))
	for n, part := range parts {
		pf := &partFacts{instances: instancePIDs(part), specName: map[string]string{}}
		for _, t := range part.Trees {
			collectNames(t.Name, "", t.Spec.Children, pf.specName)
		}
		out[n] = pf
	}
	return out
}

// instancePIDs holds the pids of part's simple_one_for_one instances
// (each process of part is one when its pid is there and its tree is the
// instance's).
func instancePIDs(part *Part) map[string]bool {
	out := map[string]bool{}
	for _, t := range part.Trees {
		for _, c := range t.Children {
			if c.Dynamic && c.PID != "" {
				out[t.Name+"|"+c.PID] = true
			}
		}
	}
	return out
}

// isInstance reports whether p was an instance by instancePIDs.
func isInstance(instances map[string]bool, p Process) bool {
	return instances[p.Tree+"|"+p.PID]
}

// fillOps returns the second stage's operations, against the processes
// running once the first stage has run (started maps a captured
// instance's pid to the pid of the instance started again): the saved
// states of each tree's processes imported by import_states operations
// (one per tree and node, cut at importChunkEntries entries or
// importChunkBytes of states, each with its entries' captured behaviors,
// which the operation checks before it imports anything), register_name
// of each name the spec does not register, and the queued messages of
// each process that restore brought back anew, re-sent in their captured
// order after its state and name (each depending on the operation
// before: the import of its tree's states first; the executor runs a
// step at most once, so none is delivered twice). The first planned
// operations target live processes; those after them (a dry run's,
// against instances not started yet) are listed only. What cannot be
// brought back goes to rep.NotRestored. fresh says the first stage
// started nothing, so that s1's view of the runtimes still holds. The
// states of a borne tree's workers ("node|tree") are not imported: the
// tree started with them (waitForTrees).
func (l *Layer) fillOps(ctx context.Context, rep *RestoreReport, parts map[string]*Part, facts map[string]*partFacts, s1 *stageOne, started map[string]string, fresh bool, borne map[string]bool) (ops []plan.Operation, planned int) {
	var later []plan.Operation
	seq := 0
	newID := func(kind string) string { seq++; return fmt.Sprintf("%s-%d", kind, seq) }
	startedOp := map[string]bool{}
	for _, pid := range s1.instances {
		startedOp[pid] = true
	}
	spawnedOp := map[string]bool{}
	for _, pid := range s1.spawned {
		spawnedOp[pid] = true
	}
	lives := s1.lives
	if !fresh || lives == nil {
		lives = l.lives(ctx, parts, facts, nil)
	}
	for _, n := range sortedNodes(parts) {
		part := parts[n]
		lv, err := lives[n].lv, lives[n].err
		if err != nil {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "processes", Reason: "the node's runtime could not be read after the first stage: " + err.Error()})
			continue
		}
		instances, specName := facts[n].instances, facts[n].specName
		fg := &fillGroups{node: n, newID: newID, current: map[string]*fillGroup{}}
		for _, p := range part.Processes {
			subject := "process " + p.PID + " (" + p.Behavior + ")"
			if p.Tree != "" {
				subject = "process " + p.PID + " in " + p.Tree + "/" + p.ChildID
			}
			var entry plan.StateImport
			var cur *pb.ProcessInfo
			// spawned: the first stage spawned it again, with its state
			// and name.
			listOnly, spawned := false, false
			target := plan.Target{}
			switch {
			case s1.skip[p.PID]:
				continue
			case p.Tree == "":
				switch {
				case lv.byPID[p.PID] != nil:
					continue // still running since the capture
				case started[p.PID] != "" && lv.byPID[started[p.PID]] != nil:
					target, cur, spawned = plan.Target{PID: started[p.PID]}, lv.byPID[started[p.PID]], true
				case rep.DryRun && spawnedOp[p.PID]:
					// Listed only: the captured pid stands for the process
					// its spawn starts.
					target, listOnly, spawned = plan.Target{PID: p.PID}, true, true
				case spawnedOp[p.PID] && started[p.PID] != "":
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: subject,
						Reason: "it was spawned again as " + started[p.PID] + ", which exited before its queued messages could be sent"})
					continue
				default:
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: subject,
						Reason: "an unsupervised process that the restore plan did not spawn again"})
					continue
				}
			case p.ChildID == "":
				continue // a root supervisor: the tree brings it back
			case isInstance(instances, p):
				switch {
				case lv.byPID[p.PID] != nil:
					target, cur = plan.Target{PID: p.PID}, lv.byPID[p.PID]
				case started[p.PID] != "" && lv.byPID[started[p.PID]] != nil:
					target, cur = plan.Target{PID: started[p.PID]}, lv.byPID[started[p.PID]]
				case rep.DryRun && startedOp[p.PID]:
					target, listOnly = plan.Target{Supervisor: p.Tree, ChildID: p.ChildID}, true
				default:
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: subject,
						Reason: "an instance of a simple_one_for_one supervisor that the restore plan did not start again"})
					continue
				}
				if target.PID != "" {
					entry = plan.StateImport{PID: target.PID}
				} else {
					entry = plan.StateImport{ChildID: p.ChildID}
				}
			default:
				slot := p.Tree + "/" + p.ChildID
				cur = lv.bySlot[slot]
				if cur == nil && !(rep.DryRun && (s1.fresh[p.Tree] || s1.restarted[n+"|"+slot])) && !borne[n+"|"+p.Tree] {
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: subject,
						Reason: "its slot runs no process after the restore plan that was to start it"})
					continue
				}
				target = plan.Target{Supervisor: p.Tree, ChildID: p.ChildID}
				entry = plan.StateImport{ChildID: p.ChildID}
			}
			var chain []plan.Operation
			var imp *fillGroup
			if borne[n+"|"+p.Tree] && carriesState(p, instances) {
				// Its tree started with it (waitForTrees reported any
				// not imported).
			} else if why := unimportable(p.State); why != "" && !spawned && !p.Supervisor {
				rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "state of " + subject, Reason: why})
			} else if len(p.State) > 0 && !p.Supervisor && !spawned {
				if cur != nil && cur.Behavior != p.Behavior {
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "state of " + subject,
						Reason: fmt.Sprintf("its process %s runs behavior %q now, not %q as captured: a state is imported only into the behavior that exported it", cur.Pid, cur.Behavior, p.Behavior)})
				} else {
					entry.Behavior, entry.State = p.Behavior, string(p.State)
					imp = fg.importFor(p.Tree, listOnly, entry)
				}
			}
			if p.RegisteredName != "" && !spawned && specName[p.Tree+"/"+p.ChildID] != p.RegisteredName && cur.GetRegisteredName() != p.RegisteredName {
				chain = append(chain, plan.Operation{ID: newID("name"), Type: plan.RegisterName, Node: n, Target: target,
					Params: plan.Params{Name: p.RegisteredName}})
			}
			if len(p.Queue) > 0 && cur != nil && cur.Pid == p.PID {
				rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: fmt.Sprintf("%d queued messages of %s", len(p.Queue), subject),
					Reason: "the process still runs as captured: it has handled them or still holds them, so they are not sent again"})
			} else {
				for i, m := range p.Queue {
					why := unsendable(m)
					if why != "" {
						rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: fmt.Sprintf("queued message %d of %s", i+1, subject), Reason: why})
						continue
					}
					op := plan.Operation{ID: newID("message"), Type: plan.SendMessage, Node: n, Target: target,
						Params: plan.Params{Message: string(m.Body)}}
					if m.Kind == actor.KindCast.String() {
						op.Params.Kind = "cast"
					}
					chain = append(chain, op)
				}
			}
			if p.QueueOmitted > 0 {
				rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: fmt.Sprintf("%d queued messages of %s", p.QueueOmitted, subject),
					Reason: fmt.Sprintf("beyond the %d messages a snapshot keeps per process: not captured", MaxQueuedPerProcess)})
			}
			fg.add(imp, listOnly, chain)
		}
		for _, g := range fg.groups {
			if g.listOnly {
				later = append(later, g.ops()...)
			} else {
				ops = append(ops, g.ops()...)
			}
		}
	}
	return append(ops, later...), len(ops)
}

// Bounds of one import_states of a restore: well within the operation's
// limits (plan.MaxImportStates, plan.MaxImportStatesBytes), so that a few
// fit in one plan file (plan.MaxPlanBytes).
const (
	importChunkEntries = plan.MaxImportStates
	importChunkBytes   = 384 << 10
)

// fillGroup is one import_states of a tree (nil for what acts on
// processes with no state to import) and the chains of operations that
// follow it: each chain's first operation depends on the import, each
// next one on the one before.
type fillGroup struct {
	imp      *plan.Operation
	bytes    int
	listOnly bool
	chains   []plan.Operation
}

func (g *fillGroup) ops() []plan.Operation {
	if g.imp == nil {
		return g.chains
	}
	return append([]plan.Operation{*g.imp}, g.chains...)
}

// fillGroups builds one node's groups in the order they are first needed.
type fillGroups struct {
	node    string
	newID   func(string) string
	current map[string]*fillGroup
	groups  []*fillGroup
	loose   [2]*fillGroup
}

// importFor adds entry to the current import of tree (a new one when
// there is none yet or it is full: by entries, bytes of states, or the
// operations depending on it, which stay in its plan) and returns its
// group.
func (f *fillGroups) importFor(tree string, listOnly bool, entry plan.StateImport) *fillGroup {
	key := fmt.Sprintf("%s|%v", tree, listOnly)
	g := f.current[key]
	if g == nil || len(g.imp.Params.States) >= importChunkEntries || g.bytes+len(entry.State) > importChunkBytes ||
		1+len(g.chains)+1+MaxQueuedPerProcess > plan.MaxOperations {
		g = &fillGroup{listOnly: listOnly, imp: &plan.Operation{ID: f.newID("states"), Type: plan.ImportStates, Node: f.node,
			Target: plan.Target{Supervisor: tree}}}
		f.current[key] = g
		f.groups = append(f.groups, g)
	}
	g.imp.Params.States = append(g.imp.Params.States, entry)
	g.bytes += len(entry.State)
	return g
}

// add appends a process's chain to imp's group (its first operation
// depending on the import), or, with no import, to the node's loose
// operations.
func (f *fillGroups) add(imp *fillGroup, listOnly bool, chain []plan.Operation) {
	if len(chain) == 0 {
		return
	}
	prev := ""
	g := imp
	if g != nil {
		prev = g.imp.ID
	} else {
		k := 0
		if listOnly {
			k = 1
		}
		if f.loose[k] == nil {
			f.loose[k] = &fillGroup{listOnly: listOnly}
			f.groups = append(f.groups, f.loose[k])
		}
		g = f.loose[k]
	}
	for i := range chain {
		if prev != "" {
			chain[i].DependsOn = []string{prev}
		}
		prev = chain[i].ID
	}
	g.chains = append(g.chains, chain...)
}

// unsendable says why a queued message cannot be sent again ("": it can).
func unsendable(m Message) string {
	switch {
	case m.Kind == actor.KindCall.String():
		return "a call: its caller was waiting for the reply at the capture and is gone"
	case m.Kind != actor.KindInfo.String() && m.Kind != actor.KindCast.String():
		return "a " + m.Kind + " message of the captured runtime (an exit signal or monitor notification), not the restored one's"
	case m.Omitted:
		return fmt.Sprintf("its %d-byte body was not captured (over the %d bytes per message or %d per part a snapshot keeps)", m.Size, MaxQueuedMessageBytes, MaxQueuedBytesPerPart)
	case len(m.Body) == 0:
		return "an empty message: send_message needs a body"
	case len(m.Body) > plan.MaxMessageBytes:
		return fmt.Sprintf("%d bytes, over the %d a send_message carries", len(m.Body), plan.MaxMessageBytes)
	case !utf8.Valid(m.Body):
		return "not valid UTF-8: a plan carries a message as text"
	}
	return ""
}

// collectNames maps each slot whose spec registers a name to the name.
func collectNames(tree, prefix string, children []spec.ChildSpec, out map[string]string) {
	for _, c := range children {
		path := strings.TrimPrefix(prefix+"/"+c.ID, "/")
		if c.Name != "" {
			out[tree+"/"+path] = c.Name
		}
		collectNames(tree, path, c.Children, out)
	}
}

// collectTemporary maps the slot of each temporary child in children
// (recursively) to its spec.
func collectTemporary(tree, prefix string, children []spec.ChildSpec, out map[string]spec.ChildSpec) {
	for _, c := range children {
		path := strings.TrimPrefix(prefix+"/"+c.ID, "/")
		if c.Restart == spec.Temporary {
			out[tree+"/"+path] = c
		}
		collectTemporary(tree, path, c.Children, out)
	}
}

func splitPath(p string) (parent, leaf string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}
