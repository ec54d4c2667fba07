package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// Verdict is a check's outcome.
type Verdict string

const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
)

// CheckName names an isolation check.
type CheckName string

const (
	CheckMessages  CheckName = "message_isolation"
	CheckState     CheckName = "state_isolation"
	CheckResources CheckName = "resource_isolation"
	CheckCode      CheckName = "code_isolation"
)

// Report is the outcome of Verify: a verdict per check, and Pass overall
// only when every check passes.
type Report struct {
	Tree    string    `json:"tree"`
	Node    string    `json:"node,omitempty"`
	At      time.Time `json:"at"`
	Verdict Verdict   `json:"verdict"`
	Checks  []Check   `json:"checks"`
	// Errors lists the records that could not be read (each fails the
	// checks that need it).
	Errors []string `json:"errors,omitempty"`
}

// Check is one isolation check: what it requires, its verdict, and the
// evidence for it (the items that fail it, and those it lists as allowed).
type Check struct {
	Name     CheckName  `json:"name"`
	Verdict  Verdict    `json:"verdict"`
	Rule     string     `json:"rule"`
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one item a check looked at. Fails says whether it fails the
// check; What says it in a sentence; at most one of the structured fields
// is set, the record the item comes from.
type Evidence struct {
	Fails     bool                      `json:"fails"`
	What      string                    `json:"what"`
	Crossing  *actor.SandboxCrossing    `json:"crossing,omitempty"`
	Violation *actor.SandboxViolation   `json:"violation,omitempty"`
	Access    *actor.SandboxStateAccess `json:"access,omitempty"`
	Usage     *UsageEvidence            `json:"usage,omitempty"`
	Code      *CodeEvidence             `json:"code,omitempty"`
}

// UsageEvidence is one usage figure against its limit (0: none).
type UsageEvidence struct {
	Resource string    `json:"resource"`
	Time     time.Time `json:"time"`
	Value    int64     `json:"value"`
	Limit    int64     `json:"limit"`
}

// CodeEvidence is what a process of the sandbox runs against what its
// child spec declares.
type CodeEvidence struct {
	PID     actor.PID `json:"pid"`
	ChildID string    `json:"child_id"`
	// Behavior and Version are what the process runs (actor.ProcessInfo);
	// Module is the module or native behavior they are a version of.
	Behavior string `json:"behavior"`
	Version  string `json:"version,omitempty"`
	Module   string `json:"module"`
	// Declared is the child spec's behavior or module reference ("" for a
	// process no child spec declares); Allowed the versions the caller
	// allows for Module.
	Declared string   `json:"declared"`
	Allowed  []string `json:"allowed,omitempty"`
}

// The rule of each check, as the report states it.
const (
	RuleMessages = "strict: every crossing of the boundary, outbound or inbound, was refused (each recorded crossing has a boundary violation); " +
		"moderate and permissive: crossings are allowed and listed; the runtime must enforce at least the declared level"
	RuleState = "no process outside the sandbox read or replaced a state inside it, and no process inside one outside it " +
		"(get_state, replace_state, code_change, restore_code); the node's system path is allowed and listed"
	RuleResources = "usage stayed within the declared limits (processes, memory) in every sample and was readable, " +
		"no message was dropped and no callback throttled at a limit, " +
		"and no resource violation (any kind other than boundary, outside_targets, outside_links) was recorded"
	RuleCode = "every worker runs the module its child spec declares, at the pinned version or one the caller allows; " +
		"no process runs outside the spec"
)

// Verify runs the four isolation checks on obs. It reads nothing else: a
// record obs lacks fails every check that needs it.
func Verify(obs Observation) Report {
	r := Report{Tree: obs.Tree, Node: obs.Node, At: obs.At, Verdict: Pass, Errors: slices.Clone(obs.Errors)}
	r.Checks = []Check{checkMessages(obs), checkState(obs), checkResources(obs), checkCode(obs)}
	for _, c := range r.Checks {
		if c.Verdict == Fail {
			r.Verdict = Fail
		}
	}
	return r
}

func (c *Check) add(fails bool, e Evidence, format string, args ...any) {
	e.Fails, e.What = fails, fmt.Sprintf(format, args...)
	c.Evidence = append(c.Evidence, e)
}

func (c *Check) done() Check {
	c.Verdict = Pass
	for _, e := range c.Evidence {
		if e.Fails {
			c.Verdict = Fail
		}
	}
	if c.Evidence == nil {
		c.Evidence = []Evidence{}
	}
	return *c
}

var levelRank = map[actor.Isolation]int{actor.IsolationPermissive: 1, actor.IsolationModerate: 2, actor.IsolationStrict: 3}

// ringComplete reports whether obs's violation ring holds every violation
// the status counted.
func ringComplete(obs Observation) bool {
	n := len(obs.Violations)
	return n < actor.SandboxViolationRing && uint64(n) >= obs.Status.Violations
}

func checkMessages(obs Observation) Check {
	c := Check{Name: CheckMessages, Rule: RuleMessages}
	st := obs.Status
	if st == nil {
		c.add(true, Evidence{}, "the sandbox's status and violations could not be read")
		return c.done()
	}
	declared, enforced := obs.Policy.Isolation, st.Policy.Isolation
	if declared == "" {
		declared = enforced
	}
	if levelRank[enforced] < levelRank[declared] {
		c.add(true, Evidence{}, "declared %s, but the runtime enforces %s", declared, enforced)
	}
	refused := map[string]uint64{}
	for i := range obs.Violations {
		v := &obs.Violations[i]
		if v.Kind == actor.ViolationBoundary {
			refused[crossingKey(v.PID, v.Op, v.OtherEnd())]++
		}
	}
	complete := ringComplete(obs)
	for i := range st.Crossings {
		x := st.Crossings[i]
		if declared != actor.IsolationStrict {
			c.add(false, Evidence{Crossing: &x}, "%s %s %s: %d crossings, allowed at %s", x.PID, x.Op, x.Other, x.Count, declared)
			continue
		}
		n := refused[crossingKey(x.PID, x.Op, x.Other)]
		switch {
		case n >= x.Count:
			c.add(false, Evidence{Crossing: &x}, "%s %s %s: %d crossings, all refused", x.PID, x.Op, x.Other, x.Count)
		case !complete:
			c.add(true, Evidence{Crossing: &x}, "%s %s %s: %d crossings, %d known refused; the violation ring dropped older violations (%d recorded, %d kept), so the rest cannot be shown refused",
				x.PID, x.Op, x.Other, x.Count, n, st.Violations, len(obs.Violations))
		default:
			c.add(true, Evidence{Crossing: &x}, "%s %s %s: %d of %d crossings were not refused (strict forbids them)", x.PID, x.Op, x.Other, x.Count-n, x.Count)
		}
	}
	if st.CrossingsDropped > 0 {
		c.add(declared == actor.IsolationStrict, Evidence{}, "%d crossings were not kept (the table holds %d)", st.CrossingsDropped, actor.SandboxMaxCrossings)
	}
	for i := range obs.Violations {
		v := obs.Violations[i]
		switch v.Kind {
		case actor.ViolationBoundary, actor.ViolationOutsideTargets, actor.ViolationOutsideLinks:
			c.add(false, Evidence{Violation: &v}, "violation: %s", v)
		}
	}
	return c.done()
}

// crossingKey is a crossing's identity in the crossings table: the
// sandboxed process, the operation and the other end as rendered there.
func crossingKey(pid actor.PID, op actor.BoundaryOp, other string) string {
	return pid.String() + " " + string(op) + " " + other
}

func checkState(obs Observation) Check {
	c := Check{Name: CheckState, Rule: RuleState}
	log := obs.Accesses
	if log == nil {
		c.add(true, Evidence{}, "the sandbox's state accesses could not be read")
		return c.done()
	}
	for i := range log.Accesses {
		a := log.Accesses[i]
		target := a.Target.String()
		if a.TargetChildID != "" {
			target += " (" + a.TargetChildID + ")"
		}
		if a.TargetTree != "" && !a.TargetInside {
			target += "@" + a.TargetTree
		}
		switch {
		case a.System:
			c.add(false, Evidence{Access: &a}, "system path: %s of %s, %s (allowed)", a.Op, target, times(a.Count))
		case a.CallerInside && a.TargetInside:
			c.add(false, Evidence{Access: &a}, "%s inside: %s of %s inside, %s (allowed)", a.Caller, a.Op, target, times(a.Count))
		case a.TargetInside:
			c.add(true, Evidence{Access: &a}, "%s outside the sandbox: %s of %s inside it, %s", a.Caller, a.Op, target, times(a.Count))
		default:
			c.add(true, Evidence{Access: &a}, "%s inside the sandbox: %s of %s outside it, %s", a.Caller, a.Op, target, times(a.Count))
		}
	}
	if log.Dropped > 0 {
		c.add(true, Evidence{}, "%d state accesses were not kept (the record holds %d)", log.Dropped, actor.SandboxMaxAccesses)
	}
	return c.done()
}

func times(n uint64) string {
	if n == 1 {
		return "once"
	}
	return strconv.FormatUint(n, 10) + " times"
}

func checkResources(obs Observation) Check {
	c := Check{Name: CheckResources, Rule: RuleResources}
	st := obs.Status
	if st == nil {
		c.add(true, Evidence{}, "the sandbox's status and violations could not be read")
		return c.done()
	}
	maxProcs, maxMem := int64(obs.Policy.Limits.MaxProcesses), obs.Policy.Limits.MaxMemoryBytes
	if maxProcs == 0 {
		maxProcs = int64(st.Policy.MaxProcesses)
	}
	if maxMem == 0 {
		maxMem = st.Policy.MaxMemoryBytes
	}
	usage := func(what string, at time.Time, v, limit int64) {
		over := limit > 0 && v > limit
		e := Evidence{Usage: &UsageEvidence{Resource: what, Time: at, Value: v, Limit: limit}}
		switch {
		case over:
			c.add(true, e, "%s %d over the limit %d at %s", what, v, limit, at.Format(time.RFC3339Nano))
		case limit > 0:
			c.add(false, e, "%s %d within the limit %d at %s", what, v, limit, at.Format(time.RFC3339Nano))
		default:
			c.add(false, e, "%s %d (no limit) at %s", what, v, at.Format(time.RFC3339Nano))
		}
	}
	for _, s := range obs.Usage {
		usage("processes", s.Time, s.Processes, maxProcs)
		usage("memory_bytes", s.Time, s.MemoryBytes, maxMem)
		if s.CPUPercent > 0 {
			c.add(false, Evidence{}, "cpu %.1f%% of one core over the interval ending %s (limit %d%%, enforced by throttling)",
				s.CPUPercent, s.Time.Format(time.RFC3339Nano), cpuLimit(obs))
		}
		if len(s.Unreadable) > 0 {
			c.add(true, Evidence{}, "the usage of %v could not be read at %s (memory is a lower bound)", s.Unreadable, s.Time.Format(time.RFC3339Nano))
		}
	}
	if len(obs.Usage) == 0 {
		usage("processes", obs.At, st.Processes, maxProcs)
		usage("memory_bytes", obs.At, st.MemoryBytes, maxMem)
	}
	if st.RateDropped > 0 {
		c.add(true, Evidence{}, "%d messages dropped at max_messages_per_second", st.RateDropped)
	}
	if st.MailboxDropped > 0 {
		c.add(true, Evidence{}, "%d messages refused at max_mailbox", st.MailboxDropped)
	}
	if st.Throttles > 0 {
		c.add(true, Evidence{}, "throttled %d times at cpu_percent %d (%s in all)", st.Throttles, cpuLimit(obs), st.ThrottledTime)
	}
	for i := range obs.Violations {
		v := obs.Violations[i]
		switch v.Kind {
		case actor.ViolationBoundary, actor.ViolationOutsideTargets, actor.ViolationOutsideLinks:
			continue
		}
		c.add(true, Evidence{Violation: &v}, "violation: %s", v)
	}
	if !ringComplete(obs) {
		c.add(true, Evidence{}, "%d violations recorded, %d kept: the dropped ones cannot be told apart", st.Violations, len(obs.Violations))
	}
	return c.done()
}

func cpuLimit(obs Observation) int {
	if n := obs.Policy.Limits.CPUPercent; n > 0 {
		return n
	}
	if obs.Status != nil {
		return obs.Status.Policy.CPUPercent
	}
	return 0
}

// codeID is a version of a module (a stored WebAssembly module, wasm) or
// of a native behavior (its catalog entry).
type codeID struct {
	module, version string
	wasm            bool
}

// wasmPrefix starts the catalog name of a stored module version,
// "wasm:NAME@VERSION" (hotcode/store.BehaviorPrefix).
const wasmPrefix = "wasm:"

func parseWasm(behavior string) (codeID, bool) {
	ref, ok := strings.CutPrefix(behavior, wasmPrefix)
	if !ok {
		return codeID{}, false
	}
	name, version, ok := strings.Cut(ref, "@")
	return codeID{module: name, version: version, wasm: true}, ok && name != "" && version != ""
}

func runningCode(pi actor.ProcessInfo) codeID {
	if id, ok := parseWasm(pi.Behavior); ok {
		return id
	}
	return codeID{module: pi.Behavior, version: pi.Version}
}

// declaredCode is what a worker's child spec declares; version "" is any
// (a module following its active version, a native behavior).
func declaredCode(cs spec.ChildSpec) (codeID, error) {
	if cs.Module != "" {
		ref, err := spec.ParseModuleRef(cs.Module)
		if err != nil {
			return codeID{}, err
		}
		return codeID{module: ref.Name, version: ref.Version, wasm: true}, nil
	}
	if id, ok := parseWasm(cs.Behavior); ok {
		return id, nil
	}
	return codeID{module: cs.Behavior}, nil
}

// findChild resolves a process's child path in the spec: nil, false when
// no child spec declares it; sup reports a supervisor (the root is "").
// An instance of a simple_one_for_one template ("id-N") is the template's.
func findChild(ss spec.SupervisorSpec, path string) (cs *spec.ChildSpec, sup, ok bool) {
	if path == "" {
		return nil, true, true
	}
	cur := ss
	parts := strings.Split(path, "/")
	for i, id := range parts {
		var hit *spec.ChildSpec
		for j := range cur.Children {
			ch := &cur.Children[j]
			if cur.Strategy == spec.SimpleOneForOne {
				if n, found := strings.CutPrefix(id, ch.ID+"-"); found && isSeq(n) {
					hit = ch
				}
			} else if ch.ID == id {
				hit = ch
			}
			if hit != nil {
				break
			}
		}
		if hit == nil {
			return nil, false, false
		}
		isSup := hit.Type == spec.Supervisor
		if i == len(parts)-1 {
			return hit, isSup, true
		}
		if !isSup {
			return nil, false, false
		}
		cur = hit.SupervisorSpec
	}
	return nil, false, false
}

func isSeq(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == s
}

func checkCode(obs Observation) Check {
	c := Check{Name: CheckCode, Rule: RuleCode}
	switch {
	case obs.Spec.Name == "":
		c.add(true, Evidence{}, "no tree spec was declared")
		return c.done()
	case obs.Spec.Name != obs.Tree:
		c.add(true, Evidence{}, "the spec is for tree %q", obs.Spec.Name)
		return c.done()
	case obs.Processes == nil:
		c.add(true, Evidence{}, "the sandbox's processes could not be read")
		return c.done()
	case len(obs.Processes) == 0:
		c.add(true, Evidence{}, "no process runs in the sandbox")
		return c.done()
	}
	for _, pi := range obs.Processes {
		cs, sup, ok := findChild(obs.Spec.SupervisorSpec, pi.ChildID)
		run := runningCode(pi)
		ev := &CodeEvidence{PID: pi.PID, ChildID: pi.ChildID, Behavior: pi.Behavior, Version: pi.Version, Module: run.module}
		name := pi.ChildID
		if name == "" {
			name = "root"
		}
		switch {
		case !ok:
			c.add(true, Evidence{Code: ev}, "%s %s runs %s, and no child spec declares it", pi.PID, name, pi.Behavior)
			continue
		case sup != pi.Supervisor:
			what := map[bool]string{true: "a supervisor", false: "a worker"}
			c.add(true, Evidence{Code: ev}, "%s %s is %s, declared %s", pi.PID, name, what[pi.Supervisor], what[sup])
			continue
		case sup:
			continue // a supervisor runs the runtime's code
		}
		ev.Declared = cs.Module
		if ev.Declared == "" {
			ev.Declared = cs.Behavior
		}
		d, err := declaredCode(*cs)
		if err != nil {
			c.add(true, Evidence{Code: ev}, "%s %s: its child spec's module is invalid: %v", pi.PID, name, err)
			continue
		}
		allowed, listed := obs.AllowedVersions[d.module]
		ev.Allowed = slices.Clone(allowed)
		runs := run.module
		if run.version != "" {
			runs += "@" + run.version
		}
		switch {
		case run.module != d.module || run.wasm != d.wasm:
			c.add(true, Evidence{Code: ev}, "%s %s runs %s, declared %s", pi.PID, name, pi.Behavior, ev.Declared)
		case d.version != "" && run.version == d.version:
			c.add(false, Evidence{Code: ev}, "%s %s runs %s, the pinned version", pi.PID, name, runs)
		case slices.Contains(allowed, run.version):
			c.add(false, Evidence{Code: ev}, "%s %s runs %s, an allowed version", pi.PID, name, runs)
		case d.version != "":
			c.add(true, Evidence{Code: ev}, "%s %s runs %s, declared %s (allowed besides: %v)", pi.PID, name, runs, ev.Declared, allowed)
		case d.wasm && !listed:
			c.add(true, Evidence{Code: ev}, "%s %s runs %s and follows the active version of %s, but no allowed version was given for it", pi.PID, name, runs, d.module)
		case d.wasm:
			c.add(true, Evidence{Code: ev}, "%s %s runs %s, not an allowed version of %s %v", pi.PID, name, runs, d.module, allowed)
		case !listed:
			c.add(false, Evidence{Code: ev}, "%s %s runs %s, the declared behavior", pi.PID, name, runs)
		default:
			c.add(true, Evidence{Code: ev}, "%s %s runs %s, not an allowed version of %s %v", pi.PID, name, runs, d.module, allowed)
		}
	}
	return c.done()
}
