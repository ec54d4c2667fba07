package manager_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox/manager"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type fixture struct {
	t   *testing.T
	c   *testkit.Cluster
	ctx context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		sb := manager.DefaultConfig()
		sb.ReplaceAfter = 500 * time.Millisecond
		sb.ResyncInterval = 200 * time.Millisecond
		coord := coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Sandboxes: &sb}
	}))
	c.WaitForLeader()
	return &fixture{t: t, c: c, ctx: testkit.Ctx(t, 90*time.Second)}
}

func (f *fixture) sandboxes(i int) pb.SandboxesClient { return pb.NewSandboxesClient(f.c.Conn(i)) }

func (f *fixture) experiments(i int) pb.ExperimentsClient {
	return pb.NewExperimentsClient(f.c.Conn(i))
}

// runtime is node i's runtime.
func (f *fixture) runtime(i int) *actor.Runtime {
	return f.c.Stack(f.c.Node(i).Name()).Runtime
}

// nowhere waits until no live node runs a tree of that name.
func (f *fixture) nowhere(name string) {
	f.t.Helper()
	f.c.Eventually(20*time.Second, func() error {
		for i := 0; i < f.c.Size(); i++ {
			select {
			case <-f.c.Node(i).ShutdownCh():
				continue
			default:
			}
			if _, err := f.runtime(i).Tree(name); err == nil {
				return fmt.Errorf("%s still runs %s", f.c.Node(i).Name(), name)
			}
			if sb, _ := f.c.Node(i).State().Sandbox(name); sb != nil {
				return fmt.Errorf("%s's replica still holds sandbox %s", f.c.Node(i).Name(), name)
			}
		}
		return nil
	}, "sandbox %s gone everywhere", name)
}

const echoSandbox = `
name      = "%s"
node      = "%s"
isolation = "strict"
limits {
  max_processes = 5
}
tree {
  strategy = "one_for_one"
  child "echo" {
    behavior = "echo"
    name     = "%s-echo"
  }
}
`

func TestSandboxCreateInspectDestroy(t *testing.T) {
	f := newFixture(t)
	file := fmt.Sprintf(echoSandbox, "sb-a", "auto", "sb-a")
	v, err := f.sandboxes(1).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(file), Filename: "sb.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Sandbox.Status != "running" || v.Experiment.Status != "running" || !v.Experiment.Standalone {
		t.Fatalf("created: sandbox %s, group %s (standalone %v)", v.Sandbox.Status, v.Experiment.Status, v.Experiment.Standalone)
	}
	if got := v.Policy.Fields["isolation"].GetStringValue(); got != "strict" {
		t.Fatalf("policy isolation %q", got)
	}
	// Omitted limits took the seed's defaults.
	lim := v.Policy.Fields["limits"].GetStructValue().Fields
	if lim["max_processes"].GetNumberValue() != 5 || lim["max_memory_bytes"].GetNumberValue() != 100<<20 || lim["cpu_percent"].GetNumberValue() != 25 {
		t.Fatalf("limits %v", lim)
	}
	host := f.c.Index(v.Sandbox.Node)
	if _, err := f.runtime(host).SandboxStatus("sb-a"); err != nil {
		t.Fatalf("%s does not run sb-a as a sandbox: %v", v.Sandbox.Node, err)
	}

	// Inspect from another node is answered by the sandbox's node.
	other := (host + 1) % 3
	insp, err := f.sandboxes(other).Inspect(f.ctx, &pb.SandboxLiveRequest{Name: "sb-a"})
	if err != nil {
		t.Fatal(err)
	}
	if insp.Node != v.Sandbox.Node || !insp.View.Fields["running"].GetBoolValue() {
		t.Fatalf("inspect answered by %s: %v", insp.Node, insp.View)
	}
	if n := len(insp.View.Fields["processes"].GetListValue().GetValues()); n != 2 {
		t.Fatalf("inspect lists %d processes, want the root and echo", n)
	}

	// A tree cannot take its name; a second sandbox neither.
	if _, err := pb.NewSupervisionClient(f.c.Conn(0)).ApplyTree(f.ctx, &pb.ApplyTreeRequest{
		Spec: []byte(`{"name":"sb-a","children":[{"id":"e","behavior":"echo"}]}`), Filename: "t.json"}); status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a tree named like a sandbox: %v", err)
	}
	if _, err := f.sandboxes(0).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(file), Filename: "sb.hcl"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a second sandbox sb-a: %v", err)
	}

	list, err := f.sandboxes(2).List(f.ctx, &pb.ListSandboxesRequest{})
	if err != nil || len(list.Sandboxes) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}

	d, err := f.sandboxes(other).Destroy(f.ctx, &pb.DestroySandboxRequest{Name: "sb-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Removed) != 1 || d.Removed[0] != "sb-a" {
		t.Fatalf("destroy removed %v", d.Removed)
	}
	// Views answer for what was committed, on every node at once.
	for i := 0; i < 3; i++ {
		if _, err := f.sandboxes(i).Inspect(f.ctx, &pb.SandboxLiveRequest{Name: "sb-a"}); status.Code(err) != codes.NotFound {
			t.Fatalf("inspect on %s right after the destroy: %v", f.c.Node(i).Name(), err)
		}
	}
	f.nowhere("sb-a")
	if _, err := f.runtime(host).SandboxStatus("sb-a"); err == nil {
		t.Fatal("the sandbox's state outlived its destroy")
	}
	if _, err := f.runtime(host).FlowGraph("sb-a"); err == nil {
		t.Fatal("the sandbox's message trace outlived its destroy")
	}
	if _, err := f.sandboxes(0).Get(f.ctx, &pb.GetSandboxRequest{Name: "sb-a"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get after destroy: %v", err)
	}
}

// A sandbox its node cannot set up (here: its tree needs more processes
// than its limit) is removed, and the create fails with the reason.
func TestSandboxCreateFailsRemoved(t *testing.T) {
	f := newFixture(t)
	file := `
name = "sb-big"
node = "n2"
limits { max_processes = 2 }
tree {
  child "a" { behavior = "echo" }
  child "b" { behavior = "echo" }
  child "c" { behavior = "echo" }
}
`
	_, err := f.sandboxes(0).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(file), Filename: "sb.hcl"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "sb-big") || !strings.Contains(err.Error(), "process") {
		t.Fatalf("create of a sandbox over its process limit: %v", err)
	}
	f.nowhere("sb-big")
}

// treeOf is a tree block of one worker running behavior.
func treeOf(behavior string) string {
	return "tree {\n  child \"e\" { behavior = \"" + behavior + "\" }\n}"
}

// Bad input gets an error naming the field; nothing is committed.
func TestSandboxCreateInvalid(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ file, want string }{
		{`name = "x"` + "\n" + `isolation = "airtight"` + "\n" + treeOf("echo"), "isolation"},
		{`name = "x"` + "\n" + `limits { max_processes = 0 }` + "\n" + treeOf("echo"), "limits.max_processes"},
		{`name = "x"`, "tree"},
		{`isolation = "strict"` + "\n" + treeOf("echo"), "name"},
		{`name = "x"` + "\n" + treeOf("no-such-behavior"), "no-such-behavior"},
		{`name = "x"` + "\n" + `node = "n9"` + "\n" + treeOf("echo"), "n9"},
		{`name = "x"` + "\n" + treeOf("echo") + "\n" + `colour = "red"`, "colour"},
	} {
		_, err := f.sandboxes(1).Create(f.ctx, &pb.CreateSandboxRequest{File: []byte(c.file), Filename: "sb.hcl"})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want InvalidArgument naming %q", c.file, err, c.want)
		}
	}
	list, err := f.sandboxes(0).List(f.ctx, &pb.ListSandboxesRequest{})
	if err != nil || len(list.Sandboxes) != 0 {
		t.Fatalf("after refused creates: %v %v", list, err)
	}
}

const twoPartExperiment = `
name     = "ab"
deadline = "%s"
sandbox "ab-a" {
  node = "%s"
  limits { max_processes = 5 }
  tree {
    child "e" { behavior = "echo" }
  }
}
sandbox "ab-b" {
  node = "%s"
  limits { max_processes = %d }
  tree {
    child "e" { behavior = "echo" }
    child "f" { behavior = "echo" }
  }
}
`

func TestExperimentAllOrNothing(t *testing.T) {
	f := newFixture(t)
	// ab-b cannot be set up on n3 (3 processes, limit 2): ab-a, which
	// started on n1, is removed too.
	_, err := f.experiments(1).Create(f.ctx, &pb.CreateExperimentRequest{File: []byte(fmt.Sprintf(twoPartExperiment, "30s", "n1", "n3", 2)), Filename: "x.hcl"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "ab-b") {
		t.Fatalf("experiment with a part that cannot start: %v", err)
	}
	f.nowhere("ab-a")
	f.nowhere("ab-b")
	st, err := f.experiments(2).Status(f.ctx, &pb.GetExperimentRequest{Id: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Experiment.Status != "failed" || len(st.Sandboxes) != 0 || !strings.Contains(st.Experiment.Reason, "ab-b") {
		t.Fatalf("failed experiment: %v", st)
	}

	// Created without waiting through one node, watched at once from
	// another: the watch follows it to running.
	nw, err := f.experiments(1).Create(f.ctx, &pb.CreateExperimentRequest{File: []byte(strings.Replace(fmt.Sprintf(twoPartExperiment, "30s", "n1", "n3", 5), `"ab"`, `"ab-nowait"`, 1)),
		Filename: "x.hcl", NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.experiments(2).Watch(f.ctx, &pb.GetExperimentRequest{Id: nw.Experiment.Id})
	if err != nil {
		t.Fatal(err)
	}
	var lastSeen string
	for {
		v, err := w.Recv()
		if err != nil {
			break
		}
		lastSeen = v.Experiment.Status
	}
	if lastSeen != "running" {
		t.Fatalf("the watch ended at %q", lastSeen)
	}
	if _, err := f.experiments(0).Destroy(f.ctx, &pb.GetExperimentRequest{Id: "ab-nowait"}); err != nil {
		t.Fatal(err)
	}
	f.nowhere("ab-a")

	// The same name again, both parts fine: running, each on its node.
	v, err := f.experiments(0).Create(f.ctx, &pb.CreateExperimentRequest{File: []byte(fmt.Sprintf(twoPartExperiment, "30s", "n1", "n3", 5)), Filename: "x.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Experiment.Status != "running" || len(v.Sandboxes) != 2 {
		t.Fatalf("experiment: %v", v)
	}
	for _, sb := range v.Sandboxes {
		if _, err := f.runtime(f.c.Index(sb.Node)).SandboxStatus(sb.Name); err != nil {
			t.Fatalf("%s on %s: %v", sb.Name, sb.Node, err)
		}
	}
	// A part of an experiment is destroyed with its experiment only.
	if _, err := f.sandboxes(0).Destroy(f.ctx, &pb.DestroySandboxRequest{Name: "ab-a"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("destroying one part: %v", err)
	}
	if _, err := f.experiments(2).Destroy(f.ctx, &pb.GetExperimentRequest{Id: "ab"}); err != nil {
		t.Fatal(err)
	}
	f.nowhere("ab-a")
	f.nowhere("ab-b")
}

// A node lost before an experiment's creation: the leader aborts it and
// no part is left on any node, the lost one included once it has caught
// up.
func TestExperimentNodeLost(t *testing.T) {
	f := newFixture(t)
	leader := f.c.Leader().Name()
	lost := f.c.Index(f.c.Followers()[0].Name())
	lostName := f.c.Node(lost).Name()
	f.c.Kill(lost)
	_, err := f.experiments(f.c.Index(leader)).Create(f.ctx, &pb.CreateExperimentRequest{
		File: []byte(fmt.Sprintf(twoPartExperiment, "60s", leader, lostName, 5)), Filename: "x.hcl"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), lostName) {
		t.Fatalf("experiment with a part on a lost node: %v", err)
	}
	f.nowhere("ab-a")
	n := f.c.Restart(lost)
	id := ""
	if e, _ := f.c.Leader().State().Experiment(nil, "ab"); e != nil {
		id = e.Id
	}
	f.c.Eventually(20*time.Second, func() error {
		e, err := n.State().Experiment(nil, id)
		if err != nil || e == nil || e.Status != "failed" {
			return fmt.Errorf("%s's replica: %v %v", n.Name(), e, err)
		}
		return nil
	}, "the restarted node holding the abort")
	// Catching up, it may start its part for the moment between the
	// create and the abort it replays; it then stops it.
	f.nowhere("ab-b")
	f.nowhere("ab-a")
}

// compare puts each sandbox's figures side by side, each from its node.
func TestExperimentCompare(t *testing.T) {
	f := newFixture(t)
	v, err := f.experiments(0).Create(f.ctx, &pb.CreateExperimentRequest{File: []byte(fmt.Sprintf(twoPartExperiment, "30s", "n1", "n2", 5)), Filename: "x.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	// Traffic into ab-a only: its messages and callbacks rise, ab-b's not.
	rt := f.runtime(0)
	pid, err := rt.Resolve(actor.Target{Tree: "ab-a", Path: "e"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := rt.Call(f.ctx, pid, actor.Message{Body: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	cmp, err := f.experiments(2).Compare(f.ctx, &pb.GetExperimentRequest{Id: v.Experiment.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Rows) != 2 {
		t.Fatalf("rows %v", cmp.Rows)
	}
	byName := map[string]map[string]float64{}
	for _, r := range cmp.Rows {
		if r.Error != "" {
			t.Fatalf("%s: %s", r.Sandbox, r.Error)
		}
		m := map[string]float64{}
		for k, v := range r.Metrics.Fields {
			m[k] = v.GetNumberValue()
		}
		byName[r.Sandbox] = m
	}
	a, b := byName["ab-a"], byName["ab-b"]
	if a["messages_handled"] < 20 || a["callbacks"] < 20 || a["latency_p99_ms"] <= 0 {
		t.Fatalf("ab-a after 20 calls: %v", a)
	}
	if b["messages_handled"] >= 20 || a["processes"] != 2 || b["processes"] != 3 {
		t.Fatalf("ab-b without traffic: %v (ab-a %v)", b, a)
	}
}
