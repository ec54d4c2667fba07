package sandbox

import (
	"fmt"
	"time"

	"github.com/steward/steward/actor"
)

// TraceKind is what ReadTrace returns.
type TraceKind string

const (
	TraceMessages TraceKind = "messages" // the message-flow graph
	TraceStates   TraceKind = "states"   // the state history of each process
	TraceAll      TraceKind = "all"      // both
)

// ParseTraceKind reads messages, states or all ("" is all).
func ParseTraceKind(s string) (TraceKind, error) {
	switch k := TraceKind(s); k {
	case TraceMessages, TraceStates, TraceAll:
		return k, nil
	case "":
		return TraceAll, nil
	}
	return "", fmt.Errorf("%w: trace type %q is not messages, states or all", ErrInvalid, s)
}

// TraceDump is a sandbox's raw trace: what its tree's tracing recorded, as
// the runtime keeps it.
type TraceDump struct {
	Tree     string        `json:"tree"`
	Kind     TraceKind     `json:"kind"`
	At       time.Time     `json:"at"`
	Messages *MessageTrace `json:"messages,omitempty"`
	States   *StateTrace   `json:"states,omitempty"`
}

// MessageTrace is the tree's message-flow graph: one edge per (sender,
// receiver) with its count, first and last time (actor.FlowEdge). An edge
// is recorded when either end is in the tree; a message from the
// runtime's API has a zero From.
//
// Bounds: at most MaxEdges edges (Config.MaxFlowEdges), between at most
// MaxProcesses distinct processes (the sandbox's max_processes +
// actor.SandboxTraceExtraProcesses; 0: no bound); messages on new edges
// past either are counted in Dropped, not kept. A sandbox's tree-level
// flow tracing switches itself off MaxAgeMS after it was switched on
// (actor.SandboxTraceMaxAge), and turning it off discards the graph.
// Without it, the graph holds the edges of the processes whose tracing a
// moderate violation turned up (TracedUp, each until its Until).
type MessageTrace struct {
	Traced       bool                    `json:"traced"`
	MaxEdges     int                     `json:"max_edges"`
	MaxProcesses int                     `json:"max_processes"`
	MaxAgeMS     int64                   `json:"max_age_ms"`
	Dropped      uint64                  `json:"dropped"`
	TracedUp     []actor.SandboxTracedUp `json:"traced_up"`
	Edges        []actor.FlowEdge        `json:"edges"`
}

// StateTrace is the state history of the tree's live workers: each
// worker's exported state captured every Interval (and after every
// callback while its tracing is turned up), keeping its last MaxSamples
// distinct states (the sandbox's history_samples, actor's default 100),
// oldest first. The states are the behaviors' exports as they are (JSON
// for natives), base64 in JSON. Exited processes keep theirs in the
// runtime for a while (the tree's last 64 exits) but are not listed:
// nothing enumerates them.
type StateTrace struct {
	Traced     bool             `json:"traced"`
	IntervalMS int64            `json:"interval_ms"`
	MaxSamples int              `json:"max_samples"`
	Processes  []ProcessHistory `json:"processes"`
}

// ProcessHistory is one process's captured states.
type ProcessHistory struct {
	PID      actor.PID           `json:"pid"`
	ChildID  string              `json:"child_id"`
	Behavior string              `json:"behavior"`
	Samples  []actor.StateSample `json:"samples"`
}

// ReadTrace returns a sandboxed tree's raw trace of the given kind from
// the local runtime. It is an error for a tree that is not a sandbox.
func ReadTrace(rt *actor.Runtime, tree string, kind TraceKind) (TraceDump, error) {
	kind, err := ParseTraceKind(string(kind))
	if err != nil {
		return TraceDump{}, err
	}
	st, err := rt.SandboxStatus(tree)
	if err != nil {
		return TraceDump{}, fmt.Errorf("sandbox %q: %w", tree, err)
	}
	ti, err := rt.Tree(tree)
	if err != nil {
		return TraceDump{}, fmt.Errorf("sandbox %q: %w", tree, err)
	}
	cfg := rt.Config()
	d := TraceDump{Tree: tree, Kind: kind, At: now(rt)}
	if kind != TraceStates {
		g, err := rt.FlowGraph(tree)
		if err != nil {
			return TraceDump{}, fmt.Errorf("sandbox %q: flow: %w", tree, err)
		}
		edges := g.Edges
		if edges == nil {
			edges = []actor.FlowEdge{}
		}
		m := &MessageTrace{Traced: ti.Tracing.Flow, MaxEdges: cfg.MaxFlowEdges, MaxAgeMS: actor.SandboxTraceMaxAge.Milliseconds(),
			Dropped: g.Dropped, TracedUp: st.TracedUp, Edges: edges}
		if n := st.Policy.MaxProcesses; n > 0 {
			m.MaxProcesses = n + actor.SandboxTraceExtraProcesses
		}
		if m.TracedUp == nil {
			m.TracedUp = []actor.SandboxTracedUp{}
		}
		d.Messages = m
	}
	if kind != TraceMessages {
		if s := st.Policy.HistorySamples; s <= 0 {
			st.Policy.HistorySamples = cfg.HistoryEntries
		}
		iv := ti.Tracing.HistoryInterval
		if iv == 0 && ti.Tracing.History {
			iv = cfg.HistoryInterval
		}
		s := &StateTrace{Traced: ti.Tracing.History, IntervalMS: iv.Milliseconds(), MaxSamples: st.Policy.HistorySamples, Processes: []ProcessHistory{}}
		for _, pi := range treeProcesses(rt, tree) {
			if pi.Supervisor {
				continue
			}
			h, err := rt.History(pi.PID)
			if err != nil {
				continue // exited meanwhile
			}
			if h == nil {
				h = []actor.StateSample{}
			}
			s.Processes = append(s.Processes, ProcessHistory{PID: pi.PID, ChildID: pi.ChildID, Behavior: pi.Behavior, Samples: h})
		}
		d.States = s
	}
	return d, nil
}
