package stack_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/health"
	"github.com/steward/steward/hotcode/deploy/deploytest"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox/manager"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// hcCluster is 3 servers (n1..n3, nodes 0..2) and 3 client agents (c1..c3,
// nodes 3..5) with the module store, deployment, checkpoint and sandbox
// layers beside supervision and coordination; its fixture is
// deploytest's, on this cluster.
type hcCluster struct{ *deploytest.Fixture }

// Node indexes of the clients.
const (
	hcC1 = 3
	hcC2 = 4
	hcC3 = 5
)

func newHCCluster(t *testing.T, opts ...testkit.Option) *hcCluster {
	t.Helper()
	opts = append(opts, testkit.WithClients(3), testkit.WithStack(func(string) stack.Config {
		scfg := supervision.DefaultConfig()
		scfg.ResyncInterval = 200 * time.Millisecond
		ccfg := coordination.DefaultConfig()
		ccfg.StageTimeout = 10 * time.Second
		snap := snapshot.DefaultConfig()
		hl := health.DefaultConfig()
		mods := store.DefaultConfig()
		sb := manager.DefaultConfig()
		sb.ReplaceAfter = 500 * time.Millisecond
		sb.ResyncInterval = 200 * time.Millisecond
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Coordination: &ccfg, Snapshot: &snap, Health: &hl,
			Modules: &mods, Deployments: true, Checkpoints: true, Sandboxes: &sb}
	}))
	c := testkit.NewCluster(t, 3, opts...)
	return &hcCluster{&deploytest.Fixture{T: t, C: c, Ctx: testkit.Ctx(t, 90*time.Second)}}
}

// newSecureHCCluster is newHCCluster with mutual TLS and ACLs on, its
// connections sending the bootstrap (management) token.
func newSecureHCCluster(t *testing.T) *hcCluster {
	t.Helper()
	h := newHCCluster(t, testkit.WithTLS(testkit.NewTLS(t, "global")), testkit.WithACLs())
	h.C.UseToken(h.C.BootstrapACL(hcC1))
	return h
}

// push stores counter@version through node i and waits until every node,
// clients included, has loaded it.
func (h *hcCluster) push(i int, version string) {
	h.T.Helper()
	bin := deploytest.Module(h.T, "..", "examples", "modules", "counter-v"+version+".wasm")
	err := h.Retry(func() error {
		up, err := pb.NewModulesClient(h.C.Conn(i)).Push(h.Ctx)
		if err != nil {
			return err
		}
		if err := up.Send(&pb.ModulePushChunk{Name: "counter", Safety: "moderate", PushedBy: "test", Data: bin}); err != nil {
			return err
		}
		_, err = up.CloseAndRecv()
		return err
	})
	if err != nil {
		h.T.Fatalf("push counter@%s through %s: %v", version, h.C.Node(i).Name(), err)
	}
	for _, n := range h.C.Live() {
		h.C.Eventually(20*time.Second, func() error {
			if !h.C.Stack(n.Name()).Modules.Loaded("counter", version) {
				return fmt.Errorf("%s has not loaded counter@%s", n.Name(), version)
			}
			return nil
		}, "counter@%s loaded on %s", version, n.Name())
	}
}

// counters applies, through node i, a tree w-<node> of k counters following
// the module's active version on node, and returns their pids.
func (h *hcCluster) counters(i int, node string, k int) []actor.PID {
	h.T.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "tree %q {\n  node = %q\n  max_restarts = 10\n", "w-"+node, node)
	for j := range k {
		fmt.Fprintf(&b, "  child \"c%d\" { module = \"counter\" }\n", j)
	}
	b.WriteString("}\n")
	if err := h.Retry(func() error {
		_, err := pb.NewSupervisionClient(h.C.Conn(i)).ApplyTree(h.Ctx, &pb.ApplyTreeRequest{Spec: []byte(b.String()), Filename: "spec.hcl"})
		return err
	}); err != nil {
		h.T.Fatalf("apply tree w-%s through %s: %v", node, h.C.Node(i).Name(), err)
	}
	var pids []actor.PID
	h.C.Eventually(20*time.Second, func() error {
		pids = h.Workers(node, "")
		if len(pids) != k {
			return fmt.Errorf("%s runs %d counters, want %d", node, len(pids), k)
		}
		return nil
	}, "the counters run on %s", node)
	return pids
}

// verify is `module verify` through node i.
func (h *hcCluster) verify(i int, module, targets string) *pb.VerifyResponse {
	h.T.Helper()
	var resp *pb.VerifyResponse
	err := h.Retry(func() error {
		var err error
		resp, err = pb.NewDeploymentsClient(h.C.Conn(i)).Verify(h.Ctx, &pb.VerifyRequest{Module: module, Targets: targets})
		return err
	})
	if err != nil {
		h.T.Fatalf("verify %s through %s: %v", module, h.C.Node(i).Name(), err)
	}
	return resp
}

// counterState is a counter's exported state: v2's code_change adds
// messages on the way up and drops it on the way down.
func (h *hcCluster) counterState(node string, p actor.PID) map[string]json.RawMessage {
	h.T.Helper()
	st, err := h.C.Stack(node).Runtime.GetState(h.Ctx, p)
	if err != nil {
		h.T.Fatalf("state of %s on %s: %v", p, node, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(st, &m); err != nil {
		h.T.Fatalf("state of %s on %s, %s: %v", p, node, st, err)
	}
	return m
}

// A deployment whose workers run on a client and a server: module versions
// pushed through a client reach every client's host; `module verify`
// through a client tries the client's workers on that client; a deployment
// submitted through a client moves the client's workers in place to v2
// with their counts (code_change ran there), watched through a client;
// the active version moves on the client's replica, and a revert steered
// through another client moves them back. A checkpoint taken through a
// client holds the client's workers' states, and its rollback through a
// client puts v1 and those states back there.
func TestClientsHotCodeDeploy(t *testing.T) { clientsHotCodeDeploy(t, newHCCluster(t)) }

// With mutual TLS and ACLs on, the deployment, checkpoint and rollback
// paths across clients work as without (a client agent's reports pass its
// certificate's role check, the views it forwards carry the token).
func TestClientsHotCodeDeploySecure(t *testing.T) { clientsHotCodeDeploy(t, newSecureHCCluster(t)) }

func clientsHotCodeDeploy(t *testing.T, h *hcCluster) {
	h.push(hcC2, "1")
	h.push(hcC2, "2")
	workers := map[string][]actor.PID{
		"c1": h.counters(hcC3, "c1", 3),
		"n2": h.counters(0, "n2", 2),
	}
	want := map[actor.PID]int{}
	for n, pids := range workers {
		for i, p := range pids {
			c := 10*i + len(n) + 1
			if n == "c1" {
				c += 100
			}
			want[p] = c
			if got := h.Call(n, p, fmt.Sprintf("inc %d", c)); got != strconv.Itoa(c) {
				t.Fatalf("%s on %s counted %s after inc %d", p, n, got, c)
			}
		}
	}
	// A client's replica holds its own tree and the module records whole.
	_, trees, _ := h.C.Node(hcC1).State().Trees(nil, "")
	if len(trees) != 1 || trees[0].Name != "w-c1" {
		t.Errorf("c1's replica holds trees %v, want only w-c1", trees)
	}

	// module verify through a client: each process tried on its node.
	ok := h.verify(hcC3, "counter@2", "")
	if !ok.Ok || len(ok.Processes) != 5 || len(ok.Errors) != 0 {
		t.Fatalf("verify counter@2 through c3: %+v", ok)
	}
	onNode := map[string]int{}
	for _, r := range ok.Processes {
		p, err := actor.ParsePID(r.Pid)
		if err != nil {
			t.Fatal(err)
		}
		onNode[r.Node]++
		if !r.Ok || r.FromVersion != "1" || r.StateBytesAfter <= r.StateBytesBefore || r.Tree != "w-"+r.Node {
			t.Errorf("verify of %s on %s: %+v", p, r.Node, r)
		}
	}
	if onNode["c1"] != 3 || onNode["n2"] != 2 {
		t.Errorf("verify tried %v processes by node, want c1:3 n2:2", onNode)
	}
	if one := h.verify(hcC1, "counter@2", "tree=w-c1"); !one.Ok || len(one.Processes) != 3 || one.Processes[0].Node != "c1" {
		t.Errorf("verify --targets tree=w-c1 through c1: %+v", one)
	}
	for n, pids := range workers {
		for _, p := range pids {
			if v := h.Version(n, p); v != "1" {
				t.Errorf("%s on %s runs %s after verify, want 1", p, n, v)
			}
		}
	}

	// A checkpoint through a client captures the client's workers' states.
	cps := pb.NewCheckpointsClient(h.C.Conn(hcC3))
	var ck *pb.CheckpointRecord
	if err := h.Retry(func() error {
		var err error
		ck, err = cps.Create(h.Ctx, &pb.CreateCheckpointRequest{WithState: true, Name: "before-v2", CreatedBy: "test"})
		return err
	}); err != nil {
		t.Fatalf("checkpoint through c3: %v", err)
	}
	ckNodes := map[string]int{}
	for _, p := range ck.Processes {
		if p.StateBytes == 0 || p.Version != "1" {
			t.Errorf("checkpointed %v", p)
		}
		ckNodes[p.Node]++
	}
	if len(ck.Processes) != 5 || ckNodes["c1"] != 3 || ckNodes["n2"] != 2 {
		t.Fatalf("checkpoint of %d processes by node %v, want c1:3 n2:2", len(ck.Processes), ckNodes)
	}

	// The deployment, submitted through a client and watched through
	// another.
	sub := h.C.Stack("c1").Runtime.Subscribe(1024)
	defer sub.Close()
	var v *pb.DeploymentView
	if err := h.Retry(func() error {
		var err error
		v, err = pb.NewDeploymentsClient(h.C.Conn(hcC2)).Submit(h.Ctx, deploytest.Request("2", deploytest.Options(2)))
		return err
	}); err != nil {
		t.Fatalf("deploy counter@2 through c2: %v", err)
	}
	d := v.Deployment
	if d.Targets != 5 {
		t.Fatalf("deployment %+v, want the 5 counters of c1 and n2", d)
	}
	w, err := pb.NewDeploymentsClient(h.C.Conn(hcC3)).Watch(h.Ctx, &pb.GetDeploymentRequest{Id: d.Id})
	if err != nil {
		t.Fatalf("watch through c3: %v", err)
	}
	var lastSeen *pb.DeploymentView
	for {
		v, err := w.Recv()
		if err != nil {
			break
		}
		lastSeen = v
	}
	if got := state.DeploymentStatusOf(lastSeen.GetDeployment()); got != pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL {
		t.Errorf("the watch through c3 ended at %s (%v)", got, lastSeen.GetDeployment())
	}
	h.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 40*time.Second)
	for n, pids := range workers {
		for _, p := range pids {
			if got := h.Version(n, p); got != "2" {
				t.Errorf("%s on %s runs version %s after a successful deployment", p, n, got)
			}
			if got := h.Call(n, p, "get"); got != strconv.Itoa(want[p]) {
				t.Errorf("%s on %s counts %s after the swap, want %d", p, n, got, want[p])
			}
			if _, ok := h.counterState(n, p)["messages"]; !ok {
				t.Errorf("%s on %s: no messages field, v2's code_change did not run", p, n)
			}
		}
		if got := len(h.Workers(n, "wasm:counter@2")); got != len(pids) {
			t.Errorf("%s has %d counters on v2, want %d (the same processes)", n, got, len(pids))
		}
	}
	changed := map[actor.PID]int{}
	for drained := false; !drained; {
		select {
		case ev := <-sub.C:
			if ev.Type == actor.EventCodeChanged {
				changed[ev.PID]++
			}
		default:
			drained = true
		}
	}
	for _, p := range workers["c1"] {
		if changed[p] != 1 {
			t.Errorf("%s on c1 changed code %d times, want once", p, changed[p])
		}
	}
	for _, i := range []int{hcC1, hcC2} {
		n := h.C.Node(i)
		h.C.Eventually(10*time.Second, func() error {
			if a, err := n.State().ModuleActive("counter"); err != nil || a.Version != "2" {
				return fmt.Errorf("%s: active version %+v (%v), want 2", n.Name(), a, err)
			}
			return nil
		}, "the active version moved on %s", n.Name())
	}
	// Read through a client: from the leader.
	got, err := pb.NewDeploymentsClient(h.C.Conn(hcC3)).Get(h.Ctx, &pb.GetDeploymentRequest{Id: d.Id})
	if err != nil || state.DeploymentStatusOf(got.Deployment) != pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL {
		t.Fatalf("deployment read through c3: %v, %v", got, err)
	}

	// Reverted through another client: back to v1 in place.
	if err := h.Retry(func() error {
		_, err := pb.NewDeploymentsClient(h.C.Conn(hcC1)).Control(h.Ctx, &pb.DeployControlRequest{Id: d.Id, Action: pb.DeployAction_DEPLOY_ACTION_REVERT})
		return err
	}); err != nil {
		t.Fatalf("revert through c1: %v", err)
	}
	h.Await(d.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED, 40*time.Second)
	for n, pids := range workers {
		for _, p := range pids {
			if got := h.Version(n, p); got != "1" {
				t.Errorf("%s on %s runs version %s after the revert, want 1", p, n, got)
			}
			if got := h.Call(n, p, "get"); got != strconv.Itoa(want[p]) {
				t.Errorf("%s on %s counts %s after the revert, want %d", p, n, got, want[p])
			}
			if _, ok := h.counterState(n, p)["messages"]; ok {
				t.Errorf("%s on %s kept v2's messages field after the revert", p, n)
			}
		}
	}
	h.C.Eventually(10*time.Second, func() error {
		if a, err := h.C.Node(hcC1).State().ModuleActive("counter"); err != nil || a.Version != "1" {
			return fmt.Errorf("c1: active version %+v (%v), want 1", a, err)
		}
		return nil
	}, "the active version back on c1")

	// v2 again, more counted, then the checkpoint rolled back through a
	// client: v1 and the checkpointed counts, on the client too.
	if err := h.Retry(func() error {
		var err error
		v, err = pb.NewDeploymentsClient(h.C.Conn(hcC2)).Submit(h.Ctx, deploytest.Request("2", deploytest.Options(2)))
		return err
	}); err != nil {
		t.Fatalf("deploy counter@2 again through c2: %v", err)
	}
	h.Await(v.Deployment.Id, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 40*time.Second)
	for n, pids := range workers {
		for _, p := range pids {
			if got := h.Call(n, p, "inc 5"); got != strconv.Itoa(want[p]+5) {
				t.Fatalf("%s on %s counts %s on v2, want %d", p, n, got, want[p]+5)
			}
		}
	}
	resp, err := pb.NewCheckpointsClient(h.C.Conn(hcC1)).Rollback(h.Ctx, &pb.RollbackCheckpointRequest{Id: ck.Id, Options: deploytest.Options(2),
		HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true})
	if err != nil {
		t.Fatalf("rollback through c1: %v", err)
	}
	if !resp.Complete || len(resp.DeploymentIds) != 1 || len(resp.Restored) != 5 || len(resp.NotRestored) != 0 {
		t.Fatalf("rollback: %v", resp)
	}
	for n, pids := range workers {
		for _, p := range pids {
			if got := h.Version(n, p); got != "1" {
				t.Errorf("%s on %s runs version %s after the rollback, want 1", p, n, got)
			}
			if got := h.Call(n, p, "get"); got != strconv.Itoa(want[p]) {
				t.Errorf("%s on %s counts %s after the rollback, want the checkpointed %d", p, n, got, want[p])
			}
		}
	}
}

// hcSandbox is a strict sandbox on a node, an echo beside the abuse
// module (hotcode/testdata), whose "S<pid>" sends to a process outside.
const hcSandbox = `
name      = "%s"
node      = "%s"
isolation = "strict"
response  = "log"
limits {
  max_processes = 5
}
tree {
  strategy = "one_for_one"
  child "echo" { behavior = "echo" }
  child "a" { module = "abuse@1" }
}
`

const hcExperiment = `
name     = "%s"
deadline = "30s"
sandbox "ab-a" {
  node = "c2"
  limits { max_processes = 5 }
  tree {
    child "e" { behavior = "echo" }
  }
}
sandbox "ab-b" {
  node = "c3"
  limits { max_processes = %d }
  tree {
    child "e" { behavior = "echo" }
    child "f" { behavior = "echo" }
  }
}
`

// nowhere waits until no live node runs the tree name, nor holds its
// sandbox record.
func (h *hcCluster) nowhere(name string) {
	h.T.Helper()
	h.C.Eventually(20*time.Second, func() error {
		for _, n := range h.C.Live() {
			if _, err := h.C.Stack(n.Name()).Runtime.Tree(name); err == nil {
				return fmt.Errorf("%s still runs %s", n.Name(), name)
			}
			if sb, _ := n.State().Sandbox(name); sb != nil {
				return fmt.Errorf("%s's replica still holds sandbox %s", n.Name(), name)
			}
		}
		return nil
	}, "sandbox %s gone everywhere", name)
}

// Sandboxes on clients: one created through a client runs on another
// client, with a wasm module loaded there; a send across its boundary is
// refused and recorded on that client; its live views asked of servers and
// of a third client are answered by its node; its destroy stops it there.
// An auto-placed sandbox goes to a client.
// An experiment with a part on each of two clients is all or nothing, and
// is watched and compared through nodes that hold neither part.
func TestClientsSandboxes(t *testing.T) { clientsSandboxes(t, newHCCluster(t)) }

// With mutual TLS and ACLs on, sandboxes on clients work as without.
func TestClientsSandboxesSecure(t *testing.T) { clientsSandboxes(t, newSecureHCCluster(t)) }

func clientsSandboxes(t *testing.T, h *hcCluster) {
	bin := deploytest.Module(t, "..", "hotcode", "testdata", "sandbox-abuse.wasm")
	if err := h.Retry(func() error {
		up, err := pb.NewModulesClient(h.C.Conn(hcC3)).Push(h.Ctx)
		if err != nil {
			return err
		}
		if err := up.Send(&pb.ModulePushChunk{Name: "abuse", Safety: "moderate", PushedBy: "test", Data: bin}); err != nil {
			return err
		}
		_, err = up.CloseAndRecv()
		return err
	}); err != nil {
		t.Fatalf("push abuse@1 through c3: %v", err)
	}
	h.C.Eventually(20*time.Second, func() error {
		for _, n := range h.C.Live() {
			if !h.C.Stack(n.Name()).Modules.Loaded("abuse", "1") {
				return fmt.Errorf("%s has not loaded abuse@1", n.Name())
			}
		}
		return nil
	}, "abuse@1 loaded everywhere")
	if _, err := pb.NewSupervisionClient(h.C.Conn(hcC2)).ApplyTree(h.Ctx, &pb.ApplyTreeRequest{
		Spec: []byte(`{"name":"outside","node":"c1","children":[{"id":"e","behavior":"echo"}]}`), Filename: "t.json"}); err != nil {
		t.Fatal(err)
	}

	sbs := func(i int) pb.SandboxesClient { return pb.NewSandboxesClient(h.C.Conn(i)) }
	v, err := sbs(hcC2).Create(h.Ctx, &pb.CreateSandboxRequest{File: []byte(fmt.Sprintf(hcSandbox, "sb-c1", "c1")), Filename: "sb.hcl"})
	if err != nil {
		t.Fatalf("create sb-c1 through c2: %v", err)
	}
	if v.Sandbox.Status != "running" || v.Sandbox.Node != "c1" || v.Experiment.GetStatus() != "running" {
		t.Fatalf("created: sandbox %s on %s, group %s", v.Sandbox.Status, v.Sandbox.Node, v.Experiment.GetStatus())
	}
	rt := h.C.Stack("c1").Runtime
	if _, err := rt.SandboxStatus("sb-c1"); err != nil {
		t.Fatalf("c1 does not run sb-c1 as a sandbox: %v", err)
	}
	if ti, err := rt.Tree("sb-c1"); err != nil || ti.Status != actor.TreeRunning {
		t.Fatalf("sb-c1's tree on c1: %+v, %v", ti, err)
	}
	for _, n := range []string{"n1", "n2", "n3", "c2", "c3"} {
		if _, err := h.C.Stack(n).Runtime.Tree("sb-c1"); err == nil {
			t.Errorf("%s runs sb-c1 too", n)
		}
	}
	// The guest on c1 sends across the strict boundary: refused.
	outside, err := rt.Resolve(actor.Target{Tree: "outside", Path: "e"})
	if err != nil {
		t.Fatal(err)
	}
	guest, err := rt.Resolve(actor.Target{Tree: "sb-c1", Path: "a"})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := rt.Call(h.Ctx, guest, actor.Message{Body: []byte("S" + outside.String())})
	if err != nil {
		t.Fatalf("the guest on c1: %v", err)
	}
	if sent := binary.LittleEndian.Uint32(reply); sent != 0 {
		t.Fatalf("%d sends crossed sb-c1's strict boundary on c1", sent)
	}

	// Live views through servers and through another client: from c1.
	for _, i := range []int{0, 2, hcC3} {
		insp, err := sbs(i).Inspect(h.Ctx, &pb.SandboxLiveRequest{Name: "sb-c1"})
		if err != nil {
			t.Fatalf("inspect sb-c1 through %s: %v", h.C.Node(i).Name(), err)
		}
		running, procs := insp.View.Fields["running"].GetBoolValue(), len(insp.View.Fields["processes"].GetListValue().GetValues())
		if insp.Node != "c1" || !running || procs != 3 {
			t.Fatalf("inspect through %s answered by %s: running %v, %d processes, want c1, running, the root, echo and the guest",
				h.C.Node(i).Name(), insp.Node, running, procs)
		}
	}
	for _, i := range []int{1, hcC2} {
		vi, err := sbs(i).Violations(h.Ctx, &pb.SandboxLiveRequest{Name: "sb-c1"})
		if err != nil {
			t.Fatalf("violations of sb-c1 through %s: %v", h.C.Node(i).Name(), err)
		}
		kinds := map[string]bool{}
		for _, x := range vi.View.Fields["violations"].GetListValue().GetValues() {
			kinds[x.GetStructValue().Fields["kind"].GetStringValue()] = true
		}
		if vi.Node != "c1" || vi.View.Fields["node"].GetStringValue() != "c1" || vi.View.Fields["total"].GetNumberValue() < 1 || !kinds["boundary"] {
			t.Fatalf("violations through %s answered by %s: %v", h.C.Node(i).Name(), vi.Node, vi.View)
		}
	}

	d, err := sbs(hcC3).Destroy(h.Ctx, &pb.DestroySandboxRequest{Name: "sb-c1"})
	if err != nil {
		t.Fatalf("destroy sb-c1 through c3: %v", err)
	}
	if len(d.Removed) != 1 || d.Removed[0] != "sb-c1" {
		t.Fatalf("destroy removed %v", d.Removed)
	}
	if _, err := sbs(0).Inspect(h.Ctx, &pb.SandboxLiveRequest{Name: "sb-c1"}); status.Code(err) != codes.NotFound {
		t.Fatalf("inspect right after the destroy: %v", err)
	}
	h.nowhere("sb-c1")
	if _, err := rt.SandboxStatus("sb-c1"); err == nil {
		t.Fatal("sb-c1's sandbox state outlived its destroy on c1")
	}
	if _, err := rt.Resolve(actor.Target{Tree: "outside", Path: "e"}); err != nil {
		t.Fatalf("the tree beside the sandbox on c1: %v", err)
	}

	// Auto-placed: on a client (clients before servers), and run there.
	av, err := sbs(0).Create(h.Ctx, &pb.CreateSandboxRequest{File: []byte(fmt.Sprintf(hcSandbox, "sb-auto", "auto")), Filename: "sb.hcl"})
	if err != nil {
		t.Fatalf("create sb-auto through n1: %v", err)
	}
	if at := av.Sandbox.Node; !strings.HasPrefix(at, "c") {
		t.Errorf("sb-auto placed on %s, want a client", at)
	} else if _, err := h.C.Stack(at).Runtime.SandboxStatus("sb-auto"); err != nil {
		t.Errorf("sb-auto does not run on %s: %v", at, err)
	}
	if _, err := sbs(hcC1).Destroy(h.Ctx, &pb.DestroySandboxRequest{Name: "sb-auto"}); err != nil {
		t.Fatalf("destroy sb-auto through c1: %v", err)
	}
	h.nowhere("sb-auto")

	// An experiment across two clients: a part that cannot start (3
	// processes, limit 2) takes the other down with it.
	exps := func(i int) pb.ExperimentsClient { return pb.NewExperimentsClient(h.C.Conn(i)) }
	_, err = exps(hcC1).Create(h.Ctx, &pb.CreateExperimentRequest{File: []byte(fmt.Sprintf(hcExperiment, "ab", 2)), Filename: "x.hcl"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "ab-b") {
		t.Fatalf("experiment with a part that cannot start on c3: %v", err)
	}
	h.nowhere("ab-a")
	h.nowhere("ab-b")
	st, err := exps(1).Status(h.Ctx, &pb.GetExperimentRequest{Id: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Experiment.Status != "failed" || len(st.Sandboxes) != 0 || !strings.Contains(st.Experiment.Reason, "ab-b") {
		t.Fatalf("failed experiment: %v", st)
	}

	// Created without waiting through c1, watched through c1, which holds
	// neither part: the watch follows it to running, both parts shown.
	nw, err := exps(hcC1).Create(h.Ctx, &pb.CreateExperimentRequest{File: []byte(fmt.Sprintf(hcExperiment, "ab-nowait", 5)), Filename: "x.hcl", NoWait: true})
	if err != nil {
		t.Fatalf("experiment across c2 and c3: %v", err)
	}
	w, err := exps(hcC1).Watch(h.Ctx, &pb.GetExperimentRequest{Id: nw.Experiment.Id})
	if err != nil {
		t.Fatal(err)
	}
	var last *pb.ExperimentView
	for {
		v, err := w.Recv()
		if err != nil {
			break
		}
		last = v
	}
	if last.GetExperiment().GetStatus() != "running" || len(last.GetSandboxes()) != 2 {
		t.Errorf("the watch through c1 ended at %v", last)
	}
	for name, n := range map[string]string{"ab-a": "c2", "ab-b": "c3"} {
		if _, err := h.C.Stack(n).Runtime.SandboxStatus(name); err != nil {
			t.Errorf("%s on %s: %v", name, n, err)
		}
	}
	cmp, err := exps(0).Compare(h.Ctx, &pb.GetExperimentRequest{Id: nw.Experiment.Id})
	if err != nil {
		t.Fatalf("compare through n1: %v", err)
	}
	procs := map[string]float64{}
	for _, r := range cmp.Rows {
		if r.Error != "" {
			t.Errorf("compare row %s: %s", r.Sandbox, r.Error)
		}
		procs[r.Sandbox] = r.Metrics.GetFields()["processes"].GetNumberValue()
	}
	if len(cmp.Rows) != 2 || procs["ab-a"] != 2 || procs["ab-b"] != 3 {
		t.Errorf("compare rows %v, want ab-a with 2 processes, ab-b with 3", cmp.Rows)
	}
	if st, err := exps(hcC2).Status(h.Ctx, &pb.GetExperimentRequest{Id: nw.Experiment.Id}); err != nil || st.Experiment.Status != "running" || len(st.Sandboxes) != 2 {
		t.Errorf("status through c2: %v, %v", st, err)
	}
	if _, err := exps(hcC3).Destroy(h.Ctx, &pb.GetExperimentRequest{Id: "ab-nowait"}); err != nil {
		t.Fatalf("destroy the experiment through c3: %v", err)
	}
	h.nowhere("ab-a")
	h.nowhere("ab-b")
}
