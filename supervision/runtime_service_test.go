package supervision_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rtWebSpec is placed on n2 by the tests; c1 and sink are counters, ticker
// casts to the registered name "sink" every 20ms.
const rtWebSpec = `
name = "web"
child "c1" {
  behavior = "counter"
  name     = "hits"
}
child "sink" {
  behavior = "counter"
  name     = "sink"
}
child "store" { behavior = "kv" }
child "ticker" {
  behavior = "ticker"
  args     = { target = "sink", interval = "20ms", body = "inc" }
}
child "sub" {
  type     = "supervisor"
  strategy = "rest_for_one"
  child "a" { behavior = "counter" }
  child "b" { behavior = "echo" }
}
`

// testConfig makes the layer react fast enough for tests.
func rtTestConfig() stack.Config {
	cfg := supervision.DefaultConfig()
	cfg.ResyncInterval = 200 * time.Millisecond
	cfg.RestartBackoffMin = 50 * time.Millisecond
	cfg.RestartBackoffMax = time.Second
	cfg.OpTimeout = 10 * time.Second
	rc := actor.DefaultConfig()
	rc.HistoryInterval = 20 * time.Millisecond
	return stack.Config{Runtime: rc, Supervision: cfg}
}

func rtCluster(t *testing.T) *testkit.Cluster {
	t.Helper()
	return testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		return rtTestConfig()
	}))
}

// clients holds each node's Runtime and Supervision clients (n1, n2, n3).
type rtClients struct {
	rt  []pb.RuntimeClient
	sup []pb.SupervisionClient
}

func rtConnect(c *testkit.Cluster) rtClients {
	var cl rtClients
	for i := 0; i < c.Size(); i++ {
		conn := c.Conn(i)
		cl.rt = append(cl.rt, pb.NewRuntimeClient(conn))
		cl.sup = append(cl.sup, pb.NewSupervisionClient(conn))
	}
	return cl
}

func rtTreeRef(tree, path string) *pb.ProcessRef { return &pb.ProcessRef{Tree: tree, Path: path} }

func rtPIDRef(pid string) *pb.ProcessRef { return &pb.ProcessRef{Pid: pid} }

// applyAndWait applies a spec through sup and waits until the tree runs.
func rtApplyAndWait(t *testing.T, sup pb.SupervisionClient, rt pb.RuntimeClient, src, node string) {
	t.Helper()
	ctx := testkit.Ctx(t, 20*time.Second)
	if _, err := sup.ApplyTree(ctx, &pb.ApplyTreeRequest{Spec: []byte(src), Filename: "spec.hcl", Node: node}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	name := strings.Split(strings.Split(src, `name = "`)[1], `"`)[0]
	testkit.Eventually(t, 15*time.Second, func() error {
		v, err := rt.TreeView(ctx, &pb.SupervisorRequest{Tree: name})
		if err != nil {
			return err
		}
		if v.Status != "running" {
			return fmt.Errorf("tree %s is %s on %s", name, v.Status, v.Node)
		}
		return nil
	}, "tree %s running", name)
}

func rtCounterState(t *testing.T, rt pb.RuntimeClient, ref *pb.ProcessRef) (count int64, err error) {
	t.Helper()
	resp, err := rt.GetState(testkit.Ctx(t, 5*time.Second), &pb.ProcessRequest{Ref: ref})
	if err != nil {
		return 0, err
	}
	var st struct {
		Count int64 `json:"count"`
	}
	if err := json.Unmarshal(resp.State, &st); err != nil {
		return 0, fmt.Errorf("state %q: %w", resp.State, err)
	}
	return st.Count, nil
}

func rtWantCode(t *testing.T, what string, err error, code codes.Code, text string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), text) {
		t.Errorf("%s: got %v, want %s containing %q", what, err, code, text)
	}
}

func TestRuntimeServiceAcrossNodes(t *testing.T) {
	c := rtCluster(t)
	cl := rtConnect(c)
	n1, n2, n3 := 0, 1, 2
	rtApplyAndWait(t, cl.sup[n1], cl.rt[n1], rtWebSpec, "n2")

	t.Run("list fans out", func(t *testing.T) {
		ctx := testkit.Ctx(t, 10*time.Second)
		resp, err := cl.rt[n3].ListProcesses(ctx, &pb.ListProcessesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Unreachable) != 0 {
			t.Fatalf("unreachable: %v", resp.Unreachable)
		}
		byChild := map[string]*pb.ProcessInfo{}
		for _, p := range resp.Processes {
			if p.Tree == "web" {
				byChild[p.ChildId] = p
			}
		}
		// root + c1, sink, store, ticker, sub, sub/a, sub/b
		if len(byChild) != 8 {
			t.Fatalf("web processes: %d (%v)", len(byChild), byChild)
		}
		if p := byChild["c1"]; p.Node != "n2" || p.Behavior != "counter" || p.RegisteredName != "hits" || !strings.HasPrefix(p.Pid, "n2/") {
			t.Fatalf("c1: %+v", p)
		}
		if !byChild[""].Supervisor || byChild["sub"].Parent != byChild[""].Pid {
			t.Fatalf("root/sub: %+v %+v", byChild[""], byChild["sub"])
		}
		// The tree filter asks the tree's node only.
		resp, err = cl.rt[n3].ListProcesses(ctx, &pb.ListProcessesRequest{Tree: "web"})
		if err != nil || len(resp.Processes) != 8 {
			t.Fatalf("tree filter: %v %v", resp, err)
		}
		// One node's list.
		resp, err = cl.rt[n1].ListProcesses(ctx, &pb.ListProcessesRequest{Node: "n3"})
		if err != nil || len(resp.Processes) != 0 {
			t.Fatalf("n3 alone: %v %v", resp, err)
		}
	})

	t.Run("send and state through any node", func(t *testing.T) {
		ctx := testkit.Ctx(t, 10*time.Second)
		if _, err := cl.rt[n3].Send(ctx, &pb.SendRequest{Ref: rtTreeRef("web", "c1"), Kind: "cast", Body: []byte("inc 5")}); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.rt[n1].Send(ctx, &pb.SendRequest{Ref: &pb.ProcessRef{Name: "hits", Node: "n2"}, Body: []byte("inc 2")}); err != nil {
			t.Fatal(err)
		}
		// A call is queued behind the casts, so it sees them.
		resp, err := cl.rt[n1].Send(ctx, &pb.SendRequest{Ref: rtTreeRef("web", "c1"), Kind: "call", Body: []byte("get")})
		if err != nil || string(resp.Reply) != "7" || !strings.HasPrefix(resp.Pid, "n2/") {
			t.Fatalf("call get: %v %v", resp, err)
		}
		if n, err := rtCounterState(t, cl.rt[n3], rtPIDRef(resp.Pid)); err != nil || n != 7 {
			t.Fatalf("state: %d %v", n, err)
		}
	})

	t.Run("kill restarts with a new pid", func(t *testing.T) {
		ctx := testkit.Ctx(t, 15*time.Second)
		before, err := cl.rt[n3].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "store")})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.rt[n1].Kill(ctx, &pb.KillRequest{Ref: rtPIDRef(before.Pid)})
		if err != nil || resp.Pid != before.Pid || !strings.Contains(resp.Detail, "killed") {
			t.Fatalf("kill: %v %v", resp, err)
		}
		testkit.Eventually(t, 10*time.Second, func() error {
			after, err := cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "store")})
			if err != nil {
				return err
			}
			if after.Pid == before.Pid || after.Restarts != before.Restarts+1 || after.Status != "running" {
				return fmt.Errorf("store now %s, %d restarts, %s", after.Pid, after.Restarts, after.Status)
			}
			return nil
		}, "store restarted")
		// The old PID is dead, and says so.
		_, err = cl.rt[n3].Send(ctx, &pb.SendRequest{Ref: rtPIDRef(before.Pid), Body: []byte("x")})
		rtWantCode(t, "send to a dead pid", err, codes.NotFound, "has exited")
		_, err = cl.rt[n1].Kill(ctx, &pb.KillRequest{Ref: rtPIDRef(before.Pid)})
		rtWantCode(t, "kill a dead pid", err, codes.NotFound, "has exited")
	})

	t.Run("suspend and resume", func(t *testing.T) {
		ctx := testkit.Ctx(t, 15*time.Second)
		ref := rtTreeRef("web", "c1")
		start, err := rtCounterState(t, cl.rt[n1], ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.rt[n1].Suspend(ctx, &pb.ProcessRequest{Ref: ref}); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.rt[n3].Send(ctx, &pb.SendRequest{Ref: ref, Kind: "cast", Body: []byte("inc 10")}); err != nil {
			t.Fatal(err)
		}
		info, err := cl.rt[n3].GetProcess(ctx, &pb.ProcessRequest{Ref: ref})
		if err != nil || info.Status != "suspended" || info.QueueLen != 1 {
			t.Fatalf("suspended: %+v %v", info, err)
		}
		// State requests are served while suspended; the cast waits.
		if n, err := rtCounterState(t, cl.rt[n1], ref); err != nil || n != start {
			t.Fatalf("state while suspended: %d %v (want %d)", n, err, start)
		}
		if _, err := cl.rt[n3].Resume(ctx, &pb.ProcessRequest{Ref: ref}); err != nil {
			t.Fatal(err)
		}
		if n, err := rtCounterState(t, cl.rt[n1], ref); err != nil || n != start+10 {
			t.Fatalf("state after resume: %d %v (want %d)", n, err, start+10)
		}
	})

	t.Run("events follow sees a restart", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		stream, err := cl.rt[n3].Events(ctx, &pb.EventsRequest{Follow: true, Tree: "web", Types: []string{"restarted"}, Last: 1})
		if err != nil {
			t.Fatal(err)
		}
		// The buffered restart of store (last 1) comes first.
		first, err := stream.Recv()
		if err != nil || first.Type != "restarted" || first.ChildId != "store" || first.Node != "n2" {
			t.Fatalf("buffered event: %v %v", first, err)
		}
		old, err := cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "sub/b")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.rt[n1].Kill(ctx, &pb.KillRequest{Ref: rtTreeRef("web", "sub/b"), Reason: "boom"}); err != nil {
			t.Fatal(err)
		}
		e, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "restarted" || e.Tree != "web" || e.ChildId != "sub/b" || e.Reason != "boom" || e.Pid == old.Pid || e.Seq <= first.Seq {
			t.Fatalf("restart event: %v", e)
		}
		cancel()
		if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
			t.Fatalf("after cancel: %v", err)
		}
	})

	t.Run("events without follow merge every node", func(t *testing.T) {
		ctx := testkit.Ctx(t, 10*time.Second)
		stream, err := cl.rt[n1].Events(ctx, &pb.EventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]int{}
		var last int64
		for {
			e, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.TimeUnixNano < last {
				t.Fatalf("events out of time order: %v", e)
			}
			last = e.TimeUnixNano
			nodes[e.Node]++
		}
		// Only n2 runs a tree so far: its events, and no unreachable node.
		if nodes["n2"] == 0 || len(nodes) != 1 {
			t.Fatalf("events per node: %v", nodes)
		}
	})

	t.Run("trace flow between two processes", func(t *testing.T) {
		ctx := testkit.Ctx(t, 15*time.Second)
		if _, err := cl.rt[n1].SetTracing(ctx, &pb.SetTracingRequest{Tree: "web", Flow: true, History: true, HistoryIntervalMs: 20}); err != nil {
			t.Fatal(err)
		}
		ticker, err := cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "ticker")})
		if err != nil {
			t.Fatal(err)
		}
		sink, err := cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "sink")})
		if err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, func() error {
			f, err := cl.rt[n3].Flow(ctx, &pb.SupervisorRequest{Tree: "web"})
			if err != nil {
				return err
			}
			for _, e := range f.Edges {
				if e.From == ticker.Pid && e.To == sink.Pid && e.Count >= 3 && e.FirstUnixNano <= e.LastUnixNano && f.Node == "n2" {
					return nil
				}
			}
			return fmt.Errorf("no edge %s -> %s with 3 messages: %v", ticker.Pid, sink.Pid, f.Edges)
		}, "flow edge")
		testkit.Eventually(t, 10*time.Second, func() error {
			h, err := cl.rt[n3].History(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "sink")})
			if err != nil {
				return err
			}
			if h.Pid != sink.Pid || len(h.Samples) < 2 {
				return fmt.Errorf("history: %d samples", len(h.Samples))
			}
			return nil
		}, "state history")
		if _, err := cl.rt[n1].SetTracing(ctx, &pb.SetTracingRequest{Tree: "web"}); err != nil {
			t.Fatal(err)
		}
		if f, err := cl.rt[n1].Flow(ctx, &pb.SupervisorRequest{Tree: "web"}); err != nil || len(f.Edges) != 0 {
			t.Fatalf("flow after disable: %v %v", f, err)
		}
	})

	t.Run("a process on n3 sends to a pid on n2", func(t *testing.T) {
		ctx := testkit.Ctx(t, 15*time.Second)
		target, err := cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "sub/a")})
		if err != nil {
			t.Fatal(err)
		}
		remote := fmt.Sprintf(`
name = "remote"
child "t" {
  behavior = "ticker"
  restart  = "transient"
  args     = { target = %q, interval = "10ms", body = "inc 2", count = "3" }
}`, target.Pid)
		rtApplyAndWait(t, cl.sup[n2], cl.rt[n2], remote, "n3")
		testkit.Eventually(t, 10*time.Second, func() error {
			n, err := rtCounterState(t, cl.rt[n1], rtPIDRef(target.Pid))
			if err != nil {
				return err
			}
			if n != 6 {
				return fmt.Errorf("count %d, want 6", n)
			}
			return nil
		}, "three remote casts")
		if _, err := cl.sup[n1].DeleteTree(ctx, &pb.DeleteTreeRequest{Name: "remote"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("restart supervisors", func(t *testing.T) {
		ctx := testkit.Ctx(t, 15*time.Second)
		sub, err := cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "sub")})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.rt[n3].RestartSupervisor(ctx, &pb.SupervisorRequest{Tree: "web", Path: "sub"})
		if err != nil || resp.Pid == sub.Pid || !strings.HasPrefix(resp.Pid, "n2/") {
			t.Fatalf("restart sub: %v %v (was %s)", resp, err, sub.Pid)
		}
		if _, err := cl.rt[n3].GetProcess(ctx, &pb.ProcessRequest{Ref: rtTreeRef("web", "sub/a")}); err != nil {
			t.Fatalf("sub/a after restart: %v", err)
		}
		_, err = cl.rt[n3].RestartSupervisor(ctx, &pb.SupervisorRequest{Tree: "web", Path: "c1"})
		rtWantCode(t, "restart a worker", err, codes.FailedPrecondition, "not a supervisor")
		_, err = cl.rt[n3].RestartSupervisor(ctx, &pb.SupervisorRequest{Tree: "web", Path: "sub/zz"})
		rtWantCode(t, "restart a missing child", err, codes.NotFound, "child not found")

		root, err := cl.rt[n1].TreeView(ctx, &pb.SupervisorRequest{Tree: "web"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = cl.rt[n1].RestartSupervisor(ctx, &pb.SupervisorRequest{Tree: "web"})
		if err != nil || resp.Pid == root.Root.Pid {
			t.Fatalf("restart root: %v %v (was %s)", resp, err, root.Root.Pid)
		}
		v, err := cl.rt[n3].TreeView(ctx, &pb.SupervisorRequest{Tree: "web", Full: true})
		if err != nil || v.Status != "running" || v.Root.Pid != resp.Pid || v.Processes != 8 {
			t.Fatalf("after root restart: %v %v", v, err)
		}
	})

	// Last: it stops a node.
	defer t.Run("a dead node is reported, not fatal", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stream, err := cl.rt[n1].Events(ctx, &pb.EventsRequest{Follow: true, Types: []string{"none-such"}})
		if err != nil {
			t.Fatal(err)
		}
		// The follow streams are open once n1 answers a listing; stop n3.
		if _, err := cl.rt[n1].ListProcesses(ctx, &pb.ListProcessesRequest{}); err != nil {
			t.Fatal(err)
		}
		c.Kill(n3)
		e, err := stream.Recv()
		if err != nil || e.Type != supervision.EventUnreachable || e.Node != "n3" {
			t.Fatalf("follow after n3 stopped: %v %v", e, err)
		}
		resp, err := cl.rt[n1].ListProcesses(ctx, &pb.ListProcessesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if msg, ok := resp.Unreachable["n3"]; ok && !strings.Contains(msg, "n3") {
			t.Errorf("unreachable n3: %q", msg)
		}
		n2procs := 0
		for _, p := range resp.Processes {
			if p.Node == "n2" {
				n2procs++
			}
		}
		if n2procs < 8 {
			t.Fatalf("n2's processes missing while n3 is down: %v", resp)
		}
		_, err = cl.rt[n1].GetProcess(ctx, &pb.ProcessRequest{Ref: rtPIDRef("n3/1")})
		if status.Code(err) != codes.Unavailable && status.Code(err) != codes.NotFound {
			t.Fatalf("a process on the dead node: %v", err)
		}
		t.Logf("process on a dead node: %v", err)
	})

	t.Run("errors", func(t *testing.T) {
		ctx := testkit.Ctx(t, 10*time.Second)
		rt := cl.rt[n1]
		get := func(ref *pb.ProcessRef) error {
			_, err := rt.GetProcess(ctx, &pb.ProcessRequest{Ref: ref})
			return err
		}
		// n2 runs its first creation (testkit counts it in the data dir):
		// its pids lie above 1000000000, those below are an earlier run's.
		rtWantCode(t, "unknown pid", get(rtPIDRef("n2/1999999999")), codes.NotFound, "n2/1999999999 was never spawned")
		rtWantCode(t, "pid of an earlier run", get(rtPIDRef("n2/99999")), codes.NotFound, "n2/99999 is from an earlier run")
		rtWantCode(t, "unknown node", get(rtPIDRef("n9/1")), codes.NotFound, `node "n9" is not a member`)
		rtWantCode(t, "malformed pid", get(rtPIDRef("n2/x")), codes.InvalidArgument, "malformed pid")
		rtWantCode(t, "no ref", get(nil), codes.InvalidArgument, "bad target")
		rtWantCode(t, "two refs", get(&pb.ProcessRef{Pid: "n2/1", Tree: "web"}), codes.InvalidArgument, "exactly one of pid, name or tree")
		rtWantCode(t, "name without node", get(&pb.ProcessRef{Name: "hits"}), codes.InvalidArgument, "needs a node")
		rtWantCode(t, "unknown name", get(&pb.ProcessRef{Name: "nobody", Node: "n2"}), codes.NotFound, "name not registered")
		rtWantCode(t, "bad path", get(rtTreeRef("web", "c1//x")), codes.InvalidArgument, "bad target")
		rtWantCode(t, "unknown tree", get(rtTreeRef("nope", "")), codes.NotFound, "tree not found")
		rtWantCode(t, "unknown child", get(rtTreeRef("web", "zz")), codes.NotFound, "child not found")
		_, err := rt.RestartSupervisor(ctx, &pb.SupervisorRequest{Tree: "nope"})
		rtWantCode(t, "restart unknown tree", err, codes.NotFound, "tree not found")
		_, err = rt.Flow(ctx, &pb.SupervisorRequest{Tree: "nope"})
		rtWantCode(t, "flow of unknown tree", err, codes.NotFound, "tree not found")
		_, err = rt.SetTracing(ctx, &pb.SetTracingRequest{Tree: "nope", Flow: true})
		rtWantCode(t, "trace unknown tree", err, codes.NotFound, "tree not found")
		_, err = rt.Send(ctx, &pb.SendRequest{Ref: rtTreeRef("web", "c1"), Kind: "shout"})
		rtWantCode(t, "bad kind", err, codes.InvalidArgument, `kind "shout"`)
		_, err = rt.Send(ctx, &pb.SendRequest{Ref: rtTreeRef("web", "c1"), Kind: "call", Body: []byte("explode")})
		rtWantCode(t, "refused call", err, codes.FailedPrecondition, "unknown call")
		_, err = rt.Kill(ctx, &pb.KillRequest{Ref: &pb.ProcessRef{Pid: "n2/1", Node: "n3"}})
		rtWantCode(t, "pid on another node", err, codes.InvalidArgument, "not on node n3")
	})
}
