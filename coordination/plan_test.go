package coordination_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pcluster is an in-process cluster running the supervision and
// coordination layers, with each node's layers reachable by name.
type pcluster struct {
	*testkit.Cluster
	mu sync.Mutex
	// hooks: node name -> BeforeOperations hook for the next start of it.
	hooks map[string]func(ctx context.Context, planID, stage string)
}

func newPCluster(t *testing.T, n int, hooks map[string]func(context.Context, string, string)) *pcluster {
	t.Helper()
	return newPClusterOn(t, n, nil, hooks)
}

// newPClusterOn is newPCluster with the plans timed by clk (nil: the wall
// clock): the coordination layers' clock, and the nodes', whose proposals
// carry the time the state machine compares deadlines with.
func newPClusterOn(t *testing.T, n int, clk clock.Clock, hooks map[string]func(context.Context, string, string)) *pcluster {
	t.Helper()
	return newPClusterConfig(t, n, clk, hooks, nil)
}

// newPClusterWith is newPCluster with each node's coordination config
// changed by tweak.
func newPClusterWith(t *testing.T, n int, tweak func(*coordination.Config)) *pcluster {
	t.Helper()
	return newPClusterConfig(t, n, nil, nil, tweak)
}

func newPClusterConfig(t *testing.T, n int, clk clock.Clock, hooks map[string]func(context.Context, string, string), tweak func(*coordination.Config)) *pcluster {
	t.Helper()
	pc := &pcluster{hooks: hooks}
	scfg := supervision.DefaultConfig()
	scfg.ResyncInterval = 200 * time.Millisecond
	scfg.OpTimeout = 10 * time.Second
	pc.Cluster = testkit.NewCluster(t, n, testkit.WithConfig(func(c *node.Config) { c.Clock = clk }), testkit.WithStack(func(name string) stack.Config {
		ccfg := coordination.DefaultConfig()
		ccfg.StageTimeout = 3 * time.Second
		ccfg.SettleTimeout = 2 * time.Second
		ccfg.Clock = clk
		if tweak != nil {
			tweak(&ccfg)
		}
		pc.mu.Lock()
		if h := pc.hooks[name]; h != nil {
			ccfg.BeforeOperations = h
			delete(pc.hooks, name)
		}
		pc.mu.Unlock()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Coordination: &ccfg}
	}))
	return pc
}

func (pc *pcluster) rt(name string) *actor.Runtime {
	if s := pc.Stack(name); s != nil {
		return s.Runtime
	}
	return nil
}

func (pc *pcluster) coord(i int) pb.CoordinationClient { return pb.NewCoordinationClient(pc.Conn(i)) }

// tree commits a tree and waits until its node runs it.
func (pc *pcluster) tree(t *testing.T, specJSON string) {
	t.Helper()
	var sp struct{ Name, Node string }
	_ = json.Unmarshal([]byte(specJSON), &sp)
	resp, err := pb.NewSupervisionClient(pc.Conn(0)).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: []byte(specJSON), Filename: "t.json"})
	if err != nil {
		t.Fatal(err)
	}
	pc.Eventually(15*time.Second, func() error {
		rt := pc.rt(resp.Tree.Node)
		if rt == nil {
			return fmt.Errorf("no runtime on %s", resp.Tree.Node)
		}
		ti, err := rt.Tree(sp.Name)
		if err != nil || ti.Status != actor.TreeRunning {
			return fmt.Errorf("tree %s: %v", sp.Name, err)
		}
		return nil
	}, "tree %s running", sp.Name)
}

func (pc *pcluster) pid(t *testing.T, node, tree, path string) actor.PID {
	t.Helper()
	pid, err := pc.rt(node).Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		t.Fatalf("%s/%s on %s: %v", tree, path, node, err)
	}
	return pid
}

func (pc *pcluster) apply(t *testing.T, i int, planJSON string) string {
	t.Helper()
	resp, err := pc.coord(i).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(planJSON), Filename: "p.json"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return resp.Id
}

// wait waits for the plan to finish, from the point of view of node i.
func (pc *pcluster) wait(t *testing.T, id string, timeout time.Duration) *pb.PlanRecord {
	t.Helper()
	var rec *pb.PlanRecord
	pc.Eventually(timeout, func() error {
		for _, n := range pc.Live() {
			r, _, err := n.State().Plan(nil, id)
			if err != nil || r == nil {
				continue
			}
			rec = r
			if state.PlanFinished(r.Status) {
				return nil
			}
			return fmt.Errorf("plan %s is %s at stage %d", id, r.Status, r.Current)
		}
		return fmt.Errorf("plan %s not visible", id)
	}, "plan %s to finish", id)
	return rec
}

// passStageDeadline advances clk past the deadline of the plan's running
// stage, as the leader reads it.
func (pc *pcluster) passStageDeadline(t *testing.T, clk *clock.Manual, id string) {
	t.Helper()
	var due time.Time
	pc.Eventually(10*time.Second, func() error {
		rec, _, err := pc.Leader().State().Plan(nil, id)
		if err != nil || rec == nil || rec.Current < 0 || int(rec.Current) >= len(rec.Stages) {
			return fmt.Errorf("plan %s has no running stage: %v", id, err)
		}
		due = time.Unix(0, rec.Stages[rec.Current].DeadlineUnixNano)
		return nil
	}, "plan %s's stage deadline", id)
	// The leader expires a stage 1 ms after its deadline.
	clk.Advance(due.Sub(clk.Now()) + 2*time.Millisecond)
}

func counterValue(t *testing.T, rt *actor.Runtime, pid actor.PID) int {
	t.Helper()
	st, err := rt.GetState(testkit.Ctx(t, 5*time.Second), pid)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(st, &c); err != nil {
		t.Fatalf("counter state %s: %v", st, err)
	}
	return c.Count
}

func report(rec *pb.PlanRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan %s %s (%s)\n", rec.Id, rec.Status, rec.Reason)
	for _, st := range rec.Stages {
		fmt.Fprintf(&b, "  %s %s %s\n", st.Key, st.Status, st.Reason)
		for _, s := range st.Steps {
			fmt.Fprintf(&b, "    %s %s %s\n", s.Node, s.Status, s.Error)
			for _, c := range append(s.PreChecks, s.PostChecks...) {
				if !c.Ok {
					fmt.Fprintf(&b, "      check %s: %v\n", c.Kind, c.Failures)
				}
			}
			for _, o := range s.Operations {
				fmt.Fprintf(&b, "      op %s ran=%v ok=%v %s\n", o.Op, o.Ran, o.Ok, o.Error)
			}
		}
	}
	return b.String()
}

const threeTrees = `{"name":"a","node":"n1","children":[{"id":"c1","behavior":"counter"},{"id":"c2","behavior":"echo"}]}
{"name":"b","node":"n2","children":[{"id":"count","behavior":"counter"}]}
{"name":"c","node":"n3","children":[{"id":"e","behavior":"echo"}]}`

func (pc *pcluster) trees(t *testing.T, specs string) {
	for _, line := range strings.Split(specs, "\n") {
		pc.tree(t, line)
	}
}

// A plan spanning three nodes runs phase by phase and does what it says.
func TestPlanRunsAcrossNodes(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.trees(t, threeTrees)
	oldC1 := pc.pid(t, "n1", "a", "c1")
	counter := pc.pid(t, "n2", "b", "count")
	id := pc.apply(t, 1, `{"safety_level":"moderate","timeout":"30s","operations":[
	 {"id":"kill","type":"kill_process","target":{"supervisor":"a","child_id":"c1"}},
	 {"id":"inc","type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"inc"}},
	 {"id":"pause","type":"suspend_process","target":{"supervisor":"c","child_id":"e"},"depends_on":["kill","inc"]}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan failed:\n%s", report(rec))
	}
	if len(rec.Stages) != 2 {
		t.Fatalf("want 2 phases (pause depends on the others):\n%s", report(rec))
	}
	if newC1 := pc.pid(t, "n1", "a", "c1"); newC1 == oldC1 {
		t.Fatal("c1 was not restarted after the kill")
	}
	if v := counterValue(t, pc.rt("n2"), counter); v != 1 {
		t.Fatalf("counter = %d, want 1", v)
	}
	info, _ := pc.rt("n3").Process(pc.pid(t, "n3", "c", "e"))
	if info.Status != actor.StatusSuspended {
		t.Fatalf("echo on n3 is %s", info.Status)
	}
}

// A failed post-check rolls back the phase's completed operations.
func TestFailedPhaseRollsBack(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.trees(t, `{"name":"fragile","node":"n1","max_restarts":0,"max_seconds":5,"children":[{"id":"w","behavior":"echo"}]}
{"name":"b","node":"n2","children":[{"id":"count","behavior":"counter"}]}`)
	counter := pc.pid(t, "n2", "b", "count")
	// The kill makes fragile's root give up (no restarts allowed), so the
	// kill's effect check (w replaced) fails; the suspend in the same phase
	// completed and is undone.
	id := pc.apply(t, 0, `{"safety_level":"moderate","operations":[
	 {"id":"pause","type":"suspend_process","target":{"supervisor":"b","child_id":"count"}},
	 {"id":"kill","type":"kill_process","target":{"supervisor":"fragile","child_id":"w"}}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanRolledBack {
		t.Fatalf("want rolled_back:\n%s", report(rec))
	}
	last := rec.Stages[len(rec.Stages)-1]
	if last.Kind != state.StageKindRollback || !strings.Contains(fmt.Sprint(last.Operations), "pause") {
		t.Fatalf("rollback stage:\n%s", report(rec))
	}
	if info, _ := pc.rt("n2").Process(counter); info.Status != actor.StatusRunning {
		t.Fatalf("counter is %s after the rollback", info.Status)
	}
}

// The leader is killed in the middle of a plan: the plan continues under
// the new leader and completes, and no step runs twice (a counter receives
// exactly one message per operation).
func TestLeaderKilledMidPlan(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	paused := make(chan struct{})
	// n3 hosts the counter; its executor pauses in phase 2 until the test
	// has killed the leader.
	hooks := map[string]func(context.Context, string, string){"n3": func(ctx context.Context, _, stage string) {
		if stage == "phase-2" {
			once.Do(func() { close(paused) })
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}}
	pc := newPCluster(t, 3, hooks)
	pc.tree(t, `{"name":"tally","node":"n3","children":[{"id":"count","behavior":"counter"}]}`)
	counter := pc.pid(t, "n3", "tally", "count")
	leader := pc.Leader()
	if leader.Name() == "n3" {
		to := "n1"
		if _, err := pb.NewClusterClient(pc.Conn(2)).TransferLeader(testkit.Ctx(t, 20*time.Second), &pb.TransferLeaderRequest{To: to}); err != nil {
			t.Fatal(err)
		}
		leader = pc.Leader()
	}
	var ops []string
	const n = 6
	for i := 0; i < n; i++ {
		ops = append(ops, fmt.Sprintf(`{"id":"s%d","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc"}}`, i))
	}
	id := pc.apply(t, pc.Index("n3"), `{"safety_level":"strict","timeout":"60s","operations":[`+strings.Join(ops, ",")+`]}`)
	select {
	case <-paused:
	case <-time.After(30 * time.Second):
		t.Fatal("the plan never reached phase 2")
	}
	pc.Kill(pc.Index(leader.Name()))
	newLeader := pc.WaitForLeader()
	if newLeader.Name() == leader.Name() {
		t.Fatal("no new leader")
	}
	close(release)
	rec := pc.wait(t, id, 60*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan did not survive the leader's death:\n%s", report(rec))
	}
	if v := counterValue(t, pc.rt("n3"), counter); v != n {
		t.Fatalf("counter = %d after %d send operations: a step ran twice or not at all", v, n)
	}
}

// A node killed in the middle of its step: the step is lost after the
// stage's deadline and the plan fails and rolls back (strict: every phase).
// The deadline is on a manual clock, advanced past it once n3 is dead.
func TestNodeLostMidPhase(t *testing.T) {
	clk := clock.NewManual(time.Now())
	block := make(chan struct{})
	defer close(block)
	started := make(chan struct{})
	var once sync.Once
	hooks := map[string]func(context.Context, string, string){"n3": func(ctx context.Context, _, stage string) {
		once.Do(func() { close(started) })
		select {
		case <-block:
		case <-ctx.Done():
		}
	}}
	pc := newPClusterOn(t, 3, clk, hooks)
	pc.trees(t, `{"name":"b","node":"n2","children":[{"id":"count","behavior":"counter"}]}
{"name":"c","node":"n3","children":[{"id":"e","behavior":"echo"}]}`)
	counter := pc.pid(t, "n2", "b", "count")
	id := pc.apply(t, 0, `{"safety_level":"strict","timeout":"60s","operations":[
	 {"id":"pause","type":"suspend_process","target":{"supervisor":"b","child_id":"count"}},
	 {"id":"ping","type":"send_message","target":{"supervisor":"c","child_id":"e"},"params":{"message":"ping"},"depends_on":["pause"]}]}`)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("n3 never started its step")
	}
	if info, _ := pc.rt("n2").Process(counter); info.Status != actor.StatusSuspended {
		t.Fatalf("phase 0 did not suspend the counter: %s", info.Status)
	}
	pc.Kill(pc.Index("n3"))
	pc.passStageDeadline(t, clk, id)
	rec := pc.wait(t, id, 60*time.Second)
	if rec.Status != state.PlanRolledBack {
		t.Fatalf("want rolled_back:\n%s", report(rec))
	}
	var lost bool
	for _, st := range rec.Stages {
		if st.Key == "phase-1" {
			for _, s := range st.Steps {
				lost = lost || (s.Node == "n3" && s.Status == state.StepLost)
			}
		}
	}
	if !lost {
		t.Fatalf("n3's step should be lost:\n%s", report(rec))
	}
	if info, _ := pc.rt("n2").Process(counter); info.Status != actor.StatusRunning {
		t.Fatalf("rollback did not resume the counter: %s", info.Status)
	}
}

// The plan's timeout is honoured, on a manual clock advanced past it.
func TestPlanTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	clk := clock.NewManual(time.Now())
	pc := newPClusterOn(t, 1, clk, map[string]func(context.Context, string, string){"n1": func(ctx context.Context, _, _ string) {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}})
	pc.tree(t, `{"name":"b","node":"n1","children":[{"id":"count","behavior":"counter"}]}`)
	id := pc.apply(t, 0, `{"safety_level":"permissive","timeout":"1s","operations":[
	 {"id":"inc","type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"inc"}}]}`)
	pc.passStageDeadline(t, clk, id)
	rec := pc.wait(t, id, 20*time.Second)
	if rec.Status != state.PlanFailed || !strings.Contains(rec.Stages[0].Reason, "timeout") {
		t.Fatalf("want failed on timeout:\n%s", report(rec))
	}
}

func TestPlanCancel(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	pc := newPCluster(t, 1, map[string]func(context.Context, string, string){"n1": func(ctx context.Context, _, _ string) {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}})
	pc.tree(t, `{"name":"b","node":"n1","children":[{"id":"count","behavior":"counter"}]}`)
	id := pc.apply(t, 0, `{"operations":[{"id":"inc","type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"inc"}}]}`)
	if _, err := pc.coord(0).Cancel(testkit.Ctx(t, 10*time.Second), &pb.CancelPlanRequest{Id: id, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if rec := pc.wait(t, id, 10*time.Second); rec.Status != state.PlanCancelled {
		t.Fatalf("status %s", rec.Status)
	}
	_, err := pc.coord(0).Cancel(testkit.Ctx(t, 10*time.Second), &pb.CancelPlanRequest{Id: id})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("cancel a finished plan: %v", err)
	}
}

// Bad plans are refused with clear errors and nothing is committed; a dry
// run commits nothing; a stale check index is refused.
func TestBadPlansRefused(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.tree(t, `{"name":"b","node":"n2","children":[{"id":"count","behavior":"counter"}]}`)
	before := pc.Leader().State().TableIndex("plans")
	send := func(id, deps string) string {
		return fmt.Sprintf(`{"id":%q,"type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"x"},"depends_on":[%s]}`, id, deps)
	}
	cases := []struct{ plan, code, want string }{
		{`{"operations":[` + send("a", `"b"`) + `,` + send("b", `"a"`) + `]}`, "InvalidArgument", "cycle"},
		{`{"operations":[{"id":"a","type":"explode","target":{"supervisor":"b"}}]}`, "InvalidArgument", "explode"},
		{`{"operations":[{"id":"a","type":"send_message","target":{"supervisor":"b","child_id":"count"}}]}`, "InvalidArgument", "message"},
		{`{"operations":[` + send("a", "") + `,` + send("a", "") + `]}`, "InvalidArgument", "duplicate"},
		{`{"operations":[` + send("a", `"ghost"`) + `]}`, "InvalidArgument", "ghost"},
		{`{"operations":[{"id":"a","type":"kill_process","target":{"supervisor":"nope","child_id":"x"}}]}`, "InvalidArgument", `tree "nope"`},
		{`{"operations":[{"id":"a","type":"kill_process","target":{"supervisor":"b","child_id":"missing"}}]}`, "FailedPrecondition", "target_missing"},
		{`{"operations":[{"id":"a","type":"kill_process","node":"n9","target":{"pid":"n9/4"}}]}`, "InvalidArgument", "n9"},
		{`{"safety_level":"reckless","operations":[` + send("a", "") + `]}`, "InvalidArgument", "reckless"},
	}
	for _, tc := range cases {
		_, err := pc.coord(1).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(tc.plan), Filename: "p.json"})
		if status.Code(err).String() != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("plan %s:\n got %v\n want %s mentioning %q", tc.plan, err, tc.code, tc.want)
		}
	}
	big := `{"operations":[` + strings.Repeat(send("x", "")+",", 1) + `{"id":"y","type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"` + strings.Repeat("z", 1<<20) + `"}}]}`
	if _, err := pc.coord(0).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(big)}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized plan: %v", err)
	}

	good := `{"operations":[` + send("a", "") + `]}`
	dry, err := pc.coord(2).DryRun(testkit.Ctx(t, 20*time.Second), &pb.PlanRequest{Plan: []byte(good)})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Phases []struct{ Operations []string } `json:"phases"`
	}
	if err := json.Unmarshal(dry.DryRunJson, &d); err != nil || len(d.Phases) != 1 {
		t.Fatalf("dry run: %s %v", dry.DryRunJson, err)
	}
	if after := pc.Leader().State().TableIndex("plans"); after != before {
		t.Fatalf("refused plans or the dry run committed something (%d -> %d)", before, after)
	}
	// The desired state changes: the dry run's index is stale.
	pc.tree(t, `{"name":"other","node":"n1","children":[{"id":"e","behavior":"echo"}]}`)
	stale := dry.CheckIndex
	_, err = pc.coord(0).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(good), CheckIndex: &stale})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("stale check index: %v", err)
	}
	dry2, err := pc.coord(0).DryRun(testkit.Ctx(t, 20*time.Second), &pb.PlanRequest{Plan: []byte(good)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := dry2.CheckIndex
	if _, err := pc.coord(0).Apply(testkit.Ctx(t, 20*time.Second), &pb.ApplyPlanRequest{Plan: []byte(good), CheckIndex: &fresh}); err != nil {
		t.Fatalf("fresh check index: %v", err)
	}
}
