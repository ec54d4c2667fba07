package health

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
)

// nodeCheck is one pass of the node's checks.
type nodeCheck struct {
	node       string
	checked    int
	stateIndex uint64
	violations []*pb.ConsistencyViolation
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
		if applied == 0 {
			c.add(KindTreeSpecStale, subj, "runs a spec the reconciler did not apply; the committed spec is at index %d", rec.ModifyIndex)
		} else {
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
		c.add(KindStrategyMismatch, subj, "supervisor %s runs %s, %d restarts in %ds; the committed spec says %s, %d restarts in %ds",
			pid, pol.Strategy, pol.MaxRestarts, pol.MaxSeconds, want.Strategy, want.MaxRestarts, want.MaxSeconds)
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
				if !k.Dynamic && !specIDs[k.ID] {
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
