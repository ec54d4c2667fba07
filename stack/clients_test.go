package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/health"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ccluster is 3 servers (n1..n3, nodes 0..2) and 5 client agents (c1..c5,
// nodes 3..7), each with the supervision, coordination, snapshot and
// health layers.
type ccluster struct {
	*testkit.Cluster
	mu sync.Mutex
	// hooks: node name -> BeforeOperations hook for its next start.
	hooks map[string]func(ctx context.Context, planID, stage string)
}

func newCCluster(t *testing.T, hooks map[string]func(context.Context, string, string), opts ...testkit.Option) *ccluster {
	t.Helper()
	cc := &ccluster{hooks: hooks}
	opts = append(opts, testkit.WithClients(5), testkit.WithStack(func(name string) stack.Config {
		scfg := supervision.DefaultConfig()
		scfg.ResyncInterval = 200 * time.Millisecond
		scfg.ReplaceAfter = time.Second
		ccfg := coordination.DefaultConfig()
		ccfg.StageTimeout = 5 * time.Second
		ccfg.SettleTimeout = 2 * time.Second
		snap := snapshot.DefaultConfig()
		snap.CaptureTimeout = 5 * time.Second
		snap.RestoreTimeout = 20 * time.Second
		hl := health.DefaultConfig()
		cc.mu.Lock()
		if h := cc.hooks[name]; h != nil {
			ccfg.BeforeOperations = h
			delete(cc.hooks, name)
		}
		cc.mu.Unlock()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Coordination: &ccfg, Snapshot: &snap, Health: &hl}
	}))
	cc.Cluster = testkit.NewCluster(t, 3, opts...)
	return cc
}

func (cc *ccluster) rt(name string) *actor.Runtime {
	if s := cc.Stack(name); s != nil {
		return s.Runtime
	}
	return nil
}

// idempotent retries a write that is the same when made again (a tree
// applied, a tree deleted) through leader changes, which a loaded machine
// sees: one that was not applied, or may or may not have been, is made
// again; any other error fails the test.
func (cc *ccluster) idempotent(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	cc.Eventually(90*time.Second, func() error {
		err := f(testkit.Ctx(t, 20*time.Second))
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded:
			return err
		}
		t.Fatalf("%s: %v", what, err)
		return nil
	}, "%s", what)
}

// once makes a write that is not the same when made again (a plan, a
// capture) and retries it only when it was certainly not applied.
func (cc *ccluster) once(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	cc.Eventually(90*time.Second, func() error {
		err := f(testkit.Ctx(t, 30*time.Second))
		if err == nil || !transport.NotApplied(err) {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return nil
		}
		return err
	}, "%s", what)
}

// tree commits a tree through node i and waits until its node runs it at
// the committed index.
func (cc *ccluster) tree(t *testing.T, i int, spec string) *pb.TreeSummary {
	t.Helper()
	var resp *pb.ApplyTreeResponse
	cc.idempotent(t, "apply tree through "+cc.Node(i).Name(), func(ctx context.Context) error {
		var err error
		resp, err = pb.NewSupervisionClient(cc.Conn(i)).ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: "t.json"})
		return err
	})
	cc.waitTree(t, resp.Tree.Node, resp.Tree.Name, resp.Tree.ModifyIndex)
	return resp.Tree
}

func (cc *ccluster) waitTree(t *testing.T, nodeName, tree string, idx uint64) {
	t.Helper()
	cc.Eventually(20*time.Second, func() error {
		s := cc.Stack(nodeName)
		if s == nil {
			return fmt.Errorf("no stack on %s", nodeName)
		}
		if got := s.Supervision.AppliedIndex(tree); got != idx {
			return fmt.Errorf("%s runs %s at index %d, want %d", nodeName, tree, got, idx)
		}
		ti, err := s.Runtime.Tree(tree)
		if err != nil || ti.Status != actor.TreeRunning {
			return fmt.Errorf("tree %s on %s: %v", tree, nodeName, err)
		}
		return nil
	}, "tree %s running on %s", tree, nodeName)
}

func (cc *ccluster) pid(t *testing.T, nodeName, tree, path string) actor.PID {
	t.Helper()
	pid, err := cc.rt(nodeName).Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		t.Fatalf("%s/%s on %s: %v", tree, path, nodeName, err)
	}
	return pid
}

func (cc *ccluster) plan(t *testing.T, i int, doc string) string {
	t.Helper()
	var resp *pb.ApplyPlanResponse
	cc.once(t, "apply plan through "+cc.Node(i).Name(), func(ctx context.Context) error {
		var err error
		resp, err = pb.NewCoordinationClient(cc.Conn(i)).Apply(ctx, &pb.ApplyPlanRequest{Plan: []byte(doc), Filename: "p.json"})
		return err
	})
	return resp.Id
}

// waitPlan waits until the plan finishes, as the leader sees it.
func (cc *ccluster) waitPlan(t *testing.T, id string, timeout time.Duration) *pb.PlanRecord {
	t.Helper()
	var rec *pb.PlanRecord
	cc.Eventually(timeout, func() error {
		r, _, err := cc.Leader().State().Plan(nil, id)
		if err != nil || r == nil {
			return fmt.Errorf("plan %s not found: %v", id, err)
		}
		rec = r
		if !state.PlanFinished(r.Status) {
			return fmt.Errorf("plan %s is %s at stage %d", id, r.Status, r.Current)
		}
		return nil
	}, "plan %s to finish", id)
	return rec
}

func count(t *testing.T, rt *actor.Runtime, pid actor.PID) int {
	t.Helper()
	st, err := rt.GetState(testkit.Ctx(t, 5*time.Second), pid)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Count int }
	if err := json.Unmarshal(st, &c); err != nil {
		t.Fatalf("counter state %s: %v", st, err)
	}
	return c.Count
}

func planReport(rec *pb.PlanRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan %s %s (%s)\n", rec.Id, rec.Status, rec.Reason)
	for _, st := range rec.Stages {
		fmt.Fprintf(&b, "  %s %s %s\n", st.Key, st.Status, st.Reason)
		for _, s := range st.Steps {
			fmt.Fprintf(&b, "    %s %s %s\n", s.Node, s.Status, s.Error)
		}
	}
	return b.String()
}

// Trees on clients, a plan whose steps run on three clients, a validation
// fanned out to every node, and a snapshot that captures and restores
// the clients' runtimes, on 3 servers and 5 clients. Requests go through
// clients as well as servers.
func TestClientsRunTreesPlansAndSnapshots(t *testing.T) {
	clientsScenario(t, newCCluster(t, nil))
}

// clientsScenario: trees on clients and servers, applied through either;
// a plan across clients; validation of every node; a snapshot of every
// runtime and a restore after damage on clients.
func clientsScenario(t *testing.T, cc *ccluster) {
	t.Helper()
	// Through a client: the write goes to the leader through its server.
	cc.tree(t, 3, `{"name":"a","node":"c1","children":[{"id":"count","behavior":"counter"},{"id":"e","behavior":"echo"}]}`)
	cc.tree(t, 0, `{"name":"b","node":"c2","children":[{"id":"count","behavior":"counter"}]}`)
	cc.tree(t, 4, `{"name":"c","node":"c3","children":[{"id":"e","behavior":"echo"}]}`)
	cc.tree(t, 1, `{"name":"s","node":"n2","children":[{"id":"count","behavior":"counter"}]}`)
	// A client's view holds its own trees and no other node's.
	for name, want := range map[string]string{"c1": "a", "c2": "b", "c3": "c", "c4": ""} {
		_, trees, _ := cc.Node(cc.Index(name)).State().Trees(nil, "")
		var got []string
		for _, tr := range trees {
			got = append(got, tr.Name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s's view holds trees %v, want [%s]", name, got, want)
		}
	}

	// A request about another client's tree, sent to a client, is routed
	// to the node that runs it (the client asks its server where).
	tv, err := pb.NewRuntimeClient(cc.Conn(6)).TreeView(testkit.Ctx(t, 10*time.Second), &pb.SupervisorRequest{Tree: "b"})
	if err != nil || tv.Node != "c2" || tv.Status != "running" || tv.Processes == 0 {
		t.Fatalf("tree b viewed through c4: %+v, %v", tv, err)
	}

	oldE := cc.pid(t, "c1", "a", "e")
	id := cc.plan(t, 5, `{"safety_level":"moderate","timeout":"60s","operations":[
	 {"id":"kill","type":"kill_process","target":{"supervisor":"a","child_id":"e"}},
	 {"id":"inc","type":"send_message","target":{"supervisor":"b","child_id":"count"},"params":{"message":"inc"}},
	 {"id":"pause","type":"suspend_process","target":{"supervisor":"c","child_id":"e"},"depends_on":["kill","inc"]}]}`)
	rec := cc.waitPlan(t, id, 60*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan across clients:\n%s", planReport(rec))
	}
	if cc.pid(t, "c1", "a", "e") == oldE {
		t.Error("a/e on c1 was not restarted by the kill")
	}
	if v := count(t, cc.rt("c2"), cc.pid(t, "c2", "b", "count")); v != 1 {
		t.Errorf("b/count on c2 = %d, want 1", v)
	}
	if info, _ := cc.rt("c3").Process(cc.pid(t, "c3", "c", "e")); info.Status != actor.StatusSuspended {
		t.Errorf("c/e on c3 is %s, want suspended", info.Status)
	}
	// A plan's status read through a client (consistent: from the leader).
	got, err := pb.NewCoordinationClient(cc.Conn(6)).Get(testkit.Ctx(t, 10*time.Second), &pb.GetPlanRequest{Id: id})
	if err != nil || got.Plan.GetStatus() != state.PlanSucceeded {
		t.Fatalf("plan read through c4: %v, %v", got, err)
	}

	// Validation fans out to every node, clients included.
	vr, err := pb.NewHealthClient(cc.Conn(7)).Validate(testkit.Ctx(t, 30*time.Second), &pb.ValidateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, n := range vr.Nodes {
		if n.Reachable {
			checked[n.Node] = true
		}
	}
	for _, n := range []string{"n1", "n2", "n3", "c1", "c2", "c3", "c4", "c5"} {
		if !checked[n] {
			t.Errorf("validation did not check %s: %+v", n, vr.Nodes)
		}
	}
	if !vr.Consistent {
		t.Errorf("validation found violations: %+v", vr.Violations)
	}

	// A snapshot captures every node's runtime, clients included, and a
	// restore brings a client's counter and a deleted client tree back.
	rt2 := cc.rt("c2")
	if err := rt2.SendChecked(cc.pid(t, "c2", "b", "count"), actor.Message{Body: []byte("inc 4")}); err != nil {
		t.Fatal(err)
	}
	cc.Eventually(5*time.Second, func() error {
		if v := count(t, rt2, cc.pid(t, "c2", "b", "count")); v != 5 {
			return fmt.Errorf("b/count = %d", v)
		}
		return nil
	}, "b/count at 5")
	snaps := pb.NewSnapshotsClient(cc.Conn(3))
	var capResp *pb.CaptureResponse
	cc.once(t, "capture", func(ctx context.Context) error {
		var err error
		capResp, err = snaps.Capture(ctx, &pb.CaptureRequest{Options: &pb.SnapshotOptions{IncludeState: true}})
		return err
	})
	var srec *pb.SnapshotRecord
	cc.Eventually(30*time.Second, func() error {
		r, err := cc.Leader().State().SnapshotRecord(nil, capResp.Id)
		if err != nil || r == nil || r.Status == state.SnapshotCapturing {
			return fmt.Errorf("snapshot %s still capturing", capResp.Id)
		}
		srec = r
		return nil
	}, "capture")
	partNodes := map[string]string{}
	for _, p := range srec.Parts {
		partNodes[p.Node] = p.Status
	}
	for _, n := range []string{"n1", "n2", "n3", "c1", "c2", "c3", "c4", "c5"} {
		if partNodes[n] != "complete" {
			t.Fatalf("snapshot part of %s is %q (all: %v)", n, partNodes[n], partNodes)
		}
	}
	// Damage on clients: b/count killed (fresh state), tree c deleted.
	if err := rt2.Kill(cc.pid(t, "c2", "b", "count"), actor.Killed); err != nil {
		t.Fatal(err)
	}
	deleted := false
	cc.idempotent(t, "delete tree c", func(ctx context.Context) error {
		_, err := pb.NewSupervisionClient(cc.Conn(0)).DeleteTree(ctx, &pb.DeleteTreeRequest{Name: "c"})
		if status.Code(err) == codes.NotFound && deleted {
			return nil // an earlier attempt, answered "may or may not", was applied
		}
		deleted = deleted || status.Code(err) == codes.Aborted || status.Code(err) == codes.DeadlineExceeded
		return err
	})
	cc.Eventually(15*time.Second, func() error {
		if _, err := cc.rt("c3").Tree("c"); err == nil {
			return errors.New("c still runs on c3")
		}
		return nil
	}, "c stopped on c3")
	var rresp *pb.RestoreResponse
	cc.once(t, "restore", func(ctx context.Context) error {
		var err error
		rresp, err = snaps.Restore(ctx, &pb.RestoreRequest{Id: srec.Id})
		return err
	})
	for _, pid := range rresp.PlanIds {
		if r := cc.waitPlan(t, pid, 60*time.Second); r.Status != state.PlanSucceeded {
			t.Fatalf("restore plan:\n%s", planReport(r))
		}
	}
	cc.Eventually(20*time.Second, func() error {
		if v := count(t, rt2, cc.pid(t, "c2", "b", "count")); v != 5 {
			return fmt.Errorf("b/count on c2 = %d after restore, want 5", v)
		}
		if ti, err := cc.rt("c3").Tree("c"); err != nil || ti.Status != actor.TreeRunning {
			return fmt.Errorf("tree c on c3 after restore: %v", err)
		}
		return nil
	}, "the clients' runtimes restored")
}

// The leader is killed while a plan's steps run on a client: the plan
// completes under the new leader, and each step runs once (a counter gets
// exactly one message per operation).
func TestLeaderKilledDuringClientPlan(t *testing.T) {
	release := make(chan struct{})
	paused := make(chan struct{})
	var once sync.Once
	hooks := map[string]func(context.Context, string, string){"c2": func(ctx context.Context, _, stage string) {
		if stage == "phase-2" {
			once.Do(func() { close(paused) })
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}}
	cc := newCCluster(t, hooks)
	cc.tree(t, 3, `{"name":"tally","node":"c2","children":[{"id":"count","behavior":"counter"}]}`)
	counter := cc.pid(t, "c2", "tally", "count")
	leader := cc.Leader()
	var ops []string
	const n = 5
	for i := range n {
		ops = append(ops, fmt.Sprintf(`{"id":"s%d","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc"}}`, i))
	}
	id := cc.plan(t, 4, `{"safety_level":"strict","timeout":"90s","operations":[`+strings.Join(ops, ",")+`]}`)
	select {
	case <-paused:
	case <-time.After(40 * time.Second):
		t.Fatal("the plan never reached phase 2 on c2")
	}
	cc.Kill(cc.Index(leader.Name()))
	if nl := cc.WaitForLeader(); nl.Name() == leader.Name() {
		t.Fatal("no new leader")
	}
	close(release)
	rec := cc.waitPlan(t, id, 90*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan did not survive the leader's death:\n%s", planReport(rec))
	}
	if v := count(t, cc.rt("c2"), counter); v != n {
		t.Fatalf("counter = %d after %d send operations: a step ran twice or not at all", v, n)
	}
}

// Failures around clients: the server a client streams from is killed (it
// moves and misses nothing), a client is killed (its auto-placed tree is
// re-placed on another node), and a client cut off from every server keeps
// running its tree and catches up once the partition heals.
func TestClientFailures(t *testing.T) {
	cc := newCCluster(t, nil, testkit.WithPartitions())
	client := cc.Node(3) // c1
	cc.tree(t, 0, `{"name":"pinned","node":"c1","children":[{"id":"count","behavior":"counter"}]}`)

	// The streaming server killed: a tree committed while the client moves
	// still reaches it.
	var from string
	cc.Eventually(10*time.Second, func() error {
		st := client.Status()
		if !st.StreamConnected {
			return errors.New("c1 has no stream")
		}
		from = st.StreamServer
		return nil
	}, "c1 streaming")
	cc.Kill(cc.Index(from))
	alive := 0
	if from == "n1" {
		alive = 1
	}
	cc.WaitForLeader()
	cc.tree(t, alive, `{"name":"late","node":"c1","children":[{"id":"e","behavior":"echo"}]}`)
	if st := client.Status(); st.StreamServer == from {
		t.Fatalf("c1 still streams from the killed %s", from)
	}
	cc.Restart(cc.Index(from))

	// A client killed: its auto-placed tree moves to another node.
	// Committed once: re-applied, an auto-placed tree may be placed again.
	var resp *pb.ApplyTreeResponse
	cc.once(t, "apply tree roaming", func(ctx context.Context) error {
		var err error
		resp, err = pb.NewSupervisionClient(cc.Conn(alive)).ApplyTree(ctx, &pb.ApplyTreeRequest{
			Spec: []byte(`{"name":"roaming","node":"auto","children":[{"id":"x","behavior":"echo"}]}`), Filename: "t.json"})
		return err
	})
	placed := resp.Tree.Node
	if placed != "c2" {
		t.Fatalf("auto placement chose %s, want the least loaded client c2 (clients before servers)", placed)
	}
	cc.waitTree(t, placed, "roaming", resp.Tree.ModifyIndex)
	cc.Kill(cc.Index(placed))
	var moved *pb.TreeRecord
	cc.Eventually(40*time.Second, func() error {
		rec, err := cc.Leader().State().Tree("roaming")
		if err != nil || rec == nil {
			return fmt.Errorf("tree record: %v", err)
		}
		if rec.Node == placed {
			return fmt.Errorf("still on %s", placed)
		}
		moved = rec
		return nil
	}, "roaming re-placed from %s", placed)
	cc.waitTree(t, moved.Node, "roaming", moved.ModifyIndex)

	// A client cut off from every server keeps running its trees; once
	// healed it streams again and catches up on what was committed.
	var servers []int
	for _, n := range cc.Servers() {
		servers = append(servers, cc.Index(n.Name()))
	}
	c1 := cc.Index("c1")
	cc.Partition([]int{c1}, servers)
	cc.Eventually(20*time.Second, func() error {
		if client.Status().StreamConnected {
			return errors.New("c1 still streams")
		}
		return nil
	}, "c1 cut off")
	pinned := cc.pid(t, "c1", "pinned", "count")
	if err := cc.rt("c1").SendChecked(pinned, actor.Message{Body: []byte("inc 2")}); err != nil {
		t.Fatal(err)
	}
	if v := count(t, cc.rt("c1"), pinned); v != 2 {
		t.Fatalf("c1's counter = %d while partitioned, want 2: it stopped supervising", v)
	}
	// Committed meanwhile: a change of c1's tree.
	var ch *pb.ApplyTreeResponse
	cc.idempotent(t, "change tree late", func(ctx context.Context) error {
		var err error
		ch, err = pb.NewSupervisionClient(cc.Conn(alive)).ApplyTree(ctx, &pb.ApplyTreeRequest{
			Spec: []byte(`{"name":"late","node":"c1","children":[{"id":"e","behavior":"echo"},{"id":"f","behavior":"echo"}]}`), Filename: "t.json"})
		return err
	})
	cc.Heal()
	cc.waitTree(t, "c1", "late", ch.Tree.ModifyIndex)
	if v := count(t, cc.rt("c1"), pinned); v != 2 {
		t.Fatalf("c1's counter = %d after the partition healed, want 2 (the same process)", v)
	}
	cc.Eventually(20*time.Second, func() error {
		if !client.Status().StreamConnected {
			return errors.New("c1 not streaming")
		}
		return nil
	}, "c1 streaming again")
}
