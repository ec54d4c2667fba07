package health_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/health"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeSampler is a Sampler whose values the test sets.
type fakeSampler struct {
	mu sync.Mutex
	s  health.Sample
}

func (f *fakeSampler) set(s health.Sample) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

func (f *fakeSampler) Sample() health.Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

// hCluster is an in-process cluster whose nodes run the supervision and
// health layers; each node samples only when the test ticks it, from the
// values the test sets.
type hCluster struct {
	*testkit.Cluster
	mu sync.Mutex
	// pending: each node's test inputs, from its latest start.
	pending map[string]hNode
}

type hNode struct {
	sup      *supervision.Layer
	health   *health.Layer
	ticks    chan time.Time
	samples  *fakeSampler
	attached func() string
}

func newHCluster(t *testing.T, n int) *hCluster {
	t.Helper()
	h := &hCluster{pending: map[string]hNode{}}
	scfg := supervision.DefaultConfig()
	// The reconciler acts on commits only (and on failed trees): what a
	// test breaks behind its back stays broken for validation to find.
	scfg.ResyncInterval = time.Hour
	scfg.OpTimeout = 10 * time.Second
	h.Cluster = testkit.NewCluster(t, n, testkit.WithStack(func(name string) stack.Config {
		ticks := make(chan time.Time)
		fs := &fakeSampler{}
		hcfg := health.DefaultConfig()
		hcfg.Ticks = ticks
		hcfg.Sampler = fs
		hcfg.Settle = 3 * time.Second
		h.mu.Lock()
		h.pending[name] = hNode{ticks: ticks, samples: fs}
		h.mu.Unlock()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Health: &hcfg}
	}))
	return h
}

// layers returns the layers of the running node with this name.
func (h *hCluster) layers(name string) hNode {
	s := h.Stack(name)
	if s == nil {
		return hNode{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.pending[name]
	n.sup, n.health = s.Supervision, s.Health
	return n
}

func (h *hCluster) healthClient(i int) pb.HealthClient { return pb.NewHealthClient(h.Conn(i)) }

func applyTree(t *testing.T, h *hCluster, specJSON string) *pb.TreeSummary {
	t.Helper()
	c := pb.NewSupervisionClient(h.Conn(0))
	resp, err := c.ApplyTree(testkit.Ctx(t, 15*time.Second), &pb.ApplyTreeRequest{Spec: []byte(specJSON), Filename: "spec.json"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return resp.Tree
}

func waitRunning(t *testing.T, h *hCluster, rec *pb.TreeSummary) {
	t.Helper()
	h.Eventually(20*time.Second, func() error {
		sup := h.layers(rec.Node).sup
		if got := sup.AppliedIndex(rec.Name); got != rec.ModifyIndex {
			return fmt.Errorf("%s applied %d, want %d", rec.Node, got, rec.ModifyIndex)
		}
		ti, err := sup.Runtime().Tree(rec.Name)
		if err != nil || ti.Status != actor.TreeRunning {
			return fmt.Errorf("tree %s: %+v %v", rec.Name, ti.Status, err)
		}
		return nil
	}, "tree %s running on %s", rec.Name, rec.Node)
}

func validate(t *testing.T, c pb.HealthClient, req *pb.ValidateRequest) *pb.ValidateResponse {
	t.Helper()
	resp, err := c.Validate(testkit.Ctx(t, 30*time.Second), req)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return resp
}

// find returns the violations of this kind on this node.
func find(resp *pb.ValidateResponse, nodeName, kind string) []*pb.ConsistencyViolation {
	var out []*pb.ConsistencyViolation
	for _, v := range resp.Violations {
		if v.Node == nodeName && v.Kind == kind {
			out = append(out, v)
		}
	}
	return out
}

func dump(resp *pb.ValidateResponse) string {
	var b strings.Builder
	for _, v := range resp.Violations {
		fmt.Fprintf(&b, "\n  %s %s %s: %s", v.Node, v.Kind, v.Subject, v.Detail)
	}
	return b.String()
}

const (
	webSpec = `{"name":"web","node":"n2","strategy":"one_for_one","children":[{"id":"c1","behavior":"counter"},
	  {"id":"sub","type":"supervisor","strategy":"rest_for_one","children":[{"id":"w","behavior":"kv"},{"id":"e","behavior":"echo"}]},
	  {"id":"tmp","behavior":"crasher","restart":"temporary"}]}`
	dbSpec = `{"name":"db","node":"n3","children":[{"id":"k","behavior":"kv","name":"store"}]}`
)

// A clean cluster validates clean; then each way of breaking it is found
// and named: a supervisor's strategy changed in place, a child started
// outside the spec, a tree stopped behind the reconciler's back, a tree
// that runs where the desired state does not place it, a dead node.
func TestValidateFindsWhatIsBroken(t *testing.T) {
	h := newHCluster(t, 3)
	web := applyTree(t, h, webSpec)
	db := applyTree(t, h, dbSpec)
	waitRunning(t, h, web)
	waitRunning(t, h, db)
	hc := h.healthClient(0)

	// web's temporary child exits: OTP deletes its spec, so the
	// supervisor no longer lists it, and the check expects it absent.
	n2 := h.layers("n2").sup.Runtime()
	ctx := testkit.Ctx(t, 10*time.Second)
	tmpPID, err := n2.Resolve(actor.Target{Tree: "web", Path: "tmp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Cast(tmpPID, actor.Message{Body: []byte("crash")}); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func() error {
		if _, err := n2.Resolve(actor.Target{Tree: "web", Path: "tmp"}); err == nil {
			return fmt.Errorf("web/tmp still resolves")
		}
		return nil
	}, "web/tmp gone")

	clean := validate(t, hc, &pb.ValidateRequest{})
	if !clean.Consistent || len(clean.Violations) != 0 || len(clean.Nodes) != 3 || clean.MinIndex == 0 {
		t.Fatalf("clean cluster: consistent=%v nodes=%d min_index=%d%s", clean.Consistent, len(clean.Nodes), clean.MinIndex, dump(clean))
	}
	for _, nv := range clean.Nodes {
		if !nv.Reachable || (nv.Node == "n2" && nv.Checked != 5) {
			t.Fatalf("node report: %+v", nv)
		}
	}
	if stale := validate(t, h.healthClient(2), &pb.ValidateRequest{Read: &pb.ReadOptions{Stale: true}}); !stale.Consistent || stale.ServedBy != "n3" {
		t.Fatalf("stale validate: %+v%s", stale, dump(stale))
	}

	// A supervisor's strategy changed in place, as a plan or an operator
	// may: it differs from the committed spec.
	subPID, err := n2.Resolve(actor.Target{Tree: "web", Path: "sub"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.SetPolicy(ctx, subPID, actor.Policy{Strategy: spec.OneForAll}); err != nil {
		t.Fatal(err)
	}
	// And a child added in place that the spec does not have.
	rootPID, _ := n2.Resolve(actor.Target{Tree: "web"})
	if _, err := n2.StartChild(ctx, rootPID, spec.ChildSpec{ID: "extra", Behavior: "echo", Restart: spec.Temporary, Shutdown: "1s"}); err != nil {
		t.Fatal(err)
	}
	// A tree stopped behind the reconciler's back.
	n3 := h.layers("n3").sup.Runtime()
	if err := n3.StopTree(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	// A tree started on n1 that nothing committed.
	n1 := h.layers("n1").sup.Runtime()
	rogue := spec.Tree{Name: "rogue", Node: "n1", SupervisorSpec: spec.SupervisorSpec{Children: []spec.ChildSpec{{ID: "x", Behavior: "echo"}}}}
	spec.Normalize(&rogue)
	if err := n1.ApplyTree(ctx, rogue); err != nil {
		t.Fatal(err)
	}

	broken := validate(t, hc, &pb.ValidateRequest{SettleMs: 300})
	if broken.Consistent {
		t.Fatalf("broken cluster validated consistent")
	}
	expect := []struct{ node, kind, subject, detail string }{
		{"n2", health.KindStrategyMismatch, "tree:web/sub", "runs one_for_all, 1 restart in 5s; the committed spec says rest_for_one, 1 restart in 5s"},
		{"n2", health.KindChildrenMismatch, "tree:web", "has children not in the committed spec: extra"},
		{"n3", health.KindTreeMissing, "tree:db", "not running"},
		{"n1", health.KindTreeUnexpected, "tree:rogue", "not in the desired state"},
	}
	for _, e := range expect {
		got := find(broken, e.node, e.kind)
		if len(got) != 1 || got[0].Subject != e.subject || !strings.Contains(got[0].Detail, e.detail) {
			t.Errorf("want %s %s %s (%q); got %v%s", e.node, e.kind, e.subject, e.detail, got, dump(broken))
		}
	}
	if len(broken.Violations) != len(expect) {
		t.Errorf("%d violations, want %d:%s", len(broken.Violations), len(expect), dump(broken))
	}
	byNode := map[string]uint32{}
	for _, nv := range broken.Nodes {
		byNode[nv.Node] = uint32(len(nv.Violations))
	}
	if byNode["n1"] != 1 || byNode["n2"] != 2 || byNode["n3"] != 1 {
		t.Errorf("per node: %v", byNode)
	}

	// Only the named nodes are checked.
	only := validate(t, hc, &pb.ValidateRequest{Nodes: []string{"n2"}, SettleMs: 300})
	if len(only.Nodes) != 1 || len(only.Violations) != 2 {
		t.Fatalf("--nodes n2:%s", dump(only))
	}
	if _, err := hc.Validate(testkit.Ctx(t, 10*time.Second), &pb.ValidateRequest{Nodes: []string{"ghost"}}); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `"ghost"`) {
		t.Fatalf("unknown node: %v", err)
	}

	// A dead node is unreachable, and named as such.
	h.Kill(h.Index("n3"))
	h.WaitForLeader()
	dead := validate(t, h.healthClient(0), &pb.ValidateRequest{SettleMs: 300})
	un := find(dead, "n3", health.KindNodeUnreachable)
	if len(un) != 1 || un[0].Subject != "node:n3" || dead.Consistent {
		t.Fatalf("dead n3:%s", dump(dead))
	}
	for _, nv := range dead.Nodes {
		if nv.Node == "n3" && nv.Reachable {
			t.Fatalf("n3 reported reachable: %+v", nv)
		}
	}
}
