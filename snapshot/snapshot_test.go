package snapshot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type scluster struct {
	*testkit.Cluster
	mu sync.Mutex
}

// newSCluster starts n nodes with the supervision, coordination and
// snapshot layers; hook, when set, is the BeforeCapture of the node named
// hookNode at its first start.
func newSCluster(t *testing.T, n int, hookNode string, hook func(context.Context, string)) *scluster {
	t.Helper()
	return newSClusterOn(t, n, nil, hookNode, hook)
}

// newSClusterOn is newSCluster with the captures timed by clk (nil: the
// wall clock): the snapshot layers' clock, and the nodes', whose proposals
// carry the time the state machine compares deadlines with.
func newSClusterOn(t *testing.T, n int, clk clock.Clock, hookNode string, hook func(context.Context, string)) *scluster {
	t.Helper()
	sc := &scluster{}
	started := map[string]bool{}
	sc.Cluster = testkit.NewCluster(t, n, testkit.WithConfig(func(c *node.Config) { c.Clock = clk }), testkit.WithStack(func(name string) stack.Config {
		scfg := supervision.DefaultConfig()
		scfg.ResyncInterval = 200 * time.Millisecond
		ccfg := coordination.DefaultConfig()
		ccfg.StageTimeout = 3 * time.Second
		cfg := snapshot.DefaultConfig()
		cfg.CaptureTimeout = 2 * time.Second
		cfg.RestoreTimeout = 15 * time.Second
		cfg.Clock = clk
		sc.mu.Lock()
		if name == hookNode && !started[name] {
			cfg.BeforeCapture = hook
		}
		started[name] = true
		sc.mu.Unlock()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Coordination: &ccfg, Snapshot: &cfg}
	}))
	return sc
}

func (sc *scluster) layer(name string) *supervision.Layer {
	if s := sc.Stack(name); s != nil {
		return s.Supervision
	}
	return nil
}

func (sc *scluster) snaps(i int) pb.SnapshotsClient { return pb.NewSnapshotsClient(sc.Conn(i)) }

// restore asks node i for a restore (within timeout) and returns its
// answer and report.
func (sc *scluster) restore(t *testing.T, i int, timeout time.Duration, req *pb.RestoreRequest) (*pb.RestoreResponse, snapshot.RestoreReport) {
	t.Helper()
	resp, err := sc.snaps(i).Restore(testkit.Ctx(t, timeout), req)
	if err != nil {
		t.Fatal(err)
	}
	var rep snapshot.RestoreReport
	if err := json.Unmarshal(resp.ReportJson, &rep); err != nil {
		t.Fatal(err)
	}
	return resp, rep
}

func (sc *scluster) applyTree(t *testing.T, specJSON string) uint64 {
	t.Helper()
	resp, err := pb.NewSupervisionClient(sc.Conn(0)).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: []byte(specJSON), Filename: "t.json"})
	if err != nil {
		t.Fatal(err)
	}
	sc.waitTree(t, resp.Tree.Node, resp.Tree.Name, resp.Tree.ModifyIndex)
	return resp.Tree.ModifyIndex
}

func (sc *scluster) waitTree(t *testing.T, nodeName, tree string, idx uint64) {
	t.Helper()
	sc.Eventually(15*time.Second, func() error {
		l := sc.layer(nodeName)
		if l == nil || l.AppliedIndex(tree) != idx {
			return fmt.Errorf("%s not at index %d on %s", tree, idx, nodeName)
		}
		ti, err := l.Runtime().Tree(tree)
		if err != nil || ti.Status != actor.TreeRunning {
			return fmt.Errorf("%s: %v", tree, err)
		}
		return nil
	}, "tree %s on %s", tree, nodeName)
}

func (sc *scluster) pid(t *testing.T, nodeName, tree, path string) actor.PID {
	t.Helper()
	pid, err := sc.layer(nodeName).Runtime().Resolve(actor.Target{Tree: tree, Path: path})
	if err != nil {
		t.Fatalf("%s/%s: %v", tree, path, err)
	}
	return pid
}

func (sc *scluster) capture(t *testing.T, opts *pb.SnapshotOptions) *pb.SnapshotRecord {
	t.Helper()
	resp, err := sc.snaps(1).Capture(testkit.Ctx(t, 10*time.Second), &pb.CaptureRequest{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	var rec *pb.SnapshotRecord
	sc.Eventually(20*time.Second, func() error {
		r, err := sc.Leader().State().SnapshotRecord(nil, resp.Id)
		if err != nil || r == nil || r.Status == state.SnapshotCapturing {
			return fmt.Errorf("snapshot %s still capturing", resp.Id)
		}
		rec = r
		return nil
	}, "capture %s", resp.Id)
	return rec
}

func parts(t *testing.T, c pb.SnapshotsClient, id string) map[string]*snapshot.Part {
	t.Helper()
	resp, err := c.Get(testkit.Ctx(t, 10*time.Second), &pb.GetSnapshotRequest{Id: id, WithParts: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*snapshot.Part{}
	for n, data := range resp.Parts {
		p, err := snapshot.DecodePart(data)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = p
	}
	return out
}

func count(t *testing.T, rt *actor.Runtime, pid actor.PID) int {
	t.Helper()
	st, err := rt.GetState(testkit.Ctx(t, 5*time.Second), pid)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Count int }
	_ = json.Unmarshal(st, &c)
	return c.Count
}

func send(t *testing.T, rt *actor.Runtime, pid actor.PID, body string) {
	t.Helper()
	if err := rt.SendChecked(pid, actor.Message{Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
}

const (
	treeA = `{"name":"a","node":"n1","children":[{"id":"count","behavior":"counter","name":"tally"},{"id":"store","behavior":"kv"},
	 {"id":"sub","type":"supervisor","strategy":"one_for_all","children":[{"id":"e","behavior":"echo"}]}]}`
	treeB = `{"name":"b","node":"n2","children":[{"id":"count","behavior":"counter"}]}`
	treeC = `{"name":"c","node":"n3","children":[{"id":"e","behavior":"echo"}]}`
)

// A capture across three nodes holds every node's trees, processes, states,
// links and names.
func TestCaptureAcrossNodes(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, treeA)
	sc.applyTree(t, treeB)
	sc.applyTree(t, treeC)
	rt1 := sc.layer("n1").Runtime()
	send(t, rt1, sc.pid(t, "n1", "a", "count"), "inc 7")
	sc.Eventually(5*time.Second, func() error {
		if c := count(t, rt1, sc.pid(t, "n1", "a", "count")); c != 7 {
			return fmt.Errorf("count %d", c)
		}
		return nil
	}, "counter at 7")
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true, IncludeLinks: true, IncludeQueues: true})
	if rec.Status != state.SnapshotComplete || len(rec.Parts) != 3 {
		t.Fatalf("snapshot: %+v", rec)
	}
	ps := parts(t, sc.snaps(2), rec.Id)
	p1 := ps["n1"]
	if p1 == nil || len(p1.Trees) != 1 || p1.Trees[0].Name != "a" || p1.Trees[0].SpecIndex == 0 {
		t.Fatalf("n1 part trees: %+v", p1)
	}
	if len(p1.Trees[0].Children) != 4 {
		t.Fatalf("n1 tree children: %+v", p1.Trees[0].Children)
	}
	var counter *snapshot.Process
	for i, p := range p1.Processes {
		if p.Tree == "a" && p.ChildID == "count" {
			counter = &p1.Processes[i]
		}
	}
	if counter == nil || !strings.Contains(string(counter.State), `"count":7`) || len(counter.Links) != 1 {
		t.Fatalf("counter as captured: %+v", counter)
	}
	if len(p1.Names) != 1 || p1.Names[0].Name != "tally" {
		t.Fatalf("names: %+v", p1.Names)
	}
	if p1.System.Processes != len(p1.Processes) || p1.System.HeapBytes == 0 {
		t.Fatalf("system: %+v", p1.System)
	}
	if ps["n2"] == nil || ps["n3"] == nil || len(ps["n3"].Trees) != 1 {
		t.Fatalf("parts: %v", ps)
	}
}

// A node that dies during the capture leaves the snapshot partial, with
// the missing node named, once the capture's deadline passes on a manual
// clock.
func TestNodeDiesDuringCapture(t *testing.T) {
	blocked := make(chan struct{})
	var once sync.Once
	clk := clock.NewManual(time.Now())
	sc := newSClusterOn(t, 3, clk, "n3", func(ctx context.Context, _ string) {
		once.Do(func() { close(blocked) })
		<-ctx.Done()
	})
	sc.applyTree(t, treeB)
	resp, err := sc.snaps(0).Capture(testkit.Ctx(t, 10*time.Second), &pb.CaptureRequest{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("n3 never started capturing")
	}
	sc.Kill(sc.Index("n3"))
	// The other nodes' parts are in before the deadline passes.
	var due time.Time
	sc.Eventually(20*time.Second, func() error {
		r, _ := sc.Leader().State().SnapshotRecord(nil, resp.Id)
		if r == nil {
			return errors.New("no record")
		}
		for _, p := range r.Parts {
			if p.Node != "n3" && p.Status != state.PartComplete {
				return fmt.Errorf("part %s is %s", p.Node, p.Status)
			}
		}
		due = time.Unix(0, r.DeadlineUnixNano)
		return nil
	}, "the parts of n1 and n2")
	// The leader closes a capture 1 ms after its deadline.
	clk.Advance(due.Sub(clk.Now()) + 2*time.Millisecond)
	var rec *pb.SnapshotRecord
	sc.Eventually(20*time.Second, func() error {
		r, _ := sc.Leader().State().SnapshotRecord(nil, resp.Id)
		if r == nil || r.Status == state.SnapshotCapturing {
			return errors.New("still capturing")
		}
		rec = r
		return nil
	}, "capture to end")
	if rec.Status != state.SnapshotPartial {
		t.Fatalf("status %s", rec.Status)
	}
	for _, p := range rec.Parts {
		want := state.PartComplete
		if p.Node == "n3" {
			want = state.PartMissing
		}
		if p.Status != want {
			t.Fatalf("part %s is %s, want %s", p.Node, p.Status, want)
		}
	}
}

// Restore after processes were killed, states changed, a spec changed and
// a tree deleted: everything comes back, validation is clean, and the
// desired state holds the captured specs.
func TestRestoreBringsRuntimesBack(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	idxA := sc.applyTree(t, treeA)
	sc.applyTree(t, treeB)
	rt1, rt2 := sc.layer("n1").Runtime(), sc.layer("n2").Runtime()
	send(t, rt1, sc.pid(t, "n1", "a", "count"), "inc 5")
	if err := rt1.Cast(sc.pid(t, "n1", "a", "store"), actor.Message{Kind: actor.KindCast, Body: []byte("put k v")}); err != nil {
		t.Fatal(err)
	}
	send(t, rt2, sc.pid(t, "n2", "b", "count"), "inc 3")
	sc.Eventually(5*time.Second, func() error {
		if count(t, rt1, sc.pid(t, "n1", "a", "count")) != 5 || count(t, rt2, sc.pid(t, "n2", "b", "count")) != 3 {
			return errors.New("counters not there yet")
		}
		if v, err := rt1.Call(testkit.Ctx(t, 5*time.Second), sc.pid(t, "n1", "a", "store"), actor.Message{Body: []byte("get k")}); err != nil || string(v) != "v" {
			return fmt.Errorf("kv not there yet: %q %v", v, err)
		}
		return nil
	}, "counters and kv")
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true})

	// Damage: a process killed (restarted with a fresh state), a spec
	// changed (a child removed), a tree deleted, a counter moved on.
	oldCount := sc.pid(t, "n1", "a", "count")
	if err := rt1.Kill(oldCount, actor.Killed); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(treeA, `{"id":"store","behavior":"kv"},`, "", 1)
	sc.applyTree(t, changed)
	if _, err := pb.NewSupervisionClient(sc.Conn(0)).DeleteTree(testkit.Ctx(t, 10*time.Second), &pb.DeleteTreeRequest{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	sc.Eventually(10*time.Second, func() error {
		if _, err := rt2.Tree("b"); err == nil {
			return errors.New("b still runs")
		}
		return nil
	}, "b stopped")

	resp, rep := sc.restore(t, 2, 30*time.Second, &pb.RestoreRequest{Id: rec.Id})
	actions := map[string]string{}
	for _, a := range rep.Trees {
		actions[a.Tree] = a.Action
	}
	if actions["a"] != "update" || actions["b"] != "create" {
		t.Fatalf("tree actions: %+v", rep.Trees)
	}
	if len(resp.PlanIds) != 1 {
		t.Fatalf("restore plans: %+v", rep)
	}
	sc.Eventually(30*time.Second, func() error {
		r, _, _ := sc.Leader().State().Plan(nil, resp.PlanIds[0])
		if r == nil || !state.PlanFinished(r.Status) {
			return errors.New("restore plan running")
		}
		if r.Status != state.PlanSucceeded {
			return fmt.Errorf("restore plan %s: %s", r.Status, r.Reason)
		}
		return nil
	}, "restore plan")

	if c := count(t, rt1, sc.pid(t, "n1", "a", "count")); c != 5 {
		t.Fatalf("counter a/count = %d after restore, want 5", c)
	}
	rt2 = sc.layer("n2").Runtime()
	if c := count(t, rt2, sc.pid(t, "n2", "b", "count")); c != 3 {
		t.Fatalf("counter b/count = %d after restore, want 3", c)
	}
	reply, err := rt1.Call(testkit.Ctx(t, 5*time.Second), sc.pid(t, "n1", "a", "store"), actor.Message{Body: []byte("get k")})
	if err != nil || string(reply) != "v" {
		t.Fatalf("kv store after restore: %q %v", reply, err)
	}
	recA, _ := sc.Leader().State().Tree("a")
	if recA == nil || recA.ModifyIndex == idxA {
		t.Fatalf("tree a's desired state was not committed back: %+v", recA)
	}
	// Validation: every runtime consistent, and each matches its desired state.
	for _, name := range []string{"n1", "n2", "n3"} {
		l := sc.layer(name)
		if rep := l.Runtime().Validate(testkit.Ctx(t, 5*time.Second)); len(rep.Violations) != 0 {
			t.Fatalf("%s violations: %+v", name, rep.Violations)
		}
		_, trees, _ := sc.Leader().State().Trees(nil, name)
		for _, tr := range trees {
			if got := l.AppliedIndex(tr.Name); got != tr.ModifyIndex {
				t.Fatalf("%s runs %s at index %d, desired %d", name, tr.Name, got, tr.ModifyIndex)
			}
		}
	}
}

// Export and import round-trip a snapshot; a truncated or altered file is
// refused and nothing is committed.
func TestExportImport(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, treeB)
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true})
	before := parts(t, sc.snaps(0), rec.Id)

	stream, err := sc.snaps(1).Export(testkit.Ctx(t, 10*time.Second), &pb.GetSnapshotRequest{Id: rec.Id})
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		file.Write(c.Data)
	}
	importFile := func(i int, data []byte) (*pb.ImportResponse, error) {
		up, err := sc.snaps(i).Import(testkit.Ctx(t, 20*time.Second))
		if err != nil {
			return nil, err
		}
		for len(data) > 0 {
			n := min(len(data), 100_000)
			if err := up.Send(&pb.FileChunk{Data: data[:n]}); err != nil {
				break
			}
			data = data[n:]
		}
		return up.CloseAndRecv()
	}
	if _, err := importFile(0, file.Bytes()); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("import over an existing snapshot: %v", err)
	}
	if _, err := sc.snaps(0).Delete(testkit.Ctx(t, 10*time.Second), &pb.DeleteSnapshotRequest{Id: rec.Id}); err != nil {
		t.Fatal(err)
	}
	idx := sc.Leader().State().TableIndex("snapshots")
	data := file.Bytes()
	altered := append([]byte(nil), data...)
	altered[len(altered)/2] ^= 0xff
	for name, bad := range map[string][]byte{"truncated": data[:len(data)-10], "altered": altered, "empty": []byte("x")} {
		if _, err := importFile(2, bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s file: %v", name, err)
		}
	}
	if got := sc.Leader().State().TableIndex("snapshots"); got != idx {
		t.Fatalf("refused imports committed something (%d -> %d)", idx, got)
	}
	// Imported through a follower: forwarded to the leader.
	follower := sc.Index(sc.Followers()[0].Name())
	resp, err := importFile(follower, data)
	if err != nil {
		t.Fatal(err)
	}
	sc.Eventually(10*time.Second, func() error {
		r, _ := sc.Leader().State().SnapshotRecord(nil, resp.Id)
		if r == nil || r.Status != state.SnapshotComplete {
			return fmt.Errorf("imported snapshot: %+v", r)
		}
		return nil
	}, "import complete")
	after := parts(t, sc.snaps(0), resp.Id)
	if changes := snapshot.Diff(before, after); len(changes) != 0 {
		t.Fatalf("imported snapshot differs: %+v", changes)
	}
}

func TestRestoreRefusals(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, treeC)
	rec := sc.capture(t, nil)
	if _, err := sc.snaps(0).Restore(testkit.Ctx(t, 10*time.Second), &pb.RestoreRequest{Id: "snap-nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown snapshot: %v", err)
	}
	if _, err := sc.snaps(0).Restore(testkit.Ctx(t, 10*time.Second), &pb.RestoreRequest{Id: rec.Id, Nodes: []string{"n9"}}); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "n9") {
		t.Fatalf("a node not in the snapshot: %v", err)
	}
	if err := sc.Node(sc.Index("n3")).Leave(testkit.Ctx(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	before := sc.Leader().State().TableIndex("trees", "plans")
	_, err := sc.snaps(0).Restore(testkit.Ctx(t, 10*time.Second), &pb.RestoreRequest{Id: rec.Id})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "node n3 is") {
		t.Fatalf("restore onto a node that left: %v", err)
	}
	if after := sc.Leader().State().TableIndex("trees", "plans"); after != before {
		t.Fatalf("a refused restore committed something (%d -> %d)", before, after)
	}
	// The remaining nodes can still be restored.
	if _, err := sc.snaps(0).Restore(testkit.Ctx(t, 20*time.Second), &pb.RestoreRequest{Id: rec.Id, Nodes: []string{"n1", "n2"}}); err != nil {
		t.Fatalf("restore of the other nodes: %v", err)
	}
}
