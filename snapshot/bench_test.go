package snapshot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/health"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// workerTrees returns specs that run about perNode counter processes on
// node: trees of at most 4000 workers, in supervisors of at most 250.
func workerTrees(nodeName string, perNode int) []string {
	var specs []string
	for t := 0; perNode > 0; t++ {
		inTree := min(perNode, 4000)
		perNode -= inTree
		var subs []string
		for s := 0; inTree > 0; s++ {
			n := min(inTree, 250)
			inTree -= n
			var kids []string
			for i := 0; i < n; i++ {
				kids = append(kids, fmt.Sprintf(`{"id":"w%d","behavior":"counter"}`, i))
			}
			subs = append(subs, fmt.Sprintf(`{"id":"s%d","type":"supervisor","children":[%s]}`, s, strings.Join(kids, ",")))
		}
		specs = append(specs, fmt.Sprintf(`{"name":"%s-t%d","node":%q,"children":[%s]}`, nodeName, t, nodeName, strings.Join(subs, ",")))
	}
	return specs
}

func waitFor(ctx context.Context, n *node.Node, done func(st *state.Store) (bool, error)) error {
	for {
		st := n.State()
		ws := memdb.NewWatchSet()
		_, _, _ = st.Snapshots(ws)
		_, _, _ = st.Plans(ws)
		ok, err := done(st)
		if err != nil || ok {
			return err
		}
		ws.Add(st.AbandonCh())
		if err := ws.WatchCtx(ctx); err != nil {
			return err
		}
	}
}

// BenchmarkSnapshot measures, on three nodes running 100, 1,000 and 10,000
// processes each, the time to capture a snapshot with every state, and the
// time to restore it after every tree was deleted (specs committed back,
// trees started, each state imported by a permissive restore plan), with
// the stored size per process.
func BenchmarkSnapshot(b *testing.B) {
	for _, perNode := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("procs-per-node=%d", perNode), func(b *testing.B) {
			c := testkit.NewCluster(b, 3, testkit.WithStack(func(string) stack.Config {
				ccfg := coordination.DefaultConfig()
				cfg := snapshot.DefaultConfig()
				cfg.RestoreTimeout = 5 * time.Minute
				hcfg := health.DefaultConfig()
				return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg, Snapshot: &cfg, Health: &hcfg}
			}))
			supc := pb.NewSupervisionClient(c.Conn(0))
			snaps := pb.NewSnapshotsClient(c.Conn(0))
			var names []string
			for n := 1; n <= 3; n++ {
				for _, sp := range workerTrees(fmt.Sprintf("n%d", n), perNode) {
					resp, err := supc.ApplyTree(testkit.Ctx(b, time.Minute), &pb.ApplyTreeRequest{Spec: []byte(sp)})
					if err != nil {
						b.Fatal(err)
					}
					names = append(names, resp.Tree.Name)
				}
			}
			testkit.Eventually(b, 5*time.Minute, func() error {
				resp, err := supc.ListTrees(testkit.Ctx(b, time.Minute), &pb.ListTreesRequest{Live: true})
				if err != nil {
					return err
				}
				for _, t := range resp.Trees {
					if t.Status != "running" || t.AppliedIndex != t.ModifyIndex {
						return fmt.Errorf("%s %s", t.Name, t.Status)
					}
				}
				return nil
			}, "trees running")
			leader := c.Leader()
			var capture, restore, restoreRPC, localCapture, localRestore, restoreCPU time.Duration
			plans := 0
			var stored, procs uint64
			for i := 0; i < b.N; i++ {
				start := time.Now()
				cr, err := snaps.Capture(testkit.Ctx(b, time.Minute), &pb.CaptureRequest{Options: &pb.SnapshotOptions{IncludeState: true}})
				if err != nil {
					b.Fatal(err)
				}
				var rec *pb.SnapshotRecord
				err = waitFor(testkit.Ctx(b, 5*time.Minute), leader, func(st *state.Store) (bool, error) {
					r, err := st.SnapshotRecord(nil, cr.Id)
					rec = r
					return r != nil && r.Status != state.SnapshotCapturing, err
				})
				if err != nil || rec.Status != state.SnapshotComplete {
					b.Fatalf("capture: %v %+v", err, rec)
				}
				capture += time.Since(start)

				// Baseline, same run: each node's runtime captured and
				// encoded in place, without Raft (the nodes capture in
				// parallel, so the slowest counts).
				var slowest time.Duration
				for _, name := range []string{"n1", "n2", "n3"} {
					l := c.Stack(name).Supervision
					t0 := time.Now()
					part, err := snapshot.CaptureLocal(testkit.Ctx(b, time.Minute), l.Runtime(), snapshot.Options{State: true}, l.AppliedIndex)
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := snapshot.EncodePart(part); err != nil {
						b.Fatal(err)
					}
					slowest = max(slowest, time.Since(t0))
				}
				localCapture += slowest
				stored, procs = 0, 0
				for _, p := range rec.Parts {
					stored += p.StoredBytes
					procs += uint64(p.Processes)
				}

				b.StopTimer()
				for _, name := range names {
					if _, err := supc.DeleteTree(testkit.Ctx(b, time.Minute), &pb.DeleteTreeRequest{Name: name}); err != nil {
						b.Fatal(err)
					}
				}
				testkit.Eventually(b, 5*time.Minute, func() error {
					for _, n := range c.Live() {
						resp, err := pb.NewRuntimeClient(c.Conn(c.Index(n.Name()))).Stats(testkit.Ctx(b, time.Minute), &pb.StatsRequest{})
						if err != nil || resp.Trees != 0 {
							return fmt.Errorf("%s still runs %d trees", n.Name(), resp.GetTrees())
						}
					}
					return nil
				}, "trees deleted")
				b.StartTimer()

				start = time.Now()
				cpu0 := processCPU(b)
				stopProfile := profileRestore(b, i)
				rr, err := snaps.Restore(testkit.Ctx(b, 10*time.Minute), &pb.RestoreRequest{Id: cr.Id, SafetyLevel: "permissive"})
				if err != nil {
					b.Fatal(err)
				}
				restoreRPC += time.Since(start)
				plans += len(rr.PlanIds)
				err = waitFor(testkit.Ctx(b, 10*time.Minute), leader, func(st *state.Store) (bool, error) {
					for _, id := range rr.PlanIds {
						r, _, err := st.Plan(nil, id)
						if err != nil || r == nil || !state.PlanFinished(r.Status) {
							return false, err
						}
						if r.Status != state.PlanSucceeded {
							return false, fmt.Errorf("restore plan %s: %s", id, r.Reason)
						}
					}
					return true, nil
				})
				if err != nil {
					var rep snapshot.RestoreReport
					_ = json.Unmarshal(rr.ReportJson, &rep)
					b.Fatalf("restore: %v (%d not restored)", err, len(rep.NotRestored))
				}
				restore += time.Since(start)
				restoreCPU += processCPU(b) - cpu0
				stopProfile()
				b.StopTimer()
				var rep snapshot.RestoreReport
				if err := json.Unmarshal(rr.ReportJson, &rep); err != nil {
					b.Fatal(err)
				}
				if len(rep.NotRestored) != 0 {
					b.Fatalf("restore: not restored: %+v", rep.NotRestored)
				}
				// Validation clean: every runtime consistent and running
				// its desired state.
				vr, err := pb.NewHealthClient(c.Conn(0)).Validate(testkit.Ctx(b, 5*time.Minute), &pb.ValidateRequest{})
				if err != nil {
					b.Fatal(err)
				}
				if !vr.Consistent || len(vr.Violations) != 0 {
					b.Fatalf("validate after the restore: %d violations: %+v", len(vr.Violations), vr.Violations[:min(len(vr.Violations), 10)])
				}

				// Baseline, same run: every state written back in place
				// into each runtime, without Raft or a plan.
				parts := map[string]*snapshot.Part{}
				resp, err := snaps.Get(testkit.Ctx(b, time.Minute), &pb.GetSnapshotRequest{Id: cr.Id, WithParts: true})
				if err != nil {
					b.Fatal(err)
				}
				for n, data := range resp.Parts {
					if parts[n], err = snapshot.DecodePart(data); err != nil {
						b.Fatal(err)
					}
				}
				slowest = 0
				for _, name := range []string{"n1", "n2", "n3"} {
					l := c.Stack(name).Supervision
					part := parts[name]
					t0 := time.Now()
					for _, p := range part.Processes {
						if len(p.State) == 0 {
							continue
						}
						pid, err := l.Runtime().Resolve(actor.Target{Tree: p.Tree, Path: p.ChildID})
						if err != nil {
							b.Fatal(err)
						}
						if err := l.Runtime().ReplaceState(testkit.Ctx(b, time.Minute), pid, p.State); err != nil {
							b.Fatal(err)
						}
					}
					slowest = max(slowest, time.Since(t0))
				}
				localRestore += slowest
				if _, err := snaps.Delete(testkit.Ctx(b, time.Minute), &pb.DeleteSnapshotRequest{Id: cr.Id}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(capture.Milliseconds())/float64(b.N), "capture-ms")
			b.ReportMetric(float64(localCapture.Microseconds())/1000/float64(b.N), "local-capture-ms")
			b.ReportMetric(float64(restore.Milliseconds())/float64(b.N), "restore-ms")
			b.ReportMetric(float64(restoreRPC.Milliseconds())/float64(b.N), "restore-planned-ms")
			b.ReportMetric(float64(restoreCPU.Milliseconds())/float64(b.N), "restore-cpu-ms")
			b.ReportMetric(float64(plans)/float64(b.N), "restore-plans")
			b.ReportMetric(float64(localRestore.Microseconds())/1000/float64(b.N), "local-state-import-ms")
			b.ReportMetric(float64(stored)/float64(procs), "stored-bytes/proc")
		})
	}
}

// processCPU is the CPU time this process (the three nodes) has used, user
// and system: a restore's CPU beside its wall time says whether the two
// cores, not a wait, bound it.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// profileRestore writes a CPU profile of restore i alone to the file
// STEWARD_RESTORE_PROFILE names (with the restore's number), when it is
// set; it returns the function that stops it.
func profileRestore(b *testing.B, i int) func() {
	path := os.Getenv("STEWARD_RESTORE_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, i))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
