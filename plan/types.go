package plan

import (
	"fmt"
	"time"

	"github.com/steward/steward/spec"
)

// SafetyLevel decides how operations are grouped into phases and which
// checks run around each phase.
type SafetyLevel string

const (
	// Strict runs one operation per phase, in topological order, and adds
	// capture_state and external_dependencies before, consistency and
	// supervision_trees after.
	Strict SafetyLevel = "strict"
	// Moderate runs a dependency level in parallel, split so that each
	// phase stays within ImpactBudget (the default).
	Moderate SafetyLevel = "moderate"
	// Permissive runs each dependency level fully in parallel, split only by
	// Constraints.MaxParallel.
	Permissive SafetyLevel = "permissive"
)

// OpType is what an operation does.
type OpType string

const (
	// KillProcess sends an exit signal (Params.Reason, default "kill") to
	// the target process.
	KillProcess OpType = "kill_process"
	// SendMessage delivers Params.Message to the target process, as an
	// info message (HandleInfo), or as a cast with Params.Kind "cast";
	// snapshot restores re-send queued messages with it.
	SendMessage OpType = "send_message"
	// RestartSupervisor restarts the target supervisor and its whole subtree.
	RestartSupervisor OpType = "restart_supervisor"
	// ChangeSupervisorStrategy sets the target supervisor's strategy to
	// Params.Strategy.
	ChangeSupervisorStrategy OpType = "change_supervisor_strategy"
	// SuspendProcess suspends the target (messages queue while suspended).
	SuspendProcess OpType = "suspend_process"
	// ResumeProcess resumes a suspended target.
	ResumeProcess OpType = "resume_process"
	// StartChild starts a child under the target supervisor: Params.Child
	// for a static supervisor, Params.Args for a simple_one_for_one one.
	StartChild OpType = "start_child"
	// TerminateChild stops the child Params.ChildID of the target
	// supervisor; its spec stays, as in OTP, so RestartChild can bring it
	// back, unless it is temporary (OTP deletes its spec). For a
	// simple_one_for_one supervisor ChildID is the instance's PID (or its
	// instance id).
	TerminateChild OpType = "terminate_child"
	// RestartChild starts again the terminated child Params.ChildID of the
	// target supervisor; a no-op when it is running. Rollbacks use it.
	RestartChild OpType = "restart_child"
	// DeleteChild removes the spec of the child Params.ChildID of the
	// target supervisor, which must not be running (OTP's delete_child:
	// refused while it runs, {error, running}, or while its supervisor
	// retries a failed restart, {error, restarting}; not_found for an
	// unknown id). Not for a simple_one_for_one supervisor: terminating an
	// instance removes it. Rollbacks of start_child use it after
	// terminate_child, so that the started child's spec goes too.
	DeleteChild OpType = "delete_child"
	// ReplaceState imports Params.State into the target's behavior
	// (sys:replace_state); snapshot restores use it.
	ReplaceState OpType = "replace_state"
	// RegisterName registers the target under Params.Name on its node;
	// snapshot restores use it.
	RegisterName OpType = "register_name"
	// Spawn starts an unsupervised process (OTP's spawn) on
	// Operation.Node from the catalog behavior Params.Behavior with
	// Params.Args, imports Params.State into it when given, then registers
	// it under Params.Name when given (a name registered on the node is
	// refused, at planning and when it runs). It takes no target: its
	// process is the one it creates, whose pid its result reports.
	// Rollbacks kill that process; snapshot restores use it to bring
	// unsupervised processes back.
	Spawn OpType = "spawn"
)

// Operation types only deployments plan (Options.Deployment): a plan file
// that names them is refused, `steward deploy` makes them.
const (
	// UpgradeCode moves the target worker onto Params.Behavior (a module
	// version's catalog name) through code_change, between two messages,
	// keeping its PID, links, monitors, name, timers and mailbox.
	// Params.From is the behavior it runs before (the revert's target);
	// Params.Revert says how to undo it: RevertDown (code_change down) or
	// RevertRestore (import the state exported just before the upgrade).
	UpgradeCode OpType = "upgrade_code"
	// RevertCode moves the target back onto Params.Behavior: with
	// Params.Revert RevertRestore it imports Params.State (the state
	// captured when it was upgraded) instead of converting.
	RevertCode OpType = "revert_code"
)

// How an upgrade_code is undone.
const (
	RevertDown    = "down"
	RevertRestore = "restore"
)

// DeployOpTypes lists the deployment-only operation types.
var DeployOpTypes = []OpType{UpgradeCode, RevertCode}

// OpTypes lists every operation type in a fixed order (types added later
// at the end).
var OpTypes = []OpType{KillProcess, SendMessage, RestartSupervisor, ChangeSupervisorStrategy,
	SuspendProcess, ResumeProcess, StartChild, TerminateChild, RestartChild, ReplaceState, RegisterName, DeleteChild, Spawn, ImportStates}

// Plan is a coordinated operation plan as an operator writes it.
type Plan struct {
	// SafetyLevel defaults to moderate.
	SafetyLevel SafetyLevel `json:"safety_level,omitempty"`
	// Timeout bounds the whole run (Go duration, default "30s", at most
	// MaxTimeout).
	Timeout     string      `json:"timeout,omitempty"`
	Constraints Constraints `json:"constraints,omitzero"`
	// Group names plans submitted together as parts of one job (a restore
	// split at the operation limit): plans of one group are not refused
	// for acting on the same targets in overlapping windows. The submitter
	// vouches that they do not interfere.
	Group string `json:"group,omitempty"`
	// Operations in declaration order, which breaks every tie.
	Operations []Operation `json:"operations"`
	// Batches, when set (deployments), gives the phases' sizes in
	// declaration order instead of the safety level's grouping: phase i
	// takes the next Batches[i] operations. They must add up to the
	// operations, and the operations must not depend on one another.
	Batches []int `json:"batches,omitempty"`
	// Health, when set (deployments), adds a healthy post-check on each
	// phase's targets.
	Health *HealthGate `json:"health,omitempty"`
}

// HealthGate is when a deployment's batch counts as healthy: over
// MinHealthyMS after the batch, every target keeps its PID (no restart),
// runs, is not suspended, has fewer than MaxQueueLength messages queued,
// runs the version it was moved to, and its health probe (when its module
// has one) answers, within ProbeFactor times its latency before the batch
// plus ProbeSlackMS. The executor waits up to HealthyDeadlineMS for that to
// hold.
type HealthGate struct {
	MinHealthyMS      int64   `json:"min_healthy_ms"`
	HealthyDeadlineMS int64   `json:"healthy_deadline_ms"`
	MaxQueueLength    int     `json:"max_queue_length"`
	ProbeFactor       float64 `json:"probe_factor"`
	ProbeSlackMS      int64   `json:"probe_slack_ms"`
}

// Constraints limit how and when a plan runs. Zero means no limit.
type Constraints struct {
	// MaxParallel bounds the operations of one phase (count).
	MaxParallel int `json:"max_parallel,omitempty"`
	// MaxMemoryBytes bounds each involved node's memory (bytes).
	MaxMemoryBytes int64 `json:"max_memory_bytes,omitempty"`
	// MaxProcessCount bounds each involved node's process count, counting
	// the processes the phase starts (count).
	MaxProcessCount int `json:"max_process_count,omitempty"`
	// MaxTotalQueueLength bounds the summed mailbox lengths on each involved
	// node (messages).
	MaxTotalQueueLength int `json:"max_total_queue_length,omitempty"`
	// Window is when the plan may run.
	Window *Window `json:"window,omitempty"`
}

// Window is a time span; a zero bound is open.
type Window struct {
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
}

// Operation is one action on one target.
type Operation struct {
	// ID is unique in the plan (spec.ValidName syntax).
	ID   string `json:"id"`
	Type OpType `json:"type"`
	// Node the target lives on. Required for a target by name; for a target
	// by pid it must match the pid's node; for a supervisor target it may be
	// left out and is then the tree's node.
	Node      string   `json:"node,omitempty"`
	Target    Target   `json:"target"`
	Params    Params   `json:"params,omitzero"`
	DependsOn []string `json:"depends_on,omitempty"`
}

// Target names what an operation acts on: exactly one of a supervisor (a
// tree name, and optionally the path of a child in it, nested ids joined by
// "/"), a registered name (on Operation.Node) or a pid ("node/seq").
type Target struct {
	Supervisor string `json:"supervisor,omitempty"`
	ChildID    string `json:"child_id,omitempty"`
	Name       string `json:"name,omitempty"`
	PID        string `json:"pid,omitempty"`
}

// String renders the target as "web/sub/c1", "name n1:db" or "pid n1/5".
func (t Target) String() string {
	switch {
	case t.Supervisor != "" && t.ChildID != "":
		return t.Supervisor + "/" + t.ChildID
	case t.Supervisor != "":
		return t.Supervisor
	case t.Name != "":
		return "name " + t.Name
	case t.PID != "":
		return "pid " + t.PID
	}
	return "(none)"
}

// Params carries what an operation type needs; see OpType for which.
type Params struct {
	Message string `json:"message,omitempty"`
	// Kind is how send_message delivers Message: "info" (the default) or
	// "cast".
	Kind     string          `json:"kind,omitempty"`
	Strategy spec.Strategy   `json:"strategy,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Child    *spec.ChildSpec `json:"child,omitempty"`
	// Args are a simple_one_for_one start_child's extra args (empty but
	// set, {}, starts an instance with the template's args alone), or the
	// args spawn builds its behavior with.
	Args    map[string]string `json:"args,omitzero"`
	ChildID string            `json:"child_id,omitempty"`
	// State is replace_state's new state, or the state spawn imports into
	// the process it starts, as the behavior exports it (JSON for the
	// native behaviors).
	State string `json:"state,omitempty"`
	// Name is register_name's registered name, or the name spawn
	// registers its process under.
	Name string `json:"name,omitempty"`
	// Behavior is the catalog behavior spawn starts, or the one
	// upgrade_code and revert_code move the target onto; From what
	// upgrade_code moves it from; Revert how an upgrade_code is undone
	// (RevertDown, RevertRestore), and for revert_code how it reverts.
	Behavior string `json:"behavior,omitempty"`
	From     string `json:"from,omitempty"`
	Revert   string `json:"revert,omitempty"`
	// Slot is the supervised slot ("tree/child/path") the target ran in
	// when planned: a revert_code whose process a supervisor restarted
	// since moves the process now in that slot.
	Slot string `json:"slot,omitempty"`
	// States are import_states' entries (see ImportStates).
	States []StateImport `json:"states,omitempty"`
}

// Kind tells a plain process from a supervisor.
type Kind string

const (
	KindProcess    Kind = "process"
	KindSupervisor Kind = "supervisor"
)

// Status is a live process's run status.
type Status string

const (
	Running   Status = "running"
	Suspended Status = "suspended"
)

// Relation says how an affected process is tied to an operation's target.
type Relation string

const (
	// Linked: linked to the target; an exit signal reaches it.
	Linked Relation = "linked"
	// MonitoredBy: monitors the target; it receives a DOWN message.
	MonitoredBy Relation = "monitored_by"
	// Sibling: restarted with the target by the parent's one_for_all or
	// rest_for_one strategy.
	Sibling Relation = "sibling"
	// Child: a direct child of the target supervisor.
	Child Relation = "child"
	// Descendant: deeper in the target supervisor's subtree.
	Descendant Relation = "descendant"
)

func (o Operation) String() string {
	return fmt.Sprintf("%s (%s %s)", o.ID, o.Type, o.TargetLabel())
}

// TargetLabel renders what the operation acts on: its target, or, for a
// spawn, which has none, the process it starts ("new counter process as
// tally").
func (o Operation) TargetLabel() string {
	if o.Type != Spawn {
		return o.Target.String()
	}
	s := "new " + o.Params.Behavior + " process"
	if o.Params.Name != "" {
		s += " as " + o.Params.Name
	}
	return s
}
