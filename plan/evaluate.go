package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/steward/steward/spec"
)

// Observed is a snapshot of the runtimes a check looks at: an executor
// takes one just before a phase and one just after it. Only live processes
// are listed.
type Observed struct {
	Nodes []NodeState `json:"nodes"`
}

// NodeState is one node's runtime.
type NodeState struct {
	Node  string `json:"node"`
	Alive bool   `json:"alive"`
	// MemoryBytes the node's runtime uses (bytes).
	MemoryBytes int64 `json:"memory_bytes"`
	// RecentRestarts counts child restarts within StabilityPeriod.
	RecentRestarts int       `json:"recent_restarts"`
	Processes      []Process `json:"processes"`
}

// Process is one live process.
type Process struct {
	PID    string `json:"pid"`
	Kind   Kind   `json:"kind"`
	Status Status `json:"status"`
	// Tree and Slot place a supervised process (Slot "" for a tree's root
	// supervisor); Dynamic marks a simple_one_for_one instance, whose Slot
	// ends in the id its supervisor gave it (the template's id and a
	// sequence number: "pool/worker-3"), kept across its restarts.
	Tree    string `json:"tree,omitempty"`
	Slot    string `json:"slot,omitempty"`
	Dynamic bool   `json:"dynamic,omitempty"`
	// Parent is the supervising process's PID.
	Parent   string        `json:"parent,omitempty"`
	Restart  spec.Restart  `json:"restart,omitempty"`
	Strategy spec.Strategy `json:"strategy,omitempty"`
	Name     string        `json:"name,omitempty"`
	// Links are the PIDs linked to this process.
	Links []string `json:"links,omitempty"`
	// QueueLength is the mailbox length (messages).
	QueueLength int `json:"queue_length"`
	// MessagesIn counts the messages ever delivered to the mailbox.
	MessagesIn uint64 `json:"messages_in"`
	// Behavior is the catalog behavior a worker runs.
	Behavior string `json:"behavior,omitempty"`
	// ChildSpecs are, for a supervisor, the ids of the static child specs
	// it keeps, running or not (delete_child's effect looks here).
	ChildSpecs []string `json:"child_specs,omitempty"`
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Kind     CheckKind `json:"kind"`
	OK       bool      `json:"ok"`
	Failures []string  `json:"failures,omitempty"`
	// Captured lists, for capture_state, the PIDs whose state the executor
	// must record.
	Captured []string `json:"captured,omitempty"`
}

// Evaluate runs one check against observed state. For a pre-check pass the
// state before the phase and a nil after; a post-check needs both (state
// checks such as system_stable and consistency then look at after).
// Evaluate is pure: same inputs, same result, failures in a fixed order.
func Evaluate(c Check, before, after *Observed) CheckResult {
	return NewEvaluator(before, after).Evaluate(c)
}

// Evaluator evaluates checks against one observed state before and, for
// post-checks, one after, indexing each once: a step's checks share them,
// and indexing the whole runtime of a node of 10,000 processes for each
// check was most of a step's CPU. The observations must not change while
// it is used.
type Evaluator struct {
	before, after *stateIndex
	hasAfter      bool
}

// NewEvaluator indexes before and after (nil for a pre-check pass).
func NewEvaluator(before, after *Observed) *Evaluator {
	return &Evaluator{before: index(before), after: index(after), hasAfter: after != nil}
}

// Evaluate runs one check, as the package's Evaluate does.
func (v *Evaluator) Evaluate(c Check) CheckResult {
	e := &evaluation{res: CheckResult{Kind: c.Kind}, before: v.before, after: v.after}
	now := e.before
	after := v.hasAfter
	if after {
		now = e.after
	}
	switch c.Kind {
	case CheckTargetsAlive:
		for _, r := range c.Processes {
			if p := now.resolve(r); p == nil {
				e.fail("%s is not alive", r)
			} else if ns := now.nodeOf(p.PID); ns != nil && !ns.Alive {
				e.fail("%s: node %s is down", r, ns.Node)
			}
		}
	case CheckResourcesAvailable:
		e.resources(now, c.Limits)
	case CheckParametersValid:
		for _, r := range c.Params {
			e.param(now, r)
		}
	case CheckSystemStable:
		e.stable(now, c.Nodes, c.Stability)
	case CheckCaptureState:
		for _, r := range c.Processes {
			p := e.before.resolve(r)
			switch {
			case p != nil:
				e.res.Captured = append(e.res.Captured, p.PID)
			case !r.Optional:
				e.fail("%s cannot be captured: not alive", r)
			}
		}
	case CheckExternalDependencies:
		for _, nd := range c.Nodes {
			if ns := now.nodes[nd]; ns == nil || !ns.Alive {
				e.fail("node %s, which processes tied to the targets run on, is not reachable", nd)
			}
		}
	case CheckOperationEffect:
		if !after {
			e.fail("needs the state after the phase")
			break
		}
		for _, ef := range c.Effects {
			e.effect(ef)
		}
	case CheckNoSideEffects:
		if !after {
			e.fail("needs the state after the phase")
			break
		}
		e.sideEffects(c.Nodes, c.Processes)
	case CheckConsistency:
		e.consistency(now, c.Nodes)
	case CheckHealthy:
		if !after {
			e.fail("needs the state after the phase")
			break
		}
		e.healthy(c)
	case CheckSupervisionTrees:
		if !after {
			e.fail("needs the state after the phase")
			break
		}
		e.trees(c.Trees, c.Processes)
	default:
		e.fail("unknown check %q", c.Kind)
	}
	e.res.OK = len(e.res.Failures) == 0
	return e.res
}

type evaluation struct {
	res           CheckResult
	before, after *stateIndex
}

func (e *evaluation) fail(format string, args ...any) {
	e.res.Failures = append(e.res.Failures, fmt.Sprintf(format, args...))
}

// stateIndex looks processes up by pid, slot and name. bySlot holds the
// static children and roots, which the tree checks walk; byInstance the
// simple_one_for_one instances by their instance slot, which a reference
// by slot also resolves to (an operation may name an instance by its id).
type stateIndex struct {
	nodes      map[string]*NodeState
	byPID      map[string]*Process
	bySlot     map[string]*Process
	byInstance map[string]*Process
	byName     map[string]*Process
	order      []*Process // in the observed order
	nodeOf     func(pid string) *NodeState
}

func index(o *Observed) *stateIndex {
	ix := &stateIndex{nodes: map[string]*NodeState{}, byPID: map[string]*Process{}, bySlot: map[string]*Process{},
		byInstance: map[string]*Process{}, byName: map[string]*Process{}}
	pidNode := map[string]*NodeState{}
	ix.nodeOf = func(pid string) *NodeState { return pidNode[pid] }
	if o == nil {
		return ix
	}
	for i := range o.Nodes {
		ns := &o.Nodes[i]
		ix.nodes[ns.Node] = ns
		for j := range ns.Processes {
			p := &ns.Processes[j]
			ix.byPID[p.PID] = p
			pidNode[p.PID] = ns
			ix.order = append(ix.order, p)
			switch {
			case p.Tree != "" && !p.Dynamic:
				ix.bySlot[slotPath(p.Tree, p.Slot)] = p
			case p.Tree != "":
				ix.byInstance[slotPath(p.Tree, p.Slot)] = p
			}
			if p.Name != "" {
				ix.byName[ns.Node+":"+p.Name] = p
			}
		}
	}
	return ix
}

// resolve finds the live process a reference names, or nil. A slot is a
// static child's or, failing that, a simple_one_for_one instance's.
func (ix *stateIndex) resolve(r ProcessRef) *Process {
	switch {
	case r.Tree != "":
		k := slotPath(r.Tree, r.Slot)
		if p := ix.bySlot[k]; p != nil {
			return p
		}
		return ix.byInstance[k]
	case r.Name != "":
		return ix.byName[r.Node+":"+r.Name]
	default:
		return ix.byPID[r.PID]
	}
}

func (e *evaluation) resources(now *stateIndex, l *Limits) {
	if l == nil {
		return
	}
	for _, nl := range l.Nodes {
		ns := now.nodes[nl.Node]
		if ns == nil || !ns.Alive {
			e.fail("node %s is not alive", nl.Node)
			continue
		}
		if l.MaxProcessCount > 0 && len(ns.Processes)+nl.NewProcesses > l.MaxProcessCount {
			e.fail("node %s: %d processes + %d new > %d", nl.Node, len(ns.Processes), nl.NewProcesses, l.MaxProcessCount)
		}
		if l.MaxMemoryBytes > 0 && ns.MemoryBytes > l.MaxMemoryBytes {
			e.fail("node %s: memory %d > %d bytes", nl.Node, ns.MemoryBytes, l.MaxMemoryBytes)
		}
		if l.MaxTotalQueueLength > 0 {
			total := 0
			for _, p := range ns.Processes {
				total += p.QueueLength
			}
			if total > l.MaxTotalQueueLength {
				e.fail("node %s: %d queued messages > %d", nl.Node, total, l.MaxTotalQueueLength)
			}
		}
	}
}

func (e *evaluation) param(now *stateIndex, r ParamRule) {
	if r.NewProcess {
		if r.NameFree != "" {
			if p := now.byName[r.Target.Node+":"+r.NameFree]; p != nil {
				e.fail("%s: name %q on node %s is already registered to %s", r.Op, r.NameFree, r.Target.Node, p.PID)
			}
		}
		return
	}
	p := now.resolve(r.Target)
	if p == nil {
		e.fail("%s: target %s is not alive", r.Op, r.Target)
		return
	}
	if r.Kind != "" && p.Kind != r.Kind {
		e.fail("%s: target %s is a %s, not a %s", r.Op, r.Target, kindName(p.Kind), r.Kind)
	}
	if r.RequireStrategy != "" && p.Strategy != r.RequireStrategy {
		e.fail("%s: target %s has strategy %q, not %s", r.Op, r.Target, p.Strategy, r.RequireStrategy)
	}
	if r.ForbidStrategy != "" && p.Strategy == r.ForbidStrategy {
		e.fail("%s: target %s has strategy %s", r.Op, r.Target, p.Strategy)
	}
	if r.ChildAbsent != nil {
		if c := now.resolve(*r.ChildAbsent); c != nil {
			e.fail("%s: %s is already running as %s", r.Op, r.ChildAbsent, c.PID)
		}
	}
	if r.ChildPresent != nil && now.resolve(*r.ChildPresent) == nil {
		e.fail("%s: %s is not running", r.Op, r.ChildPresent)
	}
}

func (e *evaluation) stable(now *stateIndex, nodes []string, s *Stability) {
	if s == nil {
		s = &Stability{MaxQueueLength: StableMaxQueueLength, MaxRecentRestarts: StableMaxRecentRestarts}
	}
	for _, nd := range nodes {
		ns := now.nodes[nd]
		if ns == nil || !ns.Alive {
			e.fail("node %s is not alive", nd)
			continue
		}
		for _, p := range ns.Processes {
			if s.MaxQueueLength > 0 && p.QueueLength > s.MaxQueueLength {
				e.fail("node %s: %s has %d queued messages > %d", nd, p.PID, p.QueueLength, s.MaxQueueLength)
			}
		}
		if ns.RecentRestarts > s.MaxRecentRestarts {
			e.fail("node %s: %d recent restarts > %d", nd, ns.RecentRestarts, s.MaxRecentRestarts)
		}
		if s.MaxMemoryBytes > 0 && ns.MemoryBytes > s.MaxMemoryBytes {
			e.fail("node %s: memory %d > %d bytes", nd, ns.MemoryBytes, s.MaxMemoryBytes)
		}
	}
}

// under reports whether process p lies strictly below slot ref r.
func under(p *Process, r *ProcessRef) bool {
	if p.Tree != r.Tree {
		return false
	}
	if r.Slot == "" {
		return p.Slot != ""
	}
	return strings.HasPrefix(p.Slot, r.Slot+"/")
}

// spawned checks a spawn's effect: its new process, by the pid bound from
// the operation's result or else by the name it registers.
func (e *evaluation) spawned(ef Effect) {
	var p *Process
	var what string
	switch {
	case ef.Target.PID != "":
		p, what = e.after.byPID[ef.Target.PID], ef.Target.PID
	case ef.Named != "":
		p, what = e.after.byName[ef.Target.Node+":"+ef.Named], fmt.Sprintf("the process registered as %q on %s", ef.Named, ef.Target.Node)
	default:
		e.fail("%s: the spawned process's pid is not known (the operation reported none)", ef.Op)
		return
	}
	if p == nil {
		e.fail("%s: %s is not alive after the phase", ef.Op, what)
		return
	}
	if e.before.byPID[p.PID] != nil {
		e.fail("%s: %s was alive before the phase: not the process it spawned", ef.Op, p.PID)
	}
	if p.Tree != "" {
		e.fail("%s: %s is supervised (in %s), not a spawned process", ef.Op, p.PID, slotPath(p.Tree, p.Slot))
	}
	if ef.Behavior != "" && p.Behavior != ef.Behavior {
		e.fail("%s: %s runs %q, not %s", ef.Op, p.PID, p.Behavior, ef.Behavior)
	}
	if ef.Named != "" && p.Name != ef.Named {
		e.fail("%s: %s is not registered as %q", ef.Op, p.PID, ef.Named)
	}
}

func (e *evaluation) effect(ef Effect) {
	if ef.Spawned {
		e.spawned(ef)
		return
	}
	old := e.before.resolve(ef.Target)
	if old == nil {
		e.fail("%s: target %s was not alive before the phase", ef.Op, ef.Target)
		return
	}
	afterSlot := func() *Process {
		if ef.Slot == nil {
			return nil
		}
		return e.after.resolve(*ef.Slot)
	}
	now := e.after.byPID[old.PID]
	if ef.Exited && now != nil {
		e.fail("%s: %s is still alive", ef.Op, old.PID)
	}
	if ef.Replaced {
		switch sp := afterSlot(); {
		case sp == nil:
			e.fail("%s: %s was not restarted", ef.Op, ef.Slot)
		case sp.PID == old.PID:
			e.fail("%s: %s still runs as %s", ef.Op, ef.Slot, old.PID)
		}
	}
	if ef.Vacant {
		if sp := afterSlot(); sp != nil {
			e.fail("%s: %s still runs as %s", ef.Op, ef.Slot, sp.PID)
		}
	}
	if ef.SamePID {
		if a := e.after.resolve(ef.Target); a == nil || a.PID != old.PID {
			e.fail("%s: %s is no longer %s", ef.Op, ef.Target, old.PID)
		}
	}
	if ef.Status != "" && (now == nil || now.Status != ef.Status) {
		e.fail("%s: %s is not %s", ef.Op, old.PID, ef.Status)
	}
	if ef.Behavior != "" && (now == nil || now.Behavior != ef.Behavior) {
		e.fail("%s: %s does not run %s", ef.Op, old.PID, ef.Behavior)
	}
	if ef.Named != "" && (now == nil || now.Name != ef.Named) {
		e.fail("%s: %s is not registered as %q", ef.Op, old.PID, ef.Named)
	}
	if ef.Strategy != "" && (now == nil || now.Strategy != ef.Strategy) {
		e.fail("%s: %s does not have strategy %s", ef.Op, old.PID, ef.Strategy)
	}
	if ef.Delivered && (now == nil || now.MessagesIn <= old.MessagesIn) {
		e.fail("%s: no message was delivered to %s", ef.Op, old.PID)
	}
	if ef.SubtreeReplaced && ef.Slot != nil {
		if sp := afterSlot(); sp == nil || sp.Kind != KindSupervisor {
			e.fail("%s: supervisor %s is not running", ef.Op, ef.Slot)
		}
		for _, p := range e.before.order {
			if !under(p, ef.Slot) {
				continue
			}
			if e.after.byPID[p.PID] != nil {
				e.fail("%s: %s (%s) was not restarted", ef.Op, p.PID, slotPath(p.Tree, p.Slot))
				continue
			}
			if !p.Dynamic && p.Restart != spec.Temporary && e.after.bySlot[slotPath(p.Tree, p.Slot)] == nil {
				e.fail("%s: %s did not come back", ef.Op, slotPath(p.Tree, p.Slot))
			}
		}
	}
	if ef.SubtreeKept && ef.Slot != nil {
		for _, p := range e.before.order {
			if under(p, ef.Slot) && e.after.byPID[p.PID] == nil {
				e.fail("%s: %s (%s) did not survive", ef.Op, p.PID, slotPath(p.Tree, p.Slot))
			}
		}
	}
	if ef.Started {
		sp := afterSlot()
		prev := (*Process)(nil)
		if ef.Slot != nil {
			prev = e.before.resolve(*ef.Slot)
		}
		switch {
		case sp == nil:
			e.fail("%s: %s is not running", ef.Op, ef.Slot)
		case prev != nil && prev.PID == sp.PID:
			e.fail("%s: %s was not started anew", ef.Op, ef.Slot)
		}
	}
	if ef.SpecDeleted && ef.Slot != nil {
		_, id := splitSlot(ef.Slot.Slot)
		switch sup := e.after.resolve(ef.Target); {
		case sup == nil:
			e.fail("%s: supervisor %s is not running", ef.Op, ef.Target)
		case slices.Contains(sup.ChildSpecs, id):
			e.fail("%s: %s still has the spec of child %q", ef.Op, ef.Target, id)
		}
	}
	if ef.DynamicStarted {
		count := func(ix *stateIndex) int {
			n := 0
			for _, p := range ix.order {
				if p.Dynamic && p.Parent == old.PID {
					n++
				}
			}
			return n
		}
		if b, a := count(e.before), count(e.after); a <= b {
			e.fail("%s: %s has %d dynamic children, %d before", ef.Op, old.PID, a, b)
		}
	}
}

// expectedSet matches the processes a phase is expected to change.
type expectedSet struct {
	pids     map[string]bool
	slots    map[string]bool
	subtrees []ProcessRef
}

func (e *evaluation) expected(refs []ProcessRef) *expectedSet {
	x := &expectedSet{pids: map[string]bool{}, slots: map[string]bool{}}
	for _, r := range refs {
		switch {
		case r.Tree != "":
			x.slots[slotPath(r.Tree, r.Slot)] = true
			if r.Subtree {
				x.subtrees = append(x.subtrees, r)
			}
		case r.Name != "":
			if p := e.before.resolve(r); p != nil {
				x.pids[p.PID] = true
			}
		default:
			x.pids[r.PID] = true
		}
	}
	return x
}

func (x *expectedSet) covers(p *Process) bool {
	if x.pids[p.PID] || p.Tree != "" && x.slots[slotPath(p.Tree, p.Slot)] {
		return true
	}
	for i := range x.subtrees {
		if under(p, &x.subtrees[i]) {
			return true
		}
	}
	return false
}

func (e *evaluation) sideEffects(nodes []string, refs []ProcessRef) {
	x := e.expected(refs)
	for _, nd := range nodes {
		ns := e.before.nodes[nd]
		if ns == nil {
			continue
		}
		for j := range ns.Processes {
			p := &ns.Processes[j]
			if x.covers(p) || e.after.byPID[p.PID] != nil {
				continue
			}
			where := ""
			if p.Tree != "" {
				where = " (" + slotPath(p.Tree, p.Slot) + ")"
			}
			e.fail("%s%s exited or restarted, and no operation of the phase was expected to touch it", p.PID, where)
		}
	}
}

func (e *evaluation) consistency(now *stateIndex, nodes []string) {
	for _, nd := range nodes {
		ns := now.nodes[nd]
		if ns == nil {
			e.fail("no state for node %s", nd)
			continue
		}
		names := map[string]string{}
		slots := map[string]string{}
		for j := range ns.Processes {
			p := &ns.Processes[j]
			for _, l := range p.Links {
				q := now.byPID[l]
				if q == nil {
					if peer := now.nodes[pidNode(l)]; peer != nil && peer.Alive {
						e.fail("%s links to %s, which is not alive", p.PID, l)
					}
					continue
				}
				if !slices.Contains(q.Links, p.PID) {
					e.fail("link %s -> %s is one-way", p.PID, l)
				}
			}
			if p.Name != "" {
				if other, dup := names[p.Name]; dup {
					e.fail("node %s: name %q is held by %s and %s", nd, p.Name, other, p.PID)
				} else {
					names[p.Name] = p.PID
				}
			}
			if p.Parent != "" {
				q := now.byPID[p.Parent]
				switch {
				case q == nil:
					if peer := now.nodes[pidNode(p.Parent)]; peer != nil && peer.Alive {
						e.fail("%s's supervisor %s is not alive", p.PID, p.Parent)
					}
				case q.Kind != KindSupervisor:
					e.fail("%s's parent %s is not a supervisor", p.PID, p.Parent)
				}
			}
			if p.Tree != "" && !p.Dynamic {
				k := slotPath(p.Tree, p.Slot)
				if other, dup := slots[k]; dup {
					e.fail("slot %s is held by %s and %s", k, other, p.PID)
				} else {
					slots[k] = p.PID
				}
			}
		}
	}
}

func pidNode(pid string) string {
	node, _, _ := strings.Cut(pid, "/")
	return node
}

func (e *evaluation) trees(trees []string, vacancies []ProcessRef) {
	x := e.expected(vacancies)
	for _, t := range trees {
		if e.before.bySlot[t] == nil && e.after.bySlot[t] == nil {
			continue // not on the observed nodes
		}
		if root := e.after.bySlot[t]; root == nil || root.Kind != KindSupervisor {
			e.fail("tree %s: the root supervisor is not running", t)
			continue
		}
		for _, p := range e.before.order {
			if p.Tree != t || p.Slot == "" || p.Dynamic || p.Restart != spec.Permanent || x.covers(p) {
				continue
			}
			if e.after.bySlot[slotPath(p.Tree, p.Slot)] == nil {
				e.fail("tree %s: permanent child %s is not running", t, p.Slot)
			}
		}
	}
}

// healthy is the part of the healthy check that the observed state shows.
func (e *evaluation) healthy(c Check) {
	maxQ := 0
	if c.Health != nil {
		maxQ = c.Health.MaxQueueLength
	}
	for _, r := range c.Processes {
		p := e.after.resolve(r)
		switch {
		case p == nil:
			e.fail("%s is not alive (it exited or was restarted)", r)
		case p.Status != Running:
			e.fail("%s is %s", r, p.Status)
		case maxQ > 0 && p.QueueLength >= maxQ:
			e.fail("%s has %d messages queued (healthy: fewer than %d)", r, p.QueueLength, maxQ)
		case c.Behaviors[p.PID] != "" && p.Behavior != c.Behaviors[p.PID]:
			e.fail("%s runs %s, not %s", r, p.Behavior, c.Behaviors[p.PID])
		}
	}
}
