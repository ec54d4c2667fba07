// Command clientbench measures what client agents buy: kv writes per
// second and the leader's CPU per write with 3 servers and k client agents,
// beside the all-Raft cluster of the same size (3+k servers: up to 5
// voters, the rest non-voters) and beside 3 servers alone, interleaved in
// one run; the time from a tree's commit to it running on a client agent;
// and the memory of an idle client agent. docs/PERFORMANCE.md ("Servers and
// clients") has the figures and how to read them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/report"
)

// agentArgs are added to every agent in every cluster, servers and clients
// alike (the product's defaults otherwise).
var agentArgs []string

type flags struct {
	bin         string
	workDir     string
	resultsDir  string
	label       string
	sizes       string
	pairs       int
	writers     int
	duration    time.Duration
	warmup      time.Duration
	valueSize   int
	keyspace    int
	trees       int
	treeClients int
	idle        time.Duration
	// treeCommitTimeouts are extra tree-start runs with the servers'
	// raft.commit_timeout set (comma-separated durations).
	treeCommitTimeouts string
	keep               bool
	write              bool
	// commit overrides the steward commit the report records (for a
	// binary built from another tree than ..).
	commit string
	note   string
}

func main() {
	var f flags
	flag.StringVar(&f.bin, "steward-bin", "../bin/steward", "steward binary (make build)")
	flag.StringVar(&f.workDir, "work-dir", ".work", "where the clusters' data dirs go; removed afterwards unless -keep")
	flag.StringVar(&f.resultsDir, "results", "results", "where the JSON report goes")
	flag.StringVar(&f.label, "label", "clients", "suffix of the result file name")
	flag.StringVar(&f.sizes, "sizes", "0,10,25,50", "client agent counts k (3 servers + k clients beside 3+k servers); empty: no write runs")
	flag.IntVar(&f.pairs, "pairs", 2, "interleaved rounds per k (each: clients, all-raft and 3-server baseline, order rotated)")
	flag.IntVar(&f.writers, "writers", 16, "concurrent writers against the leader (closed loop)")
	flag.DurationVar(&f.duration, "duration", 10*time.Second, "measured write load per run")
	flag.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured writes before each run")
	flag.IntVar(&f.valueSize, "value-size", 256, "value size (bytes)")
	flag.IntVar(&f.keyspace, "keyspace", 10000, "distinct keys, written at random")
	flag.IntVar(&f.trees, "trees", 100, "trees timed per placement (client agents, follower servers); 0: skip tree start and memory")
	flag.IntVar(&f.treeClients, "tree-clients", 10, "client agents in the tree-start and memory cluster (beside 3 servers)")
	flag.StringVar(&f.treeCommitTimeouts, "tree-commit-timeouts", "5ms", "also time tree starts with the servers' raft.commit_timeout at each of these (comma-separated; empty: defaults only)")
	flag.DurationVar(&f.idle, "idle", 10*time.Second, "idle window before sampling the agents' memory")
	flag.StringVar(&f.commit, "steward-commit", "", "the commit the steward binary was built from (default: .. 's HEAD, +dirty when its tree is)")
	flag.StringVar(&f.note, "note", "", "a note for the report")
	flag.BoolVar(&f.keep, "keep", false, "keep the data dirs and logs")
	flag.BoolVar(&f.write, "write", true, "write the JSON report")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "clientbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	sizes, err := ints(f.sizes)
	if err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	if f.pairs < 1 || f.writers < 1 || f.duration <= 0 {
		return fmt.Errorf("-pairs, -writers and -duration must be positive")
	}
	if f.bin, err = filepath.Abs(f.bin); err != nil {
		return err
	}
	if err := os.MkdirAll(f.workDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(f.workDir, "clients-")
	if err != nil {
		return err
	}
	if !f.keep {
		defer os.RemoveAll(dir)
	} else {
		defer progress("data dirs and logs kept in %s", dir)
	}
	repo, _ := filepath.Abs("..")
	doc := &document{
		Schema: schema, StartedAt: time.Now().UTC(), Label: f.label,
		Machine:      report.DescribeMachine(ctx, dir, f.bin, "", repo),
		LoadAvgStart: report.LoadAvg(),
		Settings: settings{
			Sizes: sizes, Pairs: f.pairs, Writers: f.writers, DurationS: f.duration.Seconds(), WarmupS: f.warmup.Seconds(),
			ValueSize: f.valueSize, Keyspace: f.keyspace, Endpoint: "leader (one gRPC connection per writer)",
			Interleave: "per k, per pair: one cluster at a time, clients / all-raft / baseline-3 in an order rotated by the pair; " +
				"each cluster started fresh, waited on until ready, loaded, stopped",
			AgentArgs: strings.Join(append([]string{"--retry-interval 500ms --log-level warn"}, agentArgs...), " "),
			Trees:     f.trees, TreeAgents: fmt.Sprintf("3 servers + %d clients", f.treeClients), IdleS: f.idle.Seconds(),
		},
	}
	if f.commit != "" {
		doc.Machine.StewardCommit = f.commit
	}
	if f.note != "" {
		doc.Notes = append(doc.Notes, f.note)
	}
	for _, k := range sizes {
		for p := 0; p < f.pairs; p++ {
			for _, kind := range kindsFor(k, p) {
				servers, clients := shape(kind, k)
				progress("k=%d pair %d: %s (%d servers, %d clients)", k, p+1, kind, servers, clients)
				r, err := writeRunOn(ctx, f, dir, kind, k, p)
				if err != nil {
					return err
				}
				progress("  ready in %.1fs (%d voters, %d non-voters); %.0f writes/s, p99 %.1f ms, leader %.0f µs/write (%.0f%% of a core), clients %.0f µs/write, other %.0f%%, errors %d",
					r.ReadyS, r.Voters, r.Nonvoters, r.WritesPerS, r.P99Ms, r.LeaderCPUUs, r.LeaderCPUPct, r.ClientsCPUUs, r.OtherCPUPct, r.Errors)
				doc.Runs = append(doc.Runs, r)
			}
		}
	}
	doc.Sizes = summarize(doc.Runs, sizes, f.pairs)
	if f.trees > 0 {
		if err := treeAndMemory(ctx, f, dir, doc); err != nil {
			return err
		}
	}
	doc.FinishedAt = time.Now().UTC()
	doc.LoadAvgEnd = report.LoadAvg()
	printTable(doc)
	if f.write {
		path, err := doc.write(f.resultsDir)
		if err != nil {
			return err
		}
		progress("report: %s", path)
	}
	return nil
}

// treeAndMemory measures idle memory, then tree start latency, on a
// cluster of 3 servers and f.treeClients clients with the product's
// defaults; then tree start again on such a cluster for each of
// f.treeCommitTimeouts (the servers' raft.commit_timeout), which bounds how
// soon an idle follower learns of a commit.
func treeAndMemory(ctx context.Context, f flags, dir string, doc *document) error {
	variants := []string{""}
	for _, v := range strings.Split(f.treeCommitTimeouts, ",") {
		if v = strings.TrimSpace(v); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				return fmt.Errorf("-tree-commit-timeouts: %w", err)
			}
			variants = append(variants, v)
		}
	}
	for vi, ct := range variants {
		name, cfg := "defaults", ""
		if ct != "" {
			name = "raft.commit_timeout=" + ct
			cfg = cluster.RaftBlock(map[string]string{"commit_timeout": strconv.Quote(ct)})
		}
		progress("tree start (%s): 3 servers + %d clients", name, f.treeClients)
		cdir := filepath.Join(dir, fmt.Sprintf("trees-%d", vi))
		m, err := cluster.StartMixed(ctx, cluster.MixedOptions{Bin: f.bin, Dir: cdir, Servers: 3, Clients: f.treeClients, Args: agentArgs, ServerConfig: cfg})
		if err != nil {
			return fmt.Errorf("tree cluster (%s): %w", name, err)
		}
		err = func() error {
			defer m.Close()
			if vi == 0 {
				mem, err := measureIdle(ctx, m, f.idle)
				if err != nil {
					return err
				}
				doc.Memory = mem
				progress("  idle RSS: client median %.1f MiB (%.1f–%.1f), leader %.1f MiB, follower median %.1f MiB",
					mem.ClientMedian, mem.ClientMin, mem.ClientMax, mem.Leader, mem.FollowerMedian)
			}
			ts, err := measureTreeStart(ctx, m, f.trees)
			if err != nil {
				return err
			}
			ts.Variant = name
			doc.TreeStart = append(doc.TreeStart, ts)
			progress("  ack → running: client p50 %.2f ms p99 %.2f ms; follower server p50 %.2f ms p99 %.2f ms",
				ts.OnClient.AckToStart.P50, ts.OnClient.AckToStart.P99, ts.OnServer.AckToStart.P50, ts.OnServer.AckToStart.P99)
			return nil
		}()
		if !f.keep {
			_ = os.RemoveAll(cdir)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func printTable(d *document) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(os.Stdout, "\nkv writes, %d writers → leader, %.0f s per run, medians of %d pairs (ratios: medians of the pairs' ratios)\n",
		d.Settings.Writers, d.Settings.DurationS, d.Settings.Pairs)
	fmt.Fprintln(w, "k\tagents\t3+k clients w/s\tall-raft w/s\t3-server w/s\t÷ 3-server\t÷ all-raft\tleader µs/w clients\tall-raft\t3-server\tclient agents µs/w\t")
	for _, s := range d.Sizes {
		fmt.Fprintf(w, "%d\t%d\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", s.K, s.Agents, s.ClientsWps, s.AllRaftWps, s.BaselineWps,
			s.WpsVsBaseline, s.WpsVsAllRaft, s.ClientsCPU, s.AllRaftCPU, s.BaselineCPU, s.ClientsAgent)
	}
	_ = w.Flush()
	for _, s := range d.Sizes {
		if s.K == 50 {
			fmt.Printf("aim (50 clients ≥ 0.9× 3 servers): %.2f — %s\n", s.WpsVsBaseline, metOrMissed(s.WpsVsBaseline >= 0.9))
		}
	}
	for i, t := range d.TreeStart {
		fmt.Printf("\ntree start, ack → running (ms), %d trees each, 3 servers + %d clients, %s\n", t.OnClient.Trees, t.Clients, t.Variant)
		fmt.Printf("  on a client agent:     p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (apply p50 %.2f; %d started before the ack)\n",
			t.OnClient.AckToStart.P50, t.OnClient.AckToStart.P90, t.OnClient.AckToStart.P99, t.OnClient.AckToStart.Max, t.OnClient.Apply.P50, t.OnClient.Early)
		for _, v := range []struct {
			what string
			p    placement
		}{{"from the leader", t.OnClientViaLeader}, {"from a follower", t.OnClientViaFollower}} {
			if v.p.Trees > 0 {
				fmt.Printf("    client streaming %s: %d trees, p50 %.2f  p99 %.2f\n", v.what, v.p.Trees, v.p.AckToStart.P50, v.p.AckToStart.P99)
			}
		}
		fmt.Printf("  on a follower server:  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (apply p50 %.2f; %d started before the ack)\n",
			t.OnServer.AckToStart.P50, t.OnServer.AckToStart.P90, t.OnServer.AckToStart.P99, t.OnServer.AckToStart.Max, t.OnServer.Apply.P50, t.OnServer.Early)
		if i == 0 {
			fmt.Printf("aim (p99 ≤ 50 ms on a client): %s\n", metOrMissed(t.OnClient.AckToStart.P99 <= 50))
		}
	}
	if m := d.Memory; m != nil {
		fmt.Printf("\nidle RSS after %.0f s: client agent median %.1f MiB (%.1f–%.1f), leader %.1f MiB, follower median %.1f MiB, client ÷ follower %.2f\n",
			m.IdleS, m.ClientMedian, m.ClientMin, m.ClientMax, m.Leader, m.FollowerMedian, m.ClientVsFollower)
		fmt.Printf("idle CPU (%% of a core): client agent median %.2f, leader %.2f, follower median %.2f\n",
			m.ClientIdleCPUPct, m.LeaderIdleCPUPct, m.FollowerIdleCPUPct)
	}
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func ints(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
