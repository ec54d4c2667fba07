package plan

import "github.com/steward/steward/spec"

// Facts are what the caller (the leader) gathered live from the target
// nodes before planning. They are committed inside the plan, so they are
// plain data with JSON tags; order in every slice is kept as given, and the
// planner's output does not depend on it except where documented.
type Facts struct {
	// Operations has one entry per operation of the plan.
	Operations []OperationFacts `json:"operations"`
	// Nodes has an entry for every node an operation or affected process
	// is on.
	Nodes []NodeFacts `json:"nodes"`
	// ActivePlans are the other plans committed and not finished.
	ActivePlans []ActivePlan `json:"active_plans,omitempty"`
}

// OperationFacts is what was found for one operation.
type OperationFacts struct {
	OpID string `json:"op_id"`
	// Target is the resolved target: the process for process operations,
	// the supervisor for supervisor operations (restart_supervisor,
	// change_supervisor_strategy, start_child, terminate_child,
	// restart_child, delete_child); for spawn, which has no target, the
	// process registered under the name it registers (Exists false when
	// the name is free or none is given).
	Target ProcessFacts `json:"target"`
	// Child is, for terminate_child, restart_child and delete_child, the
	// child named by Params.ChildID, and for start_child the child of the
	// new spec's id (with Exists false when, as expected, there is none
	// yet). For delete_child it also carries the child's spec (Spec), which
	// the rollback adds back.
	Child *ProcessFacts `json:"child,omitempty"`
	// Affected are the processes the operation may stop, restart or
	// disturb besides its target. What to gather per type:
	//   - kill_process: processes linked to the target (Linked), processes
	//     monitoring it (MonitoredBy), and siblings its parent restarts with
	//     it under one_for_all / rest_for_one (Sibling);
	//   - restart_supervisor: its children (Child) and their subtrees
	//     (Descendant);
	//   - change_supervisor_strategy: its whole subtree (Child, Descendant);
	//   - terminate_child: the child's subtree and the processes linked to
	//     or monitoring the child;
	//   - other types: none.
	Affected []AffectedProcess `json:"affected,omitempty"`
}

// ProcessFacts describes one process or supervisor as found.
type ProcessFacts struct {
	// Exists is false when nothing answers to the target (or, for a child,
	// when the supervisor has no such child spec).
	Exists bool `json:"exists"`
	// PID is empty when no process runs (a terminated child).
	PID   string `json:"pid,omitempty"`
	Node  string `json:"node"`
	Alive bool   `json:"alive"`
	Kind  Kind   `json:"kind,omitempty"`
	// Tree and Slot place a supervised process: the tree's name and the
	// child path in it ("" for the root supervisor). Empty Tree for an
	// unsupervised process.
	Tree string `json:"tree,omitempty"`
	Slot string `json:"slot,omitempty"`
	// Restart is the process's restart type as a child ("" for a root
	// supervisor or an unsupervised process).
	Restart spec.Restart `json:"restart,omitempty"`
	// Strategy is a supervisor's current strategy.
	Strategy spec.Strategy `json:"strategy,omitempty"`
	// Status is running or suspended.
	Status Status `json:"status,omitempty"`
	// Dynamic marks a child started by a simple_one_for_one supervisor.
	Dynamic bool `json:"dynamic,omitempty"`
	// Spec is, for the child of a delete_child, its spec as the supervisor
	// keeps it (OTP's get_childspec): what the compensation starts again.
	// Nil when not gathered (facts from a node of an earlier version): the
	// deletion then cannot be undone.
	Spec *spec.ChildSpec `json:"spec,omitempty"`
}

// AffectedProcess is a process an operation may disturb.
type AffectedProcess struct {
	PID      string   `json:"pid"`
	Node     string   `json:"node"`
	Relation Relation `json:"relation"`
	// Tree and Slot, when the process is supervised, let checks follow it
	// across restarts.
	Tree string `json:"tree,omitempty"`
	Slot string `json:"slot,omitempty"`
}

// NodeFacts are a node's totals.
type NodeFacts struct {
	Node             string `json:"node"`
	Alive            bool   `json:"alive"`
	ProcessCount     int    `json:"process_count"`
	MemoryBytes      int64  `json:"memory_bytes"`
	TotalQueueLength int    `json:"total_queue_length"`
	// MaxQueueLength is the longest single mailbox (messages).
	MaxQueueLength int `json:"max_queue_length"`
	// RecentRestarts counts the restarts the node's supervisors decided
	// within the last StabilityPeriod, as OTP counts them against an
	// intensity: one per child exit restarted, however many siblings the
	// strategy restarted with it.
	RecentRestarts int `json:"recent_restarts"`
}

// ActivePlan is another plan that is committed and not finished.
type ActivePlan struct {
	ID string `json:"id"`
	// Window is when it may run; a zero NotAfter means open-ended.
	Window Window `json:"window"`
	// Nodes and Targets (PIDs and tree names) it touches.
	Nodes   []string `json:"nodes,omitempty"`
	Targets []string `json:"targets,omitempty"`
	// Group is its plan group; plans of one group do not conflict over
	// shared targets.
	Group string `json:"group,omitempty"`
}

func (f *Facts) op(id string) *OperationFacts {
	if f == nil {
		return nil
	}
	for i := range f.Operations {
		if f.Operations[i].OpID == id {
			return &f.Operations[i]
		}
	}
	return nil
}

func (f *Facts) node(name string) *NodeFacts {
	if f == nil {
		return nil
	}
	for i := range f.Nodes {
		if f.Nodes[i].Node == name {
			return &f.Nodes[i]
		}
	}
	return nil
}
