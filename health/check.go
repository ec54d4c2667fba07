package health

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
)

// SpecRejecter is an optional ability of the AppliedIndexer: it tells
// whether the runtime refused the spec committed for a tree at index (and
// why), the tree then running the spec of its applied index.
type SpecRejecter interface {
	SpecRejected(tree string) (index uint64, reason string, ok bool)
}

// nodeCheck is one pass of the node's checks.
type nodeCheck struct {
	node       string
	checked    int
	stateIndex uint64
	violations []*pb.ConsistencyViolation
	// planned: the children plans started in place on this node, by
	// supervisor pid and child id (see plannedChildren).
	planned map[string]map[string]bool
}

func (c *nodeCheck) add(kind, subject, format string, args ...any) {
	c.violations = append(c.violations, &pb.ConsistencyViolation{
		Node: c.node, Kind: kind, Subject: subject, Detail: fmt.Sprintf(format, args...),
	})
}

// check runs every check of this node once: the runtime's invariants
// (waiting, until ctx ends, for busy supervisors), then the runtime against
// the desired state of st. ws, when not nil, watches the desired state read.
func (l *Layer) check(ctx context.Context, st *state.Store, ws memdb.WatchSet) *nodeCheck {
	rt := l.rt
	c := &nodeCheck{node: l.node.Name()}

	rep := rt.Validate(ctx)
	c.checked = rep.Checked
	for _, v := range rep.Violations {
		c.add(string(v.Kind), v.Subject, "%s", v.Detail)
	}
	for _, pid := range rep.Unsettled {
		c.add(KindUnsettled, pid.String(), "still busy when the settle time ended; its children were not checked")
	}

	idx, recs, err := st.Trees(ws, c.node)
	if err != nil {
		c.add(KindSpecInvalid, "node:"+c.node, "reading the desired state: %v", err)
		return c
	}
	c.stateIndex = idx
	if c.planned, err = plannedChildren(st, ws, c.node); err != nil {
		c.add(KindSpecInvalid, "node:"+c.node, "reading the plans: %v", err)
	}
	running := map[string]actor.TreeInfo{}
	for _, ti := range rt.Trees() {
		running[ti.Name] = ti
	}
	desired := map[string]bool{}
	for _, rec := range recs {
		desired[rec.Name] = true
		l.checkTree(c, rec, running)
	}
	_, sbs, err := st.Sandboxes(ws, c.node)
	if err != nil {
		c.add(KindSpecInvalid, "node:"+c.node, "reading the desired state: %v", err)
		return c
	}
	for _, sb := range sbs {
		desired[sb.Name] = true
		checkSandbox(c, sb, running)
	}

	// Trees here that the desired state does not place here.
	var extra []string
	for name := range running {
		if !desired[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		rec, err := st.Tree(name)
		switch {
		case err != nil:
			c.add(KindTreeUnexpected, "tree:"+name, "runs here; reading its desired state: %v", err)
		case rec == nil:
			c.add(KindTreeUnexpected, "tree:"+name, "runs here (root %s) but is not in the desired state", running[name].Root)
		default:
			c.add(KindTreeUnexpected, "tree:"+name, "runs here (root %s) but the desired state places it on %s", running[name].Root, rec.Node)
		}
	}
	sortViolations(c.violations)
	return c
}

// checkSandbox compares one sandbox placed on this node with the runtime:
// it runs, unless its creation is still pending or its policy terminated
// it (which stays down until destroyed).
func checkSandbox(c *nodeCheck, sb *pb.SandboxRecord, running map[string]actor.TreeInfo) {
	if sb.Status == state.SandboxTerminated && sb.StatusIndex == sb.PlacedIndex {
		return
	}
	subj := "sandbox:" + sb.Name
	ti, ok := running[sb.Name]
	switch {
	case !ok && sb.Status != state.SandboxPending:
		c.add(KindTreeMissing, subj, "placed on this node at index %d (%s), not running", sb.PlacedIndex, sb.Status)
	case ok && ti.Status != actor.TreeRunning:
		c.add(KindTreeFailed, subj, "placed on this node at index %d, %s: %s", sb.PlacedIndex, ti.Status, ti.Reason)
	}
}

// checkTree compares one tree committed for this node with the runtime.
func (l *Layer) checkTree(c *nodeCheck, rec *pb.TreeRecord, running map[string]actor.TreeInfo) {
	subj := "tree:" + rec.Name
	t, err := state.DecodeTree(rec)
	if err != nil {
		c.add(KindSpecInvalid, subj, "committed at index %d: %v", rec.ModifyIndex, err)
		return
	}
	ti, ok := running[rec.Name]
	switch {
	case !ok:
		c.add(KindTreeMissing, subj, "committed for this node at index %d, not running", rec.ModifyIndex)
		return
	case ti.Status != actor.TreeRunning:
		c.add(KindTreeFailed, subj, "committed for this node at index %d, %s: %s", rec.ModifyIndex, ti.Status, ti.Reason)
		return
	}
	if applied := l.applied.AppliedIndex(rec.Name); applied != rec.ModifyIndex {
		rj, _ := l.applied.(SpecRejecter)
		var idx uint64
		var why string
		var refused bool
		if rj != nil {
			idx, why, refused = rj.SpecRejected(rec.Name)
			refused = refused && idx == rec.ModifyIndex
		}
		switch {
		case applied == 0:
			c.add(KindTreeSpecStale, subj, "runs a spec the reconciler did not apply; the committed spec is at index %d", rec.ModifyIndex)
		case refused:
			// A refused update is undone whole: the tree runs the spec
			// of the applied index, which is what it is checked against.
			c.add(KindTreeSpecStale, subj, "runs the spec of index %d; the committed spec at index %d was refused: %s", applied, rec.ModifyIndex, why)
			l.checkSupervisor(c, rec.Name, "", ti.Spec.SupervisorSpec)
		default:
			c.add(KindTreeSpecStale, subj, "runs the spec of index %d; the committed spec is at index %d", applied, rec.ModifyIndex)
		}
		return
	}
	l.checkSupervisor(c, rec.Name, "", t.SupervisorSpec)
}

// checkSupervisor compares a live supervisor, and its nested supervisors,
// with the committed spec: strategy, intensity and children.
func (l *Layer) checkSupervisor(c *nodeCheck, tree, path string, want spec.SupervisorSpec) {
	rt := l.rt
	subj := "tree:" + tree
	if path != "" {
		subj += "/" + path
	}
	pid, err := rt.Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		// Not running: the parent's children check (actor.Validate)
		// says whether it should be.
		return
	}
	pol, err := rt.SupervisorPolicy(pid)
	if err != nil {
		return // exited meanwhile
	}
	if pol.Strategy != want.Strategy || pol.MaxRestarts != want.MaxRestarts || pol.MaxSeconds != want.MaxSeconds {
		c.add(KindStrategyMismatch, subj, "supervisor %s runs %s, %s; the committed spec says %s, %s",
			pid, pol.Strategy, intensity(pol.MaxRestarts, pol.MaxSeconds), want.Strategy, intensity(want.MaxRestarts, want.MaxSeconds))
	}
	if want.Strategy != spec.SimpleOneForOne && pol.Strategy != spec.SimpleOneForOne {
		kids, err := rt.WhichChildren(pid)
		if err == nil {
			live := map[string]bool{}
			for _, k := range kids {
				if !k.Dynamic {
					live[k.ID] = true
				}
			}
			specIDs := map[string]bool{}
			var missing, added []string
			for _, cs := range want.Children {
				specIDs[cs.ID] = true
				// A temporary child that exited has no entry any more
				// (OTP deletes its spec): absent is what it should be.
				if !live[cs.ID] && cs.Restart != spec.Temporary {
					missing = append(missing, cs.ID)
				}
			}
			for _, k := range kids {
				if !k.Dynamic && !specIDs[k.ID] && !c.planned[pid.String()][k.ID] {
					added = append(added, k.ID)
				}
			}
			if len(missing) > 0 || len(added) > 0 {
				var parts []string
				if len(added) > 0 {
					parts = append(parts, "has children not in the committed spec: "+strings.Join(added, ", "))
				}
				if len(missing) > 0 {
					parts = append(parts, "lacks children of the committed spec: "+strings.Join(missing, ", "))
				}
				c.add(KindChildrenMismatch, subj, "supervisor %s %s", pid, strings.Join(parts, "; "))
			}
		}
	}
	for _, cs := range want.Children {
		if cs.Type == spec.Supervisor {
			l.checkSupervisor(c, tree, joinPath(path, cs.ID), cs.SupervisorSpec)
		}
	}
}

// plannedChildren lists the children that plans started on node with a
// start_child of a child spec, by the pid of the supervisor they were
// started under and child id: operations that ran and succeeded, in any
// plan still kept, whose phase was not rolled back (a rollback stage lists
// the operations it undoes).
//
// A plan changes children in place and commits no tree spec: the
// committed desired state of such a child is the plan's record, so the
// children check allows it beside the spec's children. It lasts as the
// runtime keeps it: under the same supervisor process (a restart of the
// supervisor starts its spec's children only), until the next applied
// spec moves the supervisor back to its spec. A child an operator starts
// with StartChild has no such record and is still a children_mismatch.
func plannedChildren(st *state.Store, ws memdb.WatchSet, node string) (map[string]map[string]bool, error) {
	_, recs, err := st.Plans(ws)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	for _, rec := range recs {
		undone := map[string]bool{}
		type started struct{ op, sup string }
		var starts []started
		for _, stg := range rec.Stages {
			if stg.Kind == state.StageKindRollback {
				for _, op := range stg.Operations {
					undone[op] = true
				}
				continue
			}
			for _, step := range stg.Steps {
				if step.Node != node {
					continue
				}
				for _, o := range step.Operations {
					if o.Type == string(plan.StartChild) && o.Ran && o.Ok && o.Pid != "" {
						starts = append(starts, started{o.Op, o.Pid})
					}
				}
			}
		}
		if len(starts) == 0 {
			continue
		}
		_, sp, err := st.Plan(nil, rec.Id)
		if err != nil {
			return nil, err
		}
		if sp == nil {
			continue
		}
		var p plan.Plan
		if err := json.Unmarshal(sp.PlanJson, &p); err != nil {
			return nil, fmt.Errorf("plan %s: %w", rec.Id, err)
		}
		ids := map[string]string{}
		for _, op := range p.Operations {
			if op.Type == plan.StartChild && op.Params.Child != nil {
				ids[op.ID] = op.Params.Child.ID
			}
		}
		for _, s := range starts {
			id, ok := ids[s.op]
			if !ok || undone[s.op] {
				continue
			}
			if out[s.sup] == nil {
				out[s.sup] = map[string]bool{}
			}
			out[s.sup][id] = true
		}
	}
	return out, nil
}

func joinPath(parent, id string) string {
	if parent == "" {
		return id
	}
	return parent + "/" + id
}

// sortViolations orders violations by node, kind, subject and detail, so
// that reports are stable.
func sortViolations(vs []*pb.ConsistencyViolation) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Detail < b.Detail
	})
}

// intensity is a restart intensity as a reader says it: "1 restart in
// 5s", "3 restarts in 5s".
func intensity(restarts, seconds int) string {
	if restarts == 1 {
		return fmt.Sprintf("1 restart in %ds", seconds)
	}
	return fmt.Sprintf("%d restarts in %ds", restarts, seconds)
}
