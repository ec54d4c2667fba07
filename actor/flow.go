package actor

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// FlowEdge is one sender -> receiver pair seen while a tree's message flow
// was tracked. From is zero for sends from outside any process.
type FlowEdge struct {
	From  PID       `json:"from"`
	To    PID       `json:"to"`
	Count uint64    `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// FlowGraph is a tree's tracked message flow. An edge is recorded when
// either end belongs to the tree; Dropped counts messages on new edges
// refused because the graph held Config.MaxFlowEdges edges.
type FlowGraph struct {
	Tree    string     `json:"tree"`
	Edges   []FlowEdge `json:"edges"`
	Dropped uint64     `json:"dropped"`
}

type flowKey struct{ from, to PID }

type flowTable struct {
	mu      sync.Mutex
	max     int
	edges   map[flowKey]*FlowEdge
	dropped uint64
	// maxProcs, when positive, bounds the distinct processes (non-zero
	// PIDs) the edges name, kept in procs (a sandbox's trace bound).
	maxProcs int
	procs    map[PID]struct{}
}

func newFlowTable(max int) *flowTable {
	return &flowTable{max: max, edges: make(map[flowKey]*FlowEdge)}
}

func (f *flowTable) record(from, to PID, now time.Time) {
	k := flowKey{from, to}
	f.mu.Lock()
	if e := f.edges[k]; e != nil {
		e.Count++
		e.Last = now
	} else if len(f.edges) < f.max && f.admitProcs(from, to) {
		f.edges[k] = &FlowEdge{From: from, To: to, Count: 1, First: now, Last: now}
	} else {
		f.dropped++
	}
	f.mu.Unlock()
}

// admitProcs reports whether a new edge between from and to keeps the
// table within maxProcs distinct processes, and counts them if so.
func (f *flowTable) admitProcs(from, to PID) bool {
	if f.maxProcs <= 0 {
		return true
	}
	n := 0
	if _, ok := f.procs[from]; !ok && !from.IsZero() {
		n++
	}
	if _, ok := f.procs[to]; !ok && !to.IsZero() && to != from {
		n++
	}
	if len(f.procs)+n > f.maxProcs {
		return false
	}
	for _, p := range [2]PID{from, to} {
		if !p.IsZero() {
			f.procs[p] = struct{}{}
		}
	}
	return true
}

// FlowGraph returns a tree's tracked message flow, edges sorted by sender
// then receiver. A tree without flow tracking has an empty graph.
func (rt *Runtime) FlowGraph(tree string) (FlowGraph, error) {
	t := rt.tree(tree)
	if t == nil {
		return FlowGraph{}, fmt.Errorf("%w: %q", ErrTreeNotFound, tree)
	}
	g := FlowGraph{Tree: tree}
	f := t.flow.Load()
	if f == nil && t.sb != nil {
		f = t.sb.use.upFlow.Load() // the traced-up processes' edges
	}
	if f == nil {
		return g, nil
	}
	f.mu.Lock()
	g.Edges = make([]FlowEdge, 0, len(f.edges))
	for _, e := range f.edges {
		g.Edges = append(g.Edges, *e)
	}
	g.Dropped = f.dropped
	f.mu.Unlock()
	sort.Slice(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		if a.From != b.From {
			return a.From.Node < b.From.Node || (a.From.Node == b.From.Node && a.From.Seq < b.From.Seq)
		}
		return a.To.Node < b.To.Node || (a.To.Node == b.To.Node && a.To.Seq < b.To.Seq)
	})
	return g, nil
}
