package sandbox

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward/steward/actor"
)

// Pattern classifies how much one pair exchanged, by its message count
// (the seed's classify_interaction_pattern): 1 single, under 5 sparse,
// under 20 regular, 20 or more intensive.
type Pattern string

const (
	PatternSingle    Pattern = "single"    // 1 message
	PatternSparse    Pattern = "sparse"    // 2 to 4
	PatternRegular   Pattern = "regular"   // 5 to 19
	PatternIntensive Pattern = "intensive" // 20 or more
)

// Pattern thresholds (the seed's).
const (
	SparseBelow  = 5
	RegularBelow = 20
)

// Classify is the pattern of n messages (n >= 1; 0 counts as single).
func Classify(n uint64) Pattern {
	switch {
	case n <= 1:
		return PatternSingle
	case n < SparseBelow:
		return PatternSparse
	case n < RegularBelow:
		return PatternRegular
	default:
		return PatternIntensive
	}
}

// Where an interaction was seen.
const (
	// SourceFlow: delivered messages, from the tree's message-flow graph.
	SourceFlow = "flow"
	// SourceBoundary: seen only at the boundary, in the crossings table: a
	// message refused (strict) or dropped before delivery, or a link,
	// monitor, lookup or spawn.
	SourceBoundary = "boundary"
)

// SystemEnd names the sender of a message from the runtime's API (no
// sending process: the node, the operator).
const SystemEnd = "system"

// Interaction is one pair that exchanged messages, from -> to.
type Interaction struct {
	// From and To are PIDs ("node/seq"), SystemEnd, or the other end as
	// the crossings table names it ("node/seq(name)@tree", "(name)" for a
	// lookup that found nothing).
	From string `json:"from"`
	To   string `json:"to"`
	// FromTree and ToTree are the ends' trees where known (the sandbox's
	// live processes; an outside end as the crossings table names it),
	// FromChildID and ToChildID their paths in the sandbox's tree.
	FromTree    string `json:"from_tree,omitempty"`
	ToTree      string `json:"to_tree,omitempty"`
	FromChildID string `json:"from_child_id,omitempty"`
	ToChildID   string `json:"to_child_id,omitempty"`
	FromInside  bool   `json:"from_inside"`
	ToInside    bool   `json:"to_inside"`
	// Crosses: one end is inside the sandbox and the other outside.
	Crosses bool `json:"crosses"`
	// Count is the messages delivered (source flow) or the crossings
	// recorded (source boundary); First and Last bound them.
	Count   uint64    `json:"count"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	Pattern Pattern   `json:"pattern"`
	// Ops are the boundary operations recorded between the two ends
	// (either direction: the crossings table does not keep which end
	// started one).
	Ops    []actor.BoundaryOp `json:"ops,omitempty"`
	Source string             `json:"source"`
}

// InteractionReport is a sandbox's interactions and the bounds of the
// records they come from.
type InteractionReport struct {
	Tree string    `json:"tree"`
	At   time.Time `json:"at"`
	// FlowTraced is whether message-flow tracing is on: without it only
	// the boundary's records are listed.
	FlowTraced bool `json:"flow_traced"`
	// FlowDropped counts messages on edges the flow graph had no room for
	// (Config.MaxFlowEdges); CrossingsDropped crossings the table had no
	// room for (actor.SandboxMaxCrossings). Either non-zero: the list is
	// incomplete.
	FlowDropped      uint64        `json:"flow_dropped"`
	CrossingsDropped uint64        `json:"crossings_dropped"`
	Interactions     []Interaction `json:"interactions"`
	// Errors lists the records that could not be read.
	Errors []string `json:"errors,omitempty"`
}

// pairKey is an unordered pair of ends: a sandboxed process and the other
// end of its crossings.
type pairKey struct{ a, b string }

func pair(x, y string) pairKey {
	if x > y {
		x, y = y, x
	}
	return pairKey{x, y}
}

// Interactions groups every message the sandbox's records show by sender
// and receiver: each flow-graph edge is one interaction (crossing the
// boundary when the crossings table has the pair); each pair the crossings
// table has and the flow graph does not (a refused message, a link, a
// monitor, a lookup, a spawn) is one more, from the sandboxed process to
// the other end, counting its crossings. Sorted by from, then to.
//
// An edge the crossings table does not have is inside the sandbox (a
// message across the boundary is always recorded there), unless the table
// dropped entries: then an end is inside when it is a live process of the
// tree, and outside otherwise.
func Interactions(obs Observation) InteractionReport {
	r := InteractionReport{Tree: obs.Tree, At: obs.At, FlowTraced: obs.FlowTraced, Interactions: []Interaction{}}
	r.Errors = append(r.Errors, obs.Errors...)
	paths, trees := map[string]string{}, map[string]string{}
	for _, pi := range obs.Processes {
		paths[pi.PID.String()], trees[pi.PID.String()] = pi.ChildID, pi.Tree
	}
	// The crossings table, by unordered pair (sandboxed end, other end).
	type crossAgg struct {
		inside, other string
		count         uint64
		first, last   time.Time
		ops           []actor.BoundaryOp
		seen          bool
	}
	cross := map[pairKey]*crossAgg{}
	var order []pairKey
	if st := obs.Status; st != nil {
		r.CrossingsDropped = st.CrossingsDropped
		for _, c := range st.Crossings {
			in, other := c.PID.String(), otherPID(c.Other)
			if other == "" { // a name that resolved to nothing
				other = c.Other
			}
			k := pair(in, other)
			x := cross[k]
			if x == nil {
				x = &crossAgg{inside: in, other: c.Other, first: c.First, last: c.Last}
				cross[k] = x
				order = append(order, k)
			}
			x.count += c.Count
			if c.First.Before(x.first) {
				x.first = c.First
			}
			if c.Last.After(x.last) {
				x.last = c.Last
			}
			if !slices.Contains(x.ops, c.Op) {
				x.ops = append(x.ops, c.Op)
			}
		}
	}
	insideSet := map[string]bool{}
	for _, x := range cross {
		insideSet[x.inside] = true
	}
	live := func(end string) bool { _, ok := paths[end]; return ok }
	if g := obs.Flow; g != nil {
		r.FlowDropped = g.Dropped
		for _, e := range g.Edges {
			from, to := e.From.String(), e.To.String()
			if e.From.IsZero() {
				from = SystemEnd
			}
			in := Interaction{From: from, To: to, FromTree: trees[from], ToTree: trees[to], FromChildID: paths[from], ToChildID: paths[to],
				Count: e.Count, First: e.First, Last: e.Last, Pattern: Classify(e.Count), Source: SourceFlow}
			if x := cross[pair(from, to)]; x != nil && from != SystemEnd {
				x.seen = true
				in.Crosses, in.Ops = true, slices.Clone(x.ops)
				in.FromInside, in.ToInside = from == x.inside, to == x.inside
				if in.FromInside {
					in.ToTree = otherTree(x.other)
				} else {
					in.FromTree = otherTree(x.other)
				}
			} else {
				in.FromInside, in.ToInside = from != SystemEnd, true
				if r.CrossingsDropped > 0 {
					in.FromInside = from != SystemEnd && (live(from) || insideSet[from])
					in.ToInside = live(to) || insideSet[to]
					in.Crosses = from != SystemEnd && in.FromInside != in.ToInside
				}
			}
			r.Interactions = append(r.Interactions, in)
		}
	}
	for _, k := range order {
		x := cross[k]
		if x.seen {
			continue
		}
		r.Interactions = append(r.Interactions, Interaction{From: x.inside, To: x.other, FromTree: trees[x.inside], ToTree: otherTree(x.other), FromChildID: paths[x.inside],
			FromInside: true, Crosses: true, Count: x.count, First: x.first, Last: x.last, Pattern: Classify(x.count),
			Ops: x.ops, Source: SourceBoundary})
	}
	sort.SliceStable(r.Interactions, func(i, j int) bool {
		a, b := r.Interactions[i], r.Interactions[j]
		if c := cmpEnd(a.From, b.From); c != 0 {
			return c < 0
		}
		if c := cmpEnd(a.To, b.To); c != 0 {
			return c < 0
		}
		return a.Source < b.Source
	})
	return r
}

// otherPID is the PID part of a crossing's other end as the crossings
// table renders it ("node/seq", then "(name)" and "@tree" when known).
func otherPID(s string) string {
	if i := strings.IndexAny(s, "(@"); i >= 0 {
		return s[:i]
	}
	return s
}

// otherTree is the tree part of a crossing's other end ("" if unknown).
func otherTree(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// cmpEnd orders ends: the system first, then PIDs by node and sequence
// number, then anything else by text.
func cmpEnd(a, b string) int {
	ka, kb := endSortKey(a), endSortKey(b)
	return cmp.Or(ka.rank-kb.rank, ka.pid.Compare(kb.pid), strings.Compare(a, b))
}

type endKey struct {
	rank int
	pid  actor.PID
}

func endSortKey(s string) endKey {
	if s == SystemEnd {
		return endKey{rank: 0}
	}
	if p, err := actor.ParsePID(otherPID(s)); err == nil {
		return endKey{rank: 1, pid: p}
	}
	return endKey{rank: 2}
}
