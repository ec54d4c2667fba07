package actor

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Isolation is how a sandbox's boundary treats a crossing.
type Isolation string

const (
	// IsolationStrict blocks every crossing (ErrBoundary), records it as a
	// violation and applies the policy's Response to the sandboxed process
	// that attempted it.
	IsolationStrict Isolation = "strict"
	// IsolationModerate lets crossings through and records them; a process
	// that reaches more than ModerateOutsideTargets distinct outside ends,
	// or makes more than ModerateOutsideLinks outside links, in one
	// monitoring interval raises a violation (once per kind and interval).
	IsolationModerate Isolation = "moderate"
	// IsolationPermissive lets crossings through and records them.
	IsolationPermissive Isolation = "permissive"
)

// Response is what the runtime does to the sandbox after a violation that
// calls for one (a strict boundary violation, the memory budget).
type Response string

const (
	// ResponseKill kills the offending process (reason
	// ReasonSandboxViolation); its supervisor restarts it as for any
	// crash, so a process that keeps offending exhausts the restart
	// intensity and fails the tree. The default.
	ResponseKill Response = "kill_process"
	// ResponseTerminate takes the sandbox's root supervisor down (reason
	// ReasonSandboxViolation): the tree stops its children and is failed.
	ResponseTerminate Response = "terminate_sandbox"
	// ResponseLog records the violation and does nothing else.
	ResponseLog Response = "log"
	// ResponseThrottle is recorded by the limits that hold a flood back
	// by themselves, whatever the policy's response: past cpu_percent
	// the sandbox's workers wait, past max_messages_per_second messages
	// are dropped. It is not a policy's response.
	ResponseThrottle Response = "throttle"
)

// Reasons a sandbox gives the processes it takes down.
const (
	ReasonSandboxViolation Reason = "sandbox_violation"
	ReasonMessageDeadline  Reason = "message_deadline"
)

// Sandbox bounds. The thresholds are the issue's; the ring sizes are this
// package's.
const (
	// ModerateOutsideTargets: distinct outside ends per process per
	// monitoring interval before a moderate sandbox raises a violation.
	ModerateOutsideTargets = 5
	// ModerateOutsideLinks: outside links per process per monitoring
	// interval before a moderate sandbox raises a violation.
	ModerateOutsideLinks = 2
	// SandboxViolationRing is how many violations a sandbox keeps (the
	// most recent; Total in SandboxStatus counts all).
	SandboxViolationRing = 256
	// SandboxMaxCrossings is how many distinct (process, operation, other
	// end) crossings a sandbox keeps; more are counted in
	// CrossingsDropped.
	SandboxMaxCrossings = 1024
	// DefaultMonitorInterval is SandboxPolicy.MonitorInterval when zero
	// (the seed's 5,000 ms).
	DefaultMonitorInterval = 5 * time.Second
	// rateWindow is the window of MaxMessagesPerSecond.
	rateWindow = time.Second
)

// SandboxPolicy is what the runtime enforces on a sandboxed tree. A zero
// limit is no limit.
type SandboxPolicy struct {
	Isolation Isolation `json:"isolation"`
	// AllowNames are registered names outside the tree the sandbox may
	// reach (and be reached by) as if they were inside.
	AllowNames []string `json:"allow_names,omitempty"`
	// AllowTrees are trees whose processes count as inside.
	AllowTrees []string `json:"allow_trees,omitempty"`

	// MaxProcesses bounds the tree's live processes, supervisors included
	// (processes). A spawn past it is refused with ErrTooManyProcesses.
	MaxProcesses int `json:"max_processes,omitempty"`
	// MaxMailbox bounds each process's queued user messages (messages);
	// it lowers Config.MailboxLimit, never raises it. A process keeps the
	// limit it was spawned with: a policy update reaches processes
	// started after it (the other fields apply at once).
	MaxMailbox int `json:"max_mailbox,omitempty"`
	// MaxMessagesPerSecond bounds the messages (sends, casts, calls) that
	// have an end inside the sandbox, per second of the runtime's clock
	// (messages/s); past it a message is dropped with ErrRateLimited.
	MaxMessagesPerSecond int `json:"max_messages_per_second,omitempty"`
	// MessageDeadline bounds one callback (HandleCall, HandleCast,
	// HandleInfo) on the runtime's clock; a process over it is killed
	// (reason ReasonMessageDeadline).
	MessageDeadline time.Duration `json:"message_deadline,omitempty"`
	// MaxMemoryBytes bounds the sum of the processes' state sizes as their
	// behaviors report them through Sizer (bytes), checked after each
	// message.
	MaxMemoryBytes int64 `json:"max_memory_bytes,omitempty"`
	// MaxFileHandles bounds the files a WASI module of the sandbox may
	// hold open (handles, its preopened directory included; 0: the
	// module's own max_file_handles). Not applicable to native behaviors.
	MaxFileHandles int `json:"max_file_handles,omitempty"`
	// CPUPercent bounds the callbacks' running time, on the runtime's
	// clock, to this share of one core (percent, 1..100): a token bucket
	// of SandboxCPUWindow x CPUPercent/100 that refills at CPUPercent/100.
	// A sandbox over it is throttled: its workers take no next message
	// until the budget is back to zero (system requests are still
	// served); one ViolationCPU per SandboxCPUWindow.
	CPUPercent int `json:"cpu_percent,omitempty"`
	// HistorySamples is how many distinct states the state history keeps
	// per process of the sandbox (samples; 0: DefaultSandboxHistorySamples).
	HistorySamples int `json:"history_samples,omitempty"`
	// MonitorInterval is the window of the moderate thresholds (duration;
	// 0: DefaultMonitorInterval).
	MonitorInterval time.Duration `json:"monitor_interval,omitempty"`
	// Response applies to strict boundary violations and to the memory
	// budget ("": ResponseKill). Rate and mailbox violations drop the
	// message instead; a deadline violation always kills.
	Response Response `json:"response,omitempty"`
}

// withDefaults fills the zero values that have one.
func (p SandboxPolicy) withDefaults() SandboxPolicy {
	if p.Isolation == "" {
		p.Isolation = IsolationModerate
	}
	if p.MonitorInterval == 0 {
		p.MonitorInterval = DefaultMonitorInterval
	}
	if p.Response == "" {
		p.Response = ResponseKill
	}
	if p.HistorySamples == 0 {
		p.HistorySamples = DefaultSandboxHistorySamples
	}
	p.AllowNames = slices.Clone(p.AllowNames)
	p.AllowTrees = slices.Clone(p.AllowTrees)
	return p
}

// Validate checks a policy; errors wrap ErrBadSandbox and name the field.
func (p SandboxPolicy) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadSandbox, field, fmt.Sprintf(format, args...))
	}
	switch p.Isolation {
	case "", IsolationStrict, IsolationModerate, IsolationPermissive:
	default:
		return bad("isolation", "%q is not strict, moderate or permissive", p.Isolation)
	}
	switch p.Response {
	case "", ResponseKill, ResponseTerminate, ResponseLog:
	default:
		return bad("response", "%q is not kill_process, terminate_sandbox or log", p.Response)
	}
	for i, n := range p.AllowNames {
		if err := checkRegName(n); err != nil {
			return bad(fmt.Sprintf("allow_names[%d]", i), "%v", err)
		}
	}
	for i, n := range p.AllowTrees {
		if err := checkToken(n); err != nil {
			return bad(fmt.Sprintf("allow_trees[%d]", i), "%v", err)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max_processes", int64(p.MaxProcesses)}, {"max_mailbox", int64(p.MaxMailbox)},
		{"max_messages_per_second", int64(p.MaxMessagesPerSecond)},
		{"message_deadline", int64(p.MessageDeadline)}, {"max_memory_bytes", p.MaxMemoryBytes},
		{"monitor_interval", int64(p.MonitorInterval)}, {"max_file_handles", int64(p.MaxFileHandles)},
		{"cpu_percent", int64(p.CPUPercent)}, {"history_samples", int64(p.HistorySamples)},
	} {
		if f.v < 0 {
			return bad(f.name, "%d is negative", f.v)
		}
	}
	if p.CPUPercent > 100 {
		return bad("cpu_percent", "%d is more than 100 (one core)", p.CPUPercent)
	}
	if p.HistorySamples > MaxSandboxHistorySamples {
		return bad("history_samples", "%d is more than %d", p.HistorySamples, MaxSandboxHistorySamples)
	}
	return nil
}

// BoundaryOp is what crossed (or tried to cross) a sandbox's boundary.
type BoundaryOp string

const (
	OpSend    BoundaryOp = "send"
	OpCast    BoundaryOp = "cast"
	OpCall    BoundaryOp = "call"
	OpLink    BoundaryOp = "link"
	OpMonitor BoundaryOp = "monitor"
	OpLookup  BoundaryOp = "lookup"
	OpSpawn   BoundaryOp = "spawn"
)

func opFor(k Kind) BoundaryOp {
	switch k {
	case KindCast:
		return OpCast
	case KindCall:
		return OpCall
	default:
		return OpSend
	}
}

// SandboxViolationKind names a broken rule.
type SandboxViolationKind string

const (
	ViolationBoundary       SandboxViolationKind = "boundary"        // strict: a crossing (Op says which)
	ViolationOutsideTargets SandboxViolationKind = "outside_targets" // moderate: > 5 distinct outside ends
	ViolationOutsideLinks   SandboxViolationKind = "outside_links"   // moderate: > 2 outside links
	ViolationProcesses      SandboxViolationKind = "max_processes"
	ViolationMailbox        SandboxViolationKind = "max_mailbox"
	ViolationRate           SandboxViolationKind = "max_messages_per_second"
	ViolationDeadline       SandboxViolationKind = "message_deadline"
	ViolationMemory         SandboxViolationKind = "max_memory_bytes"
	ViolationCPU            SandboxViolationKind = "cpu_throttled" // over cpu_percent: throttled
	ViolationUnreadable     SandboxViolationKind = "unreadable"    // a usage sample could not read a process
)

// SandboxViolation is one broken rule, as kept by the sandbox and carried
// by an EventSandboxViolation event.
type SandboxViolation struct {
	Time    time.Time            `json:"time"`
	Sandbox string               `json:"sandbox"`
	Kind    SandboxViolationKind `json:"kind"`
	// PID is the sandboxed process concerned (zero for a spawn refused
	// before the process existed); ChildID its path in the tree.
	PID     PID    `json:"pid,omitzero"`
	ChildID string `json:"child_id,omitempty"`
	// Op, Other, OtherName, OtherTree describe the other end of a
	// boundary crossing (Other is zero for a name that resolved to
	// nothing or a spawn's new process).
	Op        BoundaryOp `json:"op,omitempty"`
	Other     PID        `json:"other,omitzero"`
	OtherName string     `json:"other_name,omitempty"`
	OtherTree string     `json:"other_tree,omitempty"`
	// Limit and Value: the limit broken and the value seen (processes,
	// messages, messages/s, milliseconds, bytes, distinct ends, links).
	Limit int64 `json:"limit,omitempty"`
	Value int64 `json:"value,omitempty"`
	// Response is what was applied.
	Response Response `json:"response"`
}

func (v SandboxViolation) String() string {
	s := fmt.Sprintf("%s %s %s", v.Sandbox, v.Kind, v.PID)
	if v.Op != "" {
		s += " " + string(v.Op) + " " + v.OtherEnd()
	}
	if v.Limit != 0 || v.Value != 0 {
		s += fmt.Sprintf(" limit=%d value=%d", v.Limit, v.Value)
	}
	return s + " -> " + string(v.Response)
}

// OtherEnd renders the other end as the crossings table names it
// ("node/seq(name)@tree"; "?" when nothing is known).
func (v SandboxViolation) OtherEnd() string {
	s := ""
	if !v.Other.IsZero() {
		s = v.Other.String()
	}
	if v.OtherName != "" {
		s += "(" + v.OtherName + ")"
	}
	if v.OtherTree != "" {
		s += "@" + v.OtherTree
	}
	if s == "" {
		s = "?"
	}
	return s
}

// SandboxCrossing counts one kind of crossing seen at the boundary.
type SandboxCrossing struct {
	PID   PID        `json:"pid"`
	Op    BoundaryOp `json:"op"`
	Other string     `json:"other"`
	Count uint64     `json:"count"`
	First time.Time  `json:"first"`
	Last  time.Time  `json:"last"`
}

// SandboxStatus is a sandbox's policy and usage.
type SandboxStatus struct {
	Tree             string            `json:"tree"`
	Policy           SandboxPolicy     `json:"policy"`
	Processes        int64             `json:"processes"`
	MemoryBytes      int64             `json:"memory_bytes"`
	Violations       uint64            `json:"violations"` // all, including those the ring dropped
	RateDropped      uint64            `json:"rate_dropped"`
	MailboxDropped   uint64            `json:"mailbox_dropped"`
	Crossings        []SandboxCrossing `json:"crossings"`
	CrossingsDropped uint64            `json:"crossings_dropped"`

	// CPUUsed is the callbacks' accounted running time since the sandbox
	// started (on the runtime's clock).
	CPUUsed time.Duration `json:"cpu_used"`
	// Throttled: the sandbox is over CPUPercent now and its workers wait.
	Throttled bool `json:"throttled"`
	// Throttles counts the times it was throttled; ThrottledTime is the
	// time spent throttled, the current stretch included.
	Throttles     uint64        `json:"throttles"`
	ThrottledTime time.Duration `json:"throttled_time"`
	// Usage is the latest usage sample (nil before the first monitoring
	// interval ends); Samples the last SandboxSampleRing, oldest first.
	Usage   *SandboxSample  `json:"usage,omitempty"`
	Samples []SandboxSample `json:"samples"`
	// TracedUp lists the processes whose message and state tracing is
	// turned up (full) after a moderate violation, with until when.
	TracedUp []SandboxTracedUp `json:"traced_up"`
	// Latency is the callbacks' running time since the sandbox started
	// (sandbox_latency.go).
	Latency SandboxLatency `json:"latency"`
}

// sandboxState is a sandboxed tree's enforcement state; a tree gets it
// before its root starts and keeps it until it stops.
type sandboxState struct {
	rt    *Runtime
	tree  *treeState
	pol   atomic.Pointer[compiledPolicy]
	epoch time.Time
	procs atomic.Int64

	mu         sync.Mutex
	mem        int64
	per        map[uint64]*sbProc
	winStart   time.Time
	winCount   int64
	winRaised  bool
	rateDrops  uint64
	boxDrops   uint64
	viol       []SandboxViolation
	vnext      int
	vtotal     uint64
	crossings  map[crossKey]*SandboxCrossing
	crossDrops uint64
	use        sbUsage // CPU, samples, traced-up processes (sandbox_usage.go)
	lat        latencyHist
	access     accessTable // state accesses (sandbox_access.go)
}

type compiledPolicy struct {
	SandboxPolicy
	names map[string]bool
	trees map[string]bool
}

func compileSandboxPolicy(p SandboxPolicy) *compiledPolicy {
	c := &compiledPolicy{SandboxPolicy: p, names: map[string]bool{}, trees: map[string]bool{}}
	for _, n := range p.AllowNames {
		c.names[n] = true
	}
	for _, n := range p.AllowTrees {
		c.trees[n] = true
	}
	return c
}

// sbProc is one sandboxed process's accounting.
type sbProc struct {
	mem      int64
	window   int64
	targets  map[endKey]struct{}
	links    int
	raisedT  bool
	raisedL  bool
	boxFull  int64 // window in which a mailbox violation was last raised, +1
	inCB     atomic.Uint64
	handled  atomic.Uint64
	cbStart  time.Time
	boxDrops uint64
	// tracedUp is until when (UnixNano on the runtime's clock) the
	// process's tracing is turned up, 0 if it never was.
	tracedUp atomic.Int64
	// sizeErr says why the process's size could not be read after its
	// last callback (nil: it could).
	sizeErr atomic.Pointer[string]
}

type crossKey struct {
	pid   uint64
	op    BoundaryOp
	other endKey
}

// endKey names an outside end: a PID, or a name for a lookup.
type endKey struct {
	pid  PID
	name string
}

func newSandbox(rt *Runtime, t *treeState, p SandboxPolicy) *sandboxState {
	sb := &sandboxState{
		rt: rt, tree: t, epoch: rt.clock.Now(),
		per: make(map[uint64]*sbProc), crossings: make(map[crossKey]*SandboxCrossing),
		viol: make([]SandboxViolation, 0, SandboxViolationRing),
	}
	sb.pol.Store(compileSandboxPolicy(p))
	sb.startUsage()
	return sb
}

func (sb *sandboxState) policy() *compiledPolicy { return sb.pol.Load() }

// ---- the boundary ----

// sandboxed reports whether an operation between from (nil: the runtime's
// API, i.e. the operator or the node) and target must pass gate. It is the
// whole cost of the boundary for unsandboxed processes.
func sandboxed(from, target *process) bool {
	return (from != nil && from.sb != nil) || (target != nil && target.sb != nil)
}

// gate is the boundary check of a send, call, link, monitor or spawn from
// `from` to target (nil for a remote PID `to`, or for a spawn's new
// process), run before the operation. Operations from the runtime's API
// (from nil) are the system's and never cross; messages still count
// against the target's rate.
func (rt *Runtime) gate(op BoundaryOp, from, target *process, to PID, message bool) error {
	if from != nil && from.sb != nil && !from.sb.inside(target) {
		if err := from.sb.cross(op, from, target, to, "", false); err != nil {
			return err
		}
	}
	if target != nil && target.sb != nil && from != nil && !target.sb.inside(from) {
		if err := target.sb.cross(op, target, from, from.pid, "", true); err != nil {
			return err
		}
	}
	if !message {
		return nil
	}
	if from != nil && from.sb != nil {
		if err := from.sb.admit(from); err != nil {
			return err
		}
	}
	if target != nil && target.sb != nil && (from == nil || from.sb != target.sb) {
		if err := target.sb.admit(target); err != nil {
			return err
		}
	}
	return nil
}

// inside reports whether q counts as inside the sandbox: in its tree, in
// an allowed tree, or registered under an allowed name. A nil q (a remote
// PID, a spawn's new standalone process) is outside.
func (sb *sandboxState) inside(q *process) bool {
	if q == nil {
		return false
	}
	if q.tree == sb.tree {
		return true
	}
	c := sb.policy()
	if q.tree != nil && c.trees[q.tree.name] {
		return true
	}
	if len(c.names) > 0 {
		q.mu.Lock()
		n := q.name
		q.mu.Unlock()
		return n != "" && c.names[n]
	}
	return false
}

// cross handles one crossing between p (a process of this sandbox) and
// the outside end q (nil: remote, new process); name is the registered
// name of a lookup. inbound: q started it, so a strict violation blocks
// and is recorded but no response applies (the offender is not the
// sandbox's).
func (sb *sandboxState) cross(op BoundaryOp, p, q *process, other PID, name string, inbound bool) error {
	c := sb.policy()
	v := SandboxViolation{Kind: ViolationBoundary, Op: op, Other: other, OtherName: name}
	if q != nil && q.tree != nil {
		v.OtherTree = q.tree.name
	}
	key := endKey{pid: other, name: name}
	now := sb.rt.clock.Now()
	var raise []SandboxViolation
	sb.mu.Lock()
	sb.recordCrossing(p.pid, op, key, &v, now)
	switch c.Isolation {
	case IsolationStrict:
		v.Response = c.Response
		if inbound {
			v.Response = ResponseLog
		}
		raise = append(raise, v)
	case IsolationModerate:
		raise = sb.moderateLocked(c, p, op, key, now)
	}
	sb.mu.Unlock()
	for _, v := range raise {
		sb.violate(p, v)
	}
	if c.Isolation == IsolationModerate && len(raise) > 0 {
		sb.traceUp(p)
	}
	if c.Isolation == IsolationStrict {
		return fmt.Errorf("%w: sandbox %q: %s %s -> %s", ErrBoundary, sb.tree.name, op, p.pid, v.OtherEnd())
	}
	return nil
}

func (sb *sandboxState) recordCrossing(pid PID, op BoundaryOp, other endKey, v *SandboxViolation, now time.Time) {
	k := crossKey{pid.Seq, op, other}
	if x := sb.crossings[k]; x != nil {
		x.Count++
		x.Last = now
	} else if len(sb.crossings) < SandboxMaxCrossings {
		sb.crossings[k] = &SandboxCrossing{PID: pid, Op: op, Other: v.OtherEnd(), Count: 1, First: now, Last: now}
	} else {
		sb.crossDrops++
	}
}

// moderateLocked counts a crossing against p's thresholds for the current
// monitoring interval; the caller holds sb.mu.
func (sb *sandboxState) moderateLocked(c *compiledPolicy, p *process, op BoundaryOp, other endKey, now time.Time) []SandboxViolation {
	e := sb.per[p.pid.Seq]
	if e == nil {
		return nil
	}
	w := int64(now.Sub(sb.epoch) / c.MonitorInterval)
	if w != e.window {
		e.window, e.targets, e.links, e.raisedT, e.raisedL = w, nil, 0, false, false
	}
	if e.targets == nil {
		e.targets = make(map[endKey]struct{})
	}
	var out []SandboxViolation
	e.targets[other] = struct{}{}
	if len(e.targets) > ModerateOutsideTargets && !e.raisedT {
		e.raisedT = true
		out = append(out, SandboxViolation{Kind: ViolationOutsideTargets, Op: op, Other: other.pid, OtherName: other.name,
			Limit: ModerateOutsideTargets, Value: int64(len(e.targets)), Response: ResponseLog})
	}
	if op == OpLink || op == OpSpawn {
		e.links++
		if e.links > ModerateOutsideLinks && !e.raisedL {
			e.raisedL = true
			out = append(out, SandboxViolation{Kind: ViolationOutsideLinks, Op: op, Other: other.pid, OtherName: other.name,
				Limit: ModerateOutsideLinks, Value: int64(e.links), Response: ResponseLog})
		}
	}
	return out
}

// admit counts one message with an end in the sandbox (p) against
// MaxMessagesPerSecond; past it the message is dropped.
func (sb *sandboxState) admit(p *process) error {
	c := sb.policy()
	if c.MaxMessagesPerSecond == 0 {
		return nil
	}
	now := sb.rt.clock.Now()
	sb.mu.Lock()
	if now.Sub(sb.winStart) >= rateWindow || now.Before(sb.winStart) {
		sb.winStart, sb.winCount, sb.winRaised = now, 0, false
	}
	sb.winCount++
	if sb.winCount <= int64(c.MaxMessagesPerSecond) {
		sb.mu.Unlock()
		return nil
	}
	sb.rateDrops++
	raise := !sb.winRaised
	sb.winRaised = true
	n := sb.winCount
	sb.mu.Unlock()
	if raise {
		sb.violate(p, SandboxViolation{Kind: ViolationRate, Limit: int64(c.MaxMessagesPerSecond), Value: n, Response: ResponseThrottle})
	}
	return fmt.Errorf("%w: sandbox %q: %d messages in this second, limit %d", ErrRateLimited, sb.tree.name, n, c.MaxMessagesPerSecond)
}

// mailboxFull records a message refused by p's (sandbox-capped) mailbox:
// counted always, a violation once per process and monitoring interval.
func (sb *sandboxState) mailboxFull(p *process) {
	c := sb.policy()
	w := int64(sb.rt.clock.Now().Sub(sb.epoch)/c.MonitorInterval) + 1
	sb.mu.Lock()
	sb.boxDrops++
	e := sb.per[p.pid.Seq]
	raise := e != nil && e.boxFull != w
	if raise {
		e.boxFull = w
	}
	sb.mu.Unlock()
	if raise {
		sb.violate(p, SandboxViolation{Kind: ViolationMailbox, Limit: int64(p.limit), Value: int64(p.limit), Response: ResponseLog})
	}
}

// ---- processes, memory, deadline ----

// reserve takes a process slot for a spawn in the sandbox's tree.
func (sb *sandboxState) reserve() error {
	c := sb.policy()
	n := sb.procs.Add(1)
	if c.MaxProcesses == 0 || n <= int64(c.MaxProcesses) {
		return nil
	}
	sb.procs.Add(-1)
	sb.violate(nil, SandboxViolation{Kind: ViolationProcesses, Op: OpSpawn, Limit: int64(c.MaxProcesses), Value: n, Response: ResponseLog})
	return fmt.Errorf("%w: sandbox %q runs %d (max_processes)", ErrTooManyProcesses, sb.tree.name, c.MaxProcesses)
}

func (sb *sandboxState) unreserve() { sb.procs.Add(-1) }

// joined registers a published process.
func (sb *sandboxState) joined(p *process) *sbProc {
	e := &sbProc{window: -1}
	sb.mu.Lock()
	sb.per[p.pid.Seq] = e
	sb.mu.Unlock()
	return e
}

// left releases an exited process's slot and memory.
func (sb *sandboxState) left(p *process) {
	sb.mu.Lock()
	if e := sb.per[p.pid.Seq]; e != nil {
		sb.mem -= e.mem
		delete(sb.per, p.pid.Seq)
	}
	sb.mu.Unlock()
	sb.procs.Add(-1)
}

// accountMemory records p's state size after a message and applies the
// budget.
func (sb *sandboxState) accountMemory(p *process, size int64) {
	c := sb.policy()
	sb.mu.Lock()
	e := sb.per[p.pid.Seq]
	if e == nil { // exited meanwhile
		sb.mu.Unlock()
		return
	}
	sb.mem += size - e.mem
	e.mem = size
	total := sb.mem
	sb.mu.Unlock()
	if c.MaxMemoryBytes > 0 && total > c.MaxMemoryBytes {
		sb.violate(p, SandboxViolation{Kind: ViolationMemory, Limit: c.MaxMemoryBytes, Value: total, Response: c.Response})
	}
}

// callbackMark is one callback's start, as beginCallback returns it to
// endCallback.
type callbackMark struct {
	start    time.Time
	timer    Timer // the message deadline's; nil without one
	gen      uint64
	deadline time.Duration
}

// beginCallback starts accounting one callback of p (its running time
// counts against CPUPercent) and arms the message deadline; endCallback
// closes it.
func (sb *sandboxState) beginCallback(p *process) callbackMark {
	m := callbackMark{start: sb.rt.clock.Now()}
	d := sb.policy().MessageDeadline
	if d == 0 || p.sbp == nil {
		return m
	}
	e := p.sbp
	gen := e.handled.Add(1)
	start := m.start
	e.inCB.Store(gen)
	m.gen, m.deadline = gen, d
	m.timer = sb.rt.clock.AfterFunc(d, func() {
		// Whoever clears inCB first (this, or the callback's return)
		// records the deadline.
		if !p.isAlive() || !e.inCB.CompareAndSwap(gen, 0) {
			return
		}
		el := sb.rt.clock.Now().Sub(start)
		sb.violate(p, SandboxViolation{Kind: ViolationDeadline, Limit: d.Milliseconds(), Value: el.Milliseconds(), Response: ResponseKill})
	})
	return m
}

// endCallback disarms the deadline and accounts the callback's running
// time (a callback cut short by its deadline is accounted when it
// returns: its goroutine ran all along).
//
// A callback that returns at or past its deadline before the timer acted
// (a wasm guest stopped inside itself at the same deadline, which then
// fails its process) is recorded here, so the violation is there
// whichever stopped it.
func (sb *sandboxState) endCallback(p *process, m callbackMark) {
	el := sb.rt.clock.Now().Sub(m.start)
	if m.timer != nil {
		ours := p.sbp.inCB.CompareAndSwap(m.gen, 0)
		m.timer.Stop()
		if ours && el >= m.deadline {
			sb.violate(p, SandboxViolation{Kind: ViolationDeadline, Limit: m.deadline.Milliseconds(), Value: el.Milliseconds(), Response: ResponseKill})
		}
	}
	sb.lat.add(el)
	sb.accountCPU(p, el)
}

// ---- violations ----

// violate records v for p (nil: no process), publishes it and applies its
// response.
func (sb *sandboxState) violate(p *process, v SandboxViolation) {
	v.Time = sb.rt.clock.Now()
	v.Sandbox = sb.tree.name
	if p != nil {
		v.PID, v.ChildID = p.pid, p.path
	}
	sb.mu.Lock()
	sb.vtotal++
	if len(sb.viol) < SandboxViolationRing {
		sb.viol = append(sb.viol, v)
	} else {
		sb.viol[sb.vnext] = v
		sb.vnext = (sb.vnext + 1) % SandboxViolationRing
	}
	sb.mu.Unlock()
	e := Event{Time: v.Time, Node: sb.rt.node, Type: EventSandboxViolation, PID: v.PID, Tree: v.Sandbox, ChildID: v.ChildID,
		Reason: Reason(v.Kind), Detail: v.String(), Violation: &v}
	sb.rt.events.emit(e)
	switch v.Response {
	case ResponseKill:
		if p != nil {
			reason := ReasonSandboxViolation
			if v.Kind == ViolationDeadline {
				reason = ReasonMessageDeadline
			}
			sb.rt.exitProc(p, reason)
		}
	case ResponseTerminate:
		sb.tree.mu.Lock()
		root := sb.tree.root
		sb.tree.mu.Unlock()
		if root == nil {
			root = p // the root itself is still starting
		}
		if root != nil {
			sb.rt.exitProc(root, ReasonSandboxViolation)
		}
	}
}

func (sb *sandboxState) violations() []SandboxViolation {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	out := make([]SandboxViolation, 0, len(sb.viol))
	out = append(out, sb.viol[sb.vnext:]...)
	return append(out, sb.viol[:sb.vnext]...)
}

func (sb *sandboxState) status() SandboxStatus {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	st := SandboxStatus{
		Tree: sb.tree.name, Policy: sb.policy().SandboxPolicy, Processes: sb.procs.Load(), MemoryBytes: sb.mem,
		Violations: sb.vtotal, RateDropped: sb.rateDrops, MailboxDropped: sb.boxDrops, CrossingsDropped: sb.crossDrops,
		Crossings: make([]SandboxCrossing, 0, len(sb.crossings)),
	}
	for _, x := range sb.crossings {
		st.Crossings = append(st.Crossings, *x)
	}
	sb.usageLocked(&st)
	st.Latency = sb.lat.summary()
	sort.Slice(st.Crossings, func(i, j int) bool {
		a, b := st.Crossings[i], st.Crossings[j]
		if a.PID.Seq != b.PID.Seq {
			return a.PID.Seq < b.PID.Seq
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Other < b.Other
	})
	return st
}

// ---- API ----

// SandboxViolations returns the violations a sandboxed tree keeps (the
// last SandboxViolationRing), oldest first.
func (rt *Runtime) SandboxViolations(tree string) ([]SandboxViolation, error) {
	sb, err := rt.sandbox(tree)
	if err != nil {
		return nil, err
	}
	return sb.violations(), nil
}

// SandboxStatus returns a sandboxed tree's policy, usage and crossings.
func (rt *Runtime) SandboxStatus(tree string) (SandboxStatus, error) {
	sb, err := rt.sandbox(tree)
	if err != nil {
		return SandboxStatus{}, err
	}
	return sb.status(), nil
}

func (rt *Runtime) sandbox(tree string) (*sandboxState, error) {
	t := rt.tree(tree)
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrTreeNotFound, tree)
	}
	if t.sb == nil {
		return nil, fmt.Errorf("%w: tree %q", ErrNotSandboxed, tree)
	}
	return t.sb, nil
}

// limitMailbox is the mailbox limit of a process spawned in sb.
func (sb *sandboxState) limitMailbox(limit int) int {
	if m := sb.policy().MaxMailbox; m > 0 && m < limit {
		return m
	}
	return limit
}
