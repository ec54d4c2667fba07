package checkpoint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The fixture of hotcode/deploy's tests, with the checkpoint layer.

func module(t *testing.T, version string) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join("..", "..", "examples", "modules", "counter-v"+version+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type fixture struct {
	t   *testing.T
	c   *testkit.Cluster
	ctx context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		coord := coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Modules: &mods, Deployments: true, Checkpoints: true}
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

func (f *fixture) push(version string) {
	f.t.Helper()
	bin := module(f.t, version)
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
			pids := f.workers(n)
			if len(pids) != k {
				return fmt.Errorf("%s runs %d counters, want %d", n, len(pids), k)
			}
			out[n] = pids
			return nil
		}, "the counters run on %s", n)
	}
	return out
}

// workers are the running counters on node n, by child id.
func (f *fixture) workers(n string) []actor.PID {
	var infos []actor.ProcessInfo
	for _, p := range f.c.Stack(n).Runtime.Processes() {
		if strings.HasPrefix(p.Behavior, "wasm:counter@") && p.Status == actor.StatusRunning {
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

func (f *fixture) await(id string, s pb.DeploymentStatus, within time.Duration) {
	f.t.Helper()
	f.c.Eventually(within, func() error {
		d, err := f.c.Live()[0].State().Deployment(nil, id)
		if err != nil || d == nil {
			return fmt.Errorf("deployment %s: %v", id, err)
		}
		if got := state.DeploymentStatusOf(d); got != s {
			if state.DeploymentDone(d) {
				f.t.Fatalf("deployment %s ended %s (%s), want %s", id, d.Status, d.StatusDescription, s)
			}
			return fmt.Errorf("deployment %s is %s", id, d.Status)
		}
		return nil
	}, "deployment %s %s", id, s)
}

func options() *pb.DeployOptions {
	return &pb.DeployOptions{MaxParallel: 4, MinHealthyTimeMs: 50, HealthyDeadlineMs: 5000, ProgressDeadlineMs: 20000}
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
