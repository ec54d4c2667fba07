package actor

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"
)

// Sandbox usage: CPU accounting and throttling, usage samples every
// monitoring interval, per-process tracing turned up after a moderate
// violation, and the bounds of a sandbox's traces.
const (
	// SandboxCPUWindow is the window of CPUPercent: the CPU budget holds
	// at most SandboxCPUWindow x CPUPercent/100 of running time, and one
	// ViolationCPU is raised per window at most.
	SandboxCPUWindow = time.Second
	// SandboxSampleRing is how many usage samples SandboxStatus keeps.
	SandboxSampleRing = 12
	// SandboxTraceUpIntervals is how many monitoring intervals a process's
	// tracing stays turned up after a moderate violation.
	SandboxTraceUpIntervals = 3
	// SandboxTraceMaxAge bounds a sandbox's message tracing: a tree-level
	// flow trace on a sandboxed tree is switched off this long after it
	// was switched on, and a process's tracing is turned up for at most
	// this long in one stretch.
	SandboxTraceMaxAge = time.Hour
	// SandboxTraceExtraProcesses: a sandbox's flow graph keeps edges
	// between at most MaxProcesses + SandboxTraceExtraProcesses distinct
	// processes (its own plus the ends they talk to); messages that would
	// add more are counted as dropped.
	SandboxTraceExtraProcesses = 10
	// DefaultSandboxHistorySamples is SandboxPolicy.HistorySamples when
	// zero (the seed's 100); MaxSandboxHistorySamples bounds it.
	DefaultSandboxHistorySamples = 100
	MaxSandboxHistorySamples     = 10_000
)

// SandboxSample is a sandbox's usage over one monitoring interval, taken
// at its end.
type SandboxSample struct {
	Time time.Time `json:"time"`
	// Interval is the time the sample covers (since the previous one).
	Interval    time.Duration `json:"interval"`
	Processes   int64         `json:"processes"`
	MemoryBytes int64         `json:"memory_bytes"`
	// Queue is the sum of the processes' mailbox lengths (messages).
	Queue int64 `json:"queue"`
	// CPUPercent is the callbacks' running time over the interval, in
	// percent of one core.
	CPUPercent float64 `json:"cpu_percent"`
	// Throttled is the time spent throttled during the interval.
	Throttled time.Duration `json:"throttled"`
	// Unreadable lists the processes whose usage could not be read (a
	// size their behavior failed to report); a sample with any is a
	// ViolationUnreadable, and MemoryBytes is then a lower bound.
	Unreadable []PID `json:"unreadable,omitempty"`
}

// SandboxTracedUp is a process whose message and state tracing is turned
// up: every message it sends or receives is an edge of the tree's flow
// graph and its state is captured after every callback, from Since until
// Until.
type SandboxTracedUp struct {
	PID     PID       `json:"pid"`
	ChildID string    `json:"child_id,omitempty"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
}

// sbUsage is the sandboxState's usage part; fields other than the atomics
// are under sb.mu.
type sbUsage struct {
	throttled atomic.Bool
	// upFlow holds the edges of traced-up processes while the tree has no
	// flow trace of its own.
	upFlow atomic.Pointer[flowTable]

	cpuUsed      atomic.Int64  // time.Duration
	tokens       time.Duration // CPU budget left; negative: debt
	tokensAt     time.Time
	cpuWin       int64 // the CPU window cpuWinUsed counts
	cpuWinUsed   time.Duration
	cpuRaised    int64 // CPU window of the last ViolationCPU, +1
	throttledAt  time.Time
	throttleTime time.Duration
	throttles    uint64
	releasing    bool // a release timer is armed

	samples    []SandboxSample
	snext      int
	lastAt     time.Time
	lastCPU    time.Duration
	lastThrott time.Duration

	traced map[uint64]*SandboxTracedUp
}

// throttled reports whether p, a worker, must leave its user messages
// queued because its sandbox is over its CPU share.
func (p *process) throttled() bool {
	return p.sb != nil && p.sup == nil && p.sb.use.throttled.Load()
}

// approxSize asks the behavior for its size; a panic or a negative size
// leaves the size unknown (false), which a sandbox's sample reports as
// unreadable.
func (p *process) approxSize(s Sizer) (n int64, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			if p.sb != nil {
				p.sb.sizeUnknown(p, fmt.Sprintf("ApproxSize panicked: %v", r))
			}
		}
	}()
	n = int64(s.ApproxSize())
	if n < 0 {
		if p.sb != nil {
			p.sb.sizeUnknown(p, fmt.Sprintf("ApproxSize reported %d", n))
		}
		return 0, false
	}
	if p.sbp != nil && p.sbp.sizeErr.Load() != nil {
		p.sbp.sizeErr.Store(nil)
	}
	return n, true
}

// sizeUnknown records that p's size could not be read; the next usage
// samples report p as unreadable until a size is read again.
func (sb *sandboxState) sizeUnknown(p *process, why string) {
	if p.sbp != nil {
		p.sbp.sizeErr.Store(&why)
	}
}

// ---- CPU ----

// refillLocked adds the budget earned since tokensAt; the caller holds
// sb.mu.
func (u *sbUsage) refillLocked(now time.Time, pct int) {
	capacity := SandboxCPUWindow * time.Duration(pct) / 100
	el := now.Sub(u.tokensAt)
	u.tokensAt = now
	if el <= 0 {
		return
	}
	if el >= SandboxCPUWindow*100 { // a long idle: full (and no overflow below)
		u.tokens = capacity
		return
	}
	u.tokens = min(u.tokens+el*time.Duration(pct)/100, capacity)
}

// accountCPU charges one callback's running time to the sandbox; over
// the budget, the sandbox is throttled until it refills to zero.
func (sb *sandboxState) accountCPU(p *process, el time.Duration) {
	if el < 0 {
		el = 0
	}
	u := &sb.use
	u.cpuUsed.Add(int64(el))
	c := sb.policy()
	if c.CPUPercent == 0 {
		return
	}
	now := sb.rt.clock.Now()
	var raise *SandboxViolation
	sb.mu.Lock()
	if w := int64(now.Sub(sb.epoch) / SandboxCPUWindow); w != u.cpuWin {
		u.cpuWin, u.cpuWinUsed = w, 0
	}
	u.cpuWinUsed += el
	u.refillLocked(now, c.CPUPercent)
	u.tokens -= el
	if u.tokens < 0 {
		if !u.throttled.Load() {
			u.throttled.Store(true)
			u.throttledAt = now
			u.throttles++
		}
		if !u.releasing {
			u.releasing = true
			sb.rt.clock.AfterFunc(-u.tokens*100/time.Duration(c.CPUPercent), sb.release)
		}
		if u.cpuRaised != u.cpuWin+1 {
			u.cpuRaised = u.cpuWin + 1
			raise = &SandboxViolation{Kind: ViolationCPU, Limit: int64(c.CPUPercent),
				Value: int64(u.cpuWinUsed * 100 / SandboxCPUWindow), Response: ResponseThrottle}
		}
	}
	sb.mu.Unlock()
	if raise != nil {
		sb.violate(p, *raise)
	}
}

// release ends a throttle once the budget is back to zero (re-arming
// while callbacks that were running meanwhile added to the debt), and
// wakes the sandbox's processes.
func (sb *sandboxState) release() {
	c := sb.policy()
	now := sb.rt.clock.Now()
	u := &sb.use
	sb.mu.Lock()
	if c.CPUPercent > 0 {
		u.refillLocked(now, c.CPUPercent)
		if u.tokens < 0 {
			sb.rt.clock.AfterFunc(-u.tokens*100/time.Duration(c.CPUPercent), sb.release)
			sb.mu.Unlock()
			return
		}
	}
	u.releasing = false
	if u.throttled.Load() {
		u.throttleTime += now.Sub(u.throttledAt)
		u.throttled.Store(false)
	}
	sb.mu.Unlock()
	for _, p := range sb.tree.snapshotProcs() {
		p.mu.Lock()
		w := p.waiting
		p.waiting = false
		p.mu.Unlock()
		if w {
			p.signal()
		}
	}
}

// snapshotProcs returns the tree's live processes.
func (t *treeState) snapshotProcs() []*process {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*process, 0, len(t.procs))
	for _, p := range t.procs {
		out = append(out, p)
	}
	return out
}

// ---- usage samples ----

// startUsage arms the first usage sample.
func (sb *sandboxState) startUsage() {
	sb.use.tokens = SandboxCPUWindow * time.Duration(sb.policy().CPUPercent) / 100
	sb.use.tokensAt, sb.use.lastAt = sb.epoch, sb.epoch
	sb.use.traced = make(map[uint64]*SandboxTracedUp)
	sb.rt.clock.AfterFunc(sb.policy().MonitorInterval, sb.sample)
}

// sample takes one usage sample, raises ViolationUnreadable if a process
// could not be read, and re-arms, until the tree stops.
func (sb *sandboxState) sample() {
	t := sb.tree
	t.mu.Lock()
	stop := t.stopping
	t.mu.Unlock()
	if stop || sb.rt.stopped.Load() {
		return
	}
	procs := t.snapshotProcs()
	var queue int64
	var unreadable []*process
	for _, p := range procs {
		p.mu.Lock()
		if !p.closed {
			queue += int64(p.queueLen())
		}
		p.mu.Unlock()
		if p.sbp != nil && p.sbp.sizeErr.Load() != nil && p.isAlive() {
			unreadable = append(unreadable, p)
		}
	}
	sort.Slice(unreadable, func(i, j int) bool { return unreadable[i].pid.Seq < unreadable[j].pid.Seq })
	c := sb.policy()
	now := sb.rt.clock.Now()
	u := &sb.use
	sb.mu.Lock()
	throttle := u.throttleTime
	if u.throttled.Load() {
		throttle += now.Sub(u.throttledAt)
	}
	s := SandboxSample{Time: now, Interval: now.Sub(u.lastAt), Processes: sb.procs.Load(), MemoryBytes: sb.mem,
		Queue: queue, Throttled: throttle - u.lastThrott}
	used := time.Duration(u.cpuUsed.Load())
	if s.Interval > 0 {
		s.CPUPercent = float64(used-u.lastCPU) * 100 / float64(s.Interval)
	}
	for _, p := range unreadable {
		s.Unreadable = append(s.Unreadable, p.pid)
	}
	if len(u.samples) < SandboxSampleRing {
		u.samples = append(u.samples, s)
	} else {
		u.samples[u.snext] = s
		u.snext = (u.snext + 1) % SandboxSampleRing
	}
	u.lastAt, u.lastCPU, u.lastThrott = now, used, throttle
	for seq, x := range u.traced {
		if !now.Before(x.Until) {
			delete(u.traced, seq)
		}
	}
	sb.mu.Unlock()
	if len(unreadable) > 0 {
		why := ""
		if w := unreadable[0].sbp.sizeErr.Load(); w != nil {
			why = *w
		}
		sb.rt.log.Debug("sandbox sample: unreadable process", "tree", t.name, "pid", unreadable[0].pid.String(), "why", why)
		sb.violate(unreadable[0], SandboxViolation{Kind: ViolationUnreadable, Value: int64(len(unreadable)), Response: ResponseLog})
	}
	sb.rt.clock.AfterFunc(c.MonitorInterval, sb.sample)
}

// usageLocked fills st's usage fields; the caller holds sb.mu.
func (sb *sandboxState) usageLocked(st *SandboxStatus) {
	u := &sb.use
	now := sb.rt.clock.Now()
	st.CPUUsed, st.Throttles, st.ThrottledTime = time.Duration(u.cpuUsed.Load()), u.throttles, u.throttleTime
	if u.throttled.Load() {
		st.Throttled = true
		st.ThrottledTime += now.Sub(u.throttledAt)
	}
	st.Samples = make([]SandboxSample, 0, len(u.samples))
	st.Samples = append(st.Samples, u.samples[u.snext:]...)
	st.Samples = append(st.Samples, u.samples[:u.snext]...)
	if n := len(st.Samples); n > 0 {
		last := st.Samples[n-1]
		st.Usage = &last
	}
	st.TracedUp = make([]SandboxTracedUp, 0, len(u.traced))
	for seq, x := range u.traced {
		if _, alive := sb.per[seq]; alive && now.Before(x.Until) {
			st.TracedUp = append(st.TracedUp, *x)
		}
	}
	sort.Slice(st.TracedUp, func(i, j int) bool { return st.TracedUp[i].PID.Seq < st.TracedUp[j].PID.Seq })
}

// ---- tracing turned up, trace bounds ----

// traceUp turns p's message and state tracing up to full after a
// moderate threshold violation, for SandboxTraceUpIntervals monitoring
// intervals (extended by further violations, but never past
// SandboxTraceMaxAge from the stretch's start). The tree's own tracing
// (SetTracing) is left as it is.
func (sb *sandboxState) traceUp(p *process) {
	e := p.sbp
	if e == nil {
		return
	}
	c := sb.policy()
	now := sb.rt.clock.Now()
	sb.mu.Lock()
	x := sb.use.traced[p.pid.Seq]
	fresh := x == nil || !now.Before(x.Until)
	if fresh {
		x = &SandboxTracedUp{PID: p.pid, ChildID: p.path, Since: now}
		sb.use.traced[p.pid.Seq] = x
	}
	until := now.Add(SandboxTraceUpIntervals * c.MonitorInterval)
	if lim := x.Since.Add(SandboxTraceMaxAge); until.After(lim) {
		until = lim
	}
	if until.After(x.Until) {
		x.Until = until
	}
	until = x.Until
	if sb.use.upFlow.Load() == nil {
		sb.use.upFlow.Store(sb.newFlow())
	}
	sb.mu.Unlock()
	e.tracedUp.Store(until.UnixNano())
	if fresh {
		sb.rt.events.emit(Event{Time: now, Node: sb.rt.node, Type: EventTracingChanged, PID: p.pid, Tree: sb.tree.name, ChildID: p.path,
			Detail: fmt.Sprintf("process %s: messages=full states=full until %s (raised by a sandbox violation)", p.pid, until.Format(time.RFC3339Nano))})
	}
}

// tracedUpNow reports whether p's tracing is turned up at now.
func (p *process) tracedUpNow(now time.Time) bool {
	u := p.sbp.tracedUp.Load()
	return u != 0 && now.UnixNano() < u
}

// sandboxTraced records a delivered message whose end is sandboxed in the
// traced-up table of its sandbox, when that end is traced up and its tree
// keeps no flow graph of its own (which would have recorded it).
func (rt *Runtime) sandboxTraced(from *process, fromPID PID, target *process, to PID) {
	var now time.Time
	up := func(p *process) *flowTable {
		if p == nil || p.sbp == nil || p.sbp.tracedUp.Load() == 0 || p.tree.flow.Load() != nil {
			return nil
		}
		if now.IsZero() {
			now = rt.clock.Now()
		}
		if !p.tracedUpNow(now) {
			return nil
		}
		return p.sb.use.upFlow.Load()
	}
	f := up(from)
	if f != nil {
		f.record(fromPID, to, now)
	}
	if g := up(target); g != nil && g != f {
		g.record(fromPID, to, now)
	}
}

// captureTracedUp captures a traced-up process's state after a callback
// into its tree's history (the policy's HistorySamples per process).
func (sb *sandboxState) captureTracedUp(p *process) {
	now := sb.rt.clock.Now()
	if u := p.sbp.tracedUp.Load(); now.UnixNano() >= u {
		p.sbp.tracedUp.CompareAndSwap(u, 0) // over: no more checks until the next
		return
	}
	if p.sup != nil || p.tree == nil {
		return
	}
	st, err := p.protected(p.beh.ExportState)
	if err != nil {
		p.rt.log.Debug("state capture failed", "pid", p.pid.String(), "error", err)
		return
	}
	t := p.tree
	t.mu.Lock()
	h := t.hist[p.pid.Seq]
	if h == nil {
		h = &historyRing{}
		t.hist[p.pid.Seq] = h
	}
	h.add(StateSample{Time: now, State: st}, sb.policy().HistorySamples)
	t.mu.Unlock()
}

// newFlow is a flow table bounded for the sandbox: MaxFlowEdges edges
// between at most MaxProcesses + SandboxTraceExtraProcesses distinct
// processes (no process bound without MaxProcesses).
func (sb *sandboxState) newFlow() *flowTable {
	f := newFlowTable(sb.rt.cfg.MaxFlowEdges)
	if m := sb.policy().MaxProcesses; m > 0 {
		f.maxProcs = m + SandboxTraceExtraProcesses
		f.procs = make(map[PID]struct{})
	}
	return f
}

// newTreeFlow is the flow table SetTracing gives a tree; a sandboxed
// tree's is bounded (newFlow) and switched off SandboxTraceMaxAge after
// it was switched on.
func (rt *Runtime) newTreeFlow(t *treeState) *flowTable {
	if t.sb == nil {
		return newFlowTable(rt.cfg.MaxFlowEdges)
	}
	f := t.sb.newFlow()
	rt.clock.AfterFunc(SandboxTraceMaxAge, func() {
		if t.flow.CompareAndSwap(f, nil) {
			rt.emitTree(EventTracingChanged, t.name, PID{}, "", fmt.Sprintf("flow=false (a sandbox's trace is bounded to %s)", SandboxTraceMaxAge))
		}
	})
	return f
}

// historyEntries is how many states the tree's history keeps per process.
func (rt *Runtime) historyEntries(t *treeState) int {
	if t.sb != nil {
		if n := t.sb.policy().HistorySamples; n > 0 {
			return n
		}
	}
	return rt.cfg.HistoryEntries
}
