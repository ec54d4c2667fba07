package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// PrintTable writes the report as tables for people.
func (r *Report) PrintTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %s, %d cores, %d MiB, kernel %s, %s on %s (%s)\n",
		m.CPUModel, m.Cores, m.MemoryMiB, m.Kernel, m.Filesystem, m.Device, m.DataDir)
	fmt.Fprintf(w, "steward %s (built with %s), etcd %s (%s), harness %s\n",
		short(m.StewardCommit), m.StewardGo, m.EtcdVersion, m.EtcdGo, m.GoVersion)
	s := r.Settings
	fmt.Fprintf(w, "load: %d B values, ops per run %v for clients %v, %d pairs, keyspace %d, connections: %s\n\n",
		s.ValueSize, s.OpsPerRun, s.Clients, s.Pairs, s.Keyspace, s.Conns)

	if f := r.Floor; f != nil {
		fmt.Fprintf(w, "floor: fdatasync p50 %.3f ms p99 %.3f ms (append+fsync p50 %.3f ms; bbolt commit p50 %.3f ms p99 %.3f ms, with NoFreelistSync p50 %.3f ms); loopback TCP RTT p50 %.0f µs p99 %.0f µs; gRPC RTT p50 %.0f µs p99 %.0f µs\n\n",
			f.FsyncP50Ms, f.FsyncP99Ms, f.AppendFsyncP50Ms, f.BoltCommitP50Ms, f.BoltCommitP99Ms, f.BoltNoFreelistSyncP50Ms, f.TCPRTTP50Us, f.TCPRTTP99Us, f.GRPCRTTP50Us, f.GRPCRTTP99Us)
		if f.BoltLogP50Ms > 0 {
			fmt.Fprintf(w, "bbolt as a raft log (one tx per entry, truncation after snapshots): p50 %.3f ms p99 %.3f ms, %.0f bytes written per commit; with NoFreelistSync+hashmap: p50 %.3f ms p99 %.3f ms, %.0f bytes\n\n",
				f.BoltLogP50Ms, f.BoltLogP99Ms, f.BoltLogBytesPerCommit, f.BoltLogNoFreelistP50Ms, f.BoltLogNoFreelistP99Ms, f.BoltLogNoFreelistBytes)
		}
		if f.BoltLogBurstP50Ms > 0 {
			fmt.Fprintf(w, "the same after a burst (150000 entries between snapshots, %d free pages): p50 %.3f ms p99 %.3f ms, %.0f bytes per commit; with NoFreelistSync+hashmap: p50 %.3f ms p99 %.3f ms, %.0f bytes\n\n",
				f.BoltLogBurstFreePages, f.BoltLogBurstP50Ms, f.BoltLogBurstP99Ms, f.BoltLogBurstBytes, f.BoltLogBurstNoFreelistP50Ms, f.BoltLogBurstNoFreelistP99Ms, f.BoltLogBurstNoFreelistBytes)
		}
	}
	printLevels(w, "clients → leader", r.Levels)
	printLevels(w, "clients → followers (forwarded to the leader)", r.LevelsViaFollower)
	printReads(w, r.Reads)
	printSteady(w, r.Steady)

	if len(r.Failover) > 0 {
		fmt.Fprintln(w, "failover (SIGKILL the leader while one client writes): kill → first write committed under the new leader")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "system\truns\tmedian ms\tmax ms\tmedian gap ms\tmax gap ms\tfailed\ttimeouts\t")
		for _, f := range r.Failover {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%s\t\n", f.System, len(f.Runs), f.MedianMs, f.MaxMs, f.MedianGapMs, f.MaxGapMs, f.Failed, kv(f.Timeouts))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	for _, t := range r.Tuning {
		switch {
		case t.Conns > 0:
			fmt.Fprintf(w, "tuning %q: clients share %d connections vs one each, clients → %s", t.Name, t.Conns, t.Endpoint)
		case len(t.Raft) == 0 && t.LogStore != "":
			base := t.BaseLogStore
			if base == "" {
				base = "the agent's default"
			}
			fmt.Fprintf(w, "tuning %q: --raft-log-store %s vs %s, clients → %s", t.Name, t.LogStore, base, t.Endpoint)
		default:
			fmt.Fprintf(w, "tuning %q: raft {%s} vs defaults, clients → %s", t.Name, kv(t.Raft), t.Endpoint)
		}
		if t.Note != "" {
			fmt.Fprintf(w, " (%s)", t.Note)
		}
		fmt.Fprintln(w)
		if len(t.Levels) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "clients\tbefore w/s\tafter w/s\tratio\tbefore p99\tafter p99\tratio p99\tdisk B/op before|after\t")
			for _, l := range t.Levels {
				fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f|%.0f\t\n", l.Clients, l.BeforeWritesPerS, l.AfterWritesPerS, l.RatioThroughput, l.BeforeP99Ms, l.AfterP99Ms, l.RatioP99, l.BeforeDiskBytesPerOp, l.AfterDiskBytesPerOp)
			}
			tw.Flush()
		}
		if f := t.Failover; f != nil {
			fmt.Fprintf(w, "  failover: median %.0f ms, max %.0f ms over %d runs (%d failed)", f.MedianMs, f.MaxMs, len(f.Runs), f.Failed)
			if b := t.BaseFailover; b != nil {
				fmt.Fprintf(w, "; defaults, interleaved: median %.0f ms, max %.0f ms (%d failed); ratio of medians %.2f", b.MedianMs, b.MaxMs, b.Failed, ratio(f.MedianMs, b.MedianMs))
			}
			fmt.Fprintln(w)
		}
		for _, s := range []*Steady{t.Steady, t.BaseSteady} {
			if s != nil {
				fmt.Fprintf(w, "  steady %s: %d clients for %.0f s, %.0f w/s, p99 %.2f ms, max %.1f ms: %d elections, %d leader changes%s\n",
					s.System, s.Clients, s.DurationS, s.WritesPerS, s.P99Ms, s.MaxMs, s.SpuriousElections, s.LeaderChanges, counters(s.RaftCounters))
			}
		}
		fmt.Fprintln(w)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func printLevels(w io.Writer, title string, levels []Level) {
	if len(levels) == 0 {
		return
	}
	fmt.Fprintf(w, "writes, %s (per system: median of runs; ratios steward/etcd: median of pairs)\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tsteward w/s\tetcd w/s\tratio\tsteward p50\tp99\tmax\tetcd p50\tp99\tmax\tratio p99\tcpu µs/op s|e\tdisk B/op s|e\terrors s|e\t")
	for _, l := range levels {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.2f\t%.1f\t%.2f\t%.0f|%.0f\t%.0f|%.0f\t%d|%d\t\n",
			l.Clients, l.StewardWritesPerS, l.EtcdWritesPerS, l.RatioThroughput,
			l.StewardP50Ms, l.StewardP99Ms, l.StewardMaxMs, l.EtcdP50Ms, l.EtcdP99Ms, l.EtcdMaxMs, l.RatioP99,
			l.StewardCPUUsPerOp, l.EtcdCPUUsPerOp, l.StewardDiskBytesPerOp, l.EtcdDiskBytesPerOp, l.StewardErrors, l.EtcdErrors)
	}
	tw.Flush()
	fmt.Fprintln(w, "(latencies in ms)")
	fmt.Fprintln(w)
}

func printReads(w io.Writer, levels []ReadLevel) {
	if len(levels) == 0 {
		return
	}
	fmt.Fprintln(w, "reads (per system: median of runs; ratios steward/etcd: median of pairs; linearizable vs linearizable, stale vs serializable)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "to\tsteward\tetcd\tclients\tsteward r/s\tetcd r/s\tratio\tsteward p50\tp99\tmax\tetcd p50\tp99\tmax\tratio p99\tcpu µs/op s|e\terrors s|e\t")
	for _, l := range levels {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.2f\t%.1f\t%.2f\t%.0f|%.0f\t%d|%d\t\n",
			l.Endpoint, l.StewardRead, l.EtcdRead, l.Clients, l.StewardReadsPerS, l.EtcdReadsPerS, l.RatioThroughput,
			l.StewardP50Ms, l.StewardP99Ms, l.StewardMaxMs, l.EtcdP50Ms, l.EtcdP99Ms, l.EtcdMaxMs, l.RatioP99,
			l.StewardCPUUsPerOp, l.EtcdCPUUsPerOp, l.StewardErrors, l.EtcdErrors)
	}
	tw.Flush()
	fmt.Fprintln(w, "(latencies in ms)")
	fmt.Fprintln(w)
}

func printSteady(w io.Writer, runs []Steady) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprintln(w, "steady (no faults; elections = rise of the highest Raft term the members report)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tclients\tseconds\tw/s\tp99 ms\tmax ms\terrors\tterm\tspurious elections\tleader changes\traft counters\ttimeouts\t")
	for _, s := range runs {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t%.1f\t%d\t%d→%d\t%d\t%d\t%s\t%s\t\n", s.System, s.Clients, s.DurationS, s.WritesPerS, s.P99Ms, s.MaxMs, s.Errors,
			s.TermStart, s.TermEnd, s.SpuriousElections, s.LeaderChanges, strings.TrimPrefix(counters(s.RaftCounters), "; "), kv(s.Timeouts))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// counters renders steward's Raft counters briefly ("" without any).
func counters(m map[string]float64) string {
	if len(m) == 0 {
		return ""
	}
	short := map[string]string{
		"steward_raft_heartbeat_timeouts_total":                   "heartbeat timeouts",
		"steward_raft_leader_lease_timeouts_total":                "lease timeouts",
		`steward_raft_state_transitions_total{state="candidate"}`: "candidacies",
		`steward_raft_state_transitions_total{state="leader"}`:    "leaderships",
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := short[k]
		if name == "" {
			name = k
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", name, m[k]))
	}
	return "; " + strings.Join(parts, ", ")
}

func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// short abbreviates a 40-hex commit, keeping a "+dirty" suffix.
func short(commit string) string {
	if len(commit) >= 40 {
		return commit[:12] + commit[40:]
	}
	return commit
}
