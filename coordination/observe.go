package coordination

import (
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
)

// observe describes the local runtime as plan's checks see it: live
// processes only.
func (l *Layer) observe() *plan.Observed {
	rt := l.rt
	procs := rt.Processes()
	// A child's restart type and whether it is dynamic come from its
	// supervisor; a supervisor's strategy from its policy.
	type childMeta struct {
		restart spec.Restart
		dynamic bool
	}
	meta := map[actor.PID]childMeta{}
	strategy := map[actor.PID]spec.Strategy{}
	// specs: a supervisor's static child specs, running or not.
	specs := map[actor.PID][]string{}
	for _, p := range procs {
		if !p.Supervisor {
			continue
		}
		if pol, err := rt.SupervisorPolicy(p.PID); err == nil {
			strategy[p.PID] = pol.Strategy
		}
		kids, err := rt.WhichChildren(p.PID)
		if err != nil {
			continue
		}
		for _, k := range kids {
			if !k.PID.IsZero() {
				meta[k.PID] = childMeta{restart: k.Restart, dynamic: k.Dynamic}
			}
			if !k.Dynamic {
				specs[p.PID] = append(specs[p.PID], k.ID)
			}
		}
	}
	st := rt.Stats()
	ns := plan.NodeState{
		Node: l.node.Name(), Alive: true, MemoryBytes: st.MemoryBytes,
		RecentRestarts: l.recentRestarts(), Processes: make([]plan.Process, 0, len(procs)),
	}
	for _, p := range procs {
		status := plan.Running
		switch p.Status {
		case actor.StatusSuspended:
			status = plan.Suspended
		case actor.StatusRunning:
		default:
			continue // starting, terminating or dead: not a live process
		}
		pp := plan.Process{
			PID: p.PID.String(), Kind: plan.KindProcess, Status: status, Tree: p.Tree, Slot: p.ChildID,
			Name: p.RegisteredName, QueueLength: p.QueueLen, MessagesIn: p.MessagesIn, Behavior: p.Behavior,
		}
		if p.Supervisor {
			pp.Kind = plan.KindSupervisor
			pp.Strategy = strategy[p.PID]
			pp.ChildSpecs = specs[p.PID]
		}
		if !p.Parent.IsZero() {
			pp.Parent = p.Parent.String()
		}
		if m, ok := meta[p.PID]; ok {
			pp.Restart, pp.Dynamic = m.restart, m.dynamic
		}
		for _, lk := range p.Links {
			pp.Links = append(pp.Links, lk.String())
		}
		ns.Processes = append(ns.Processes, pp)
	}
	return &plan.Observed{Nodes: []plan.NodeState{ns}}
}

// recentRestarts counts the restarts this node's supervisors decided
// within plan.StabilityPeriod, as OTP counts them against an intensity:
// one per child exit restarted, however many siblings its strategy
// restarts with it.
func (l *Layer) recentRestarts() int {
	return l.rt.RestartsSince(time.Now().Add(-plan.StabilityPeriod))
}
