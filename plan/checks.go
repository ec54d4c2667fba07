package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/steward/steward/spec"
)

// CheckKind names a check run before (pre) or after (post) a phase.
type CheckKind string

const (
	// Pre-checks, every safety level.
	CheckTargetsAlive       CheckKind = "targets_alive"
	CheckResourcesAvailable CheckKind = "resources_available"
	CheckParametersValid    CheckKind = "parameters_valid"
	CheckSystemStable       CheckKind = "system_stable" // also a post-check
	// Pre-checks added by strict.
	CheckCaptureState         CheckKind = "capture_state"
	CheckExternalDependencies CheckKind = "external_dependencies"
	// Post-checks, every safety level.
	CheckOperationEffect CheckKind = "operation_effect"
	CheckNoSideEffects   CheckKind = "no_side_effects"
	// Post-checks added by strict.
	CheckConsistency      CheckKind = "consistency"
	CheckSupervisionTrees CheckKind = "supervision_trees"
	// Post-check of deployments (Plan.Health).
	CheckHealthy CheckKind = "healthy"
)

// NeedsStableNode reports whether an operation of type t runs only on a
// stable node: system_stable, before and after its phase, covers its node
// and the nodes of the processes it affects. The operations that only end
// or halt work are exempt, so that they can stop what makes a node
// unstable (a crash-looping child, a flooded mailbox):
//
//   - terminate_child stops a child and keeps it stopped (a
//     simple_one_for_one instance or a temporary child is removed);
//   - delete_child removes the spec of a child that is not running: it
//     starts nothing, and it clears a crash-looping child away once
//     terminate_child stopped it;
//   - kill_process ends a process (its supervisor may restart it, as it
//     would after the crash it stops);
//   - suspend_process halts a process between two messages without
//     starting, stopping or restarting anything, and a process that
//     crashes on what it handles stops crashing.
//
// Every other type starts, restarts, reconfigures or feeds processes
// (resume_process included: it lets a suspended process handle messages
// again) and keeps the check. A phase mixing both kinds checks the nodes
// of the operations that need it; a phase runs as a whole, so an exempt
// operation on such a node waits with them.
func NeedsStableNode(t OpType) bool {
	switch t {
	case TerminateChild, DeleteChild, KillProcess, SuspendProcess:
		return false
	}
	return true
}

// SkippableChecks are the check kinds an operator may skip for one plan
// (Options.SkipChecks, `steward apply --skip-check KIND`), in a fixed
// order: the pre-checks that gate a phase on the live state. A skipped
// check runs neither before nor after any phase of the plan (system_stable
// is both). capture_state is not among them: it records the states that
// rollbacks restore. Post-checks are not: they decide whether a phase did
// what it should, and a failed one rolls back.
var SkippableChecks = []CheckKind{CheckTargetsAlive, CheckResourcesAvailable, CheckParametersValid, CheckSystemStable, CheckExternalDependencies}

// ParseSkipChecks turns check names into SkipChecks: each must be one of
// SkippableChecks; repeats are dropped and the kinds come back in
// SkippableChecks order. The error lists the valid names.
func ParseSkipChecks(names []string) ([]CheckKind, error) {
	var out []CheckKind
	var bad []string
	for _, n := range names {
		k := CheckKind(strings.TrimSpace(n))
		if !slices.Contains(SkippableChecks, k) {
			bad = append(bad, fmt.Sprintf("%q", n))
		}
	}
	if len(bad) > 0 {
		what := "is not a check"
		if len(bad) > 1 {
			what = "are not checks"
		}
		return nil, fmt.Errorf("%w: %s %s that can be skipped; valid: %s", ErrBadValue, strings.Join(bad, ", "), what, joinKinds(SkippableChecks))
	}
	for _, k := range SkippableChecks {
		for _, n := range names {
			if CheckKind(strings.TrimSpace(n)) == k {
				out = append(out, k)
				break
			}
		}
	}
	return out, nil
}

// skipped reports whether the plan skips checks of kind k.
func skipped(skip []CheckKind, k CheckKind) bool { return slices.Contains(skip, k) }

// ProcessRef says how an executor finds a process in its runtime at the
// time a check runs, so that a reference survives restarts done by earlier
// phases: by slot when Tree is set (the live process in that child slot of
// that tree, a static child's or a simple_one_for_one instance's, whose
// slot ends in its instance id; Slot "" is the root supervisor), else by
// registered Name on Node, else by PID.
type ProcessRef struct {
	Tree string `json:"tree,omitempty"`
	Slot string `json:"slot,omitempty"`
	Name string `json:"name,omitempty"`
	PID  string `json:"pid,omitempty"`
	// Node the process is on (known for every reference but a slot whose
	// tree placement was not in the facts).
	Node string `json:"node,omitempty"`
	// Subtree, in no_side_effects and supervision_trees, stands for the
	// slot and every slot below it.
	Subtree bool `json:"subtree,omitempty"`
	// Optional, in capture_state, means a process that may have gone since
	// planning (an affected process) rather than a target.
	Optional bool `json:"optional,omitempty"`
}

// String renders the reference the way the executor resolves it.
func (r ProcessRef) String() string {
	var s string
	switch {
	case r.Tree != "" && r.Slot != "":
		s = r.Tree + "/" + r.Slot
	case r.Tree != "":
		s = r.Tree
	case r.Name != "":
		s = r.Node + ":" + r.Name
	default:
		s = r.PID
	}
	if r.Subtree {
		s += "/**"
	}
	return s
}

// Check is one check, as data: Kind says which fields matter.
//
//   - targets_alive: every Processes entry resolves to a live process and
//     its node is alive.
//   - resources_available: for every Limits.Nodes entry the node is alive
//     and, with the phase's new processes counted, within Limits.
//   - parameters_valid: every Params rule holds.
//   - system_stable: every node in Nodes is alive, no mailbox is longer
//     than Stability.MaxQueueLength, no more than
//     Stability.MaxRecentRestarts restarts happened recently and memory is
//     within Stability.MaxMemoryBytes (when set).
//   - capture_state: every non-Optional Processes entry resolves; the
//     executor records the state of all that resolve, for rollback.
//   - external_dependencies: every node in Nodes (nodes of processes tied to
//     the targets from elsewhere) is alive.
//   - operation_effect: every Effects entry holds (see Effect).
//   - no_side_effects: on the nodes in Nodes, every process alive before the
//     phase is alive after it with the same PID, unless a Processes entry
//     covers it (the set expected to change).
//   - consistency: on the nodes in Nodes, after the phase: links are
//     symmetric, registered names are unique per node, each supervised
//     process's parent is a live supervisor, no slot holds two processes.
//   - healthy: every Processes entry (a deployment's targets, by PID)
//     resolves after the phase to the same PID, runs (not suspended),
//     has fewer than Health.MaxQueueLength messages queued and, when
//     Behaviors has an entry for it, runs that behavior. The executor
//     also waits Health.MinHealthyMS first, checks that no target
//     restarted meanwhile, and compares health probe latencies.
//   - supervision_trees: for each tree in Trees whose root was observed
//     before or after the phase, the root supervisor is alive after it, and
//     every permanent, non-dynamic slot that held a live process before the
//     phase holds one after it, unless a Processes entry (a terminate_child,
//     or the kill of a child that is not restarted) covers it.
type Check struct {
	Kind      CheckKind    `json:"kind"`
	Nodes     []string     `json:"nodes,omitempty"`
	Processes []ProcessRef `json:"processes,omitempty"`
	Limits    *Limits      `json:"limits,omitempty"`
	Stability *Stability   `json:"stability,omitempty"`
	Params    []ParamRule  `json:"params,omitempty"`
	Effects   []Effect     `json:"effects,omitempty"`
	Trees     []string     `json:"trees,omitempty"`
	Health    *HealthGate  `json:"health,omitempty"`
	// Behaviors, in healthy, is the behavior each target (by PID) must run.
	Behaviors map[string]string `json:"behaviors,omitempty"`
}

// Limits are resources_available's bounds (zero: no bound).
type Limits struct {
	MaxMemoryBytes      int64 `json:"max_memory_bytes,omitempty"`
	MaxProcessCount     int   `json:"max_process_count,omitempty"`
	MaxTotalQueueLength int   `json:"max_total_queue_length,omitempty"`
	// Nodes lists each involved node with the processes the phase starts
	// on it.
	Nodes []NodeLoad `json:"nodes"`
}

// NodeLoad is a node and the processes a phase adds to it.
type NodeLoad struct {
	Node         string `json:"node"`
	NewProcesses int    `json:"new_processes"`
}

// Stability are system_stable's thresholds.
type Stability struct {
	MaxQueueLength    int   `json:"max_queue_length"`
	MaxRecentRestarts int   `json:"max_recent_restarts"`
	MaxMemoryBytes    int64 `json:"max_memory_bytes,omitempty"`
}

// ParamRule is what parameters_valid checks for one operation against the
// live state just before the phase.
type ParamRule struct {
	Op     string     `json:"op"`
	Target ProcessRef `json:"target"`
	// Kind the target must be; empty for any.
	Kind Kind `json:"kind,omitempty"`
	// RequireStrategy / ForbidStrategy: the target supervisor's strategy
	// must (not) be this (start_child with args needs simple_one_for_one,
	// with a child spec must not; a simple_one_for_one supervisor's strategy
	// cannot be changed).
	RequireStrategy spec.Strategy `json:"require_strategy,omitempty"`
	ForbidStrategy  spec.Strategy `json:"forbid_strategy,omitempty"`
	// ChildAbsent: no live process may be in this slot (start_child,
	// delete_child).
	ChildAbsent *ProcessRef `json:"child_absent,omitempty"`
	// ChildPresent: a live process must be in this slot (terminate_child).
	ChildPresent *ProcessRef `json:"child_present,omitempty"`
	// NewProcess: the operation creates its process (spawn): Target, on
	// Target.Node, is not resolved, only NameFree checked.
	NewProcess bool `json:"new_process,omitempty"`
	// NameFree: no live process on Target.Node is registered under this
	// name (the name a spawn registers).
	NameFree string `json:"name_free,omitempty"`
}

// Effect is what "the operation did it" means, checked by comparing the
// state before the phase with the state after it. Target is resolved in the
// before state (its PID there is "the old PID"); Slot, when set, is looked
// up in the after state. Each set field must hold:
//
//   - Exited: the old PID is not alive after.
//   - Replaced: Slot holds a live process whose PID is not the old one (a
//     supervisor restarted the child).
//   - Vacant: Slot holds no live process.
//   - SamePID: Target resolves after to the old PID.
//   - Status: the process at the old PID has this status.
//   - Strategy: the supervisor at the old PID has this strategy.
//   - Delivered: the process at the old PID counts more messages received
//     (messages_in) than before.
//   - SubtreeReplaced: every process that was alive under Slot (below it,
//     not the supervisor itself) is gone, every permanent or transient
//     non-dynamic slot among them holds a new live process, and Slot itself
//     holds a live supervisor.
//   - SubtreeKept: every process alive under Slot before is alive after
//     with the same PID.
//   - Started: Slot holds a live process (and, if it held one before, a
//     different one).
//   - DynamicStarted: the supervisor at the old PID has more live dynamic
//     children than before.
//   - Named: the process at the old PID is registered under that name.
//   - Behavior: the process at the old PID runs that behavior.
//   - SpecDeleted: the supervisor Target resolves to after the phase
//     keeps no child spec with the id Slot ends in (Process.ChildSpecs).
//   - Spawned: the operation created its process (spawn), so Target is
//     not resolved before the phase: after it, the process Target.PID
//     names (the pid in the operation's result, which the executor binds
//     with BindResults) or, without one, the process registered as Named
//     on Target.Node, is alive, unsupervised, was not alive before the
//     phase, runs Behavior and, when Named is set, is registered under it.
type Effect struct {
	Op     string      `json:"op"`
	Type   OpType      `json:"type"`
	Target ProcessRef  `json:"target"`
	Slot   *ProcessRef `json:"slot,omitempty"`

	Exited          bool          `json:"exited,omitempty"`
	Replaced        bool          `json:"replaced,omitempty"`
	Vacant          bool          `json:"vacant,omitempty"`
	SamePID         bool          `json:"same_pid,omitempty"`
	Status          Status        `json:"status,omitempty"`
	Strategy        spec.Strategy `json:"strategy,omitempty"`
	Delivered       bool          `json:"delivered,omitempty"`
	SubtreeReplaced bool          `json:"subtree_replaced,omitempty"`
	SubtreeKept     bool          `json:"subtree_kept,omitempty"`
	Started         bool          `json:"started,omitempty"`
	// Named: the process at the old PID is registered under this name.
	Named string `json:"named,omitempty"`
	// Behavior: the process at the old PID runs this behavior.
	Behavior       string `json:"behavior,omitempty"`
	DynamicStarted bool   `json:"dynamic_started,omitempty"`
	SpecDeleted    bool   `json:"spec_deleted,omitempty"`
	Spawned        bool   `json:"spawned,omitempty"`
}

// BindResults returns checks with the pid each spawn reported in its
// result (results maps an operation id to it) bound into the
// operation_effect entries of those spawns that name none yet, so that
// Evaluate finds the very process the operation created. An executor
// calls it after running its share of a phase, before the post-checks.
func BindResults(checks []Check, results map[string]string) []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		out[i] = c
		if c.Kind != CheckOperationEffect {
			continue
		}
		var effects []Effect
		for k, e := range c.Effects {
			if pid := results[e.Op]; e.Spawned && e.Target.PID == "" && pid != "" {
				if effects == nil {
					effects = slices.Clone(c.Effects)
				}
				effects[k].Target.PID = pid
			}
		}
		if effects != nil {
			out[i].Effects = effects
		}
	}
	return out
}

// ForNode returns the share of c that one node's executor evaluates against
// its own runtime: the nodes, processes, limits, parameter rules and
// effects on that node (references without a node are dropped; they only
// evaluate against the whole cluster's state). Trees are kept: a tree not
// on the node is skipped by the evaluation.
func (c Check) ForNode(node string) Check {
	out := Check{Kind: c.Kind, Stability: c.Stability, Trees: c.Trees, Health: c.Health, Behaviors: c.Behaviors}
	for _, n := range c.Nodes {
		if n == node {
			out.Nodes = append(out.Nodes, n)
		}
	}
	for _, r := range c.Processes {
		if r.Node == node {
			out.Processes = append(out.Processes, r)
		}
	}
	if c.Limits != nil {
		l := *c.Limits
		l.Nodes = nil
		for _, nl := range c.Limits.Nodes {
			if nl.Node == node {
				l.Nodes = append(l.Nodes, nl)
			}
		}
		out.Limits = &l
	}
	for _, r := range c.Params {
		if r.Target.Node == node {
			out.Params = append(out.Params, r)
		}
	}
	for _, e := range c.Effects {
		if e.Target.Node == node {
			out.Effects = append(out.Effects, e)
		}
	}
	return out
}
