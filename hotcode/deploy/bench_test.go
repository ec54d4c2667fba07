package deploy_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/deploy/deploytest"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

// Issue 16's deployment benchmark (docs/PERFORMANCE.md, "Hot-code
// deployment"; scripts/bench-hotdeploy.sh runs it beside OTP's own
// upgrade): 1,000 WAT counters over the 3 nodes of an in-process cluster
// (334/333/333, two trees per node, module = "counter"), moved v1 -> v2 by
// one moderate deployment (max_parallel 1000: each node's share is one
// batch; min_healthy_time 10ms) while a sender casts "inc 1" to every
// process every benchSendEvery. Measured:
//   - e2e: Submit -> the client's Watch sees SUCCESSFUL;
//   - each process's pause, the Duration of its code_changed event (the
//     time its goroutine spent in the change between two messages):
//     p50, p99, max;
//   - messages lost: the casts accepted minus the final counts (must be 0).
//
// Baselines in the same run and cluster:
//   - restart: the same upgrade by a tree spec change (module = "counter@2"
//     pinned): every process restarted, its state lost; from the first
//     ApplyTree to all 1,000 running v2 (no sender: the pids change);
//   - local: the same 1,000 processes swapped in place without Raft or a
//     plan, each node's share suspended, changed by GOMAXPROCS workers
//     (Runtime.ChangeCode) and resumed, the three nodes at once, under the
//     same sender (v2 -> v1 untimed, then v1 -> v2 timed).
//
// STEWARD_BENCH_CPUPROFILE=file writes a CPU profile of the deployment
// alone (submit to successful). Run it alone, once: go test -run '^$' -bench BenchmarkDeploy1000
// -benchtime 1x ./hotcode/deploy. Each iteration starts its own cluster
// (kept until the benchmark ends) and its ns/op is the whole scenario;
// the figures are the reported metrics.
func BenchmarkDeploy1000(b *testing.B) {
	const n = 1000
	if os.Getenv("STEWARD_TEST_LOG") == "" {
		// testkit logs at debug into b.Log by default: that costs CPU the
		// measurement would carry.
		b.Setenv("STEWARD_TEST_LOG", "warn")
	}
	var e2e, restart, local, first, last []time.Duration
	var pauses []time.Duration
	var lost, sentTotal int
	var timelines []string
	var rate []float64
	for range b.N {
		r := deployOnce(b, n)
		e2e, restart, local = append(e2e, r.e2e), append(restart, r.restart), append(local, r.local)
		first, last = append(first, r.firstChange), append(last, r.lastChange)
		pauses = append(pauses, r.pauses...)
		lost += r.lost
		sentTotal += r.sent
		rate = append(rate, r.rate)
		timelines = append(timelines, r.timeline)
	}
	med := func(d []time.Duration) time.Duration { return quantile(d, 0.5) }
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(med(e2e)), "e2e-ms")
	b.ReportMetric(ms(quantile(pauses, 0.5)), "pause-p50-ms")
	b.ReportMetric(ms(quantile(pauses, 0.99)), "pause-p99-ms")
	b.ReportMetric(ms(quantile(pauses, 1)), "pause-max-ms")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(ms(med(restart)), "restart-ms")
	b.ReportMetric(ms(med(local)), "local-ms")
	b.ReportMetric(float64(med(e2e))/float64(med(restart)), "e2e/restart")
	b.ReportMetric(float64(med(e2e))/float64(med(local)), "e2e/local")
	// On stdout: a benchmark's log shows only its first lines.
	fmt.Printf("BenchmarkDeploy1000: %d processes, %d iteration(s): e2e %v (submit -> first code change %v, -> last %v), pause p50 %v p99 %v max %v over %d changes; "+
		"%d casts sent (%.0f/s), %d lost; restart baseline %v, local swap baseline %v; GOMAXPROCS %d",
		n, b.N, med(e2e), med(first), med(last), quantile(pauses, 0.5), quantile(pauses, 0.99), quantile(pauses, 1), len(pauses),
		sentTotal, slices.Max(rate), lost, med(restart), med(local), runtime.GOMAXPROCS(0))
	fmt.Println()
	for i, tl := range timelines {
		fmt.Printf("BenchmarkDeploy1000: iteration %d: %s\n", i+1, tl)
	}
	if lost != 0 {
		b.Fatalf("%d messages lost", lost)
	}
}

// benchSendEvery spaces the sender's rounds (one cast to each of the 1,000
// processes per round): a steady load, far from the health gate's queue
// threshold. STEWARD_BENCH_SEND_EVERY overrides it.
const benchSendEvery = 10 * time.Millisecond

type deployResult struct {
	e2e, restart, local     time.Duration
	firstChange, lastChange time.Duration // from the submit
	pauses                  []time.Duration
	sent, lost              int
	rate                    float64 // casts accepted per second during the deployment
	timeline                string  // where the e2e time went
}

// timeline says when, from the submit, the deployment's plan was proposed
// (DEPLOY_CREATE), its stage started, each node's step start and report
// were proposed, the first and
// last process changed, the plan finished and the client saw it
// successful (every time is this process's clock: the nodes share it).
func (f *fixture) timeline(id string, t0 time.Time, r deployResult) string {
	rec, spec, err := f.C.Node(0).State().Plan(nil, id)
	if err != nil || rec == nil || spec == nil || len(rec.Stages) == 0 {
		return fmt.Sprintf("no plan record (%v)", err)
	}
	at := func(ns int64) string { return time.Unix(0, ns).Sub(t0).Round(time.Millisecond).String() }
	st := rec.Stages[0]
	var b strings.Builder
	fmt.Fprintf(&b, "plan (result %d KiB, spec %d KiB) proposed %s, stage started %s", len(spec.ResultJson)>>10, proto.Size(spec)>>10, at(rec.CreatedAtUnixNano), at(st.StartedAtUnixNano))
	for _, step := range st.Steps {
		slowest := int64(0)
		for _, o := range step.Operations {
			slowest = max(slowest, o.DurationUs)
		}
		fmt.Fprintf(&b, ", %s step %s..%s (%d ops, slowest %dµs)", step.Node, at(step.StartedAtUnixNano), at(step.FinishedAtUnixNano), len(step.Operations), slowest)
	}
	fmt.Fprintf(&b, ", first change %s, last change %s, stage finished %s, plan finished %s, client saw successful %s",
		r.firstChange.Round(time.Millisecond), r.lastChange.Round(time.Millisecond), at(st.FinishedAtUnixNano), at(rec.FinishedAtUnixNano), r.e2e.Round(time.Millisecond))
	return b.String()
}

func deployOnce(b *testing.B, n int) deployResult {
	f := newFixture(b, nil)
	f.Push("1", v1(b))
	f.Push("2", v2(b))
	nodes := []string{f.C.Node(0).Name(), f.C.Node(1).Name(), f.C.Node(2).Name()}
	share := map[string]int{}
	for i, nd := range nodes {
		share[nd] = n / len(nodes)
		if i < n%len(nodes) {
			share[nd]++
		}
	}
	var r deployResult

	// Baseline: the upgrade by restarts. The trees start following the
	// active version (1), are pinned to 2 (timed), then follow again (back
	// on 1, fresh processes, for the deployment).
	f.applyTrees(nodes, share, "counter")
	f.running(nodes, share, "wasm:counter@1")
	r.restart = f.applyTrees(nodes, share, "counter@2")
	f.applyTrees(nodes, share, "counter")
	pids := f.running(nodes, share, "wasm:counter@1")

	// The deployment under the sender.
	subs := map[string]*actor.Subscription{}
	for _, nd := range nodes {
		subs[nd] = f.C.Stack(nd).Runtime.Subscribe(4 * n)
	}
	every := benchSendEvery
	if e := os.Getenv("STEWARD_BENCH_SEND_EVERY"); e != "" {
		d, err := time.ParseDuration(e)
		if err != nil || d <= 0 {
			b.Fatalf("STEWARD_BENCH_SEND_EVERY=%q: want a positive duration", e)
		}
		every = d
	}
	s := f.sendEvery(pids, every)
	dc := pb.NewDeploymentsClient(f.C.Conn(1))
	o := &pb.DeployOptions{MaxParallel: uint32(n), MinHealthyTimeMs: 10, HealthyDeadlineMs: 10000, ProgressDeadlineMs: 30000}
	sentBefore := s.total()
	if path := os.Getenv("STEWARD_BENCH_CPUPROFILE"); path != "" {
		// The deployment alone, submit to successful (-cpuprofile would
		// take in the cluster's start and the baselines).
		out, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); out.Close() }()
	}
	t0 := time.Now()
	var v *pb.DeploymentView
	if err := f.Retry(func() error {
		var err error
		v, err = dc.Submit(f.Ctx, request("2", o))
		return err
	}); err != nil {
		b.Fatalf("deploy: %v", err)
	}
	if v.Deployment.Targets != uint32(n) || len(v.Batches) != 1 {
		b.Fatalf("deployment of %d targets in %d batches, want %d in 1", v.Deployment.Targets, len(v.Batches), n)
	}
	f.watchUntilDone(dc, v.Deployment.Id)
	r.e2e = time.Since(t0)
	pprof.StopCPUProfile()
	r.rate = float64(s.total()-sentBefore) / r.e2e.Seconds()
	changed := map[actor.PID]int{}
	var at []time.Time
	for _, nd := range nodes {
		for drained := false; !drained; {
			select {
			case ev := <-subs[nd].C:
				if ev.Type == actor.EventCodeChanged {
					changed[ev.PID]++
					r.pauses = append(r.pauses, ev.Duration)
					at = append(at, ev.Time)
				}
			default:
				drained = true
			}
		}
		if d := subs[nd].Dropped(); d > 0 {
			b.Fatalf("%s: %d events dropped", nd, d)
		}
		subs[nd].Close()
	}
	if len(changed) != n || len(r.pauses) != n {
		b.Fatalf("%d code changes on %d processes, want each of %d once", len(r.pauses), len(changed), n)
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	r.firstChange, r.lastChange = at[0].Sub(t0), at[len(at)-1].Sub(t0)
	r.timeline = f.timeline(v.Deployment.Id, t0, r)

	// Baseline: the local swap of the same processes, under the same
	// sender: back to v1 (untimed), then v1 -> v2. Convergence is held
	// meanwhile: v1 is not the active version, and the nodes would move
	// the processes back.
	for _, nd := range nodes {
		defer f.C.Stack(nd).Deploy.HoldConvergence()()
	}
	f.localSwap(pids, "wasm:counter@1")
	r.local = f.localSwap(pids, "wasm:counter@2")

	sent := s.halt()
	for nd, ps := range pids {
		for _, p := range ps {
			got, err := strconv.Atoi(f.Call(nd, p, "get"))
			if err != nil {
				b.Fatal(err)
			}
			r.sent += sent[p]
			if d := sent[p] - got; d != 0 {
				if d < 0 {
					b.Fatalf("%s counted %d, %d casts were sent", p, got, sent[p])
				}
				r.lost += d
			}
		}
		if got := len(f.Workers(nd, "wasm:counter@2")); got != share[nd] {
			b.Fatalf("%s: %d counters on v2, want %d", nd, got, share[nd])
		}
	}
	return r
}

// benchTreeChildren: children per tree (a supervisor has at most 256).
const benchTreeChildren = 200

// applyTrees applies, through the cluster, trees on each node holding
// that node's share of children running ref (benchTreeChildren a tree), and returns the time from the
// first apply until every node has updated (or started) its tree and all
// its children run the module's version (ref's, or the active one).
func (f *fixture) applyTrees(nodes []string, share map[string]int, ref string) time.Duration {
	f.T.Helper()
	subs := map[string]*actor.Subscription{}
	for _, nd := range nodes {
		subs[nd] = f.C.Stack(nd).Runtime.Subscribe(1024)
		defer subs[nd].Close()
	}
	sup := pb.NewSupervisionClient(f.C.Conn(0))
	pending := map[string]map[string]bool{} // node -> its trees not yet applied
	t0 := time.Now()
	for _, nd := range nodes {
		pending[nd] = map[string]bool{}
		for j, c := 0, 0; c < share[nd]; j++ {
			k := min(benchTreeChildren, share[nd]-c)
			name := fmt.Sprintf("w-%s-%d", nd, j)
			pending[nd][name] = true
			var sb strings.Builder
			fmt.Fprintf(&sb, "tree %q {\n  node = %q\n  max_restarts = 10\n", name, nd)
			for i := range k {
				fmt.Fprintf(&sb, "  child \"c%d\" { module = %q }\n", c+i, ref)
			}
			sb.WriteString("}\n")
			c += k
			if err := f.Retry(func() error {
				_, err := sup.ApplyTree(f.Ctx, &pb.ApplyTreeRequest{Spec: []byte(sb.String()), Filename: "spec.hcl"})
				return err
			}); err != nil {
				f.T.Fatalf("apply tree %s: %v", name, err)
			}
		}
	}
	version := ""
	if _, v, ok := strings.Cut(ref, "@"); ok {
		version = "wasm:counter@" + v
	} else if a, err := f.C.Node(0).State().ModuleActive("counter"); err == nil && a != nil {
		version = "wasm:counter@" + a.Version
	}
	// The tree's event says the supervisor applied it (children restarted
	// in place); the processes then say which version they run.
	for _, nd := range nodes {
		for len(pending[nd]) > 0 {
			select {
			case ev := <-subs[nd].C:
				if ev.Type == actor.EventTreeUpdated || ev.Type == actor.EventTreeStarted {
					delete(pending[nd], ev.Tree)
				}
			case <-f.Ctx.Done():
				f.T.Fatalf("%s: trees %v not applied: %v", nd, pending[nd], f.Ctx.Err())
			}
		}
	}
	for _, nd := range nodes {
		if err := poll.Until(f.Ctx, clock.System(), poll.Doubling(time.Millisecond, 20*time.Millisecond), func() (bool, error) {
			return len(f.Workers(nd, version)) == share[nd], nil
		}); err != nil {
			f.T.Fatalf("%s: %d of %d counters run %s: %v", nd, len(f.Workers(nd, version)), share[nd], version, err)
		}
	}
	return time.Since(t0)
}

// running waits until each node runs its share on behavior and returns
// their pids.
func (f *fixture) running(nodes []string, share map[string]int, behavior string) map[string][]actor.PID {
	f.T.Helper()
	out := map[string][]actor.PID{}
	for _, nd := range nodes {
		f.C.Eventually(60*time.Second, func() error {
			if out[nd] = f.Workers(nd, behavior); len(out[nd]) != share[nd] {
				return fmt.Errorf("%s runs %d counters on %s, want %d", nd, len(out[nd]), behavior, share[nd])
			}
			return nil
		}, "the counters run on %s", nd)
	}
	return out
}

// watchUntilDone follows the deployment through the Watch stream until it
// is successful (the client's view), failing on any other end.
func (f *fixture) watchUntilDone(dc pb.DeploymentsClient, id string) {
	f.T.Helper()
	for {
		w, err := dc.Watch(f.Ctx, &pb.GetDeploymentRequest{Id: id})
		if err != nil {
			if deploytest.Transient(err) {
				continue
			}
			f.T.Fatalf("watch %s: %v", id, err)
		}
		for {
			v, err := w.Recv()
			if err != nil {
				break // the stream ended before the deployment: watch again
			}
			if state.DeploymentDone(v.Deployment) {
				if s := state.DeploymentStatusOf(v.Deployment); s != pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL {
					f.T.Fatalf("deployment %s ended %s (%s)%s", id, s, v.Deployment.StatusDescription, f.Failures(id))
				}
				return
			}
		}
		if f.Ctx.Err() != nil {
			f.T.Fatalf("watch %s: %v", id, f.Ctx.Err())
		}
	}
}

// localSwap moves the processes onto behavior in place, on the three
// nodes at once, as hotcode's BenchmarkCodeChange does on one: suspend
// each node's share, change it from GOMAXPROCS workers, resume.
func (f *fixture) localSwap(pids map[string][]actor.PID, behavior string) time.Duration {
	f.T.Helper()
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, len(pids)*workers)
	t0 := time.Now()
	var wg sync.WaitGroup
	for nd, ps := range pids {
		rt := f.C.Stack(nd).Runtime
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range ps {
				if err := rt.Suspend(p); err != nil {
					errs <- err
					return
				}
			}
			var inner sync.WaitGroup
			for w := range workers {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for i := w; i < len(ps); i += workers {
						if _, err := rt.ChangeCode(context.Background(), ps[i], behavior); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			inner.Wait()
			for _, p := range ps {
				if err := rt.Resume(p); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		f.T.Fatalf("local swap to %s: %v", behavior, err)
	}
	return d
}

// benchSender casts "inc 1" to every pid each round, from the pid's own
// node, counting the casts accepted.
type benchSender struct {
	mu   sync.Mutex
	sent map[actor.PID]int
	n    int
	stop chan struct{}
	done chan struct{}
}

func (f *fixture) sendEvery(pids map[string][]actor.PID, every time.Duration) *benchSender {
	s := &benchSender{sent: map[actor.PID]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			for nd, ps := range pids {
				rt := f.C.Stack(nd).Runtime
				for _, p := range ps {
					if rt.Cast(p, actor.Message{Body: []byte("inc 1")}) == nil {
						s.mu.Lock()
						s.sent[p]++
						s.n++
						s.mu.Unlock()
					}
				}
			}
		}
	}()
	return s
}

func (s *benchSender) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *benchSender) halt() map[actor.PID]int {
	close(s.stop)
	<-s.done
	return s.sent
}

// quantile is the q-quantile of d (nearest rank), 0 when d is empty.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
