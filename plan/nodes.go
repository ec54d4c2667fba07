package plan

import "encoding/json"

// NodeNames lists, sorted, every node a check refers to: the nodes whose
// share of the check (ForNode) is not empty.
func (c Check) NodeNames() []string {
	set := newStringSet()
	add := func(n string) {
		if n != "" {
			set.add(n)
		}
	}
	for _, n := range c.Nodes {
		add(n)
	}
	for _, r := range c.Processes {
		add(r.Node)
	}
	if c.Limits != nil {
		for _, nl := range c.Limits.Nodes {
			add(nl.Node)
		}
	}
	for _, r := range c.Params {
		add(r.Target.Node)
	}
	for _, e := range c.Effects {
		add(e.Target.Node)
	}
	return set.sorted()
}

// PhaseNodes lists, sorted, the nodes that take part in phase i: those its
// operations run on and those its checks refer to. Each runs its share of
// the phase and reports it.
func (r *Result) PhaseNodes(i int) []string {
	if i < 0 || i >= len(r.Phases) {
		return nil
	}
	ph := r.Phases[i]
	set := newStringSet()
	for _, id := range ph.Operations {
		if op := r.Operation(id); op != nil && op.Node != "" {
			set.add(op.Node)
		}
	}
	for _, cs := range [][]Check{ph.PreChecks, ph.PostChecks} {
		for _, c := range cs {
			for _, n := range c.NodeNames() {
				set.add(n)
			}
		}
	}
	return set.sorted()
}

// Operation returns the operation with this id, or nil.
func (r *Result) Operation(id string) *Operation {
	if r.idx != nil {
		if i, ok := r.idx.ops[id]; ok && i < len(r.Operations) && r.Operations[i].ID == id {
			return &r.Operations[i]
		}
	}
	for i := range r.Operations {
		if r.Operations[i].ID == id {
			return &r.Operations[i]
		}
	}
	return nil
}

// Compensation returns phase i's compensation of operation op, or nil when
// the phase has none for it.
func (r *Result) Compensation(i int, op string) *Compensation {
	if i < 0 || i >= len(r.Phases) {
		return nil
	}
	if r.idx != nil && i < len(r.idx.comps) {
		rb := r.Phases[i].Rollback
		if j, ok := r.idx.comps[i][op]; ok && j < len(rb) && rb[j].Op == op {
			return &rb[j]
		}
	}
	for j := range r.Phases[i].Rollback {
		if c := &r.Phases[i].Rollback[j]; c.Op == op {
			return c
		}
	}
	return nil
}

// resultIndex maps operation ids to their index in Result.Operations, and
// per phase to their compensation's index in its Rollback. A lookup checks
// the entry it finds and falls back to a scan, so a Result changed after
// it was indexed still answers right.
type resultIndex struct {
	ops   map[string]int
	comps []map[string]int
}

func (r *Result) index() {
	x := &resultIndex{ops: make(map[string]int, len(r.Operations)), comps: make([]map[string]int, len(r.Phases))}
	for i, op := range r.Operations {
		x.ops[op.ID] = i
	}
	for i, ph := range r.Phases {
		x.comps[i] = make(map[string]int, len(ph.Rollback))
		for j, c := range ph.Rollback {
			x.comps[i][c.Op] = j
		}
	}
	r.idx = x
}

// UnmarshalJSON decodes a Result and indexes it.
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	r.index()
	return nil
}
