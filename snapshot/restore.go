package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

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
	parts, err := loadParts(st, rec, nodes)
	if err != nil {
		return nil, err
	}
	rep := &RestoreReport{Snapshot: rec.Id, Nodes: nodes, DryRun: req.DryRun, Trees: []TreeAction{}, Operations: []RestoreOp{},
		NotRestored: []NotRestored{}, PlanIDs: []string{}}

	// 1. The desired state: the snapshot's trees on the nodes restored.
	cmds, err := l.treeActions(rep, parts)
	if err != nil {
		return nil, err
	}
	if !req.DryRun {
		for _, c := range cmds {
			var err error
			if c.put != nil {
				_, err = l.sup.PutTree(ctx, c.put, nil)
			} else {
				_, err = l.sup.RemoveTree(ctx, c.tree)
			}
			if err != nil {
				return nil, fmt.Errorf("committing the desired state of %s: %w", c.tree, err)
			}
		}
		l.waitForTrees(ctx, rep, parts)
	}

	// 2. The runtimes: a plan restarts missing children, imports states,
	// registers names.
	ops := l.restoreOps(ctx, rep, parts)
	if len(ops) == 0 {
		return rep, nil
	}
	level := req.SafetyLevel
	if level == "" {
		level = string(plan.Moderate)
	}
	group := "restore-" + strings.TrimPrefix(newID(), "snap-")
	for i, batch := range batches(ops, plan.MaxOperations) {
		body, err := json.Marshal(plan.Plan{SafetyLevel: plan.SafetyLevel(level), Timeout: "10m", Group: group, Operations: batch})
		if err != nil {
			return nil, err
		}
		if req.DryRun {
			if i > 0 {
				break
			}
			res, err := l.coord.DryRunLocal(ctx, body, "restore.json")
			if res != nil {
				d := res.DryRun()
				rep.Plan = &d
			}
			if err != nil && res == nil {
				return nil, err
			}
			continue
		}
		resp, err := l.coord.Submit(ctx, body, "restore.json")
		if err != nil {
			return nil, fmt.Errorf("restore plan %d was refused (%d submitted before it): %w", i+1, len(rep.PlanIDs), err)
		}
		rep.PlanIDs = append(rep.PlanIDs, resp.Id)
	}
	return rep, nil
}

// batches packs operations into plans of at most max operations, keeping
// each operation with those it depends on.
func batches(ops []plan.Operation, max int) [][]plan.Operation {
	var out [][]plan.Operation
	var cur []plan.Operation
	for i := 0; i < len(ops); {
		// A group is an operation and the ones right after it that depend on it.
		j := i + 1
		for j < len(ops) && len(ops[j].DependsOn) > 0 && ops[j].DependsOn[0] == ops[i].ID {
			j++
		}
		if len(cur)+(j-i) > max && len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, ops[i:j]...)
		i = j
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
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
func (l *Layer) treeActions(rep *RestoreReport, parts map[string]*Part) ([]treeCmdT, error) {
	st := l.node.State()
	cat := l.rt.Catalog()
	known := func(name string) bool { _, err := cat.Lookup(name); return err == nil }
	var cmds []treeCmdT
	inSnapshot := map[string]bool{}
	for _, n := range sortedNodes(parts) {
		for _, t := range parts[n].Trees {
			inSnapshot[t.Name] = true
			sp := t.Spec
			sp.Name = t.Name
			spec.Normalize(&sp)
			if err := spec.Validate(&sp, spec.ValidateOptions{KnownBehavior: known}); err != nil {
				rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "tree " + t.Name, Reason: "its spec is refused now: " + err.Error()})
				continue
			}
			canon := spec.CanonicalTree(&sp)
			cur, err := st.Tree(t.Name)
			if err != nil {
				return nil, err
			}
			act := TreeAction{Tree: t.Name, Node: n}
			auto := sp.Node == "" || sp.Node == "auto"
			switch {
			case cur == nil:
				act.Action = "create"
			case cur.Node != n:
				act.Action, act.Detail = "move", "from "+cur.Node
				auto = cur.AutoPlaced
			case !bytes.Equal(cur.SpecJson, canon):
				act.Action, act.Detail = "update", "back to the spec captured"
				auto = cur.AutoPlaced
			default:
				act.Action = "keep"
			}
			rep.Trees = append(rep.Trees, act)
			if act.Action != "keep" {
				cmds = append(cmds, treeCmdT{tree: t.Name, put: &pb.TreeRecord{Name: t.Name, Node: n, SpecJson: canon, AutoPlaced: auto}})
			}
		}
		_, committed, err := st.Trees(nil, n)
		if err != nil {
			return nil, err
		}
		for _, rec := range committed {
			if !inSnapshot[rec.Name] {
				rep.Trees = append(rep.Trees, TreeAction{Tree: rec.Name, Node: n, Action: "delete", Detail: "not in the snapshot"})
				cmds = append(cmds, treeCmdT{tree: rec.Name})
			}
		}
	}
	return cmds, nil
}

// waitForTrees waits until the node of every restored tree runs it at the
// committed spec; a tree that does not come up within RestoreTimeout, or
// before ctx ends, is reported.
func (l *Layer) waitForTrees(ctx context.Context, rep *RestoreReport, parts map[string]*Part) {
	timeout := l.clock.NewTimer(l.cfg.RestoreTimeout)
	defer timeout.Stop()
	expired := false
	for _, a := range rep.Trees {
		if a.Action == "delete" {
			continue
		}
		if why := l.waitForTree(ctx, a, timeout.C(), &expired); why != "" {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: a.Node, Subject: "tree " + a.Tree,
				Reason: "its node did not run it within " + l.cfg.RestoreTimeout.String() + ": " + why})
		}
	}
}

// waitForTree waits until a's node runs a's tree at its committed spec
// (""), looking again at every event the node reports about the tree, or
// until the restore's time is up or ctx ends (why it does not). expired
// records that timeout fired, for the trees after this one.
func (l *Layer) waitForTree(ctx context.Context, a TreeAction, timeout <-chan time.Time, expired *bool) string {
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
		why := l.treeNotRunning(ctx, a)
		if why == "" || *expired || ctx.Err() != nil {
			return why
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
// spec ("": it does).
func (l *Layer) treeNotRunning(ctx context.Context, a TreeAction) string {
	rec, _ := l.node.State().Tree(a.Tree)
	if rec == nil {
		return "not committed"
	}
	v, err := l.sup.TreeView(ctx, a.Node, a.Tree)
	if err != nil {
		return err.Error()
	}
	if v.Status != "running" || v.AppliedIndex != rec.ModifyIndex {
		return fmt.Sprintf("%s at spec index %d, want %d", v.Status, v.AppliedIndex, rec.ModifyIndex)
	}
	return ""
}

// restoreOps compares each restored node's runtime with its part and
// returns the plan operations that bring it back; what cannot be brought
// back goes to rep.NotRestored.
func (l *Layer) restoreOps(ctx context.Context, rep *RestoreReport, parts map[string]*Part) []plan.Operation {
	var ops []plan.Operation
	seq := 0
	newID := func(kind string) string { seq++; return fmt.Sprintf("%s-%d", kind, seq) }
	// In a dry run the trees to create, update or move are not running
	// their captured spec yet; once committed they start afresh, with every
	// child running, so only their states and names need restoring.
	fresh := map[string]bool{}
	if rep.DryRun {
		for _, a := range rep.Trees {
			if a.Action != "keep" && a.Action != "delete" {
				fresh[a.Tree] = true
			}
		}
	}
	failedTrees := map[string]bool{}
	for _, nr := range rep.NotRestored {
		if strings.HasPrefix(nr.Subject, "tree ") {
			failedTrees[strings.TrimPrefix(nr.Subject, "tree ")] = true
		}
	}
	for _, n := range sortedNodes(parts) {
		part := parts[n]
		live, err := l.sup.LiveProcesses(ctx, n)
		if err != nil {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "processes", Reason: "the node's runtime could not be read: " + err.Error()})
			continue
		}
		bySlot := map[string]*pb.ProcessInfo{}
		byPID := map[string]bool{}
		for _, p := range live {
			byPID[p.Pid] = true
			if p.Tree != "" && p.ChildId != "" {
				bySlot[p.Tree+"/"+p.ChildId] = p
			}
		}
		dynamic := map[string]bool{}
		specName := map[string]string{}
		temporary := map[string]spec.ChildSpec{}
		for _, t := range part.Trees {
			for _, c := range t.Children {
				if c.Dynamic && c.PID != "" {
					dynamic[c.PID] = true
				}
			}
			collectNames(t.Name, "", t.Spec.Children, specName)
			collectTemporary(t.Name, "", t.Spec.Children, temporary)
		}
		queued := 0
		for _, p := range part.Processes {
			queued += len(p.Queue)
			switch {
			case p.Tree == "":
				if !byPID[p.PID] {
					rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "process " + p.PID + " (" + p.Behavior + ")",
						Reason: "it was not supervised: nothing can start it again"})
				}
				continue
			case failedTrees[p.Tree]:
				continue
			case dynamic[p.PID]:
				rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: "process " + p.PID + " in " + p.Tree + "/" + p.ChildID,
					Reason: "an instance of a simple_one_for_one supervisor: instances are not recreated"})
				continue
			case p.ChildID == "":
				continue // a root supervisor: the tree brings it back
			}
			slot := p.Tree + "/" + p.ChildID
			target := plan.Target{Supervisor: p.Tree, ChildID: p.ChildID}
			cur, running := bySlot[slot]
			running = running || fresh[p.Tree]
			var deps []string
			if !running {
				parent, leaf := splitPath(p.ChildID)
				if cs, ok := temporary[slot]; ok {
					// A temporary child that exited has no spec left in
					// its supervisor (OTP deletes it): start it again
					// from the captured spec.
					id := newID("start")
					ops = append(ops, plan.Operation{ID: id, Type: plan.StartChild, Node: n,
						Target: plan.Target{Supervisor: p.Tree, ChildID: parent}, Params: plan.Params{Child: &cs}})
					deps = []string{id}
				} else {
					id := newID("restart")
					ops = append(ops, plan.Operation{ID: id, Type: plan.RestartChild, Node: n,
						Target: plan.Target{Supervisor: p.Tree, ChildID: parent}, Params: plan.Params{ChildID: leaf}})
					deps = []string{id}
				}
			}
			if len(p.State) > 0 && !p.Supervisor {
				ops = append(ops, plan.Operation{ID: newID("state"), Type: plan.ReplaceState, Node: n, Target: target,
					Params: plan.Params{State: string(p.State)}, DependsOn: deps})
			}
			if p.RegisteredName != "" && specName[slot] != p.RegisteredName && cur.GetRegisteredName() != p.RegisteredName {
				ops = append(ops, plan.Operation{ID: newID("name"), Type: plan.RegisterName, Node: n, Target: target,
					Params: plan.Params{Name: p.RegisteredName}, DependsOn: deps})
			}
		}
		if queued > 0 {
			rep.NotRestored = append(rep.NotRestored, NotRestored{Node: n, Subject: fmt.Sprintf("%d queued messages", queued),
				Reason: "queued messages are captured for inspection; restore does not send them again"})
		}
	}
	for _, op := range ops {
		rep.Operations = append(rep.Operations, RestoreOp{ID: op.ID, Type: string(op.Type), Target: op.Target.String(), Node: op.Node})
	}
	return ops
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
