// Command stewardbench measures steward beside etcd on this machine in one
// run: write throughput and latency at several concurrencies (interleaved
// pairs), leader-kill failover, the physical floor (fsync, loopback RTT),
// and optionally steward's tuning knobs. It prints a table and writes a JSON
// report under bench/results/.
//
//	cd bench && go run ./cmd/stewardbench [flags]      (make bench does this)
package main

import (
	"context"

	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/floor"
	"github.com/steward/steward/bench/harness"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
	"go.etcd.io/bbolt"
)

type flags struct {
	stewardBin   string
	etcdBin      string
	workDir      string
	resultsDir   string
	label        string
	clients      string
	ops          string
	pairs        int
	valueSize    int
	keyspace     int
	conns        int
	warmup       int
	timeout      time.Duration
	endpoints    string
	failoverRuns int
	tune         bool
	tunePairs    int
	tuneOnly     string
	noFloor      bool
	floorBurst   bool
	floorOnly    bool
	keep         bool
	write        bool
	reads        bool
	readsOnly    bool
	readEnds     string
	steady       time.Duration
	steadyCli    int
	tuneSteady   time.Duration
	logStore     string
	failoverOnly bool
	tuneVars     string
}

func main() {
	var f flags
	flag.StringVar(&f.stewardBin, "steward-bin", "../bin/steward", "steward binary (make build)")
	flag.StringVar(&f.etcdBin, "etcd-bin", "etcd", "etcd binary")
	flag.StringVar(&f.workDir, "work-dir", ".work", "where the clusters' data dirs go (the disk under test); removed afterwards unless -keep")
	flag.StringVar(&f.resultsDir, "results", "results", "where the JSON report goes")
	flag.StringVar(&f.label, "label", "", "suffix of the result file name")
	flag.StringVar(&f.clients, "clients", "1,16,64,256", "concurrent clients, comma-separated")
	flag.StringVar(&f.ops, "ops", "4000,8000,16000,24000", "measured writes per run at each concurrency (one value, or one per -clients)")
	flag.IntVar(&f.pairs, "pairs", 5, "interleaved steward/etcd pairs per concurrency")
	flag.IntVar(&f.valueSize, "value-size", 256, "value size (bytes)")
	flag.IntVar(&f.keyspace, "keyspace", 10000, "distinct keys, written at random")
	flag.IntVar(&f.conns, "conns", 0, "connections per run, shared by the clients (0: one per client)")
	flag.IntVar(&f.warmup, "warmup", 200, "unmeasured writes before each run (at least 2 per client)")
	flag.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout in the load runs")
	flag.StringVar(&f.endpoints, "endpoints", "leader,followers", "where clients talk: leader, followers, or both")
	flag.IntVar(&f.failoverRuns, "failover-runs", 5, "leader kills per system (0: skip)")
	flag.BoolVar(&f.tune, "tune", false, "also run steward's tuning experiments (before/after pairs)")
	flag.IntVar(&f.tunePairs, "tune-pairs", 3, "before/after pairs per concurrency in the tuning experiments")
	flag.StringVar(&f.tuneOnly, "tune-only", "", "run only these tuning variants (comma-separated names), skipping the etcd comparison and failover")
	flag.BoolVar(&f.noFloor, "no-floor", false, "skip the fsync and RTT floor")
	flag.BoolVar(&f.floorBurst, "floor-burst", false, "also measure bbolt as a Raft log after a write burst (about 2 minutes)")
	flag.BoolVar(&f.floorOnly, "floor-only", false, "measure the floor only (no clusters)")
	flag.BoolVar(&f.keep, "keep", false, "keep the data dirs and logs")
	flag.BoolVar(&f.write, "write", true, "write the JSON report")
	flag.BoolVar(&f.reads, "reads", true, "also compare reads (steward linearizable and stale beside etcd linearizable and serializable) at the same concurrencies")
	flag.BoolVar(&f.readsOnly, "reads-only", false, "compare reads only: no writes comparison, failover or steady run")
	flag.StringVar(&f.readEnds, "read-endpoints", "leader", "where the read clients talk: leader, followers, or both")
	flag.DurationVar(&f.steady, "steady", 5*time.Minute, "fault-free run of -steady-clients writers per system, counting elections (0: skip)")
	flag.IntVar(&f.steadyCli, "steady-clients", 64, "clients of the steady run")
	flag.DurationVar(&f.tuneSteady, "tune-steady", time.Minute, "steady run per cluster for the tuning variants that measure one (0: skip)")
	flag.BoolVar(&f.failoverOnly, "failover-only", false, "no writes or reads comparison: failover and the steady run beside etcd (and tuning variants if asked)")
	flag.StringVar(&f.tuneVars, "tune-variants", "", "run these tuning variants (comma-separated names) after the etcd comparison; 'timing' names every Raft timing variant")
	flag.StringVar(&f.logStore, "raft-log-store", "", "pass --raft-log-store wal|boltdb to every steward agent (empty: the agent's default, no flag)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "stewardbench:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

type progressWriter struct{}

func (progressWriter) Write(b []byte) (int, error) {
	progress("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func run(ctx context.Context, f flags) error {
	start := time.Now()
	clients, err := ints(f.clients)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	ops, err := ints(f.ops)
	if err != nil {
		return fmt.Errorf("-ops: %w", err)
	}
	if len(ops) == 1 {
		for len(ops) < len(clients) {
			ops = append(ops, ops[0])
		}
	}
	plan := harness.Plan{
		Clients: clients, Ops: ops, Warmup: f.warmup, Pairs: f.pairs, ValueSize: f.valueSize,
		Keyspace: f.keyspace, Conns: f.conns, Timeout: f.timeout, Progress: progressWriter{},
	}
	if err := plan.Validate(); err != nil {
		return err
	}
	endpoints, err := parseEndpoints(f.endpoints)
	if err != nil {
		return fmt.Errorf("-endpoints: %w", err)
	}
	readEndpoints, err := parseEndpoints(f.readEnds)
	if err != nil {
		return fmt.Errorf("-read-endpoints: %w", err)
	}
	if err := cluster.CheckLogStore(f.logStore); err != nil {
		return fmt.Errorf("-raft-log-store: %w", err)
	}
	if f.steady < 0 || f.tuneSteady < 0 {
		return fmt.Errorf("-steady, -tune-steady: must not be negative")
	}
	if f.steady > 0 && f.steadyCli < 1 {
		return fmt.Errorf("-steady-clients: must be at least 1, got %d", f.steadyCli)
	}
	if f.readsOnly && f.failoverOnly {
		return fmt.Errorf("-reads-only and -failover-only: give one")
	}
	if f.readsOnly {
		f.reads = true
		endpoints, f.failoverRuns, f.steady = nil, 0, 0
	}
	if f.failoverOnly {
		endpoints, f.reads = nil, false
	}
	stewardBin, err := filepath.Abs(f.stewardBin)
	if err != nil {
		return err
	}
	if f.tuneOnly != "" && f.tuneVars != "" {
		return fmt.Errorf("-tune-only and -tune-variants: give one")
	}
	var variants []harness.Variant
	if f.tune || f.tuneOnly != "" || f.tuneVars != "" {
		variants = harness.DefaultVariants()
		if names := f.tuneOnly + f.tuneVars; names != "" {
			want := map[string]bool{}
			for _, n := range strings.Split(names, ",") {
				if n = strings.TrimSpace(n); n == "timing" {
					for _, v := range harness.TimingVariants() {
						want[v.Name] = true
					}
				} else if n != "" {
					want[n] = true
				}
			}
			var sel []harness.Variant
			for _, v := range variants {
				if want[v.Name] {
					sel = append(sel, v)
					delete(want, v.Name)
				}
			}
			if len(want) > 0 {
				var names []string
				for _, v := range harness.DefaultVariants() {
					names = append(names, v.Name)
				}
				return fmt.Errorf("-tune-only, -tune-variants: unknown variants %v (known: %s, timing)", keys(want), strings.Join(names, ", "))
			}
			variants = sel
		}
	}
	withEtcd := f.tuneOnly == ""
	etcdBin := f.etcdBin
	if withEtcd {
		if etcdBin, err = exec.LookPath(f.etcdBin); err != nil {
			return fmt.Errorf("etcd: %w (make bench installs Debian's etcd-server)", err)
		}
	}

	if err := os.MkdirAll(f.workDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(f.workDir, "run-")
	if err != nil {
		return err
	}
	if !f.keep {
		defer os.RemoveAll(dir)
	} else {
		defer progress("data dirs and logs kept in %s", dir)
	}
	repo, _ := filepath.Abs("..")

	rep := &report.Report{Schema: report.Schema, StartedAt: start.UTC(), Label: f.label, LoadAvgStart: report.LoadAvg()}
	rep.Machine = report.DescribeMachine(ctx, dir, stewardBin, etcdBin, repo)
	if withEtcd {
		rep.Machine.EtcdClient = "go.etcd.io/etcd/client/v3 " + etcdClientVersion()
	}
	conns := "one per client"
	if f.conns > 0 {
		conns = fmt.Sprintf("at most %d per run, shared round-robin", f.conns)
	}
	rep.Settings = report.Settings{
		ValueSize: f.valueSize, Clients: clients, OpsPerRun: ops, Warmup: f.warmup, Pairs: f.pairs,
		Keyspace: f.keyspace, Conns: conns, TimeoutMs: load.Ms(f.timeout), DataDir: dir,
		Interleave: "for each pair: for each concurrency: steward then etcd on odd pairs, etcd then steward on even ones",
	}
	rep.Settings.RaftLogStore = f.logStore
	if f.reads {
		rep.Settings.Reads = []string{harness.ReadLinearizable.String(), harness.ReadStale.String()}
		for _, ep := range readEndpoints {
			rep.Settings.ReadEndpoints = append(rep.Settings.ReadEndpoints, string(ep))
		}
	}
	if f.steady > 0 {
		rep.Settings.SteadyS, rep.Settings.SteadyClients = f.steady.Seconds(), f.steadyCli
	}
	progress("machine: %s, %d cores; data dir %s (%s on %s)", rep.Machine.CPUModel, rep.Machine.Cores, dir, rep.Machine.Filesystem, rep.Machine.Device)

	if !f.noFloor {
		progress("floor: fsync and loopback RTT")
		fl, err := measureFloor(ctx, dir, f.floorBurst)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		rep.Floor = fl
		progress("  fdatasync p50 %.3f ms p99 %.3f ms; bbolt commit p50 %.3f ms; TCP RTT p50 %.0f µs; gRPC RTT p50 %.0f µs",
			fl.FsyncP50Ms, fl.FsyncP99Ms, fl.BoltCommitP50Ms, fl.TCPRTTP50Us, fl.GRPCRTTP50Us)
	}

	if f.floorOnly {
		withEtcd, variants = false, nil
	}
	var st *cluster.Steward
	if withEtcd {
		progress("starting a 3-node steward cluster (%s)", stewardBin)
		st, err = cluster.StartSteward(ctx, cluster.StewardOptions{Bin: stewardBin, Dir: filepath.Join(dir, "steward"), LogStore: f.logStore})
		if err != nil {
			return err
		}
		defer st.Close()
		rep.Settings.Steward = st.Settings()
	}
	stewardTimeouts := pick(cluster.DefaultStewardSettings(), "heartbeat_timeout", "election_timeout", "leader_lease_timeout")

	if withEtcd {
		progress("starting a 3-node etcd cluster (%s %s)", etcdBin, rep.Machine.EtcdVersion)
		et, err := cluster.StartEtcd(ctx, cluster.EtcdOptions{Bin: etcdBin, Dir: filepath.Join(dir, "etcd")})
		if err != nil {
			return err
		}
		defer et.Close()
		rep.Settings.Etcd = et.Settings()
		rep.Settings.Etcd["version"] = rep.Machine.EtcdVersion

		fsyncP50 := 0.0
		if rep.Floor != nil {
			fsyncP50 = rep.Floor.FsyncP50Ms
		}
		for _, ep := range endpoints {
			progress("writes, clients → %s", ep)
			pairs, err := harness.ComparePairs(ctx, st, et, ep, plan)
			if err != nil {
				return err
			}
			var levels []report.Level
			for i, c := range clients {
				levels = append(levels, report.NewLevel(c, string(ep), pairs[i], fsyncP50))
			}
			if ep == cluster.ToLeader {
				rep.Levels = levels
			} else {
				rep.LevelsViaFollower = levels
			}
		}
		if f.reads {
			ops := []harness.Op{harness.ReadLinearizable, harness.ReadStale}
			for _, ep := range readEndpoints {
				progress("reads, clients → %s (steward linearizable and stale, etcd linearizable and serializable)", ep)
				pairs, err := harness.CompareOps(ctx, st, et, ep, plan, ops)
				if err != nil {
					return err
				}
				for oi, op := range ops {
					for i, c := range clients {
						rep.Reads = append(rep.Reads, report.NewReadLevel(c, string(ep), op.Consistency(st.Name()), op.Consistency(et.Name()), pairs[oi][i]))
					}
				}
			}
		}
		if f.steady > 0 {
			sp := steadyPlan(f, f.steady)
			progress("steady: %d clients write for %s per system, no faults; elections counted", sp.Clients, sp.Duration)
			for _, sys := range []harness.System{st, et} {
				timeouts := stewardTimeouts
				if sys == harness.System(et) {
					timeouts = pick(et.Settings(), "heartbeat_interval", "election_timeout", "pre_vote")
				}
				s, err := harness.Steady(ctx, sys, sp, timeouts)
				if err != nil {
					return err
				}
				rep.Steady = append(rep.Steady, s)
			}
		}
		if f.failoverRuns > 0 {
			fp := failoverPlan(f.failoverRuns)
			progress("failover: %d leader kills per system, interleaved", f.failoverRuns)
			fs := report.Failover{System: st.Name(), Timeouts: stewardTimeouts}
			fe := report.Failover{System: et.Name(), Timeouts: pick(et.Settings(), "heartbeat_interval", "election_timeout", "pre_vote")}
			for i := 0; i < f.failoverRuns && ctx.Err() == nil; i++ {
				one := fp
				one.Runs, one.First, one.Total = 1, i, f.failoverRuns
				fs.Runs = append(fs.Runs, harness.Failover(ctx, st, one, nil).Runs...)
				fe.Runs = append(fe.Runs, harness.Failover(ctx, et, one, nil).Runs...)
			}
			harness.SummarizeFailover(&fs)
			harness.SummarizeFailover(&fe)
			rep.Failover = []report.Failover{fs, fe}
		}
		et.Close()
	}

	tplan := plan
	tplan.Pairs = f.tunePairs
	for i, v := range variants {
		t, err := tune(ctx, f, v, i, stewardBin, dir, tplan)
		if err != nil {
			return err
		}
		rep.Tuning = append(rep.Tuning, t)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	rep.FinishedAt = time.Now().UTC()
	rep.LoadAvgEnd = report.LoadAvg()
	rep.Notes = append(rep.Notes, fmt.Sprintf("wall time %s", time.Since(start).Round(time.Second)))
	fmt.Println()
	rep.PrintTable(os.Stdout)
	if f.write {
		path, err := rep.Write(f.resultsDir, report.FileName(start, f.label))
		if err != nil {
			return err
		}
		fmt.Printf("\nreport: %s\n", path)
	}
	return nil
}

// tune runs one variant against a fresh default cluster started beside it,
// so that before and after age together (a long-running cluster's log
// store and state differ from a new one's).
func tune(ctx context.Context, f flags, v harness.Variant, i int, bin, dir string, p harness.Plan) (report.Tuning, error) {
	or := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	before, err := cluster.StartSteward(ctx, cluster.StewardOptions{Bin: bin, Dir: filepath.Join(dir, fmt.Sprintf("tune%d-before", i)), Name: fmt.Sprintf("b%d-", i),
		LogStore: or(v.BaseLogStore, f.logStore)})
	if err != nil {
		return report.Tuning{}, err
	}
	defer before.Close()
	var sp *harness.SteadyPlan
	if f.tuneSteady > 0 {
		s := steadyPlan(f, f.tuneSteady)
		sp = &s
	}
	baseTimeouts := pick(before.Settings(), "heartbeat_timeout", "election_timeout", "leader_lease_timeout")
	fp := failoverPlan(f.failoverRuns)
	if v.ClientSide() {
		progress("tuning %q: the clients share %d connections (fresh cluster)", v.Name, v.Conns)
		return harness.Tune(ctx, before, harness.Named{System: harness.WithConns(before, v.Conns), Label: "tuned"}, v, p, fp, sp, baseTimeouts, baseTimeouts)
	}
	what := strings.Join(strings.Fields(cluster.RaftBlock(v.Raft)), " ")
	if len(v.Raft) == 0 {
		what = "--raft-log-store " + or(v.LogStore, f.logStore)
	}
	progress("tuning %q: %s vs %s (two fresh clusters)", v.Name, what, or(v.BaseLogStore, "defaults"))
	after, err := cluster.StartSteward(ctx, cluster.StewardOptions{Bin: bin, Dir: filepath.Join(dir, fmt.Sprintf("tune%d-after", i)), Name: fmt.Sprintf("t%d-", i), Raft: v.Raft,
		LogStore: or(v.LogStore, f.logStore)})
	if err != nil {
		return report.Tuning{}, err
	}
	defer after.Close()
	timeouts := pick(after.Settings(), "heartbeat_timeout", "election_timeout", "leader_lease_timeout")
	return harness.Tune(ctx, before, harness.Named{System: after, Label: "tuned"}, v, p, fp, sp, timeouts, baseTimeouts)
}

func steadyPlan(f flags, d time.Duration) harness.SteadyPlan {
	return harness.SteadyPlan{Duration: d, Clients: f.steadyCli, ValueSize: f.valueSize, Keyspace: f.keyspace, Timeout: f.timeout, Progress: progress}
}

func parseEndpoints(s string) ([]cluster.Endpoint, error) {
	var out []cluster.Endpoint
	for _, e := range strings.Split(s, ",") {
		switch ep := cluster.Endpoint(strings.TrimSpace(e)); ep {
		case cluster.ToLeader, cluster.ToFollowers:
			out = append(out, ep)
		case "":
		default:
			return nil, fmt.Errorf("%q is not leader or followers", e)
		}
	}
	return out, nil
}

func failoverPlan(runs int) harness.FailoverPlan {
	return harness.FailoverPlan{
		Runs: max(runs, 1), RequestTimeout: 500 * time.Millisecond, Before: 20, Deadline: 30 * time.Second,
		Progress: progress,
	}
}

func measureFloor(ctx context.Context, dir string, burst bool) (*report.Floor, error) {
	fd, err := floor.Fdatasync(dir, 2000, 512)
	if err != nil {
		return nil, err
	}
	ap, err := floor.AppendFsync(dir, 500, 512)
	if err != nil {
		return nil, err
	}
	bc, err := floor.BoltCommit(dir, 1000, 300)
	if err != nil {
		return nil, err
	}
	bn, err := floor.BoltCommitWith(dir, 1000, 300, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	// The raft-boltdb pattern: snapshots every 8192 entries keeping 10240
	// (steward's defaults), measured over the last 1000 of 20000 commits.
	bl, err := floor.BoltLog(dir, 20000, 8192, 10240, 1000, 300, nil)
	if err != nil {
		return nil, err
	}
	bln, err := floor.BoltLog(dir, 20000, 8192, 10240, 1000, 300, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	tcp, err := floor.TCPRTT(ctx, 10000)
	if err != nil {
		return nil, err
	}
	grpcRTT, err := floor.GRPCRTT(ctx, 10000)
	if err != nil {
		return nil, err
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	fl := &report.Floor{
		FsyncP50Ms: load.Ms(fd.P50), FsyncP99Ms: load.Ms(fd.P99), FsyncMaxMs: load.Ms(fd.Max), FsyncCount: fd.Count,
		AppendFsyncP50Ms: load.Ms(ap.P50), AppendFsyncP99Ms: load.Ms(ap.P99),
		BoltCommitP50Ms: load.Ms(bc.P50), BoltCommitP99Ms: load.Ms(bc.P99),
		BoltNoFreelistSyncP50Ms: load.Ms(bn.P50), BoltNoFreelistSyncP99Ms: load.Ms(bn.P99),
		BoltLogP50Ms: load.Ms(bl.Latency.P50), BoltLogP99Ms: load.Ms(bl.Latency.P99), BoltLogBytesPerCommit: bl.BytesPerCommit,
		BoltLogNoFreelistP50Ms: load.Ms(bln.Latency.P50), BoltLogNoFreelistP99Ms: load.Ms(bln.Latency.P99), BoltLogNoFreelistBytes: bln.BytesPerCommit,
		TCPRTTP50Us: us(tcp.P50), TCPRTTP99Us: us(tcp.P99),
		GRPCRTTP50Us: us(grpcRTT.P50), GRPCRTTP99Us: us(grpcRTT.P99),
		RTTCount: tcp.Count,
	}
	if burst {
		progress("  bbolt as a Raft log after a burst of 150000 entries (two passes)")
		b, err := floor.BoltLog(dir, 152000, 150000, 10240, 2000, 300, nil)
		if err != nil {
			return nil, err
		}
		bn, err := floor.BoltLog(dir, 152000, 150000, 10240, 2000, 300, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
		if err != nil {
			return nil, err
		}
		fl.BoltLogBurstP50Ms, fl.BoltLogBurstP99Ms, fl.BoltLogBurstBytes, fl.BoltLogBurstFreePages = load.Ms(b.Latency.P50), load.Ms(b.Latency.P99), b.BytesPerCommit, b.FreePages
		fl.BoltLogBurstNoFreelistP50Ms, fl.BoltLogBurstNoFreelistP99Ms, fl.BoltLogBurstNoFreelistBytes = load.Ms(bn.Latency.P50), load.Ms(bn.Latency.P99), bn.BytesPerCommit
	}
	return fl, nil
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// etcdClientVersion is the etcd client module's version compiled in.
func etcdClientVersion() string {
	if v := moduleVersion("go.etcd.io/etcd/client/v3"); v != "" {
		return v
	}
	return "(unknown)"
}
