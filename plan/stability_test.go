package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/steward/steward/spec"
)

// crashLoop is world() with n1 past the restart threshold: a crash loop.
func crashLoop() *Observed {
	return edit(world(), func(ns *NodeState) { ns.RecentRestarts = StableMaxRecentRestarts + 5 })
}

// stabilityOps has one operation of every plan-file type, each targeting
// something in world() on n1, with the facts that go with it.
func stabilityOps() map[OpType]struct {
	op    Operation
	facts OperationFacts
} {
	c1 := ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c1", Restart: spec.Permanent, Status: Running}
	web := ProcessFacts{Exists: true, Alive: true, PID: "n1/1", Node: "n1", Kind: KindSupervisor, Tree: "web", Strategy: spec.OneForOne, Status: Running}
	pool := ProcessFacts{Exists: true, Alive: true, PID: "n1/40", Node: "n1", Kind: KindSupervisor, Tree: "pool", Strategy: spec.SimpleOneForOne, Status: Running}
	sub := ProcessFacts{Exists: true, Alive: true, PID: "n1/10", Node: "n1", Kind: KindSupervisor, Tree: "web", Slot: "sub", Restart: spec.Permanent, Strategy: spec.OneForOne, Status: Running}
	suspended := c1
	suspended.Status = Suspended
	c1Target := Target{Supervisor: "web", ChildID: "c1"}
	type entry = struct {
		op    Operation
		facts OperationFacts
	}
	return map[OpType]entry{
		KillProcess:              {Operation{Type: KillProcess, Target: c1Target}, OperationFacts{Target: c1}},
		SendMessage:              {Operation{Type: SendMessage, Target: c1Target, Params: Params{Message: "x"}}, OperationFacts{Target: c1}},
		RestartSupervisor:        {Operation{Type: RestartSupervisor, Target: Target{Supervisor: "web", ChildID: "sub"}}, OperationFacts{Target: sub}},
		ChangeSupervisorStrategy: {Operation{Type: ChangeSupervisorStrategy, Target: Target{Supervisor: "web", ChildID: "sub"}, Params: Params{Strategy: spec.OneForAll}}, OperationFacts{Target: sub}},
		SuspendProcess:           {Operation{Type: SuspendProcess, Target: c1Target}, OperationFacts{Target: c1}},
		ResumeProcess:            {Operation{Type: ResumeProcess, Target: c1Target}, OperationFacts{Target: suspended}},
		StartChild:               {Operation{Type: StartChild, Target: Target{Supervisor: "pool"}, Params: Params{Args: map[string]string{"n": "1"}}}, OperationFacts{Target: pool}},
		TerminateChild:           {Operation{Type: TerminateChild, Target: Target{Supervisor: "web"}, Params: Params{ChildID: "c1"}}, OperationFacts{Target: web, Child: &c1}},
		RestartChild:             {Operation{Type: RestartChild, Target: Target{Supervisor: "web"}, Params: Params{ChildID: "c2"}}, OperationFacts{Target: web, Child: &ProcessFacts{Exists: true, Node: "n1", Tree: "web", Slot: "c2"}}},
		DeleteChild:              {Operation{Type: DeleteChild, Target: Target{Supervisor: "web"}, Params: Params{ChildID: "c3"}}, OperationFacts{Target: web, Child: &ProcessFacts{Exists: true, Node: "n1", Tree: "web", Slot: "c3", Spec: &spec.ChildSpec{ID: "c3", Behavior: "counter"}}}},
		ReplaceState:             {Operation{Type: ReplaceState, Target: c1Target, Params: Params{State: `{"count":1}`}}, OperationFacts{Target: c1}},
		RegisterName:             {Operation{Type: RegisterName, Target: c1Target, Params: Params{Name: "one"}}, OperationFacts{Target: c1}},
		Spawn:                    {Operation{Type: Spawn, Params: Params{Behavior: "echo", Name: "fresh"}}, OperationFacts{Target: ProcessFacts{Node: "n1"}}},
		ImportStates:             {Operation{Type: ImportStates, Target: Target{Supervisor: "web"}, Params: Params{States: []StateImport{{ChildID: "c1", Behavior: "counter", State: `{"count":1}`}}}}, OperationFacts{Target: web}},
	}
}

func buildOne(t *testing.T, typ OpType, lvl SafetyLevel, opts Options) *Result {
	t.Helper()
	e := stabilityOps()[typ]
	op, f := e.op, e.facts
	op.ID, op.Node, f.OpID = "op", "n1", "op"
	r, err := Build(&Plan{SafetyLevel: lvl, Operations: []Operation{op}},
		&Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}, Operations: []OperationFacts{f}}, opts)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return r
}

func kinds(cs []Check) []CheckKind {
	var out []CheckKind
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

// Stopping, killing, suspending and deleting a stopped child's spec do not
// wait for a stable node, before or after their phase; every other
// operation does.
func TestWhichOperationsNeedStableNode(t *testing.T) {
	exempt := []OpType{KillProcess, SuspendProcess, TerminateChild, DeleteChild}
	ops := stabilityOps()
	for _, typ := range OpTypes {
		if _, ok := ops[typ]; !ok {
			t.Fatalf("no test operation of type %s", typ)
		}
		want := !slices.Contains(exempt, typ)
		if got := NeedsStableNode(typ); got != want {
			t.Errorf("NeedsStableNode(%s) = %v", typ, got)
		}
		for _, lvl := range []SafetyLevel{Strict, Moderate, Permissive} {
			r := buildOne(t, typ, lvl, testOpts)
			ph := r.Phases[0]
			pre, post := slices.Contains(kinds(ph.PreChecks), CheckSystemStable), slices.Contains(kinds(ph.PostChecks), CheckSystemStable)
			if pre != want || post != want {
				t.Errorf("%s %s: system_stable before %v, after %v; want %v", lvl, typ, pre, post, want)
			}
			// On a crash-looping node, the exempt operation's pre-checks
			// pass; the others' system_stable fails.
			failed := ""
			for _, c := range ph.PreChecks {
				if res := Evaluate(c, crashLoop(), nil); !res.OK {
					failed += string(c.Kind) + ": " + strings.Join(res.Failures, "; ")
				}
			}
			if want && !strings.Contains(failed, "system_stable: node n1: 15 recent restarts > 10") {
				t.Errorf("%s %s on a crash-looping node: pre-check failures %q", lvl, typ, failed)
			}
			if !want && failed != "" {
				t.Errorf("%s %s on a crash-looping node: %s", lvl, typ, failed)
			}
		}
	}
}

// A phase that mixes a stopping operation with another checks the nodes
// of the other one only.
func TestMixedPhaseStableNodes(t *testing.T) {
	p := &Plan{SafetyLevel: Permissive, Operations: []Operation{
		{ID: "t", Type: TerminateChild, Node: "n1", Target: Target{Supervisor: "web"}, Params: Params{ChildID: "c1"}},
		{ID: "m", Type: SendMessage, Node: "n2", Target: Target{PID: "n2/1"}, Params: Params{Message: "x"}},
	}}
	c1 := ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c1", Restart: spec.Permanent}
	f := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true, RecentRestarts: 30}, {Node: "n2", Alive: true}}, Operations: []OperationFacts{
		{OpID: "t", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/1", Node: "n1", Kind: KindSupervisor, Tree: "web"}, Child: &c1},
		{OpID: "m", Target: ProcessFacts{Exists: true, Alive: true, PID: "n2/1", Node: "n2", Kind: KindProcess}},
	}}
	r := mustBuild(t, p, f)
	if len(r.Phases) != 1 {
		t.Fatalf("%d phases", len(r.Phases))
	}
	for _, cs := range [][]Check{r.Phases[0].PreChecks, r.Phases[0].PostChecks} {
		i := slices.IndexFunc(cs, func(c Check) bool { return c.Kind == CheckSystemStable })
		if i < 0 || !slices.Equal(cs[i].Nodes, []string{"n2"}) {
			t.Errorf("system_stable: %+v", cs)
		}
	}
	// n1 is unstable, but nothing there waits for it: no warning.
	if got := conflictsOf(r); strings.Contains(got, "unstable") {
		t.Errorf("conflicts:\n%s", got)
	}
}

// --skip-check: the named checks leave every phase, before and after, and
// the result lists them; the node's instability is then not warned about.
func TestSkipChecks(t *testing.T) {
	opts := testOpts
	opts.SkipChecks = []CheckKind{CheckSystemStable, CheckTargetsAlive, CheckSystemStable}
	f := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true, RecentRestarts: 30}}, Operations: []OperationFacts{
		{OpID: "m", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Kind: KindProcess, Tree: "web", Slot: "c1"}}}}
	p := &Plan{SafetyLevel: Strict, Operations: []Operation{{ID: "m", Type: SendMessage, Node: "n1", Target: Target{Supervisor: "web", ChildID: "c1"}, Params: Params{Message: "x"}}}}
	r, err := Build(p, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.SkippedChecks, []CheckKind{CheckTargetsAlive, CheckSystemStable}) {
		t.Errorf("skipped %v", r.SkippedChecks)
	}
	ph := r.Phases[0]
	if got := kinds(ph.PreChecks); !slices.Equal(got, []CheckKind{CheckResourcesAvailable, CheckParametersValid, CheckCaptureState, CheckExternalDependencies}) {
		t.Errorf("pre-checks %v", got)
	}
	if got := kinds(ph.PostChecks); slices.Contains(got, CheckSystemStable) {
		t.Errorf("post-checks %v", got)
	}
	if got := conflictsOf(r); strings.Contains(got, "unstable") {
		t.Errorf("conflicts:\n%s", got)
	}
	d := r.DryRun()
	if !slices.Equal(d.SkippedChecks, r.SkippedChecks) {
		t.Errorf("dry run skipped %v", d.SkippedChecks)
	}
	var b strings.Builder
	_ = d.WriteText(&b)
	if !strings.Contains(b.String(), "skipped checks: targets_alive, system_stable") {
		t.Errorf("dry run text:\n%s", b.String())
	}
	// Without skipping, the same plan warns and fails system_stable.
	r = mustBuild(t, p, f)
	if len(r.SkippedChecks) != 0 || !strings.Contains(conflictsOf(r), "warning unstable []: node n1 is unstable now (30 > 10 recent restarts)") {
		t.Errorf("skipped %v, conflicts:\n%s", r.SkippedChecks, conflictsOf(r))
	}
	if d := r.DryRun(); d.SkippedChecks == nil {
		t.Error("dry run skipped_checks is null, want []")
	}
}

func TestParseSkipChecks(t *testing.T) {
	got, err := ParseSkipChecks([]string{"system_stable", "targets_alive", "system_stable"})
	if err != nil || !slices.Equal(got, []CheckKind{CheckTargetsAlive, CheckSystemStable}) {
		t.Errorf("%v %v", got, err)
	}
	if got, err := ParseSkipChecks(nil); err != nil || got != nil {
		t.Errorf("none: %v %v", got, err)
	}
	_, err = ParseSkipChecks([]string{"system_stable", "stable", "operation_effect"})
	const want = `"stable", "operation_effect" are not checks that can be skipped; valid: targets_alive, resources_available, parameters_valid, system_stable, external_dependencies`
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// Build refuses an unknown kind given directly.
	opts := testOpts
	opts.SkipChecks = []CheckKind{"capture_state"}
	_, err = Build(&Plan{Operations: []Operation{kill("a", 0)}}, nil, opts)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `skip_checks: "capture_state" is not a check that can be skipped`) {
		t.Errorf("Build: %v", err)
	}
}
