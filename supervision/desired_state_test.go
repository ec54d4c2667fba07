package supervision_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dsCluster is an in-process cluster whose nodes run the supervision layer,
// with the layers reachable by node name.
type dsCluster struct {
	*testkit.Cluster
}

func newDSCluster(t *testing.T, n int, opts ...testkit.Option) *dsCluster {
	t.Helper()
	return newDSClusterOn(t, n, nil, opts...)
}

// newDSClusterOn is newDSCluster with the layers' timers on clk (nil: the
// wall clock).
func newDSClusterOn(t *testing.T, n int, clk clock.Clock, opts ...testkit.Option) *dsCluster {
	t.Helper()
	d := &dsCluster{}
	cfg := supervision.DefaultConfig()
	cfg.ResyncInterval = 200 * time.Millisecond
	cfg.RestartBackoffMin = 100 * time.Millisecond
	cfg.RestartBackoffMax = time.Second
	cfg.ReplaceAfter = time.Second
	cfg.OpTimeout = 10 * time.Second
	cfg.Clock = clk
	opts = append(opts, testkit.WithStack(func(string) stack.Config {
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: cfg}
	}))
	d.Cluster = testkit.NewCluster(t, n, opts...)
	return d
}

// layer returns the layer of the running node with this name.
func (d *dsCluster) layer(name string) *supervision.Layer {
	if s := d.Stack(name); s != nil {
		return s.Supervision
	}
	return nil
}

func (d *dsCluster) sup(i int) pb.SupervisionClient { return pb.NewSupervisionClient(d.Conn(i)) }

const webSpec = `{"name":"web","node":"n2","strategy":"one_for_one","max_restarts":3,"max_seconds":5,
 "children":[{"id":"c1","behavior":"counter"},{"id":"c2","behavior":"echo"},
             {"id":"sub","type":"supervisor","strategy":"rest_for_one","children":[{"id":"w","behavior":"kv"}]}]}`

func apply(t *testing.T, c pb.SupervisionClient, specJSON string) *pb.ApplyTreeResponse {
	t.Helper()
	resp, err := c.ApplyTree(testkit.Ctx(t, 15*time.Second), &pb.ApplyTreeRequest{Spec: []byte(specJSON), Filename: "spec.json"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return resp
}

// childPIDs maps child paths of a running tree to their PIDs.
func childPIDs(l *supervision.Layer, tree string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range l.Runtime().Processes() {
		if p.Tree == tree && p.ChildID != "" {
			out[p.ChildID] = p.PID.String()
		}
	}
	ti, err := l.Runtime().Tree(tree)
	if err != nil {
		return nil, err
	}
	if ti.Status != actor.TreeRunning {
		return nil, fmt.Errorf("tree %s is %s", tree, ti.Status)
	}
	return out, nil
}

func waitApplied(t *testing.T, d *dsCluster, nodeName, tree string, idx uint64) map[string]string {
	t.Helper()
	var pids map[string]string
	d.Eventually(20*time.Second, func() error {
		l := d.layer(nodeName)
		if l == nil {
			return fmt.Errorf("no layer on %s", nodeName)
		}
		if got := l.AppliedIndex(tree); got != idx {
			return fmt.Errorf("%s applied index %d, want %d", nodeName, got, idx)
		}
		var err error
		pids, err = childPIDs(l, tree)
		return err
	}, "tree %s at index %d on %s", tree, idx, nodeName)
	return pids
}

// A spec committed through any node runs on the node it names, and only
// there; an update changes only what changed; a delete stops it.
func TestTreeReconciledOnItsNode(t *testing.T) {
	d := newDSCluster(t, 3)
	resp := apply(t, d.sup(0), webSpec)
	if resp.Tree.Node != "n2" || resp.Unchanged {
		t.Fatalf("apply response: %+v", resp)
	}
	pids := waitApplied(t, d, "n2", "web", resp.Tree.ModifyIndex)
	for _, id := range []string{"c1", "c2", "sub", "sub/w"} {
		if pids[id] == "" || !strings.HasPrefix(pids[id], "n2/") {
			t.Fatalf("child %s: %q (all: %v)", id, pids[id], pids)
		}
	}
	for _, other := range []string{"n1", "n3"} {
		if trees := d.layer(other).Runtime().Trees(); len(trees) != 0 {
			t.Fatalf("%s runs trees it was not given: %v", other, trees)
		}
	}

	// The same spec again changes nothing.
	again := apply(t, d.sup(2), webSpec)
	if !again.Unchanged || again.Tree.ModifyIndex != resp.Tree.ModifyIndex {
		t.Fatalf("re-apply: %+v", again)
	}

	// Update: c2 removed, c3 added, the nested supervisor's strategy changed.
	updated := strings.Replace(webSpec, `{"id":"c2","behavior":"echo"}`, `{"id":"c3","behavior":"echo"}`, 1)
	updated = strings.Replace(updated, `"rest_for_one"`, `"one_for_all"`, 1)
	up := apply(t, d.sup(1), updated)
	pids2 := waitApplied(t, d, "n2", "web", up.Tree.ModifyIndex)
	if pids2["c1"] != pids["c1"] || pids2["sub/w"] != pids["sub/w"] || pids2["sub"] != pids["sub"] {
		t.Fatalf("unchanged children were restarted: before %v after %v", pids, pids2)
	}
	if pids2["c2"] != "" || pids2["c3"] == "" {
		t.Fatalf("c2 should be gone and c3 running: %v", pids2)
	}
	rt := d.layer("n2").Runtime()
	subPID, _ := actor.ParsePID(pids2["sub"])
	if pol, err := rt.SupervisorPolicy(subPID); err != nil || pol.Strategy != "one_for_all" {
		t.Fatalf("nested strategy: %+v %v", pol, err)
	}

	if _, err := d.sup(2).DeleteTree(testkit.Ctx(t, 10*time.Second), &pb.DeleteTreeRequest{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	d.Eventually(10*time.Second, func() error {
		if trees := rt.Trees(); len(trees) != 0 {
			return fmt.Errorf("still running: %v", trees[0].Name)
		}
		return nil
	}, "tree stopped after delete")
}

// A node restarted from its data dir brings its trees back from the
// replicated state.
func TestRestartedNodeBringsItsTreesBack(t *testing.T) {
	d := newDSCluster(t, 3)
	resp := apply(t, d.sup(0), webSpec)
	waitApplied(t, d, "n2", "web", resp.Tree.ModifyIndex)
	i := d.Index("n2")
	d.Kill(i)
	d.Restart(i)
	pids := waitApplied(t, d, "n2", "web", resp.Tree.ModifyIndex)
	if len(pids) != 4 {
		t.Fatalf("after restart: %v", pids)
	}
}

// A tree placed with node "auto" goes to the least loaded node and moves
// when that node leaves.
func TestAutoPlacementAndReplacement(t *testing.T) {
	d := newDSCluster(t, 3)
	big := `{"name":"big","node":"n1","children":[{"id":"a","behavior":"counter"},{"id":"b","behavior":"counter"},{"id":"c","behavior":"counter"}]}`
	small := `{"name":"small","node":"n3","children":[{"id":"a","behavior":"counter"}]}`
	waitApplied(t, d, "n1", "big", apply(t, d.sup(0), big).Tree.ModifyIndex)
	waitApplied(t, d, "n3", "small", apply(t, d.sup(0), small).Tree.ModifyIndex)
	auto := `{"name":"roaming","node":"auto","children":[{"id":"x","behavior":"echo"}]}`
	resp := apply(t, d.sup(0), auto)
	if resp.Tree.Node != "n2" || !resp.Tree.AutoPlaced {
		t.Fatalf("placed on %s (auto=%v), want the empty node n2", resp.Tree.Node, resp.Tree.AutoPlaced)
	}
	waitApplied(t, d, "n2", "roaming", resp.Tree.ModifyIndex)

	if err := d.Node(d.Index("n2")).Leave(testkit.Ctx(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	var moved *pb.TreeRecord
	d.Eventually(20*time.Second, func() error {
		rec, err := d.Leader().State().Tree("roaming")
		if err != nil || rec == nil {
			return fmt.Errorf("tree record: %v %v", rec, err)
		}
		if rec.Node == "n2" {
			return errors.New("still placed on n2")
		}
		moved = rec
		return nil
	}, "tree re-placed")
	if moved.Node != "n3" {
		t.Fatalf("re-placed on %s, want the less loaded n3", moved.Node)
	}
	waitApplied(t, d, moved.Node, "roaming", moved.ModifyIndex)
}

// A tree whose root gives up is started again by the reconciler, after a
// backoff, and the restart is visible as events. The backoff is on a
// manual clock: the tree stays down until the clock passes it.
func TestFailedTreeIsRestarted(t *testing.T) {
	clk := clock.NewManual(time.Now())
	d := newDSClusterOn(t, 1, clk)
	spec := `{"name":"fragile","node":"n1","max_restarts":0,"max_seconds":5,"children":[{"id":"boom","behavior":"crasher"}]}`
	resp := apply(t, d.sup(0), spec)
	pids := waitApplied(t, d, "n1", "fragile", resp.Tree.ModifyIndex)
	l := d.layer("n1")
	sub := l.Runtime().Subscribe(256)
	defer sub.Close()
	ti, _ := l.Runtime().Tree("fragile")
	oldRoot := ti.Root
	boom, _ := actor.ParsePID(pids["boom"])
	if err := l.Runtime().Send(boom, actor.Message{Body: []byte("crash")}); err != nil {
		t.Fatal(err)
	}
	seen := map[actor.EventType]bool{}
	deadline := time.After(20 * time.Second)
	await := func(types ...actor.EventType) {
		t.Helper()
		for _, typ := range types {
			for !seen[typ] {
				select {
				case e := <-sub.C:
					// The first start's spec_applied may reach the
					// subscription after waitApplied saw the index.
					first := e.Type == supervision.EventSpecApplied && strings.HasPrefix(e.Detail, "started")
					if e.Tree == "fragile" && !first {
						seen[e.Type] = true
					}
				case <-deadline:
					t.Fatalf("events seen: %v, waiting for %s", seen, typ)
				}
			}
		}
	}
	await(actor.EventTreeFailed, supervision.EventTreeRestartScheduled)
	if seen[supervision.EventSpecApplied] {
		t.Fatal("the tree was restarted before its backoff passed")
	}
	// The first backoff is RestartBackoffMin. Advancing before the
	// reconciler arms its timer is as good: the timer is then due at once.
	clk.Advance(100 * time.Millisecond)
	await(supervision.EventSpecApplied)
	d.Eventually(10*time.Second, func() error {
		ti, err := l.Runtime().Tree("fragile")
		if err != nil || ti.Status != actor.TreeRunning || ti.Root == oldRoot {
			return fmt.Errorf("tree %+v %v", ti.Status, err)
		}
		return nil
	}, "tree running again with a new root")
}

// A tree stopped behind the reconciler's back (nothing committed, no
// failure event) is started again at the next resync: once the clock
// passes ResyncInterval.
func TestResyncRestartsATreeStoppedBehindTheReconciler(t *testing.T) {
	clk := clock.NewManual(time.Now())
	d := newDSClusterOn(t, 1, clk)
	resp := apply(t, d.sup(0), `{"name":"quiet","node":"n1","children":[{"id":"e","behavior":"echo"}]}`)
	waitApplied(t, d, "n1", "quiet", resp.Tree.ModifyIndex)
	rt := d.layer("n1").Runtime()
	if err := rt.StopTree(testkit.Ctx(t, 10*time.Second), "quiet"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Tree("quiet"); !errors.Is(err, actor.ErrTreeNotFound) {
		t.Fatalf("tree after StopTree: %v", err)
	}
	clk.Advance(200 * time.Millisecond)
	waitApplied(t, d, "n1", "quiet", resp.Tree.ModifyIndex)
}

// Bad specs are refused on the leader with errors naming the field, and
// nothing is committed.
func TestBadSpecsRefused(t *testing.T) {
	d := newDSCluster(t, 3)
	before := d.Leader().State().TableIndex("trees")
	cases := []struct{ spec, want string }{
		{`{"name":"x","children":[{"id":"a","behavior":"teapot"}]}`, `children[0].behavior`},
		{`{"name":"x","max_restarts":-1,"children":[]}`, `max_restarts`},
		{`{"name":"x","children":[{"id":"a","behavior":"echo"},{"id":"a","behavior":"echo"}]}`, `children[1].id`},
		{`{"name":"x","node":"n9","children":[]}`, `node "n9" is not a member`},
		{`{"name":"x","children":[{"id":"a","behavior":"echo","restart":"sometimes"}]}`, `children[0].restart`},
		{`{"name":"x",`, `spec`},
		{`{"name":"x","colour":"red"}`, `colour`},
	}
	for _, tc := range cases {
		_, err := d.sup(1).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: []byte(tc.spec), Filename: "x.json"})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spec %s: got %v, want InvalidArgument mentioning %q", tc.spec, err, tc.want)
		}
	}
	deep := `{"name":"deep","children":[` + strings.Repeat(`{"id":"s","type":"supervisor","children":[`, 12) + `{"id":"w","behavior":"echo"}` + strings.Repeat(`]}`, 12) + `]}`
	if _, err := d.sup(0).ApplyTree(testkit.Ctx(t, 10*time.Second), &pb.ApplyTreeRequest{Spec: []byte(deep)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("too deep: %v", err)
	}
	if _, err := d.sup(0).DeleteTree(testkit.Ctx(t, 10*time.Second), &pb.DeleteTreeRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("delete unknown: %v", err)
	}
	if after := d.Leader().State().TableIndex("trees"); after != before {
		t.Fatalf("refused specs changed the trees table (%d -> %d)", before, after)
	}
}

// A strategy change is committed as a spec change and applied in place.
func TestSetStrategyCommitsAndApplies(t *testing.T) {
	d := newDSCluster(t, 3)
	resp := apply(t, d.sup(0), webSpec)
	pids := waitApplied(t, d, "n2", "web", resp.Tree.ModifyIndex)
	ss, err := d.sup(2).SetStrategy(testkit.Ctx(t, 10*time.Second), &pb.SetStrategyRequest{Tree: "web", Path: "sub", Strategy: "one_for_all"})
	if err != nil {
		t.Fatal(err)
	}
	after := waitApplied(t, d, "n2", "web", ss.Tree.ModifyIndex)
	if after["sub/w"] != pids["sub/w"] || after["c1"] != pids["c1"] {
		t.Fatalf("strategy change restarted children: %v -> %v", pids, after)
	}
	subPID, _ := actor.ParsePID(after["sub"])
	if pol, _ := d.layer("n2").Runtime().SupervisorPolicy(subPID); pol.Strategy != "one_for_all" {
		t.Fatalf("strategy %s", pol.Strategy)
	}
	_, err = d.sup(0).SetStrategy(testkit.Ctx(t, 10*time.Second), &pb.SetStrategyRequest{Tree: "web", Path: "c1", Strategy: "one_for_all"})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "worker") {
		t.Fatalf("strategy on a worker: %v", err)
	}
	_, err = d.sup(0).SetStrategy(testkit.Ctx(t, 10*time.Second), &pb.SetStrategyRequest{Tree: "web", Strategy: "random"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad strategy: %v", err)
	}
}
