// Package deploytest is the fixture of the hot-code layers' cluster tests
// (hotcode/deploy, hotcode/checkpoint): three in-process nodes with every
// layer, the counter modules pushed, trees of counters, deployments
// submitted, steered and awaited.
package deploytest

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
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Module reads a module binary.
func Module(t testing.TB, path ...string) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// V1 and V2 are the WAT counters; V3Trap traps in code_change on a count
// of 13 (testdata of hotcode/deploy). Paths are from a package two levels
// below the repository.
func V1(t testing.TB) []byte { return Module(t, "..", "..", "examples", "modules", "counter-v1.wasm") }
func V2(t testing.TB) []byte { return Module(t, "..", "..", "examples", "modules", "counter-v2.wasm") }
func V3Trap(t testing.TB) []byte {
	return Module(t, "..", "..", "hotcode", "deploy", "testdata", "counter-v3-trap.wasm")
}

// Fixture is a running 3-node cluster and the test's context.
type Fixture struct {
	T   testing.TB
	C   *testkit.Cluster
	Ctx context.Context
}

// New starts 3 nodes with every layer deployments need; hook, when
// set, is every node's coordination BeforeOperations.
func New(t testing.TB, hook func(ctx context.Context, planID, stage string)) *Fixture {
	t.Helper()
	return NewWith(t, hook)
}

// NewWith is New with more cluster options (testkit.WithPartitions).
func NewWith(t testing.TB, hook func(ctx context.Context, planID, stage string), opts ...testkit.Option) *Fixture {
	t.Helper()
	c := testkit.NewCluster(t, 3, append([]testkit.Option{testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		coord := coordination.DefaultConfig()
		coord.BeforeOperations = hook
		snap := snapshot.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Snapshot: &snap, Modules: &mods, Deployments: true, Checkpoints: true}
	})}, opts...)...)
	c.WaitForLeader()
	return &Fixture{T: t, C: c, Ctx: testkit.Ctx(t, 150*time.Second)}
}

// Transient reports whether an error says nothing was decided: no leader
// yet, or leadership lost mid-commit.
func Transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted:
		return true
	}
	return false
}

// Retry runs f again while it fails with a transient error.
func (f *Fixture) Retry(fn func() error) error {
	var last error
	err := poll.Until(f.Ctx, clock.System(), poll.Doubling(10*time.Millisecond, 320*time.Millisecond), func() (bool, error) {
		last = fn()
		return !Transient(last), nil
	})
	if last == nil {
		return err
	}
	return last
}

// Push stores bin (idempotent, so sent again after a transient failure)
// and waits until every node has loaded it.
func (f *Fixture) Push(version string, bin []byte) {
	f.T.Helper()
	f.PushModule("counter", version, bin)
}

// PushModule is Push of another module than counter.
func (f *Fixture) PushModule(name, version string, bin []byte) {
	f.T.Helper()
	err := f.Retry(func() error {
		up, err := pb.NewModulesClient(f.C.Conn(0)).Push(f.Ctx)
		if err != nil {
			return err
		}
		if err := up.Send(&pb.ModulePushChunk{Name: name, Safety: "moderate", PushedBy: "test", Data: bin}); err != nil {
			return err
		}
		_, err = up.CloseAndRecv()
		return err
	})
	if err != nil {
		f.T.Fatalf("push %s@%s: %v", name, version, err)
	}
	for _, n := range f.C.Live() {
		f.C.Eventually(20*time.Second, func() error {
			if !f.C.Stack(n.Name()).Modules.Loaded(name, version) {
				return fmt.Errorf("%s has not loaded %s@%s", n.Name(), name, version)
			}
			return nil
		}, "%s@%s loaded", name, version)
	}
}

// Trees runs, on each named node, a tree of k children following the
// module's active version, and returns their pids by node.
func (f *Fixture) Trees(k int, nodes ...string) map[string][]actor.PID {
	f.T.Helper()
	sup := pb.NewSupervisionClient(f.C.Conn(0))
	for _, n := range nodes {
		var b strings.Builder
		fmt.Fprintf(&b, "tree %q {\n  node = %q\n  max_restarts = 10\n", "w-"+n, n)
		for i := range k {
			fmt.Fprintf(&b, "  child \"c%d\" { module = \"counter\" }\n", i)
		}
		b.WriteString("}\n")
		if err := f.Retry(func() error {
			_, err := sup.ApplyTree(f.Ctx, &pb.ApplyTreeRequest{Spec: []byte(b.String()), Filename: "spec.hcl"})
			return err
		}); err != nil {
			f.T.Fatalf("apply tree on %s: %v", n, err)
		}
	}
	out := map[string][]actor.PID{}
	for _, n := range nodes {
		f.C.Eventually(20*time.Second, func() error {
			pids := f.Workers(n, "")
			if len(pids) != k {
				return fmt.Errorf("%s runs %d counters, want %d", n, len(pids), k)
			}
			out[n] = pids
			return nil
		}, "the counters run on %s", n)
	}
	return out
}

// Workers are the processes on node n running behavior (every counter
// when empty), by child id.
func (f *Fixture) Workers(n, behavior string) []actor.PID {
	var infos []actor.ProcessInfo
	for _, p := range f.C.Stack(n).Runtime.Processes() {
		if p.Status == actor.StatusRunning && (behavior == "" && strings.HasPrefix(p.Behavior, "wasm:counter@") || p.Behavior == behavior) {
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

// Deploy submits a deployment through a node that may be a follower.
func (f *Fixture) Deploy(req *pb.DeployRequest) *pb.DeploymentView {
	f.T.Helper()
	var v *pb.DeploymentView
	err := f.Retry(func() error {
		var err error
		v, err = pb.NewDeploymentsClient(f.C.Conn(1)).Submit(f.Ctx, req)
		return err
	})
	if err != nil {
		f.T.Fatalf("deploy %s: %v", req.Module, err)
	}
	return v
}

// Control steers a deployment through a live node.
func (f *Fixture) Control(id string, a pb.DeployAction) error {
	return f.Retry(func() error {
		live := f.C.Index(f.C.Live()[len(f.C.Live())-1].Name())
		_, err := pb.NewDeploymentsClient(f.C.Conn(live)).Control(f.Ctx, &pb.DeployControlRequest{Id: id, Action: a})
		return err
	})
}

// Await waits until the deployment has status s, on a live node's replica.
func (f *Fixture) Await(id string, s pb.DeploymentStatus, within time.Duration) *pb.DeploymentRecord {
	f.T.Helper()
	var d *pb.DeploymentRecord
	f.C.Eventually(within, func() error {
		var err error
		d, err = f.C.Live()[0].State().Deployment(nil, id)
		if err != nil || d == nil {
			return fmt.Errorf("deployment %s: %v", id, err)
		}
		if got := state.DeploymentStatusOf(d); got != s {
			// A successful deployment may still be reverted: only the
			// other ends are final.
			if state.DeploymentDone(d) && got != pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL {
				f.T.Fatalf("deployment %s ended %s (%s), want %s%s", id, d.Status, d.StatusDescription, s, f.Failures(id))
			}
			return fmt.Errorf("deployment %s is %s (%s)%s", id, d.Status, d.StatusDescription, f.Failures(id))
		}
		return nil
	}, "deployment %s %s", id, s)
	return d
}

// Options are quick deployment options: max_parallel maxPar, a 50 ms
// min_healthy_time, deadlines of 5 s and 20 s.
func Options(maxPar uint32) *pb.DeployOptions {
	return &pb.DeployOptions{MaxParallel: maxPar, MinHealthyTimeMs: 50, HealthyDeadlineMs: 5000, ProgressDeadlineMs: 20000}
}

// Request deploys counter@version with o, every option given.
func Request(version string, o *pb.DeployOptions) *pb.DeployRequest {
	return &pb.DeployRequest{Module: "counter@" + version, Options: o, HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true}
}

// Call calls process p on node n.
func (f *Fixture) Call(n string, p actor.PID, body string) string {
	f.T.Helper()
	out, err := f.C.Stack(n).Runtime.Call(f.Ctx, p, actor.Message{Body: []byte(body)})
	if err != nil {
		f.T.Fatalf("call %s %q: %v", p, body, err)
	}
	return string(out)
}

// Version is the module version process p on node n runs.
func (f *Fixture) Version(n string, p actor.PID) string {
	f.T.Helper()
	info, err := f.C.Stack(n).Runtime.Process(p)
	if err != nil {
		f.T.Fatalf("%s: %v", p, err)
	}
	return info.Version
}

// Failures lists what the deployment's failed steps reported.
func (f *Fixture) Failures(id string) string {
	rec, _, _ := f.C.Live()[0].State().Plan(nil, id)
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
