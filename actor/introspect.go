package actor

import (
	"fmt"
	"sort"
	"time"
	"unsafe"
)

// Status is a process's state as introspection reports it.
type Status string

const (
	StatusStarting    Status = "starting"
	StatusRunning     Status = "running"
	StatusSuspended   Status = "suspended"
	StatusTerminating Status = "terminating"
	StatusDead        Status = "dead"
)

// ProcessInfo is everything known about one process at one moment.
type ProcessInfo struct {
	PID  PID    `json:"pid"`
	Node string `json:"node"`
	// Tree and ChildID locate the process; ChildID is the path of ids
	// joined by '/', "" for a root supervisor or a standalone process.
	Tree    string `json:"tree,omitempty"`
	ChildID string `json:"child_id,omitempty"`
	// Parent is the supervisor, zero for roots and standalone processes.
	Parent     PID  `json:"parent,omitzero"`
	Supervisor bool `json:"supervisor"`
	// Behavior is the catalog behavior the process runs now and Version
	// that entry's version; a code change moves both.
	Behavior string `json:"behavior"`
	Version  string `json:"version,omitempty"`
	// Module is the module reference of the process's child spec, as
	// written: "counter" follows the module's active version, "counter@3"
	// is pinned; "" for a child naming a behavior (and for supervisors and
	// standalone processes).
	Module   string `json:"module,omitempty"`
	Status   Status `json:"status"`
	TrapExit bool   `json:"trap_exit"`
	// Restarts is how many times the supervisor restarted this child slot.
	Restarts    int       `json:"restarts"`
	StartedAt   time.Time `json:"started_at"`
	QueueLen    int       `json:"queue_len"`
	MessagesIn  uint64    `json:"messages_in"`
	MessagesOut uint64    `json:"messages_out"`
	// MemoryBytes is an estimate: a fixed per-process overhead (goroutine
	// stack and bookkeeping, see ProcessOverheadBytes), the mailbox's
	// buffers and queued bodies, links and monitors, and the behavior's
	// ApproxSize if it implements Sizer.
	MemoryBytes    int64  `json:"memory_bytes"`
	Links          []PID  `json:"links"`
	Monitors       []PID  `json:"monitors"`
	MonitoredBy    []PID  `json:"monitored_by"`
	RegisteredName string `json:"registered_name,omitempty"`
}

// ProcessOverheadBytes is the fixed part of a process's memory estimate:
// a goroutine's initial stack plus the process record, its channels and
// its table entry, as measured by BenchmarkIdleProcessMemory (about
// 4.0 KB on linux/amd64, Go 1.26; see docs/perf/runtime.md).
const ProcessOverheadBytes = 4000

const (
	envelopeBytes = int64(unsafe.Sizeof(envelope{}))
	mapEntryBytes = 48
)

func sortedPIDs(m map[uint64]*process) []PID {
	out := make([]PID, 0, len(m))
	for _, p := range m {
		out = append(out, p.pid)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (p *process) info() ProcessInfo {
	pi := ProcessInfo{
		PID: p.pid, Node: p.pid.Node, ChildID: p.path, Parent: p.parent, Supervisor: p.sup != nil,
		TrapExit: p.trap.Load(), Restarts: p.restarts, StartedAt: p.startedAt, MessagesOut: p.out.Load(),
	}
	if p.tree != nil {
		pi.Tree = p.tree.name
	}
	p.mu.Lock()
	pi.Behavior, pi.Version, pi.RegisteredName = p.behavior, p.version, p.name
	pi.Module = p.module
	pi.QueueLen = p.queueLen()
	pi.MessagesIn = p.in
	pi.Links = sortedPIDs(p.links)
	pi.Monitors = sortedPIDs(p.monitors)
	pi.MonitoredBy = sortedPIDs(p.monitoredBy)
	mem := int64(ProcessOverheadBytes) + int64(len(p.user.buf)+len(p.batch.buf)+len(p.sys.buf)+len(p.urgent.buf))*envelopeBytes + p.queued.Load() +
		int64(len(p.links)+len(p.monitors)+len(p.monitoredBy))*mapEntryBytes
	suspended, closed := p.suspended, p.closed
	p.mu.Unlock()
	pi.MemoryBytes = mem + p.stateBytes.Load()
	switch st := procState(p.state.Load()); {
	case closed || st == stDead:
		pi.Status = StatusDead
	case st == stStarting:
		pi.Status = StatusStarting
	case st == stTerminating || p.stopping.Load():
		pi.Status = StatusTerminating
	case suspended:
		pi.Status = StatusSuspended
	default:
		pi.Status = StatusRunning
	}
	return pi
}

// Process describes one live local process.
func (rt *Runtime) Process(pid PID) (ProcessInfo, error) {
	p, err := rt.local(pid)
	if err != nil {
		return ProcessInfo{}, err
	}
	return p.info(), nil
}

// Processes describes every live local process, by PID order.
func (rt *Runtime) Processes() []ProcessInfo {
	var list []*process
	rt.procs.Range(func(_, v any) bool {
		list = append(list, v.(*process))
		return true
	})
	sort.Slice(list, func(i, j int) bool { return list[i].pid.Seq < list[j].pid.Seq })
	out := make([]ProcessInfo, len(list))
	for i, p := range list {
		out[i] = p.info()
	}
	return out
}

// Peek returns up to max (all if max <= 0) of a process's queued user
// messages, next first, without consuming them. Call messages show with
// KindCall; supervisor commands are not listed.
func (rt *Runtime) Peek(pid PID, max int) ([]Message, error) {
	p, err := rt.local(pid)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errNoProc(pid)
	}
	n := p.queueLen()
	if max > 0 && max < n {
		n = max
	}
	out := make([]Message, 0, n)
	for i := int(p.batchPos.Load()); i < p.batch.n && len(out) < n; i++ {
		if e := p.batch.at(i); e.class == envMsg {
			out = append(out, e.msg)
		}
	}
	for i := 0; i < p.user.n && len(out) < n; i++ {
		if e := p.user.at(i); e.class == envMsg {
			out = append(out, e.msg)
		}
	}
	return out, nil
}

// QueueLen is a process's number of queued user messages.
func (rt *Runtime) QueueLen(pid PID) (int, error) {
	p, err := rt.local(pid)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queueLen(), nil
}

// Stats is a runtime-wide summary.
type Stats struct {
	Node        string `json:"node"`
	Processes   int    `json:"processes"`
	Supervisors int    `json:"supervisors"`
	Trees       int    `json:"trees"`
	QueueTotal  int    `json:"queue_total"`
	MemoryBytes int64  `json:"memory_bytes"`
	// Spawned counts every PID handed out since start.
	Spawned uint64 `json:"spawned"`
	// DroppedSends counts unchecked sends to dead or unknown local PIDs.
	DroppedSends uint64 `json:"dropped_sends"`
	// LastEventSeq is the Seq of the latest event.
	LastEventSeq uint64 `json:"last_event_seq"`
}

// Stats sums every live process.
func (rt *Runtime) Stats() Stats {
	s := Stats{Node: rt.node, Spawned: rt.seq.Load() - rt.base, DroppedSends: rt.dropped.Load()}
	rt.procs.Range(func(_, v any) bool {
		pi := v.(*process).info()
		s.Processes++
		if pi.Supervisor {
			s.Supervisors++
		}
		s.QueueTotal += pi.QueueLen
		s.MemoryBytes += pi.MemoryBytes
		return true
	})
	rt.treesRW.RLock()
	s.Trees = len(rt.trees)
	rt.treesRW.RUnlock()
	rt.events.mu.Lock()
	s.LastEventSeq = rt.events.seq
	rt.events.mu.Unlock()
	return s
}

// ProcessCount is the number of live processes (cheap).
func (rt *Runtime) ProcessCount() int { return int(rt.count.Load()) }

func (pi ProcessInfo) String() string {
	return fmt.Sprintf("%s %s %s q=%d", pi.PID, pi.Behavior, pi.Status, pi.QueueLen)
}
