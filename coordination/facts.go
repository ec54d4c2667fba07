package coordination

import (
	"errors"
	"strings"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
)

// runtimeTarget turns a plan target into the runtime's.
func runtimeTarget(t plan.Target) (actor.Target, error) {
	switch {
	case t.Supervisor != "":
		return actor.Target{Tree: t.Supervisor, Path: t.ChildID}, nil
	case t.Name != "":
		return actor.Target{Name: t.Name}, nil
	default:
		pid, err := actor.ParsePID(t.PID)
		if err != nil {
			return actor.Target{}, err
		}
		return actor.Target{PID: pid}, nil
	}
}

// localFacts gathers, on this node, the facts of operations whose targets
// live here, and this node's totals.
func (l *Layer) localFacts(ops []plan.Operation) *plan.Facts {
	obs := l.observe()
	ns := obs.Nodes[0]
	f := &plan.Facts{}
	nf := plan.NodeFacts{Node: l.node.Name(), Alive: true, ProcessCount: len(ns.Processes),
		MemoryBytes: ns.MemoryBytes, RecentRestarts: ns.RecentRestarts}
	byPID := map[string]*plan.Process{}
	for i := range ns.Processes {
		p := &ns.Processes[i]
		byPID[p.PID] = p
		nf.TotalQueueLength += p.QueueLength
		if p.QueueLength > nf.MaxQueueLength {
			nf.MaxQueueLength = p.QueueLength
		}
	}
	f.Nodes = []plan.NodeFacts{nf}
	for _, op := range ops {
		f.Operations = append(f.Operations, l.opFacts(op, byPID))
	}
	return f
}

func (l *Layer) processFacts(pid actor.PID, byPID map[string]*plan.Process) plan.ProcessFacts {
	pf := plan.ProcessFacts{Node: l.node.Name(), PID: pid.String()}
	p, ok := byPID[pid.String()]
	if !ok {
		pf.Exists = true // it answered Resolve but is not running (terminating)
		return pf
	}
	pf.Exists, pf.Alive, pf.Kind, pf.Tree, pf.Slot = true, true, p.Kind, p.Tree, p.Slot
	pf.Restart, pf.Strategy, pf.Status, pf.Dynamic = p.Restart, p.Strategy, p.Status, p.Dynamic
	return pf
}

func (l *Layer) opFacts(op plan.Operation, byPID map[string]*plan.Process) plan.OperationFacts {
	of := plan.OperationFacts{OpID: op.ID, Target: plan.ProcessFacts{Node: l.node.Name()}}
	rt := l.rt
	if op.Type == plan.Spawn {
		// No target: the facts name the process holding the name it
		// registers, if one does (the planner refuses it then).
		if op.Params.Name != "" {
			if pid, ok := rt.WhereIs(op.Params.Name); ok {
				of.Target = l.processFacts(pid, byPID)
			}
		}
		return of
	}
	tgt, err := runtimeTarget(op.Target)
	if err != nil {
		return of
	}
	pid, err := rt.Resolve(tgt)
	if err != nil {
		if errors.Is(err, actor.ErrNoProc) {
			of.Target.Exists = true
		}
		if op.Target.Supervisor != "" {
			of.Target.Tree, of.Target.Slot = op.Target.Supervisor, op.Target.ChildID
		}
		return of
	}
	of.Target = l.processFacts(pid, byPID)

	switch op.Type {
	case plan.KillProcess:
		if info, err := rt.Process(pid); err == nil {
			for _, lk := range info.Links {
				if lk != info.Parent {
					of.Affected = append(of.Affected, l.affected(lk, plan.Linked, byPID))
				}
			}
			for _, m := range info.MonitoredBy {
				of.Affected = append(of.Affected, l.affected(m, plan.MonitoredBy, byPID))
			}
			if !info.Parent.IsZero() {
				of.Affected = append(of.Affected, l.siblings(info.Parent, pid, byPID)...)
			}
		}
	case plan.RestartSupervisor, plan.ChangeSupervisorStrategy:
		of.Affected = append(of.Affected, l.subtree(pid, plan.Child, byPID)...)
	case plan.TerminateChild, plan.RestartChild, plan.StartChild, plan.DeleteChild:
		id := op.Params.ChildID
		if op.Type == plan.StartChild && op.Params.Child != nil {
			id = op.Params.Child.ID
		}
		of.Child = l.childFacts(pid, id, byPID)
		if op.Type == plan.DeleteChild && of.Child.Exists && !of.Child.Dynamic {
			// What the rollback adds back.
			if cs, err := rt.GetChildSpec(pid, id); err == nil {
				of.Child.Spec = &cs
			}
		}
		if op.Type == plan.TerminateChild && of.Child != nil && of.Child.PID != "" {
			cpid, _ := actor.ParsePID(of.Child.PID)
			of.Affected = append(of.Affected, l.subtree(cpid, plan.Child, byPID)...)
			if info, err := rt.Process(cpid); err == nil {
				for _, lk := range info.Links {
					if lk != pid {
						of.Affected = append(of.Affected, l.affected(lk, plan.Linked, byPID))
					}
				}
				for _, m := range info.MonitoredBy {
					of.Affected = append(of.Affected, l.affected(m, plan.MonitoredBy, byPID))
				}
			}
		}
	}
	return of
}

func (l *Layer) affected(pid actor.PID, rel plan.Relation, byPID map[string]*plan.Process) plan.AffectedProcess {
	a := plan.AffectedProcess{PID: pid.String(), Node: pid.Node, Relation: rel}
	if p, ok := byPID[pid.String()]; ok {
		a.Tree, a.Slot = p.Tree, p.Slot
	}
	return a
}

// siblings lists the children of parent that its strategy restarts with
// child: all of them under one_for_all, the later ones under rest_for_one.
func (l *Layer) siblings(parent, child actor.PID, byPID map[string]*plan.Process) []plan.AffectedProcess {
	rt := l.rt
	pol, err := rt.SupervisorPolicy(parent)
	if err != nil {
		return nil
	}
	kids, err := rt.WhichChildren(parent)
	if err != nil {
		return nil
	}
	var out []plan.AffectedProcess
	after := false
	for _, k := range kids {
		if k.PID == child {
			after = true
			continue
		}
		if k.PID.IsZero() {
			continue
		}
		if pol.Strategy == spec.OneForAll || (pol.Strategy == spec.RestForOne && after) {
			out = append(out, l.affected(k.PID, plan.Sibling, byPID))
			if k.Type == spec.Supervisor {
				out = append(out, l.subtree(k.PID, plan.Descendant, byPID)...)
			}
		}
	}
	return out
}

// subtree lists a supervisor's children (rel) and everything below them
// (Descendant).
func (l *Layer) subtree(sup actor.PID, rel plan.Relation, byPID map[string]*plan.Process) []plan.AffectedProcess {
	kids, err := l.rt.WhichChildren(sup)
	if err != nil {
		return nil
	}
	var out []plan.AffectedProcess
	for _, k := range kids {
		if k.PID.IsZero() {
			continue
		}
		out = append(out, l.affected(k.PID, rel, byPID))
		if k.Type == spec.Supervisor {
			out = append(out, l.subtree(k.PID, plan.Descendant, byPID)...)
		}
	}
	return out
}

// childFacts describes child id (or, for a dynamic child, pid) of a
// supervisor.
func (l *Layer) childFacts(sup actor.PID, id string, byPID map[string]*plan.Process) *plan.ProcessFacts {
	pf := &plan.ProcessFacts{Node: l.node.Name()}
	kids, err := l.rt.WhichChildren(sup)
	if err != nil {
		return pf
	}
	for _, k := range kids {
		if k.ID != id && (k.PID.IsZero() || k.PID.String() != id) {
			continue
		}
		pf.Exists = true
		pf.Restart, pf.Dynamic = k.Restart, k.Dynamic
		if sp, ok := byPID[sup.String()]; ok {
			pf.Tree = sp.Tree
			pf.Slot = strings.TrimPrefix(sp.Slot+"/"+k.ID, "/")
		}
		if !k.PID.IsZero() {
			pf = ptr(l.processFacts(k.PID, byPID))
			pf.Restart, pf.Dynamic = k.Restart, k.Dynamic
		}
		return pf
	}
	return pf
}

func ptr[T any](v T) *T { return &v }
