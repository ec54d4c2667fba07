package plan

import (
	"container/heap"
	"maps"
	"sort"
)

// Operations are numbered by declaration index everywhere below; deps[i]
// lists the operations i depends on (which must run before it).

// findCycles returns one cycle per strongly connected component that has
// one, each starting and ending at the component's first-declared member
// and following depends_on edges, shortest first: [a b c a] reads "a
// depends on b, b on c, c on a". Self-dependencies are not in deps (they are
// reported on their own). Components come in order of their first member.
func findCycles(deps [][]int) [][]int {
	comp := sccs(deps)
	members := map[int][]int{}
	for v, c := range comp {
		members[c] = append(members[c], v)
	}
	var firsts []int
	for _, ms := range members {
		if len(ms) > 1 {
			firsts = append(firsts, ms[0]) // ms is ascending: v iterated in order
		}
	}
	sort.Ints(firsts)
	var out [][]int
	for _, s := range firsts {
		out = append(out, shortestCycle(deps, comp, s))
	}
	return out
}

// sccs labels each vertex with its strongly connected component (Tarjan's
// algorithm, iterative so that a 1000-long chain does not recurse deeply).
func sccs(deps [][]int) []int {
	n := len(deps)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	type frame struct{ v, edge int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.edge < len(deps[v]) {
				w := deps[v][f.edge]
				f.edge++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				if u := call[len(call)-1].v; low[v] < low[u] {
					low[u] = low[v]
				}
			}
		}
	}
	return comp
}

// shortestCycle finds, by breadth-first search inside s's component, the
// shortest path of depends_on edges from s back to s.
func shortestCycle(deps [][]int, comp []int, s int) []int {
	prev := map[int]int{}
	queue := []int{s}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range deps[v] {
			if comp[w] != comp[s] {
				continue
			}
			if w == s {
				path := []int{s}
				for u := v; u != s; u = prev[u] {
					path = append(path, u)
				}
				// path is s, v, prev[v], ... reversed after s.
				rev := []int{s}
				for i := len(path) - 1; i >= 1; i-- {
					rev = append(rev, path[i])
				}
				return append(rev, s)
			}
			if _, seen := prev[w]; !seen && w != s {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []int{s, s} // unreachable for a component of two or more
}

// intHeap is a min-heap of declaration indexes.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topoOrder is Kahn's algorithm over the graph whose predecessors are
// deps, taking among the ready operations the first declared. deps must be
// acyclic.
func topoOrder(deps [][]int) []int {
	n := len(deps)
	indeg := make([]int, n)
	succ := make([][]int, n)
	for v, ds := range deps {
		indeg[v] = len(ds)
		for _, d := range ds {
			succ[d] = append(succ[d], v)
		}
	}
	h := &intHeap{}
	for v := 0; v < n; v++ {
		if indeg[v] == 0 {
			*h = append(*h, v)
		}
	}
	heap.Init(h)
	order := make([]int, 0, n)
	for h.Len() > 0 {
		v := heap.Pop(h).(int)
		order = append(order, v)
		for _, w := range succ[v] {
			indeg[w]--
			if indeg[w] == 0 {
				heap.Push(h, w)
			}
		}
	}
	return order
}

// bitset is a fixed-size set of operation indexes.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// ancestors returns, for each operation, the set of operations that must
// run before it through deps (transitively). order is a topological order.
func ancestors(deps [][]int, order []int) []bitset {
	n := len(deps)
	anc := make([]bitset, n)
	for _, v := range order {
		anc[v] = newBitset(n)
		for _, d := range deps[v] {
			anc[v].set(d)
			anc[v].or(anc[d])
		}
	}
	return anc
}

// levels returns each operation's longest-path level over deps (0 for an
// operation with no predecessor). order is a topological order of deps.
func levels(deps [][]int, order []int) []int {
	lvl := make([]int, len(deps))
	for _, v := range order {
		for _, d := range deps[v] {
			if lvl[d]+1 > lvl[v] {
				lvl[v] = lvl[d] + 1
			}
		}
	}
	return lvl
}

func clonePlan(p *Plan) *Plan {
	n := *p
	if p.Constraints.Window != nil {
		w := *p.Constraints.Window
		n.Constraints.Window = &w
	}
	n.Batches = append([]int(nil), p.Batches...)
	if p.Health != nil {
		h := *p.Health
		n.Health = &h
	}
	n.Operations = make([]Operation, len(p.Operations))
	for i, op := range p.Operations {
		op.DependsOn = append([]string(nil), op.DependsOn...)
		op.Params.Args = maps.Clone(op.Params.Args)
		if op.Params.Child != nil {
			c := op.Params.Child.Clone()
			op.Params.Child = &c
		}
		n.Operations[i] = op
	}
	return &n
}
