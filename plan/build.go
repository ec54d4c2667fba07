package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/spec"
)

// Build validates a plan and turns it, with the live facts, into phases
// with checks, rollbacks, conflicts and an estimate.
//
// Errors: an *Error wrapping ErrInvalid when the plan breaks a static rule
// (Validate), or ErrFacts when facts are given but do not cover exactly the
// plan's operations; then the Result is nil. When a conflict of error
// severity is found, the complete Result is returned together with an error
// wrapping ErrConflict, so that a dry run can still show it. facts may be
// nil (an offline dry run): no implicit edges nor fact-based conflicts then,
// and a no_facts warning.
func Build(p *Plan, facts *Facts, opts Options) (*Result, error) {
	n, err := normalize(p, opts)
	if err != nil {
		return nil, err
	}
	b := &builder{plan: n, facts: facts, now: opts.Now.UTC()}
	for _, k := range SkippableChecks {
		if slices.Contains(opts.SkipChecks, k) {
			b.skip = append(b.skip, k)
		}
	}
	if err := b.analyze(); err != nil {
		return nil, err
	}
	b.graph()
	b.phases()
	b.checks()
	b.conflicts()
	r := b.result()
	if r.Refused() {
		var msgs []string
		for _, c := range r.Conflicts {
			if c.Severity == SeverityError {
				msgs = append(msgs, c.Message)
			}
		}
		return r, fmt.Errorf("%w: %s", ErrConflict, strings.Join(msgs, "; "))
	}
	return r, nil
}

// opInfo is what the builder knows about one operation.
type opInfo struct {
	idx   int
	op    *Operation
	facts *OperationFacts // nil without facts
	node  string
	// target: how checks find the target; tgt: its state at planning
	// (from the facts, or from the address alone).
	target ProcessRef
	tgt    ProcessFacts
	// child (terminate_child, restart_child, delete_child, start_child with
	// a spec): the child slot or pid; nil otherwise.
	child    *ProcessRef
	childFct *ProcessFacts
	// subtree is the slot path ("tree/slot") whose whole subtree the
	// operation restarts or stops; "" if none.
	subtree    string
	targetKeys []string
	impact     int
	newProcs   int
	estimateMS int64
}

type builder struct {
	plan  *Plan
	facts *Facts
	now   time.Time
	// skip: the checks the operator skips, in SkippableChecks order.
	skip  []CheckKind
	ops   []*opInfo
	byID  map[string]int
	nodes map[string]*NodeFacts

	deps      [][]int // explicit + implicit predecessors
	edges     []Edge
	order     []int
	level     []int
	phaseOf   []int
	shared    []sharedGroup // for the same_target conflict
	phaseList []Phase
	conflict  []Conflict
}

func slotPath(tree, slot string) string {
	if slot == "" {
		return tree
	}
	return tree + "/" + slot
}

func joinSlot(parent, leaf string) string {
	if parent == "" {
		return leaf
	}
	return parent + "/" + leaf
}

func (b *builder) analyze() error {
	b.byID = make(map[string]int, len(b.plan.Operations))
	for i, op := range b.plan.Operations {
		b.byID[op.ID] = i
	}
	var ps fielderr.List
	var factsByOp map[string]*OperationFacts
	if b.facts != nil {
		factsByOp = make(map[string]*OperationFacts, len(b.facts.Operations))
		for i := range b.facts.Operations {
			f := &b.facts.Operations[i]
			path := fielderr.Index("facts.operations", i)
			if _, ok := b.byID[f.OpID]; !ok {
				ps.Add(ErrFacts, fielderr.Join(path, "op_id"), "no operation %q in the plan", f.OpID)
			} else if _, dup := factsByOp[f.OpID]; dup {
				ps.Add(ErrFacts, fielderr.Join(path, "op_id"), "facts for %q given twice", f.OpID)
			} else {
				factsByOp[f.OpID] = f
			}
		}
		for _, op := range b.plan.Operations {
			if _, ok := factsByOp[op.ID]; !ok {
				ps.Add(ErrFacts, "facts.operations", "no facts for operation %q", op.ID)
			}
		}
		b.nodes = make(map[string]*NodeFacts, len(b.facts.Nodes))
		for i := range b.facts.Nodes {
			b.nodes[b.facts.Nodes[i].Node] = &b.facts.Nodes[i]
		}
	}
	if err := ps.Err(ErrFacts); err != nil {
		return err
	}
	b.ops = make([]*opInfo, len(b.plan.Operations))
	for i := range b.plan.Operations {
		b.ops[i] = b.analyzeOp(i, factsByOp[b.plan.Operations[i].ID])
	}
	return nil
}

func (b *builder) analyzeOp(i int, f *OperationFacts) *opInfo {
	op := &b.plan.Operations[i]
	o := &opInfo{idx: i, op: op, facts: f, node: op.Node}
	if f != nil {
		o.tgt = f.Target
		if o.node == "" {
			o.node = f.Target.Node
		}
		o.childFct = f.Child
	}
	// Supervision address: from the target, else from the facts.
	t := op.Target
	switch {
	case t.Supervisor != "":
		o.target = ProcessRef{Tree: t.Supervisor, Slot: t.ChildID, Node: o.node}
		o.tgt.Tree, o.tgt.Slot = t.Supervisor, t.ChildID
	case t.Name != "":
		o.target = ProcessRef{Name: t.Name, Node: o.node}
	case op.Type == Spawn:
		// No target: the process it creates, by the name it registers
		// (an unnamed one is found by the pid in its result).
		o.target = ProcessRef{Name: op.Params.Name, Node: o.node}
	default:
		o.target = ProcessRef{PID: t.PID, Node: o.node}
	}
	if o.tgt.Node == "" {
		o.tgt.Node = o.node
	}
	tree, slot, addressed := o.tgt.Tree, o.tgt.Slot, o.tgt.Tree != ""

	// Target keys: every way two operations can name the same thing.
	add := func(k string) {
		if !slices.Contains(o.targetKeys, k) {
			o.targetKeys = append(o.targetKeys, k)
		}
	}
	if addressed {
		add("s:" + slotPath(tree, slot))
	}
	if t.Name != "" {
		add("n:" + o.node + ":" + t.Name)
	}
	if op.Type == Spawn && op.Params.Name != "" {
		// Operations on the name it registers come after it (or before).
		add("n:" + o.node + ":" + op.Params.Name)
	}
	if t.PID != "" {
		add("p:" + t.PID)
	}
	if f != nil && f.Target.PID != "" && op.Type != Spawn {
		add("p:" + f.Target.PID)
	}

	// The child of child operations.
	switch op.Type {
	case TerminateChild, RestartChild, DeleteChild:
		id := op.Params.ChildID
		if isPID(id) {
			o.child = &ProcessRef{PID: id, Node: o.node}
		} else if addressed {
			o.child = &ProcessRef{Tree: tree, Slot: joinSlot(slot, id), Node: o.node}
		}
	case StartChild:
		if op.Params.Child != nil && addressed {
			o.child = &ProcessRef{Tree: tree, Slot: joinSlot(slot, op.Params.Child.ID), Node: o.node}
		}
	}
	if o.child != nil {
		if o.child.Tree != "" {
			add("s:" + slotPath(o.child.Tree, o.child.Slot))
		} else {
			add("p:" + o.child.PID)
		}
	}
	if o.childFct != nil && o.childFct.PID != "" {
		add("p:" + o.childFct.PID)
	}

	switch op.Type {
	case RestartSupervisor, ChangeSupervisorStrategy:
		if addressed {
			o.subtree = slotPath(tree, slot)
		}
	case TerminateChild:
		if o.child != nil && o.child.Tree != "" {
			o.subtree = slotPath(o.child.Tree, o.child.Slot)
		}
	}

	var affected int
	if f != nil {
		affected = len(f.Affected)
	}
	o.impact = impactBase[op.Type] + (affected+ImpactPerAffected-1)/ImpactPerAffected
	o.estimateMS = estimateMS[op.Type] + int64(affected)*EstimatePerAffectedMS + importEstimateMS(*op)
	switch op.Type {
	case StartChild:
		o.newProcs = 1
		if c := op.Params.Child; c != nil {
			o.newProcs += countDescendants(c)
		}
	case RestartChild, Spawn:
		o.newProcs = 1
	}
	return o
}

func countDescendants(c *spec.ChildSpec) int {
	n := 0
	for i := range c.Children {
		n += 1 + countDescendants(&c.Children[i])
	}
	return n
}

// graph builds explicit and implicit edges, the order and the levels.
func (b *builder) graph() {
	n := len(b.ops)
	explicit := make([][]int, n)
	for i, o := range b.ops {
		for _, d := range o.op.DependsOn {
			j := b.byID[d]
			explicit[i] = append(explicit[i], j)
			b.edges = append(b.edges, Edge{From: d, To: o.op.ID, Kind: Explicit, Reason: o.op.ID + " depends_on " + d})
		}
	}
	exOrder := topoOrder(explicit)
	pos := make([]int, n)
	for p, v := range exOrder {
		pos[v] = p
	}
	anc := ancestors(explicit, exOrder)

	b.deps = make([][]int, n)
	for i := range explicit {
		b.deps[i] = append([]int(nil), explicit[i]...)
	}
	for _, pr := range b.implicitPairs(pos) {
		x, y := pr.a, pr.b
		if anc[y].has(x) || anc[x].has(y) {
			continue // depends_on already orders them
		}
		if pos[y] < pos[x] {
			x, y = y, x
		}
		b.deps[y] = append(b.deps[y], x)
		b.edges = append(b.edges, Edge{From: b.ops[x].op.ID, To: b.ops[y].op.ID, Kind: Implicit, Reason: pr.reason})
	}
	// exOrder is a linear extension of the explicit edges and implicit
	// edges follow it, so it is a topological order of both.
	b.level = levels(b.deps, exOrder)
	b.order = append([]int(nil), exOrder...)
	sort.SliceStable(b.order, func(i, j int) bool {
		a, c := b.order[i], b.order[j]
		if b.level[a] != b.level[c] {
			return b.level[a] < b.level[c]
		}
		return a < c
	})
	sort.SliceStable(b.edges, func(i, j int) bool {
		ei, ej := b.edges[i], b.edges[j]
		fi, fj := b.byID[ei.From], b.byID[ej.From]
		if fi != fj {
			return fi < fj
		}
		ti, tj := b.byID[ei.To], b.byID[ej.To]
		if ti != tj {
			return ti < tj
		}
		return ei.Kind < ej.Kind
	})
}

type pair struct {
	a, b   int // a < b
	reason string
}

// implicitPairs finds the pairs of operations that must not share a phase:
// they share a target, or one affects the other's target (through the
// facts' affected processes, or because the target lies in a subtree the
// other restarts or stops). To keep the graph linear in the plan's size,
// the operations sharing a target are chained in explicit topological
// order (consecutive ones paired), which orders the whole group, and an
// operation affecting a target is paired only with its neighbours in that
// target's chain. The first reason found per pair is kept; pairs come
// sorted. It also records, per target shared by several operations, the
// group (for the same_target conflict).
func (b *builder) implicitPairs(pos []int) []pair {
	byTarget := map[string][]int{}
	var keys []string
	for i, o := range b.ops {
		for _, k := range o.targetKeys {
			if byTarget[k] == nil {
				keys = append(keys, k)
			}
			byTarget[k] = append(byTarget[k], i)
		}
	}
	for _, k := range keys {
		g := byTarget[k]
		sort.Slice(g, func(i, j int) bool { return pos[g[i]] < pos[g[j]] })
	}
	found := map[[2]int]*pair{}
	var list []*pair
	note := func(x, y int, reason func() string) {
		if x == y {
			return
		}
		k := [2]int{min(x, y), max(x, y)}
		if found[k] != nil {
			return
		}
		p := &pair{a: k[0], b: k[1], reason: reason()}
		found[k] = p
		list = append(list, p)
	}
	groups := map[string]bool{}
	for _, k := range keys {
		g := byTarget[k]
		if len(g) < 2 {
			continue
		}
		for i := 1; i < len(g); i++ {
			x, y := g[i-1], g[i]
			note(x, y, func() string {
				return fmt.Sprintf("%s and %s both target %s", b.ops[x].op.ID, b.ops[y].op.ID, keyLabel(k))
			})
		}
		sig := fmt.Sprint(g)
		if !groups[sig] {
			groups[sig] = true
			b.shared = append(b.shared, sharedGroup{ops: append([]int(nil), g...), key: k})
		}
	}
	for x, o := range b.ops {
		if o.facts == nil {
			continue
		}
		for _, a := range o.facts.Affected {
			keys := []string{"p:" + a.PID}
			if a.Tree != "" {
				keys = append(keys, "s:"+slotPath(a.Tree, a.Slot))
			}
			for _, k := range keys {
				g := byTarget[k]
				// The neighbours of x in g's order, g itself being chained.
				i := sort.Search(len(g), func(i int) bool { return pos[g[i]] >= pos[x] })
				var near []int
				if i > 0 {
					near = append(near, g[i-1])
				}
				for ; i < len(g) && g[i] == x; i++ {
				}
				if i < len(g) {
					near = append(near, g[i])
				}
				for _, y := range near {
					aa, yy := a, y
					note(x, y, func() string {
						return fmt.Sprintf("%s %s affects %s %s, the target of %s", o.op.Type, b.targetLabel(o), aa.Relation, aa.PID, b.ops[yy].op.ID)
					})
				}
			}
		}
	}
	// Subtrees: an operation whose target slot lies under another's
	// restarted or stopped subtree. The operations covering one subtree
	// share its slot as a target, so they are chained: the neighbours of
	// the covered operation among them are enough.
	bySubtree := map[string][]int{}
	for i, o := range b.ops {
		if o.subtree != "" {
			bySubtree[o.subtree] = append(bySubtree[o.subtree], i)
		}
	}
	for _, g := range bySubtree {
		sort.Slice(g, func(i, j int) bool { return pos[g[i]] < pos[g[j]] })
	}
	if len(bySubtree) > 0 {
		for y, o := range b.ops {
			for _, k := range o.targetKeys {
				if !strings.HasPrefix(k, "s:") {
					continue
				}
				path := k[2:]
				for cut := strings.LastIndexByte(path, '/'); cut > 0; cut = strings.LastIndexByte(path, '/') {
					path = path[:cut]
					g := bySubtree[path]
					i := sort.Search(len(g), func(i int) bool { return pos[g[i]] >= pos[y] })
					var near []int
					if i > 0 {
						near = append(near, g[i-1])
					}
					if i < len(g) {
						near = append(near, g[i])
					}
					for _, x := range near {
						xx, kk := x, k
						note(x, y, func() string {
							return fmt.Sprintf("%s %s covers %s, the target of %s", b.ops[xx].op.Type, b.ops[xx].subtree, keyLabel(kk), o.op.ID)
						})
					}
				}
			}
		}
	}
	out := make([]pair, len(list))
	for i, p := range list {
		out[i] = *p
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].a != out[j].a {
			return out[i].a < out[j].a
		}
		return out[i].b < out[j].b
	})
	return out
}

// sharedGroup is operations acting on one target, in explicit topological
// order.
type sharedGroup struct {
	ops []int
	key string
}

func keyLabel(k string) string {
	switch k[0] {
	case 'p':
		return "pid " + k[2:]
	case 'n':
		return "name " + k[2:]
	}
	return k[2:]
}

// targetLabel renders an operation's target for reasons: its PID when the
// facts have it, else its address.
func (b *builder) targetLabel(o *opInfo) string {
	if o.facts != nil && o.facts.Target.PID != "" {
		return o.facts.Target.PID
	}
	return o.op.TargetLabel()
}

// phases groups operations by level according to the safety level.
func (b *builder) phases() {
	n := len(b.ops)
	b.phaseOf = make([]int, n)
	maxPar := b.plan.Constraints.MaxParallel
	var groups [][]int
	switch {
	case len(b.plan.Batches) > 0:
		// Explicit batches, in declaration order (no operation depends on
		// another, so every operation is on level 0).
		at := 0
		for _, size := range b.plan.Batches {
			g := make([]int, size)
			for k := range g {
				g[k] = at + k
			}
			groups = append(groups, g)
			at += size
		}
	case b.plan.SafetyLevel == Strict:
		for _, v := range b.order {
			groups = append(groups, []int{v})
		}
	default:
		// b.order is sorted by level, then declaration order.
		for start := 0; start < n; {
			end := start
			for end < n && b.level[b.order[end]] == b.level[b.order[start]] {
				end++
			}
			lvl := b.order[start:end]
			if b.plan.SafetyLevel == Permissive {
				groups = append(groups, chunk(lvl, maxPar)...)
			} else {
				groups = append(groups, b.pack(lvl, maxPar)...)
			}
			start = end
		}
	}
	for pi, g := range groups {
		ph := Phase{Index: pi, Level: b.level[g[0]]}
		for _, v := range g {
			b.phaseOf[v] = pi
			ph.Operations = append(ph.Operations, b.ops[v].op.ID)
			ph.Impact += b.ops[v].impact
		}
		b.phaseList = append(b.phaseList, ph)
	}
}

func chunk(ops []int, size int) [][]int {
	if size <= 0 {
		size = len(ops)
	}
	var out [][]int
	for i := 0; i < len(ops); i += size {
		out = append(out, ops[i:min(i+size, len(ops))])
	}
	return out
}

// pack splits one level (in declaration order) into moderate phases, first
// fit: an operation joins the first phase of the level that stays within
// ImpactBudget, MaxHighImpactPerPhase and maxPar; an operation heavier than
// the budget gets a phase alone.
func (b *builder) pack(level []int, maxPar int) [][]int {
	type bin struct {
		ops          []int
		impact, high int
	}
	var bins []*bin
	for _, v := range level {
		o := b.ops[v]
		high := 0
		if o.impact >= HighImpact {
			high = 1
		}
		var into *bin
		for _, bn := range bins {
			if (maxPar <= 0 || len(bn.ops) < maxPar) &&
				bn.impact+o.impact <= ImpactBudget &&
				bn.high+high <= MaxHighImpactPerPhase {
				into = bn
				break
			}
		}
		if into == nil {
			into = &bin{}
			bins = append(bins, into)
		}
		into.ops = append(into.ops, v)
		into.impact += o.impact
		into.high += high
	}
	out := make([][]int, len(bins))
	for i, bn := range bins {
		out[i] = bn.ops
	}
	return out
}
