package plan

// Result is a built plan: the normalized operations, the dependency graph,
// the phases with their checks and rollbacks, the conflicts found and the
// time estimate. It is deterministic for the same plan, facts and options,
// and plain data (JSON tags) so that it can be committed and executed
// phase by phase.
type Result struct {
	SafetyLevel SafetyLevel `json:"safety_level"`
	// Timeout is the normalized plan timeout (Go duration).
	Timeout string  `json:"timeout"`
	Window  *Window `json:"window,omitempty"`
	// Group is the plan's group (see Plan.Group).
	Group string `json:"group,omitempty"`
	// Operations are the plan's operations, normalized (defaults filled,
	// node taken from a pid target), in declaration order.
	Operations []Operation `json:"operations"`
	// Order is a topological order of all edges, ties broken by level and
	// then declaration order; strict runs exactly this order.
	Order []string `json:"order"`
	// Schedule places each operation, in Order.
	Schedule []Placement `json:"schedule"`
	Edges    []Edge      `json:"edges"`
	Phases   []Phase     `json:"phases"`
	// Conflicts of error severity made Build return ErrConflict.
	Conflicts []Conflict `json:"conflicts"`
	Estimate  Estimate   `json:"estimate"`
	// SkippedChecks are the checks the operator skipped (Options.SkipChecks):
	// no phase has them. Absent in plans built before skipping existed.
	SkippedChecks []CheckKind `json:"skipped_checks,omitempty"`

	// idx finds operations and compensations by id (Build and decoding
	// set it; a deployment has up to MaxOperations of them).
	idx *resultIndex
}

// Placement is where one operation landed.
type Placement struct {
	Op     string `json:"op"`
	Level  int    `json:"level"`
	Phase  int    `json:"phase"`
	Impact int    `json:"impact"`
	// EstimatedMS is the operation's own duration estimate (ms).
	EstimatedMS int64 `json:"estimated_ms"`
}

// EdgeKind says where an edge comes from.
type EdgeKind string

const (
	// Explicit edges come from depends_on.
	Explicit EdgeKind = "explicit"
	// Implicit edges come from the facts: one operation affects another's
	// target, or both share a target, and depends_on did not order them.
	Implicit EdgeKind = "implicit"
)

// Edge orders two operations: From runs in an earlier phase than To.
type Edge struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Kind   EdgeKind `json:"kind"`
	Reason string   `json:"reason"`
}

// Phase is a set of operations run in parallel, between a barrier before
// and after.
type Phase struct {
	Index int `json:"index"`
	// Level is the dependency level (longest path from a root) shared by
	// the phase's operations.
	Level      int      `json:"level"`
	Operations []string `json:"operations"`
	// Impact is the summed impact of the operations (see ImpactBudget).
	Impact     int     `json:"impact"`
	PreChecks  []Check `json:"pre_checks"`
	PostChecks []Check `json:"post_checks"`
	// Rollback compensates the phase's operations, in the order to run them
	// (the reverse of declaration order); operations that cannot be undone
	// are listed with a nil Operation and a note. Rolling back a plan runs
	// the Rollback of each executed phase, last phase first.
	Rollback    []Compensation `json:"rollback"`
	EstimatedMS int64          `json:"estimated_ms"`
}

// Severity of a conflict.
type Severity string

const (
	// SeverityError refuses the plan.
	SeverityError Severity = "error"
	// SeverityWarning is reported only.
	SeverityWarning Severity = "warning"
)

// ConflictKind names a conflict.
type ConflictKind string

const (
	ConflictSameTarget        ConflictKind = "same_target"        // warning: serialized by an implicit edge
	ConflictStaleTarget       ConflictKind = "stale_target"       // error: a pid an earlier operation ends
	ConflictHighImpact        ConflictKind = "high_impact"        // warning: > MaxHighImpactPerPhase in a phase
	ConflictWindowOverlap     ConflictKind = "window_overlap"     // warning; error when a target is shared
	ConflictWindowClosed      ConflictKind = "window_closed"      // error
	ConflictWindowTooShort    ConflictKind = "window_too_short"   // warning: the estimate ends after not_after
	ConflictTimeoutTooShort   ConflictKind = "timeout_too_short"  // warning: the estimate exceeds the timeout
	ConflictTargetMissing     ConflictKind = "target_missing"     // error
	ConflictTargetNotAlive    ConflictKind = "target_not_alive"   // error
	ConflictTargetKind        ConflictKind = "target_kind"        // error: a supervisor operation on a plain process
	ConflictNodeDown          ConflictKind = "node_down"          // error
	ConflictNodeMismatch      ConflictKind = "node_mismatch"      // error: the target is on another node than the operation names
	ConflictChildExists       ConflictKind = "child_exists"       // error: start_child of an id already present
	ConflictChildMissing      ConflictKind = "child_missing"      // error: terminate/restart/delete_child of an unknown child
	ConflictChildRunning      ConflictKind = "child_running"      // error: delete_child of a running child that no earlier phase terminates (OTP's {error, running})
	ConflictStrategyMismatch  ConflictKind = "strategy_mismatch"  // error: start_child form vs simple_one_for_one, or changing a simple_one_for_one supervisor
	ConflictNoOp              ConflictKind = "no_op"              // warning: the operation would change nothing
	ConflictResourcesExceeded ConflictKind = "resources_exceeded" // warning: a node is over a constraint now
	ConflictUnstable          ConflictKind = "unstable"           // warning: a node fails system_stable now
	ConflictNoFacts           ConflictKind = "no_facts"           // warning: planned without facts
	ConflictNodeUnknown       ConflictKind = "node_unknown"       // warning: no facts for a node
	ConflictNameTaken         ConflictKind = "name_taken"         // error: spawn of a name registered on its node
)

// Conflict is a problem found while planning.
type Conflict struct {
	Kind       ConflictKind `json:"kind"`
	Severity   Severity     `json:"severity"`
	Operations []string     `json:"operations,omitempty"`
	// Phase is set for a conflict within one phase.
	Phase   *int   `json:"phase,omitempty"`
	Message string `json:"message"`
}

// Compensation undoes one operation, as far as it can be undone.
type Compensation struct {
	// Op is the operation compensated.
	Op string `json:"op"`
	// Operation is the compensating operation (id "rollback-<op>"); nil
	// when the operation cannot be undone.
	Operation *Operation `json:"operation,omitempty"`
	// Then are operations run after Operation succeeded, in order, on the
	// same node, each once the one before succeeded; the compensation
	// reports as one outcome (Operation's id). A start_child's is
	// terminate_child then delete_child. Absent in plans built before it
	// existed: those compensations are the one Operation.
	Then []Operation `json:"then,omitempty"`
	// ChildFromResult: the compensating terminate_child's child_id is the
	// PID reported in Op's result (a start_child under simple_one_for_one).
	ChildFromResult bool `json:"child_from_result,omitempty"`
	// TargetFromResult: the compensating operation's target is the PID
	// reported in Op's result (the kill_process of a spawned process).
	TargetFromResult bool `json:"target_from_result,omitempty"`
	// StateFromCapture: the operation's state is the one the phase's step
	// captured for the target (revert_code of a module without downgrade).
	StateFromCapture bool `json:"state_from_capture,omitempty"`
	// Note says what the compensation does, or why there is none.
	Note string `json:"note"`
}

// Estimate is the planned duration (ms): the phases' estimates summed.
type Estimate struct {
	TotalMS int64 `json:"total_ms"`
	// OperationsMS, ChecksMS and BarriersMS split TotalMS.
	OperationsMS int64 `json:"operations_ms"`
	ChecksMS     int64 `json:"checks_ms"`
	BarriersMS   int64 `json:"barriers_ms"`
}

// Refused reports whether a conflict of error severity was found.
func (r *Result) Refused() bool {
	for _, c := range r.Conflicts {
		if c.Severity == SeverityError {
			return true
		}
	}
	return false
}
