package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/spec"
)

func alive(op string, pid string, kind Kind) OperationFacts {
	return OperationFacts{OpID: op, Target: ProcessFacts{Exists: true, Alive: true, PID: pid, Node: "n1", Kind: kind, Status: Running}}
}

func conflictsOf(r *Result) string {
	var out []string
	for _, c := range r.Conflicts {
		out = append(out, fmt.Sprintf("%s %s %v: %s", c.Severity, c.Kind, c.Operations, c.Message))
	}
	return strings.Join(out, "\n")
}

func TestConflicts(t *testing.T) {
	now := testOpts.Now
	n1 := []NodeFacts{{Node: "n1", Alive: true}}
	sup := func(op string, strategy spec.Strategy) OperationFacts {
		f := alive(op, "n1/1", KindSupervisor)
		f.Target.Strategy = strategy
		return f
	}
	tests := []struct {
		name    string
		plan    Plan
		facts   *Facts
		refused bool
		want    []string // substrings of the conflicts, in order
	}{
		{"no facts", Plan{Operations: []Operation{kill("a", 0)}}, nil, false,
			[]string{"warning no_facts []: planned without facts"}},
		{"same target", Plan{Operations: []Operation{
			{ID: "a", Type: SuspendProcess, Node: "n1", Target: Target{Name: "db"}},
			{ID: "b", Type: SendMessage, Node: "n1", Target: Target{Name: "db"}, Params: Params{Message: "x"}},
		}}, &Facts{Nodes: n1, Operations: []OperationFacts{alive("a", "n1/2", KindProcess), alive("b", "n1/2", KindProcess)}}, false,
			[]string{"warning same_target [a b]: a, b act on the same target name n1:db; they run in separate phases, in that order"}},
		{"stale pid", Plan{Operations: []Operation{
			{ID: "a", Type: KillProcess, Target: Target{PID: "n1/2"}},
			{ID: "b", Type: SuspendProcess, Target: Target{PID: "n1/2"}},
		}}, &Facts{Nodes: n1, Operations: []OperationFacts{alive("a", "n1/2", KindProcess), alive("b", "n1/2", KindProcess)}}, true,
			[]string{"same_target", "error stale_target [a b]: b names pid n1/2, which a (kill_process, an earlier phase) ends"}},
		{"stale pid under restarted supervisor", Plan{Operations: []Operation{
			{ID: "r", Type: RestartSupervisor, Target: Target{Supervisor: "web"}},
			{ID: "s", Type: SuspendProcess, Target: Target{PID: "n1/5"}, DependsOn: []string{"r"}},
		}}, &Facts{Nodes: n1, Operations: []OperationFacts{
			{OpID: "r", Target: ProcessFacts{Exists: true, Alive: true, PID: "n1/1", Node: "n1", Kind: KindSupervisor, Tree: "web"}, Affected: []AffectedProcess{{PID: "n1/5", Node: "n1", Relation: Child}}},
			alive("s", "n1/5", KindProcess)}}, true,
			[]string{"error stale_target [r s]: s names pid n1/5, which r (restart_supervisor, an earlier phase) ends"}},
		{"target dead", Plan{Operations: []Operation{kill("a", 0)}},
			&Facts{Nodes: n1, Operations: []OperationFacts{{OpID: "a", Target: ProcessFacts{Exists: true, PID: "n1/1", Node: "n1"}}}}, true,
			[]string{"error target_not_alive [a]: a: target pid n1/1 is not alive"}},
		{"target missing", Plan{Operations: []Operation{kill("a", 0)}},
			&Facts{Nodes: n1, Operations: []OperationFacts{{OpID: "a"}}}, true,
			[]string{"error target_missing [a]: a: target pid n1/1 does not exist"}},
		{"target kind", Plan{Operations: []Operation{{ID: "a", Type: RestartSupervisor, Target: Target{PID: "n1/1"}}}},
			&Facts{Nodes: n1, Operations: []OperationFacts{alive("a", "n1/1", KindProcess)}}, true,
			[]string{"error target_kind [a]: a: restart_supervisor needs a supervisor, pid n1/1 is a process"}},
		{"node down and mismatch", Plan{Operations: []Operation{{ID: "a", Type: SuspendProcess, Node: "n2", Target: Target{Supervisor: "web", ChildID: "c1"}}}},
			&Facts{Nodes: []NodeFacts{{Node: "n2"}}, Operations: []OperationFacts{alive("a", "n1/5", KindProcess)}}, true,
			[]string{"error node_down [a]: a: node n2 is down", "error node_mismatch [a]: a: target web/c1 is on node n1, not n2"}},
		{"strategy no-op and s1f1", Plan{Operations: []Operation{
			{ID: "a", Type: ChangeSupervisorStrategy, Target: Target{Supervisor: "web"}, Params: Params{Strategy: spec.OneForOne}},
			{ID: "b", Type: ChangeSupervisorStrategy, Target: Target{Supervisor: "pool"}, Params: Params{Strategy: spec.OneForOne}},
		}}, &Facts{Nodes: n1, Operations: []OperationFacts{sup("a", spec.OneForOne), sup("b", spec.SimpleOneForOne)}}, true,
			[]string{"warning no_op [a]: a: web already has strategy one_for_one", "error strategy_mismatch [b]: b: pool is simple_one_for_one"}},
		{"start child forms", Plan{Operations: []Operation{
			{ID: "a", Type: StartChild, Target: Target{Supervisor: "pool"}, Params: Params{Child: &specChild}},
			{ID: "b", Type: StartChild, Target: Target{Supervisor: "web"}, Params: Params{Args: map[string]string{}}},
			{ID: "c", Type: StartChild, Target: Target{Supervisor: "web2"}, Params: Params{Child: &specChild}},
		}}, &Facts{Nodes: n1, Operations: []OperationFacts{
			sup("a", spec.SimpleOneForOne), sup("b", spec.OneForOne),
			func() OperationFacts { f := sup("c", spec.OneForOne); f.Child = &ProcessFacts{Exists: true}; return f }(),
		}}, true,
			[]string{"error strategy_mismatch [a]: a: pool is simple_one_for_one: start a child with args", "error strategy_mismatch [b]: b: web is one_for_one: start a child with a child spec", `error child_exists [c]: c: web2 already has a child "c9"`}},
		{"child ops", Plan{Operations: []Operation{
			{ID: "a", Type: TerminateChild, Target: Target{Supervisor: "web"}, Params: Params{ChildID: "ghost"}},
			{ID: "b", Type: RestartChild, Target: Target{Supervisor: "web2"}, Params: Params{ChildID: "c1"}},
			{ID: "c", Type: TerminateChild, Target: Target{Supervisor: "web3"}, Params: Params{ChildID: "c1"}},
		}}, &Facts{Nodes: n1, Operations: []OperationFacts{
			sup("a", spec.OneForOne),
			func() OperationFacts {
				f := sup("b", spec.OneForOne)
				f.Child = &ProcessFacts{Exists: true, Alive: true}
				return f
			}(),
			func() OperationFacts { f := sup("c", spec.OneForOne); f.Child = &ProcessFacts{Exists: true}; return f }(),
		}}, true,
			[]string{`error child_missing [a]: a: web has no child "ghost"`, `warning no_op [b]: b: child "c1" of web2 is already running`, `warning no_op [c]: c: child "c1" of web3 is not running`}},
		{"suspend twice", Plan{Operations: []Operation{{ID: "a", Type: SuspendProcess, Target: Target{PID: "n1/1"}}, {ID: "b", Type: ResumeProcess, Target: Target{PID: "n1/2"}}}},
			&Facts{Nodes: n1, Operations: []OperationFacts{
				func() OperationFacts { f := alive("a", "n1/1", KindProcess); f.Target.Status = Suspended; return f }(),
				alive("b", "n1/2", KindProcess)}}, false,
			[]string{"warning no_op [a]: a: pid n1/1 is already suspended", "warning no_op [b]: b: pid n1/2 is not suspended"}},
		{"node facts", Plan{Constraints: Constraints{MaxMemoryBytes: 10, MaxProcessCount: 5, MaxTotalQueueLength: 1}, Operations: []Operation{{ID: "a", Type: SendMessage, Target: Target{PID: "n1/1"}, Params: Params{Message: "x"}}, {ID: "b", Type: SuspendProcess, Target: Target{PID: "n3/1"}}}},
			&Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true, MemoryBytes: 11, ProcessCount: 6, TotalQueueLength: 2, MaxQueueLength: 5000, RecentRestarts: 11}},
				Operations: []OperationFacts{alive("a", "n1/1", KindProcess), {OpID: "b", Target: ProcessFacts{Exists: true, Alive: true, PID: "n3/1", Node: "n3"}}}}, false,
			[]string{"warning resources_exceeded []: node n1 is over its constraints now (memory 11 > 10 bytes, 6 > 5 processes, 2 > 1 queued messages)",
				"warning unstable []: node n1 is unstable now (a mailbox of 5000 > 1000 messages, 11 > 10 recent restarts)", "warning node_unknown []: no facts for node n3"}},
		{"high impact", func() Plan {
			var ops []Operation
			for i := 0; i < 4; i++ {
				ops = append(ops, Operation{ID: fmt.Sprintf("r%d", i), Type: RestartSupervisor, Target: Target{Supervisor: fmt.Sprintf("t%d", i)}})
			}
			return Plan{SafetyLevel: Permissive, Timeout: "1m", Operations: ops}
		}(), nil, false,
			[]string{"warning high_impact [r0 r1 r2 r3]: phase 0 runs 4 high-impact operations at once (more than 3)"}},
		{"timeout", Plan{Timeout: "1s", Operations: []Operation{{ID: "r", Type: RestartSupervisor, Target: Target{Supervisor: "web"}}}}, nil, false,
			[]string{"warning timeout_too_short []: the estimate of 5.33s exceeds the timeout of 1s"}},
		{"window closed", Plan{Constraints: Constraints{Window: &Window{NotAfter: now}}, Operations: []Operation{kill("a", 0)}}, nil, true,
			[]string{"error window_closed []: the window closed at 2025-12-31T00:00:00Z"}},
		{"window too short", Plan{Constraints: Constraints{Window: &Window{NotBefore: now.Add(time.Hour), NotAfter: now.Add(time.Hour + time.Second)}},
			Operations: []Operation{{ID: "r", Type: RestartSupervisor, Target: Target{Supervisor: "web"}}}}, nil, false,
			[]string{"warning window_too_short []: started at 2025-12-31T01:00:00Z the plan is estimated to end at 2025-12-31T01:00:05Z, after the window closes at 2025-12-31T01:00:01Z"}},
		{"window overlap", Plan{Constraints: Constraints{Window: &Window{NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)}},
			Operations: []Operation{{ID: "a", Type: KillProcess, Node: "n1", Target: Target{Supervisor: "web", ChildID: "c1"}}}},
			&Facts{Nodes: n1, Operations: []OperationFacts{alive("a", "n1/5", KindProcess)}, ActivePlans: []ActivePlan{
				{ID: "before", Window: Window{NotAfter: now.Add(time.Hour)}, Targets: []string{"web"}},
				{ID: "shares-target", Window: Window{NotBefore: now.Add(90 * time.Minute)}, Targets: []string{"web"}},
				{ID: "shares-node", Window: Window{NotBefore: now, NotAfter: now.Add(3 * time.Hour)}, Nodes: []string{"n1"}, Targets: []string{"n1/9"}},
				{ID: "elsewhere", Window: Window{}, Nodes: []string{"n7"}},
				{ID: "after", Window: Window{NotBefore: now.Add(2 * time.Hour)}, Targets: []string{"n1/5"}},
			}}, true,
			[]string{"error window_overlap []: the window overlaps active plan shares-target, which also acts on web",
				"warning window_overlap []: the window overlaps active plan shares-node on node n1",
				"warning window_overlap []: the window overlaps active plan elsewhere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(&tt.plan, tt.facts, testOpts)
			if r == nil {
				t.Fatalf("no result: %v", err)
			}
			if got := errors.Is(err, ErrConflict); got != tt.refused || r.Refused() != tt.refused {
				t.Errorf("refused %v (%v), want %v", got, err, tt.refused)
			}
			got := conflictsOf(r)
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("conflicts:\n%s\ndo not contain, in order, %q", got, w)
				}
				rest = rest[i+len(w):]
			}
			if tt.name == "window overlap" && strings.Contains(got, "before") || strings.Contains(got, "plan after") {
				t.Errorf("non-overlapping plans reported:\n%s", got)
			}
		})
	}
}

func TestFactsMismatch(t *testing.T) {
	p := &Plan{Operations: []Operation{kill("a", 0), kill("b", 1)}}
	f := &Facts{Operations: []OperationFacts{alive("a", "n1/1", KindProcess), alive("a", "n1/1", KindProcess), alive("z", "n1/9", KindProcess)}}
	_, err := Build(p, f, testOpts)
	if !errors.Is(err, ErrFacts) {
		t.Fatalf("%v", err)
	}
	want := `facts.operations[1].op_id: facts for "a" given twice` + "\n" + `facts.operations[2].op_id: no operation "z" in the plan` + "\n" + `facts.operations: no facts for operation "b"`
	if got := problemLines(t, err); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestEstimate(t *testing.T) {
	p := &Plan{SafetyLevel: Permissive, Operations: []Operation{
		{ID: "r", Type: RestartSupervisor, Target: Target{Supervisor: "web"}},
		{ID: "m", Type: SendMessage, Target: Target{PID: "n1/3"}, Params: Params{Message: "x"}},
		{ID: "k", Type: KillProcess, Target: Target{PID: "n1/4"}, DependsOn: []string{"m"}},
	}}
	r := mustBuild(t, p, nil)
	// Phase 0: max(5000, 10) + 4*20 + 3*50 + 100; phase 1 (a kill: no
	// system_stable): 100 + 3*20 + 2*50 + 100.
	if r.Phases[0].EstimatedMS != 5330 || r.Phases[1].EstimatedMS != 360 {
		t.Errorf("phase estimates %d %d", r.Phases[0].EstimatedMS, r.Phases[1].EstimatedMS)
	}
	e := r.Estimate
	if e.TotalMS != 5690 || e.OperationsMS != 5100 || e.BarriersMS != 200 || e.ChecksMS != 390 {
		t.Errorf("estimate %+v", e)
	}
	p.SafetyLevel = Strict
	r = mustBuild(t, p, nil)
	// Strict: 6 pre, 5 post checks and one capture per target.
	if got := r.Phases[0].EstimatedMS; got != 5000+6*20+5*50+10+100 {
		t.Errorf("strict phase estimate %d", got)
	}
}

func TestDryRun(t *testing.T) {
	data := []byte(`{"safety_level":"moderate","timeout":"30s","operations":[{"id":"a","type":"kill_process","node":"n1","target":{"supervisor":"web","child_id":"c1"}},{"id":"b","type":"restart_supervisor","node":"n2","target":{"supervisor":"web"},"depends_on":["a"]}]}`)
	p, err := Parse(data, "plan.json")
	if err != nil {
		t.Fatal(err)
	}
	r := mustBuild(t, p, nil)
	d := r.DryRun()
	var buf bytes.Buffer
	if err := d.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `plan: 2 operations, safety level moderate, timeout 30s

phase 0 (level 0, impact 2, ~360ms)
  a: kill_process web/c1
  pre:  targets_alive, resources_available, parameters_valid
  post: operation_effect, no_side_effects
  rollback a: restart_child web (ensure web/c1 runs again (a no-op if its supervisor restarted it))

phase 1 (level 1, impact 5, ~5.33s)
  b: restart_supervisor web
  pre:  targets_alive, resources_available, parameters_valid, system_stable
  post: operation_effect, no_side_effects, system_stable
  rollback b: none (a restarted subtree cannot be un-restarted)

ordering:
  a -> b (explicit: b depends_on a)

conflicts:
  warning no_facts: planned without facts: no implicit dependencies, and targets are not known to be alive

estimate: 5.69s (operations 5.1s, checks 390ms, barriers 200ms)
`
	if buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"safety_level"`, `"phases"`, `"pre_checks"`, `"post_checks"`, `"estimated_ms"`, `"conflicts"`, `"total_ms"`, `"refused":false`} {
		if !bytes.Contains(out, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, out)
		}
	}
}
