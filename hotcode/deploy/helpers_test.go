package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func module(t testing.TB, path ...string) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func v1(t testing.TB) []byte { return module(t, "..", "..", "examples", "modules", "counter-v1.wasm") }
func v2(t testing.TB) []byte { return module(t, "..", "..", "examples", "modules", "counter-v2.wasm") }
func v3Trap(t testing.TB) []byte {
	return module(t, "testdata", "counter-v3-trap.wasm")
}

type fixture struct {
	t   testing.TB
	c   *testkit.Cluster
	ctx context.Context
}

// newFixture starts 3 nodes with every layer deployments need; hook, when
// set, is every node's coordination BeforeOperations.
func newFixture(t testing.TB, hook func(ctx context.Context, planID, stage string)) *fixture {
	t.Helper()
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		coord := coordination.DefaultConfig()
		coord.BeforeOperations = hook
		snap := snapshot.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Snapshot: &snap, Modules: &mods, Deployments: true}
	}))
	c.WaitForLeader()
	return &fixture{t: t, c: c, ctx: testkit.Ctx(t, 150*time.Second)}
}

func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted:
		return true
	}
	return false
}

// retry runs f again while it fails with a transient error.
func (f *fixture) retry(fn func() error) error {
	var last error
	err := poll.Until(f.ctx, clock.System(), poll.Doubling(10*time.Millisecond, 320*time.Millisecond), func() (bool, error) {
		last = fn()
		return !transient(last), nil
	})
	if last == nil {
		return err
	}
	return last
}

// push stores bin (idempotent, so sent again after a transient failure)
// and waits until every node has loaded it.
func (f *fixture) push(version string, bin []byte) {
	f.t.Helper()
	err := f.retry(func() error {
		up, err := pb.NewModulesClient(f.c.Conn(0)).Push(f.ctx)
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
		f.t.Fatalf("push counter@%s: %v", version, err)
	}
	for _, n := range f.c.Live() {
		f.c.Eventually(20*time.Second, func() error {
			if !f.c.Stack(n.Name()).Modules.Loaded("counter", version) {
				return fmt.Errorf("%s has not loaded counter@%s", n.Name(), version)
			}
			return nil
		}, "counter@%s loaded", version)
	}
}

// trees runs, on each named node, a tree of k children following the
// module's active version, and returns their pids by node.
func (f *fixture) trees(k int, nodes ...string) map[string][]actor.PID {
	f.t.Helper()
	sup := pb.NewSupervisionClient(f.c.Conn(0))
	for _, n := range nodes {
		var b strings.Builder
		fmt.Fprintf(&b, "tree %q {\n  node = %q\n  max_restarts = 10\n", "w-"+n, n)
		for i := range k {
			fmt.Fprintf(&b, "  child \"c%d\" { module = \"counter\" }\n", i)
		}
		b.WriteString("}\n")
		if err := f.retry(func() error {
			_, err := sup.ApplyTree(f.ctx, &pb.ApplyTreeRequest{Spec: []byte(b.String()), Filename: "spec.hcl"})
			return err
		}); err != nil {
			f.t.Fatalf("apply tree on %s: %v", n, err)
		}
	}
	out := map[string][]actor.PID{}
	for _, n := range nodes {
		f.c.Eventually(20*time.Second, func() error {
			pids := f.workers(n, "")
			if len(pids) != k {
				return fmt.Errorf("%s runs %d counters, want %d", n, len(pids), k)
			}
			out[n] = pids
			return nil
		}, "the counters run on %s", n)
	}
	return out
}

// workers are the counters on node n (running behavior, when set), by
// child id.
func (f *fixture) workers(n, behavior string) []actor.PID {
	var infos []actor.ProcessInfo
	for _, p := range f.c.Stack(n).Runtime.Processes() {
		if strings.HasPrefix(p.Behavior, "wasm:counter@") && p.Status == actor.StatusRunning && (behavior == "" || p.Behavior == behavior) {
			infos = append(infos, p)
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ChildID < infos[j].ChildID })
	var out []actor.PID
	for _, p := range infos {
		out = append(out, p.PID)
	}
	return out
}

func (f *fixture) deploy(req *pb.DeployRequest) *pb.DeploymentView {
	f.t.Helper()
	var v *pb.DeploymentView
	err := f.retry(func() error {
		var err error
		v, err = pb.NewDeploymentsClient(f.c.Conn(1)).Submit(f.ctx, req)
		return err
	})
	if err != nil {
		f.t.Fatalf("deploy %s: %v", req.Module, err)
	}
	return v
}

func (f *fixture) control(id string, a pb.DeployAction) error {
	return f.retry(func() error {
		live := f.c.Index(f.c.Live()[len(f.c.Live())-1].Name())
		_, err := pb.NewDeploymentsClient(f.c.Conn(live)).Control(f.ctx, &pb.DeployControlRequest{Id: id, Action: a})
		return err
	})
}

// await waits until the deployment has status s, on a live node's replica.
func (f *fixture) await(id string, s pb.DeploymentStatus, within time.Duration) *pb.DeploymentRecord {
	f.t.Helper()
	var d *pb.DeploymentRecord
	f.c.Eventually(within, func() error {
		var err error
		d, err = f.c.Live()[0].State().Deployment(nil, id)
		if err != nil || d == nil {
			return fmt.Errorf("deployment %s: %v", id, err)
		}
		if got := state.DeploymentStatusOf(d); got != s {
			// A successful deployment may still be reverted: only the
			// other ends are final.
			if state.DeploymentDone(d) && got != pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL {
				f.t.Fatalf("deployment %s ended %s (%s), want %s%s", id, d.Status, d.StatusDescription, s, f.failures(id))
			}
			return fmt.Errorf("deployment %s is %s (%s)%s", id, d.Status, d.StatusDescription, f.failures(id))
		}
		return nil
	}, "deployment %s %s", id, s)
	return d
}

func options(maxPar uint32) *pb.DeployOptions {
	return &pb.DeployOptions{MaxParallel: maxPar, MinHealthyTimeMs: 50, HealthyDeadlineMs: 5000, ProgressDeadlineMs: 20000}
}

func request(version string, o *pb.DeployOptions) *pb.DeployRequest {
	return &pb.DeployRequest{Module: "counter@" + version, Options: o, HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true}
}

// sender casts "inc 1" to every pid, a round every millisecond (a steady
// load, not a flood that would fill the mailboxes past the health
// thresholds), from the pid's own node, counting what was accepted, until
// stopped.
type sender struct {
	mu   sync.Mutex
	sent map[actor.PID]int
	stop chan struct{}
	done chan struct{}
}

func (f *fixture) send(pids map[string][]actor.PID) *sender {
	s := &sender{sent: map[actor.PID]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			for n, ps := range pids {
				rt := f.c.Stack(n).Runtime
				for _, p := range ps {
					select {
					case <-s.stop:
						return
					default:
					}
					if rt.Cast(p, actor.Message{Body: []byte("inc 1")}) == nil {
						s.mu.Lock()
						s.sent[p]++
						s.mu.Unlock()
					}
				}
			}
		}
	}()
	return s
}

func (s *sender) halt() map[actor.PID]int {
	close(s.stop)
	<-s.done
	return s.sent
}

func (f *fixture) call(n string, p actor.PID, body string) string {
	f.t.Helper()
	out, err := f.c.Stack(n).Runtime.Call(f.ctx, p, actor.Message{Body: []byte(body)})
	if err != nil {
		f.t.Fatalf("call %s %q: %v", p, body, err)
	}
	return string(out)
}

func (f *fixture) version(n string, p actor.PID) string {
	f.t.Helper()
	info, err := f.c.Stack(n).Runtime.Process(p)
	if err != nil {
		f.t.Fatalf("%s: %v", p, err)
	}
	return info.Version
}

// failures lists what the deployment's failed steps reported.
func (f *fixture) failures(id string) string {
	rec, _, _ := f.c.Live()[0].State().Plan(nil, id)
	if rec == nil {
		return ""
	}
	var out []string
	for _, st := range rec.Stages {
		for _, step := range st.Steps {
			if step.Error != "" {
				out = append(out, st.Key+"@"+step.Node+": "+step.Error)
			}
			for _, c := range append(append([]*pb.CheckOutcome{}, step.PreChecks...), step.PostChecks...) {
				if !c.Ok {
					out = append(out, fmt.Sprintf("%s@%s: %s: %s", st.Key, step.Node, c.Kind, strings.Join(c.Failures, "; ")))
				}
			}
			for _, o := range step.Operations {
				if !o.Ok {
					out = append(out, fmt.Sprintf("%s@%s: %s: %s", st.Key, step.Node, o.Op, o.Error))
				}
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "\n  " + strings.Join(out, "\n  ")
}
