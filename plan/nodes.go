package plan

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
	for j := range r.Phases[i].Rollback {
		if c := &r.Phases[i].Rollback[j]; c.Op == op {
			return c
		}
	}
	return nil
}
