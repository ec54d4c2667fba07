package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var levelsAll = []SafetyLevel{Strict, Moderate, Permissive}

// kill returns a kill_process operation on its own pid (n1/<k+1>).
func kill(id string, k int, deps ...string) Operation {
	return Operation{ID: id, Type: KillProcess, Target: Target{PID: fmt.Sprintf("n1/%d", k+1)}, DependsOn: deps}
}

func phasesOf(r *Result) [][]string {
	var out [][]string
	for _, ph := range r.Phases {
		out = append(out, ph.Operations)
	}
	return out
}

func mustBuild(t testing.TB, p *Plan, f *Facts) *Result {
	t.Helper()
	r, err := Build(p, f, testOpts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

func TestDiamond(t *testing.T) {
	ops := []Operation{kill("a", 0), kill("b", 1, "a"), kill("c", 2, "a"), kill("d", 3, "b", "c")}
	want := map[SafetyLevel]string{
		Strict:     "[[a] [b] [c] [d]]",
		Moderate:   "[[a] [b c] [d]]",
		Permissive: "[[a] [b c] [d]]",
	}
	for _, lvl := range levelsAll {
		r := mustBuild(t, &Plan{SafetyLevel: lvl, Operations: ops}, nil)
		if got := fmt.Sprint(phasesOf(r)); got != want[lvl] {
			t.Errorf("%s: phases %s, want %s", lvl, got, want[lvl])
		}
		if got := fmt.Sprint(r.Order); got != "[a b c d]" {
			t.Errorf("%s: order %s", lvl, got)
		}
	}
}

// TestLongestPathLevels: an operation's level is its longest path from a
// root, not its shortest.
func TestLongestPathLevels(t *testing.T) {
	ops := []Operation{kill("c", 2, "a", "b"), kill("b", 1, "a"), kill("a", 0), kill("x", 3)}
	r := mustBuild(t, &Plan{SafetyLevel: Permissive, Operations: ops}, nil)
	if got := fmt.Sprint(phasesOf(r)); got != "[[a x] [b] [c]]" {
		t.Errorf("phases %s", got)
	}
	levels := map[string]int{}
	for _, p := range r.Schedule {
		levels[p.Op] = p.Level
	}
	if levels["a"] != 0 || levels["b"] != 1 || levels["c"] != 2 || levels["x"] != 0 {
		t.Errorf("levels %v", levels)
	}
}

func TestLongChain(t *testing.T) {
	const n = 500
	ops := make([]Operation, n)
	for i := range ops {
		// Declared in reverse so that declaration order cannot help.
		id := fmt.Sprintf("op%03d", n-1-i)
		var deps []string
		if n-1-i > 0 {
			deps = []string{fmt.Sprintf("op%03d", n-2-i)}
		}
		ops[i] = kill(id, i, deps...)
	}
	for _, lvl := range levelsAll {
		r := mustBuild(t, &Plan{SafetyLevel: lvl, Operations: ops}, nil)
		if len(r.Phases) != n {
			t.Fatalf("%s: %d phases, want %d", lvl, len(r.Phases), n)
		}
		for i, ph := range r.Phases {
			if want := fmt.Sprintf("op%03d", i); len(ph.Operations) != 1 || ph.Operations[0] != want || ph.Level != i {
				t.Fatalf("%s: phase %d = %v (level %d), want [%s]", lvl, i, ph.Operations, ph.Level, want)
			}
		}
	}
}

func TestWideLevel(t *testing.T) {
	ops := make([]Operation, 100)
	for i := range ops {
		ops[i] = kill(fmt.Sprintf("k%02d", i), i) // impact 2 each
	}
	tests := []struct {
		lvl         SafetyLevel
		maxParallel int
		phases      int
		firstSize   int
	}{
		{Strict, 0, 100, 1},
		{Moderate, 0, 20, ImpactBudget / 2},
		{Moderate, 3, 34, 3},
		{Permissive, 0, 1, 100},
		{Permissive, 7, 15, 7},
	}
	for _, tt := range tests {
		p := &Plan{SafetyLevel: tt.lvl, Constraints: Constraints{MaxParallel: tt.maxParallel}, Operations: ops}
		r := mustBuild(t, p, nil)
		if len(r.Phases) != tt.phases || len(r.Phases[0].Operations) != tt.firstSize {
			t.Errorf("%s max_parallel %d: %d phases of first size %d, want %d of %d", tt.lvl, tt.maxParallel, len(r.Phases), len(r.Phases[0].Operations), tt.phases, tt.firstSize)
		}
		seen := 0
		for _, ph := range r.Phases {
			seen += len(ph.Operations)
			if tt.lvl == Moderate && ph.Impact > ImpactBudget {
				t.Errorf("moderate phase %d impact %d over budget", ph.Index, ph.Impact)
			}
		}
		if seen != len(ops) {
			t.Errorf("%s: %d operations placed, want %d", tt.lvl, seen, len(ops))
		}
	}
}

// TestModeratePacking: first fit by impact, and an operation heavier than
// the budget alone in its phase.
func TestModeratePacking(t *testing.T) {
	sup := func(id string, affected int) (Operation, OperationFacts) {
		f := OperationFacts{OpID: id, Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/1" + id, Node: "n1", Kind: KindSupervisor, Tree: id}}
		for i := 0; i < affected; i++ {
			f.Affected = append(f.Affected, AffectedProcess{PID: fmt.Sprintf("n1/%s%d", id, 100+i), Node: "n1", Relation: Child})
		}
		return Operation{ID: id, Type: RestartSupervisor, Node: "n1", Target: Target{Supervisor: id}}, f
	}
	var ops []Operation
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}}
	for _, s := range []struct {
		id string
		n  int
	}{{"big", 60}, {"s1", 0}, {"s2", 5}, {"s3", 0}} {
		op, f := sup(s.id, s.n)
		ops = append(ops, op)
		facts.Operations = append(facts.Operations, f)
	}
	ops = append(ops, Operation{ID: "m", Type: SendMessage, Node: "n1", Target: Target{PID: "n1/9"}, Params: Params{Message: "x"}})
	facts.Operations = append(facts.Operations, OperationFacts{OpID: "m", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/9", Node: "n1"}})
	r := mustBuild(t, &Plan{Operations: ops}, facts)
	// big: 5+6=11 alone; s1 5, s2 5+1=6 -> s1 alone-ish; s3 5 joins s1; m 1 joins s2.
	if got := fmt.Sprint(phasesOf(r)); got != "[[big] [s1 s3] [s2 m]]" {
		t.Errorf("phases %s", got)
	}
}

// TestCycles: cycles of every length are refused and named, for every
// safety level, whatever the declaration order.
func TestCycles(t *testing.T) {
	for n := 1; n <= 12; n++ {
		for _, lvl := range levelsAll {
			ops := make([]Operation, n)
			for i := range ops {
				ops[i] = kill(fmt.Sprintf("c%d", i), i, fmt.Sprintf("c%d", (i+1)%n))
			}
			// A tail hanging off the cycle and a free operation.
			ops = append(ops, kill("tail", n, "c0"), kill("free", n+1))
			rand.New(rand.NewPCG(uint64(n), 7)).Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
			_, err := Build(&Plan{SafetyLevel: lvl, Operations: ops}, nil, testOpts)
			if !errors.Is(err, ErrCycle) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("n=%d %s: %v", n, lvl, err)
			}
			// The cycle starts at its first-declared member.
			first := -1
			for i, op := range ops {
				if strings.HasPrefix(op.ID, "c") && first < 0 {
					first = i
				}
			}
			var k int
			fmt.Sscanf(ops[first].ID, "c%d", &k)
			names := []string{}
			for i := 0; i <= n; i++ {
				names = append(names, fmt.Sprintf("c%d", (k+i)%n))
			}
			want := "dependency cycle: " + strings.Join(names, " -> ")
			if n == 1 {
				want = `"c0" depends on itself (cycle c0 -> c0)`
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("n=%d %s: %v does not name %q", n, lvl, err, want)
			}
		}
	}
}

func TestCycleLong(t *testing.T) {
	const n = MaxOperations
	ops := make([]Operation, n)
	for i := range ops {
		ops[i] = kill(fmt.Sprintf("c%d", i), i, fmt.Sprintf("c%d", (i+1)%n))
	}
	_, err := Build(&Plan{Operations: ops}, nil, testOpts)
	if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "c998 -> c999 -> c0") {
		t.Fatalf("%.200v", err)
	}
}

// TestSeveralCycles: each strongly connected component is reported once,
// with its shortest cycle through its first member.
func TestSeveralCycles(t *testing.T) {
	ops := []Operation{
		kill("a", 0, "b"), kill("b", 1, "a", "c"), kill("c", 2, "a"),
		kill("x", 3, "y"), kill("y", 4, "x"), kill("z", 5, "a", "x"),
	}
	err := Validate(&Plan{Operations: ops}, testOpts)
	want := "operations[0].depends_on: dependency cycle: a -> b -> a\noperations[3].depends_on: dependency cycle: x -> y -> x"
	if got := problemLines(t, err); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSelfDependency(t *testing.T) {
	for _, lvl := range levelsAll {
		_, err := Build(&Plan{SafetyLevel: lvl, Operations: []Operation{kill("a", 0), kill("b", 1, "a", "b")}}, nil, testOpts)
		if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), `operations[1].depends_on[1]: "b" depends on itself`) {
			t.Errorf("%s: %v", lvl, err)
		}
	}
}

// ---- implicit dependencies ----

func procFacts(op, pid string, affected ...string) OperationFacts {
	f := OperationFacts{OpID: op, Target: ProcessFacts{Exists: true, Alive: true, PID: pid, Node: "n1", Kind: KindProcess, Status: Running}}
	for _, a := range affected {
		f.Affected = append(f.Affected, AffectedProcess{PID: a, Node: "n1", Relation: Linked})
	}
	return f
}

func TestImplicitOrientation(t *testing.T) {
	// a (declared first) depends on c; b shares a's target. Explicit order
	// is b, c, a (b is ready first), so the implicit edge runs b -> a even
	// though a is declared before b.
	ops := []Operation{
		{ID: "a", Type: SuspendProcess, Node: "n1", Target: Target{Name: "db"}, DependsOn: []string{"c"}},
		{ID: "b", Type: SendMessage, Node: "n1", Target: Target{Name: "db"}, Params: Params{Message: "x"}},
		{ID: "c", Type: SendMessage, Node: "n1", Target: Target{PID: "n1/3"}, Params: Params{Message: "x"}},
	}
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{
		procFacts("a", "n1/2"), procFacts("b", "n1/2"), procFacts("c", "n1/3"),
	}}
	for _, lvl := range levelsAll {
		r := mustBuild(t, &Plan{SafetyLevel: lvl, Operations: ops}, facts)
		var implicit []Edge
		for _, e := range r.Edges {
			if e.Kind == Implicit {
				implicit = append(implicit, e)
			}
		}
		if len(implicit) != 1 || implicit[0].From != "b" || implicit[0].To != "a" || implicit[0].Reason != "b and a both target name n1:db" {
			t.Errorf("%s: implicit edges %+v", lvl, implicit)
		}
		if lvl == Permissive {
			if got := fmt.Sprint(phasesOf(r)); got != "[[b c] [a]]" {
				t.Errorf("phases %s", got)
			}
		}
	}
}

func TestImplicitSkippedWhenOrdered(t *testing.T) {
	// a -> m -> b explicitly; a and b share a target: no implicit edge.
	ops := []Operation{kill("a", 0), kill("m", 1, "a"), {ID: "b", Type: SuspendProcess, Target: Target{PID: "n1/1"}, DependsOn: []string{"m"}}}
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{procFacts("a", "n1/1"), procFacts("m", "n1/2"), procFacts("b", "n1/1")}}
	r, _ := Build(&Plan{Operations: ops}, facts, testOpts)
	for _, e := range r.Edges {
		if e.Kind == Implicit {
			t.Errorf("unexpected implicit edge %+v", e)
		}
	}
}

func TestImplicitReasons(t *testing.T) {
	ops := []Operation{
		{ID: "k", Type: KillProcess, Node: "n1", Target: Target{Supervisor: "web", ChildID: "c1"}},
		{ID: "s", Type: SuspendProcess, Node: "n1", Target: Target{Name: "peer"}},
		{ID: "r", Type: RestartSupervisor, Node: "n1", Target: Target{Supervisor: "web", ChildID: "sub"}},
		{ID: "m", Type: SendMessage, Node: "n1", Target: Target{Supervisor: "web", ChildID: "sub/w"}, Params: Params{Message: "x"}},
	}
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{
		{OpID: "k", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Tree: "web", Slot: "c1", Restart: "permanent"},
			Affected: []AffectedProcess{{PID: "n1/7", Node: "n1", Relation: Linked}}},
		{OpID: "s", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/7", Node: "n1", Status: Running}},
		{OpID: "r", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/20", Node: "n1", Kind: KindSupervisor, Tree: "web", Slot: "sub"}},
		{OpID: "m", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/21", Node: "n1", Tree: "web", Slot: "sub/w"}},
	}}
	r := mustBuild(t, &Plan{SafetyLevel: Permissive, Operations: ops}, facts)
	var got []string
	for _, e := range r.Edges {
		got = append(got, fmt.Sprintf("%s->%s %s: %s", e.From, e.To, e.Kind, e.Reason))
	}
	want := []string{
		"k->s implicit: kill_process n1/5 affects linked n1/7, the target of s",
		"r->m implicit: restart_supervisor web/sub covers web/sub/w, the target of m",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("edges\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := fmt.Sprint(phasesOf(r)); got != "[[k r] [s m]]" {
		t.Errorf("phases %s", got)
	}
}

// TestRandomGraphs: on random DAGs with random shared targets, every edge
// (explicit or implicit) goes to a later phase and a higher level, no phase
// holds two operations on one target, and the result is deterministic.
func TestRandomGraphs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		n := 2 + rng.IntN(40)
		perm := rng.Perm(n) // hidden topological order
		ops := make([]Operation, n)
		facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}}
		pool := 1 + rng.IntN(n)
		for i := range ops {
			pid := fmt.Sprintf("n1/%d", 1+rng.IntN(pool))
			ops[i] = Operation{ID: fmt.Sprintf("o%d", i), Type: SendMessage, Node: "n1", Target: Target{PID: pid}, Params: Params{Message: "x"}}
			var aff []string
			if rng.IntN(3) == 0 {
				aff = append(aff, fmt.Sprintf("n1/%d", 1+rng.IntN(pool)))
			}
			facts.Operations = append(facts.Operations, procFacts(ops[i].ID, pid, aff...))
			for j := range ops[:i] {
				if rng.IntN(6) == 0 {
					from, to := j, i
					if perm[from] > perm[to] {
						from, to = to, from
					}
					ops[to].DependsOn = append(ops[to].DependsOn, ops[from].ID)
				}
			}
		}
		lvl := levelsAll[iter%3]
		p := &Plan{SafetyLevel: lvl, Operations: ops}
		r := mustBuild(t, p, facts)
		phase := map[string]int{}
		level := map[string]int{}
		for _, pl := range r.Schedule {
			phase[pl.Op], level[pl.Op] = pl.Phase, pl.Level
		}
		for _, e := range r.Edges {
			if phase[e.From] >= phase[e.To] || level[e.From] >= level[e.To] {
				t.Fatalf("iter %d: edge %+v not forward (phases %d %d)", iter, e, phase[e.From], phase[e.To])
			}
		}
		for _, ph := range r.Phases {
			seen := map[string]bool{}
			for _, id := range ph.Operations {
				op := ops[slices.IndexFunc(ops, func(o Operation) bool { return o.ID == id })]
				if seen[op.Target.PID] {
					t.Fatalf("iter %d: phase %d runs two operations on %s", iter, ph.Index, op.Target.PID)
				}
				seen[op.Target.PID] = true
			}
			if lvl == Strict && len(ph.Operations) != 1 {
				t.Fatalf("strict phase with %d operations", len(ph.Operations))
			}
		}
		again := mustBuild(t, p, facts)
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("iter %d: not deterministic", iter)
		}
	}
}

func TestBuildDoesNotModifyInput(t *testing.T) {
	p := &Plan{Operations: []Operation{kill("a", 0), {ID: "b", Type: StartChild, Target: Target{Supervisor: "w"}, Params: Params{Child: &specChild}}}}
	before, _ := json.Marshal(p)
	mustBuild(t, p, nil)
	after, _ := json.Marshal(p)
	if string(before) != string(after) {
		t.Errorf("input modified:\n%s\n%s", before, after)
	}
}

// TestSharedTargetChain: many operations on one target are chained, not
// paired all with all, and an operation affecting that target is ordered
// against its neighbours only, yet lands in its own phase.
func TestSharedTargetChain(t *testing.T) {
	const n = 300
	var ops []Operation
	facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("m%03d", i)
		ops = append(ops, Operation{ID: id, Type: SendMessage, Node: "n1", Target: Target{PID: "n1/1"}, Params: Params{Message: "x"}})
		facts.Operations = append(facts.Operations, procFacts(id, "n1/1"))
	}
	ops = append(ops, Operation{ID: "kill", Type: KillProcess, Node: "n1", Target: Target{PID: "n1/2"}})
	facts.Operations = append(facts.Operations, procFacts("kill", "n1/2", "n1/1"))
	r := mustBuild(t, &Plan{SafetyLevel: Permissive, Operations: ops}, facts)
	if len(r.Edges) != n {
		t.Errorf("%d edges, want %d (a chain of %d and one for the kill)", len(r.Edges), n, n-1)
	}
	if len(r.Phases) != n+1 {
		t.Errorf("%d phases, want %d", len(r.Phases), n+1)
	}
	for _, ph := range r.Phases {
		if len(ph.Operations) != 1 {
			t.Fatalf("phase %d runs %v together", ph.Index, ph.Operations)
		}
	}
	var same int
	for _, c := range r.Conflicts {
		if c.Kind == ConflictSameTarget {
			same++
		}
	}
	if same != 1 {
		t.Errorf("%d same_target conflicts, want one for the group", same)
	}
}
