package actor

import (
	"context"
	"fmt"
	"sort"

	"github.com/steward/steward/spec"
)

// ViolationKind classifies a broken invariant.
type ViolationKind string

const (
	// ViolationProcessState: a process in the table is dead, belongs to
	// another node, or its supervisor is gone while it is not stopping.
	ViolationProcessState ViolationKind = "process_state"
	// ViolationSupervisorChildren: a supervisor's children do not match its
	// spec (a recorded child is dead, unlinked, of the wrong kind, not
	// holding its name; a permanent child is not running; a process
	// claims a supervisor that does not list it).
	ViolationSupervisorChildren ViolationKind = "supervisor_children"
	// ViolationLink: a link is not mirrored on the other side, or points
	// to a dead process.
	ViolationLink ViolationKind = "link_asymmetric"
	// ViolationMonitor: a monitor is not mirrored on the target's side (or
	// the reverse), or points to a dead process.
	ViolationMonitor ViolationKind = "monitor_asymmetric"
	// ViolationName: a registered name points to a dead or unknown process,
	// or a process and the registry disagree about its name.
	ViolationName ViolationKind = "stale_name"
	// ViolationTree: a tree and its processes disagree (a running tree
	// whose root is dead, a member that is not live, a live process
	// missing from its tree).
	ViolationTree ViolationKind = "tree_state"
)

// Violation is one broken invariant.
type Violation struct {
	Node string        `json:"node"`
	Kind ViolationKind `json:"kind"`
	// Subject is what is broken: a PID, "name:<name>" or "tree:<name>".
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s %s: %s", v.Node, v.Kind, v.Subject, v.Detail)
}

// Report is the outcome of Validate.
type Report struct {
	Node string `json:"node"`
	// Checked is the number of processes examined.
	Checked    int         `json:"checked"`
	Violations []Violation `json:"violations"`
	// Unsettled lists supervisors that were still handling something (a
	// child's exit, a command, their start) when ctx ended; their
	// children were not checked.
	Unsettled []PID `json:"unsettled,omitempty"`
}

// OK reports a clean, complete check.
func (r Report) OK() bool { return len(r.Violations) == 0 && len(r.Unsettled) == 0 }

// Validate checks the runtime's invariants on a consistent view (no spawn,
// exit, link, monitor or registration is half done while it looks):
//   - every process in the table is alive and local, and unless it is
//     being stopped its supervisor is alive and lists it;
//   - each supervisor's children match its spec: recorded children are
//     alive, linked to it, name it as parent, are of the spec's kind and
//     hold the spec's registered name; permanent children run;
//   - links are bidirectional; monitors are recorded on both sides;
//   - registered names point to live processes that agree;
//   - trees and their members agree.
//
// A supervisor busy with a child's exit or a command is checked once it is
// idle; Validate waits for that until ctx ends, then reports the busy ones
// as Unsettled.
func (rt *Runtime) Validate(ctx context.Context) Report {
	for {
		wait, release := rt.settle.wait()
		rep := rt.check()
		if len(rep.Unsettled) == 0 {
			release()
			return rep
		}
		select {
		case <-wait:
			release()
		case <-ctx.Done():
			release()
			return rep
		}
	}
}

type checker struct {
	rt  *Runtime
	rep *Report
}

func (c *checker) add(kind ViolationKind, subject, format string, args ...any) {
	c.rep.Violations = append(c.rep.Violations, Violation{
		Node: c.rt.node, Kind: kind, Subject: subject, Detail: fmt.Sprintf(format, args...),
	})
}

func (rt *Runtime) check() Report {
	rep := Report{Node: rt.node}
	c := &checker{rt: rt, rep: &rep}

	rt.topo.Lock()
	defer rt.topo.Unlock()

	var procs []*process
	rt.procs.Range(func(k, v any) bool {
		p := v.(*process)
		if k.(uint64) != p.pid.Seq {
			c.add(ViolationProcessState, p.pid.String(), "stored under seq %d", k.(uint64))
		}
		procs = append(procs, p)
		return true
	})
	sort.Slice(procs, func(i, j int) bool { return procs[i].pid.Seq < procs[j].pid.Seq })
	rep.Checked = len(procs)

	for _, p := range procs {
		c.process(p)
	}
	c.names(procs)
	claimed := make(map[*process]bool)
	for _, p := range procs {
		if p.sup != nil {
			c.supervisor(p, claimed)
		}
	}
	for _, p := range procs {
		if p.parent.IsZero() || p.stopping.Load() || claimed[p] {
			continue
		}
		if parent, ok := rt.procs.Load(p.parent.Seq); ok && parent.(*process).sup != nil && !c.settled(parent.(*process)) {
			continue
		}
		c.add(ViolationSupervisorChildren, p.pid.String(), "claims supervisor %s, which does not list it", p.parent)
	}
	c.trees()
	return rep
}

// process checks one process's own state, links and monitors. Links,
// monitors and the closed flag change only under the topology lock, which
// the check holds, so they are read without the process lock.
func (c *checker) process(p *process) {
	subj := p.pid.String()
	if p.closed || procState(p.state.Load()) == stDead {
		c.add(ViolationProcessState, subj, "in the process table but dead")
	}
	if p.pid.Node != c.rt.node {
		c.add(ViolationProcessState, subj, "belongs to node %q", p.pid.Node)
	}
	if !p.parent.IsZero() && !p.stopping.Load() {
		if _, ok := c.rt.procs.Load(p.parent.Seq); !ok {
			c.add(ViolationProcessState, subj, "its supervisor %s is dead but it is not stopping", p.parent)
		}
	}
	for seq, l := range p.links {
		switch {
		case l.pid.Seq != seq:
			c.add(ViolationLink, subj, "link entry %d points to %s", seq, l.pid)
		case l.closed:
			c.add(ViolationLink, subj, "linked to dead %s", l.pid)
		case l.links[p.pid.Seq] != p:
			c.add(ViolationLink, subj, "links to %s, which does not link back", l.pid)
		}
	}
	for ref, t := range p.monitors {
		switch {
		case t.closed:
			c.add(ViolationMonitor, subj, "monitor %d watches dead %s", ref, t.pid)
		case t.monitoredBy[ref] != p:
			c.add(ViolationMonitor, subj, "monitor %d on %s is not recorded by the target", ref, t.pid)
		}
	}
	for ref, w := range p.monitoredBy {
		switch {
		case w.closed:
			c.add(ViolationMonitor, subj, "monitor %d held by dead %s", ref, w.pid)
		case w.monitors[ref] != p:
			c.add(ViolationMonitor, subj, "records monitor %d by %s, which does not hold it", ref, w.pid)
		}
	}
}

func (c *checker) names(procs []*process) {
	c.rt.names.mu.RLock()
	defer c.rt.names.mu.RUnlock()
	for name, p := range c.rt.names.m {
		subj := "name:" + name
		live, ok := c.rt.procs.Load(p.pid.Seq)
		switch {
		case p.closed || !ok || live.(*process) != p:
			c.add(ViolationName, subj, "points to %s, which is not alive", p.pid)
		case p.name != name:
			c.add(ViolationName, subj, "points to %s, which is registered as %q", p.pid, p.name)
		}
	}
	for _, p := range procs {
		if p.name != "" && c.rt.names.m[p.name] != p {
			c.add(ViolationName, p.pid.String(), "believes it is registered as %q, the registry disagrees", p.name)
		}
	}
}

// settled reports whether a supervisor is idle with nothing queued, so
// that its published children reflect every exit so far.
func (c *checker) settled(p *process) bool {
	p.mu.Lock()
	idle := !p.busy && p.queueLen() == 0 && p.sys.n == 0 && p.urgent.n == 0
	p.mu.Unlock()
	return idle && procState(p.state.Load()) == stRunning
}

func (c *checker) supervisor(p *process, claimed map[*process]bool) {
	if !c.settled(p) {
		c.rep.Unsettled = append(c.rep.Unsettled, p.pid)
		for _, ch := range p.sup.snapshot().children.all() {
			if ch.proc != nil {
				claimed[ch.proc] = true
			}
		}
		return
	}
	subj := p.pid.String()
	snap := p.sup.snapshot()
	ids := make(map[string]bool, snap.children.len())
	for _, ch := range snap.children.all() {
		id := joinPath(p.path, ch.spec.id)
		if ids[ch.spec.id] {
			c.add(ViolationSupervisorChildren, subj, "child id %q appears twice", id)
		}
		ids[ch.spec.id] = true
		if ch.dynamic != (snap.template != nil) {
			c.add(ViolationSupervisorChildren, subj, "child %q: dynamic=%t under strategy %s", id, ch.dynamic, snap.policy.Strategy)
		}
		q := ch.proc
		if q == nil {
			switch {
			case ch.state == childRunning:
				c.add(ViolationSupervisorChildren, subj, "child %q is recorded running without a process", id)
			case ch.state == childStopped && ch.spec.restart == spec.Permanent:
				c.add(ViolationSupervisorChildren, subj, "permanent child %q is stopped", id)
			}
			continue
		}
		claimed[q] = true
		switch {
		case q.closed:
			c.add(ViolationSupervisorChildren, subj, "child %q is recorded as %s, which is dead", id, q.pid)
			continue
		case ch.state != childRunning:
			c.add(ViolationSupervisorChildren, subj, "child %q has process %s but state %s", id, q.pid, ch.state)
		}
		if q.parent != p.pid {
			c.add(ViolationSupervisorChildren, subj, "child %q (%s) names %s as its parent", id, q.pid, q.parent)
		}
		if q.links[p.pid.Seq] != p || p.links[q.pid.Seq] != q {
			c.add(ViolationSupervisorChildren, subj, "child %q (%s) is not linked to its supervisor", id, q.pid)
		}
		if ch.spec.isSup != (q.sup != nil) {
			c.add(ViolationSupervisorChildren, subj, "child %q (%s): spec says supervisor=%t", id, q.pid, ch.spec.isSup)
		}
		if ch.spec.name != "" && c.rt.names.m[ch.spec.name] != q {
			c.add(ViolationSupervisorChildren, subj, "child %q (%s) does not hold its name %q", id, q.pid, ch.spec.name)
		}
	}
}

func (c *checker) trees() {
	c.rt.treesRW.RLock()
	defer c.rt.treesRW.RUnlock()
	for name, t := range c.rt.trees {
		subj := "tree:" + name
		t.mu.Lock()
		if t.status == TreeRunning && !t.stopping && t.root.closed {
			c.add(ViolationTree, subj, "running, but its root %s is dead", t.root.pid)
		}
		for seq, p := range t.procs {
			if live, ok := c.rt.procs.Load(seq); !ok || live.(*process) != p {
				c.add(ViolationTree, subj, "lists %s, which is not alive", p.pid)
			}
			if p.tree != t {
				c.add(ViolationTree, subj, "lists %s, which belongs elsewhere", p.pid)
			}
		}
		t.mu.Unlock()
	}
	c.rt.procs.Range(func(_, v any) bool {
		p := v.(*process)
		if p.tree != nil {
			p.tree.mu.Lock()
			in := p.tree.procs[p.pid.Seq] == p
			p.tree.mu.Unlock()
			if !in {
				c.add(ViolationTree, p.pid.String(), "belongs to tree %q, which does not list it", p.tree.name)
			}
		}
		return true
	})
}
