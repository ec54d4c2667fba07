package plan

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/spec"
)

// Options carries what Validate and Build need from the caller.
type Options struct {
	// Now is the time the plan is built at (Build only): windows are
	// compared with it. There is no clock in this package.
	Now time.Time
	// KnownBehavior reports whether the runtime's catalog has a behavior;
	// it checks the child specs of start_child. Nil skips the check.
	KnownBehavior func(name string) bool
	// Deployment allows the deployment-only operation types (DeployOpTypes)
	// and Plan.Batches / Plan.Health; a plan file gets neither.
	Deployment bool
	// SkipChecks are the checks the operator skips for this plan (kinds
	// of SkippableChecks; see ParseSkipChecks): Build leaves them out of
	// every phase and lists them in Result.SkippedChecks.
	SkipChecks []CheckKind
}

// Validate checks a plan against every static rule in the package
// documentation and returns nil or an *Error wrapping ErrInvalid, listing
// each problem with its field path. Dependency cycles are named
// ("dependency cycle: a -> b -> c -> a", read "a depends on b").
func Validate(p *Plan, opts Options) error {
	_, err := normalize(p, opts)
	return err
}

// normalize validates p and returns a copy with defaults filled in.
func normalize(p *Plan, opts Options) (*Plan, error) {
	var ps fielderr.List
	if p == nil {
		ps.Add(ErrRequired, "", "no plan")
		return nil, ps.Err(ErrInvalid)
	}
	n := clonePlan(p)
	switch n.SafetyLevel {
	case "":
		n.SafetyLevel = DefaultSafetyLevel
	case Strict, Moderate, Permissive:
	default:
		ps.Add(ErrBadValue, "safety_level", "%q is not one of strict, moderate, permissive", n.SafetyLevel)
	}
	if n.Timeout == "" {
		n.Timeout = DefaultTimeout.String()
	} else if d, err := time.ParseDuration(n.Timeout); err != nil || d <= 0 || d > MaxTimeout {
		ps.Add(ErrBadValue, "timeout", "%q is not a duration in (0, %s]", n.Timeout, MaxTimeout)
	} else {
		n.Timeout = d.String()
	}
	validateConstraints(&ps, &n.Constraints)
	if n.Group != "" && !spec.ValidName(n.Group) {
		ps.Add(ErrBadValue, "group", "%q is not a valid group name (1-63 of A-Z a-z 0-9 _ . -)", n.Group)
	}

	switch {
	case len(n.Operations) == 0:
		ps.Add(ErrRequired, "operations", "a plan needs at least one operation")
	case len(n.Operations) > MaxOperations:
		ps.Add(ErrLimit, "operations", "%d operations, more than the limit of %d", len(n.Operations), MaxOperations)
		return nil, ps.Err(ErrInvalid)
	}
	index := make(map[string]int, len(n.Operations))
	for i := range n.Operations {
		op := &n.Operations[i]
		path := fielderr.Index("operations", i)
		if op.ID == "" {
			ps.Add(ErrRequired, fielderr.Join(path, "id"), "required")
		} else if !spec.ValidName(op.ID) {
			ps.Add(ErrBadValue, fielderr.Join(path, "id"), "%q must be 1-63 letters, digits, '_', '-' or '.', starting with a letter or digit", op.ID)
		} else if first, dup := index[op.ID]; dup {
			ps.Add(ErrDuplicate, fielderr.Join(path, "id"), "duplicate id %q (also operations[%d])", op.ID, first)
		} else {
			index[op.ID] = i
		}
	}
	for i := range n.Operations {
		validateOperation(&ps, fielderr.Index("operations", i), &n.Operations[i], opts)
	}
	// Dependencies, then cycles over the edges that are well formed.
	deps := make([][]int, len(n.Operations))
	for i := range n.Operations {
		op := &n.Operations[i]
		path := fielderr.Join(fielderr.Index("operations", i), "depends_on")
		seen := map[string]bool{}
		for j, d := range op.DependsOn {
			dp := fielderr.Index(path, j)
			k, ok := index[d]
			switch {
			case d == op.ID && d != "":
				ps.Add(ErrCycle, dp, "%q depends on itself (cycle %s -> %s)", d, d, d)
			case seen[d]:
				ps.Add(ErrDuplicate, dp, "%q is listed twice", d)
			case !ok:
				ps.Add(ErrDependency, dp, "unknown operation %q", d)
			default:
				if index[op.ID] == i {
					deps[i] = append(deps[i], k)
				}
			}
			seen[d] = true
		}
	}
	for _, cycle := range findCycles(deps) {
		names := make([]string, len(cycle))
		for k, v := range cycle {
			names[k] = n.Operations[v].ID
		}
		ps.Add(ErrCycle, fielderr.Join(fielderr.Index("operations", cycle[0]), "depends_on"), "dependency cycle: %s", strings.Join(names, " -> "))
	}
	validateBatches(&ps, n, opts)
	for _, k := range opts.SkipChecks {
		if !slices.Contains(SkippableChecks, k) {
			ps.Add(ErrBadValue, "skip_checks", "%q is not a check that can be skipped; valid: %s", k, joinKinds(SkippableChecks))
		}
	}
	if err := ps.Err(ErrInvalid); err != nil {
		return nil, err
	}
	return n, nil
}

func validateConstraints(ps *fielderr.List, c *Constraints) {
	const path = "constraints"
	if c.MaxParallel < 0 {
		ps.Add(ErrBadValue, fielderr.Join(path, "max_parallel"), "%d is negative", c.MaxParallel)
	}
	if c.MaxMemoryBytes < 0 {
		ps.Add(ErrBadValue, fielderr.Join(path, "max_memory_bytes"), "%d is negative", c.MaxMemoryBytes)
	}
	if c.MaxProcessCount < 0 {
		ps.Add(ErrBadValue, fielderr.Join(path, "max_process_count"), "%d is negative", c.MaxProcessCount)
	}
	if c.MaxTotalQueueLength < 0 {
		ps.Add(ErrBadValue, fielderr.Join(path, "max_total_queue_length"), "%d is negative", c.MaxTotalQueueLength)
	}
	if w := c.Window; w != nil {
		w.NotBefore, w.NotAfter = w.NotBefore.UTC(), w.NotAfter.UTC()
		if !w.NotBefore.IsZero() && !w.NotAfter.IsZero() && !w.NotAfter.After(w.NotBefore) {
			ps.Add(ErrBadValue, fielderr.Join(path, "window.not_after"), "%s is not after not_before %s", w.NotAfter.Format(time.RFC3339), w.NotBefore.Format(time.RFC3339))
		}
		if w.NotBefore.IsZero() && w.NotAfter.IsZero() {
			c.Window = nil
		}
	}
}

// supervisorOp reports whether an operation type acts on a supervisor.
func supervisorOp(t OpType) bool {
	switch t {
	case RestartSupervisor, ChangeSupervisorStrategy, StartChild, TerminateChild, RestartChild, DeleteChild:
		return true
	}
	return false
}

func validateOperation(ps *fielderr.List, path string, op *Operation, opts Options) {
	known := slices.Contains(OpTypes, op.Type) || opts.Deployment && slices.Contains(DeployOpTypes, op.Type)
	switch {
	case op.Type == "":
		ps.Add(ErrRequired, fielderr.Join(path, "type"), "required")
	case !known && slices.Contains(DeployOpTypes, op.Type):
		ps.Add(ErrBadValue, fielderr.Join(path, "type"), "%s is run by deployments (steward deploy), not by plans", op.Type)
	case !known:
		names := make([]string, len(OpTypes))
		for i, t := range OpTypes {
			names[i] = string(t)
		}
		ps.Add(ErrBadValue, fielderr.Join(path, "type"), "unknown operation type %q (one of %s)", op.Type, strings.Join(names, ", "))
	}
	if op.Node != "" && !spec.ValidName(op.Node) {
		ps.Add(ErrBadValue, fielderr.Join(path, "node"), "%q is not a node name", op.Node)
	}
	validateTarget(ps, path, op, known)
	if known {
		validateParams(ps, fielderr.Join(path, "params"), op, opts)
	}
}

func validateTarget(ps *fielderr.List, path string, op *Operation, known bool) {
	t := &op.Target
	tp := fielderr.Join(path, "target")
	if op.Type == Spawn {
		// spawn creates its process: there is nothing to target yet.
		if *t != (Target{}) {
			ps.Add(ErrBadValue, tp, "spawn takes no target: it creates its process (give node, and params.name to register it)")
		}
		if op.Node == "" {
			ps.Add(ErrRequired, fielderr.Join(path, "node"), "required for spawn: the node to start the process on")
		}
		return
	}
	forms := 0
	for _, s := range []string{t.Supervisor, t.Name, t.PID} {
		if s != "" {
			forms++
		}
	}
	switch {
	case forms == 0 && t.ChildID != "":
		ps.Add(ErrRequired, fielderr.Join(tp, "supervisor"), "required with child_id")
		return
	case forms == 0:
		ps.Add(ErrRequired, tp, "required: one of supervisor, name or pid")
		return
	case forms > 1:
		ps.Add(ErrBadValue, tp, "give exactly one of supervisor, name or pid")
		return
	}
	switch {
	case t.Supervisor != "":
		if !spec.ValidName(t.Supervisor) {
			ps.Add(ErrBadValue, fielderr.Join(tp, "supervisor"), "%q is not a tree name", t.Supervisor)
		}
		if t.ChildID != "" && !validChildPath(t.ChildID) {
			ps.Add(ErrBadValue, fielderr.Join(tp, "child_id"), "%q is not a child path (child ids joined by '/')", t.ChildID)
		}
	case t.Name != "":
		if t.ChildID != "" {
			ps.Add(ErrBadValue, fielderr.Join(tp, "child_id"), "only with supervisor")
		}
		if !spec.ValidRegisteredName(t.Name) {
			ps.Add(ErrBadValue, fielderr.Join(tp, "name"), "%q is not a registered name", t.Name)
		}
		if known && supervisorOp(op.Type) {
			ps.Add(ErrBadValue, fielderr.Join(tp, "name"), "%s needs a supervisor target: supervisor or pid", op.Type)
		}
		if op.Node == "" {
			ps.Add(ErrRequired, fielderr.Join(path, "node"), "required for a target by name")
		}
	case t.PID != "":
		if t.ChildID != "" {
			ps.Add(ErrBadValue, fielderr.Join(tp, "child_id"), "only with supervisor")
		}
		node, ok := splitPID(t.PID)
		switch {
		case !ok:
			ps.Add(ErrBadValue, fielderr.Join(tp, "pid"), "%q is not a pid (node/seq)", t.PID)
		case op.Node == "":
			op.Node = node
		case op.Node != node:
			ps.Add(ErrBadValue, fielderr.Join(path, "node"), "%q does not match the pid's node %q", op.Node, node)
		}
	}
}

// splitPID checks "node/seq" and returns the node.
func splitPID(pid string) (string, bool) {
	node, seq, ok := strings.Cut(pid, "/")
	if !ok || !spec.ValidName(node) || len(seq) == 0 || len(seq) > 19 || seq[0] == '0' {
		return "", false
	}
	if _, err := strconv.ParseUint(seq, 10, 63); err != nil {
		return "", false
	}
	return node, true
}

func validChildPath(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if !spec.ValidName(seg) {
			return false
		}
	}
	return true
}

// allowedParams lists, per type, the params it takes.
var allowedParams = map[OpType][]string{
	KillProcess:              {"reason"},
	SendMessage:              {"message", "kind"},
	RestartSupervisor:        nil,
	ChangeSupervisorStrategy: {"strategy"},
	SuspendProcess:           nil,
	ResumeProcess:            nil,
	StartChild:               {"child", "args"},
	TerminateChild:           {"child_id"},
	RestartChild:             {"child_id"},
	DeleteChild:              {"child_id"},
	ReplaceState:             {"state"},
	RegisterName:             {"name"},
	Spawn:                    {"behavior", "args", "name", "state"},
	UpgradeCode:              {"behavior", "from", "revert", "slot"},
	RevertCode:               {"behavior", "revert", "state", "slot"},
	ImportStates:             {"states"},
}

func validateParams(ps *fielderr.List, path string, op *Operation, opts Options) {
	p := &op.Params
	given := []struct {
		name string
		set  bool
	}{
		{"message", p.Message != ""},
		{"kind", p.Kind != ""},
		{"strategy", p.Strategy != ""},
		{"reason", p.Reason != ""},
		{"child", p.Child != nil},
		{"args", p.Args != nil},
		{"child_id", p.ChildID != ""},
		{"state", p.State != ""},
		{"name", p.Name != ""},
		{"behavior", p.Behavior != ""},
		{"from", p.From != ""},
		{"revert", p.Revert != ""},
		{"slot", p.Slot != ""},
		{"states", p.States != nil},
	}
	for _, g := range given {
		if g.set && !slices.Contains(allowedParams[op.Type], g.name) {
			ps.Add(ErrBadValue, fielderr.Join(path, g.name), "not used by %s", op.Type)
		}
	}
	switch op.Type {
	case KillProcess:
		if p.Reason == "" {
			p.Reason = DefaultReason
		} else if len(p.Reason) > MaxReasonLen || !printable(p.Reason) {
			ps.Add(ErrBadValue, fielderr.Join(path, "reason"), "must be at most %d printable bytes", MaxReasonLen)
		}
	case SendMessage:
		switch {
		case p.Message == "":
			ps.Add(ErrRequired, fielderr.Join(path, "message"), "required for send_message")
		case len(p.Message) > MaxMessageBytes:
			ps.Add(ErrLimit, fielderr.Join(path, "message"), "%d bytes, more than the limit of %d", len(p.Message), MaxMessageBytes)
		}
		if p.Kind != "" && p.Kind != "info" && p.Kind != "cast" {
			ps.Add(ErrBadValue, fielderr.Join(path, "kind"), "%q is not info or cast", p.Kind)
		}
	case ReplaceState:
		switch {
		case p.State == "":
			ps.Add(ErrRequired, fielderr.Join(path, "state"), "required for replace_state")
		case len(p.State) > MaxStateBytes:
			ps.Add(ErrLimit, fielderr.Join(path, "state"), "%d bytes, more than the limit of %d", len(p.State), MaxStateBytes)
		}
	case ImportStates:
		validateImportStates(ps, path, op, opts)
	case UpgradeCode, RevertCode:
		switch {
		case p.Behavior == "":
			ps.Add(ErrRequired, fielderr.Join(path, "behavior"), "required for %s", op.Type)
		case opts.KnownBehavior != nil && !opts.KnownBehavior(p.Behavior):
			ps.Add(ErrBadValue, fielderr.Join(path, "behavior"), "unknown behavior %q", p.Behavior)
		}
		if op.Type == UpgradeCode && p.From == "" {
			ps.Add(ErrRequired, fielderr.Join(path, "from"), "required for upgrade_code")
		}
		if p.Revert != RevertDown && p.Revert != RevertRestore {
			ps.Add(ErrBadValue, fielderr.Join(path, "revert"), "%q is not %s or %s", p.Revert, RevertDown, RevertRestore)
		}
		if len(p.State) > MaxStateBytes {
			ps.Add(ErrLimit, fielderr.Join(path, "state"), "%d bytes, more than the limit of %d", len(p.State), MaxStateBytes)
		}
		if op.Target.PID == "" {
			ps.Add(ErrBadValue, fielderr.Join(path, "target"), "%s targets a process by pid", op.Type)
		}
	case RegisterName:
		switch {
		case p.Name == "":
			ps.Add(ErrRequired, fielderr.Join(path, "name"), "required for register_name")
		case !spec.ValidRegisteredName(p.Name):
			ps.Add(ErrBadValue, fielderr.Join(path, "name"), "%q is not a valid registered name (1-128 of A-Z a-z 0-9 _ . -, starting with a letter)", p.Name)
		}
	case Spawn:
		switch {
		case p.Behavior == "":
			ps.Add(ErrRequired, fielderr.Join(path, "behavior"), "required for spawn: the catalog behavior to start")
		case opts.KnownBehavior != nil && !opts.KnownBehavior(p.Behavior):
			ps.Add(ErrBadValue, fielderr.Join(path, "behavior"), "unknown behavior %q (spawn starts catalog behaviors only)", p.Behavior)
		}
		validArgs(ps, path, p.Args)
		if p.Name != "" && !spec.ValidRegisteredName(p.Name) {
			ps.Add(ErrBadValue, fielderr.Join(path, "name"), "%q is not a valid registered name (1-128 of A-Z a-z 0-9 _ . -, starting with a letter)", p.Name)
		}
		if len(p.State) > MaxStateBytes {
			ps.Add(ErrLimit, fielderr.Join(path, "state"), "%d bytes, more than the limit of %d", len(p.State), MaxStateBytes)
		}
	case ChangeSupervisorStrategy:
		switch p.Strategy {
		case "":
			ps.Add(ErrRequired, fielderr.Join(path, "strategy"), "required for change_supervisor_strategy")
		case spec.OneForOne, spec.OneForAll, spec.RestForOne:
		case spec.SimpleOneForOne:
			ps.Add(ErrBadValue, fielderr.Join(path, "strategy"), "a supervisor cannot be changed to simple_one_for_one: its children are started differently")
		default:
			ps.Add(ErrBadValue, fielderr.Join(path, "strategy"), "%q is not one of one_for_one, one_for_all, rest_for_one", p.Strategy)
		}
	case StartChild:
		switch {
		case p.Child == nil && p.Args == nil:
			ps.Add(ErrRequired, path, "start_child needs child (a child spec) or args (for a simple_one_for_one supervisor)")
		case p.Child != nil && p.Args != nil:
			ps.Add(ErrBadValue, path, "give child or args, not both")
		case p.Child != nil:
			err := spec.ValidateChild(*p.Child, spec.ValidateOptions{KnownBehavior: opts.KnownBehavior})
			var se *spec.Error
			if errors.As(err, &se) {
				for _, sp := range se.Problems {
					ps.Add(ErrBadValue, fielderr.Join(fielderr.Join(path, "child"), sp.Path), "%s", sp.Message)
				}
			}
			c := p.Child.Clone()
			spec.NormalizeChild(&c)
			p.Child = &c
		default:
			validArgs(ps, path, p.Args)
		}
	case TerminateChild, RestartChild, DeleteChild:
		switch {
		case p.ChildID == "":
			ps.Add(ErrRequired, fielderr.Join(path, "child_id"), "required for %s", op.Type)
		case spec.ValidName(p.ChildID):
		case op.Type == TerminateChild && isPID(p.ChildID):
			// A simple_one_for_one child is named by its pid.
		case op.Type == DeleteChild && isPID(p.ChildID):
			ps.Add(ErrBadValue, fielderr.Join(path, "child_id"), "%q is a pid: delete_child takes a static child's id (a simple_one_for_one instance is removed by terminate_child)", p.ChildID)
		default:
			ps.Add(ErrBadValue, fielderr.Join(path, "child_id"), "%q is not a child id", p.ChildID)
		}
	}
}

// validArgs checks the keys of start_child's or spawn's args.
func validArgs(ps *fielderr.List, path string, args map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(args)) {
		if !spec.ValidName(k) {
			ps.Add(ErrBadValue, fielderr.Join(path, "args"), "key %q is not a valid arg name", k)
		}
	}
}

func isPID(s string) bool { _, ok := splitPID(s); return ok }

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validateBatches checks a deployment's explicit phase sizes and health
// gate; a plan file may have neither.
func validateBatches(ps *fielderr.List, n *Plan, opts Options) {
	if !opts.Deployment {
		if len(n.Batches) > 0 {
			ps.Add(ErrBadValue, "batches", "only deployments give explicit batches")
		}
		if n.Health != nil {
			ps.Add(ErrBadValue, "health", "only deployments gate on health")
		}
		return
	}
	if h := n.Health; h != nil && (h.MinHealthyMS < 0 || h.HealthyDeadlineMS < h.MinHealthyMS || h.MaxQueueLength < 0 || h.ProbeFactor < 0 || h.ProbeSlackMS < 0) {
		ps.Add(ErrBadValue, "health", "needs 0 <= min_healthy_ms <= healthy_deadline_ms and no negative bound")
	}
	if len(n.Batches) == 0 {
		return
	}
	sum := 0
	for i, b := range n.Batches {
		if b <= 0 {
			ps.Add(ErrBadValue, fielderr.Index("batches", i), "a batch has at least one operation")
		}
		sum += b
	}
	if sum != len(n.Operations) {
		ps.Add(ErrBadValue, "batches", "the batches add up to %d operations, the plan has %d", sum, len(n.Operations))
	}
	for i, op := range n.Operations {
		if len(op.DependsOn) > 0 {
			ps.Add(ErrBadValue, fielderr.Join(fielderr.Index("operations", i), "depends_on"), "operations in batches do not depend on one another")
		}
	}
}
