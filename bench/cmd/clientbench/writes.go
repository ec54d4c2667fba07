package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
)

// kindsFor is the runs of one pair at client count k, rotated by the pair
// so that no kind always goes first. At k = 0 the clients cluster and the
// 3-server baseline are the same cluster, so there is no separate
// baseline.
func kindsFor(k, pair int) []string {
	kinds := []string{kindClients, kindAllRaft, kindBaseline}
	if k == 0 {
		kinds = kinds[:2]
	}
	r := pair % len(kinds)
	return append(kinds[r:], kinds[:r]...)
}

// shape is the servers and clients of a kind at client count k.
func shape(kind string, k int) (servers, clients int) {
	switch kind {
	case kindClients:
		return 3, k
	case kindAllRaft:
		return 3 + k, 0
	default:
		return 3, 0
	}
}

// writeRunOn starts the cluster of kind at client count k, waits until it
// is ready, runs the write load against its leader and stops it.
func writeRunOn(ctx context.Context, f flags, dir, kind string, k, pair int) (writeRun, error) {
	servers, clients := shape(kind, k)
	run := writeRun{Kind: kind, K: k, Pair: pair, Servers: servers, Clients: clients, Writers: f.writers}
	cdir := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", kind, k, pair))
	m, err := cluster.StartMixed(ctx, cluster.MixedOptions{Bin: f.bin, Dir: cdir, Servers: servers, Clients: clients, Args: agentArgs})
	if err != nil {
		return run, fmt.Errorf("%s with k=%d: %w", kind, k, err)
	}
	defer func() {
		m.Close()
		if !f.keep {
			_ = os.RemoveAll(cdir)
		}
	}()
	run.ReadyS = m.StartTook.Seconds()
	run.ServerRSSMiB = medianRSS(m.ServerPids())
	if clients > 0 {
		run.ClientRSSMiB = medianRSS(m.ClientPids())
	}
	t, li, err := m.LeaderTarget(ctx, f.writers)
	if err != nil {
		return run, err
	}
	defer t.Close()
	run.Leader = li.Name
	if st, err := m.Status(ctx, li.Index); err == nil {
		run.Voters, run.Nonvoters = st.Voters, st.Nonvoters
	}
	leaderPid := []int{m.Pid(li.Index)}
	self := []int{os.Getpid()}
	var lead0, srv0, cli0, gen0 cluster.Usage
	var busy0 time.Duration
	res, err := load.RunFor(ctx, t, load.TimedSpec{
		Clients: f.writers, Duration: f.duration, Warmup: f.warmup,
		ValueSize: f.valueSize, Keyspace: f.keyspace, Prefix: "bench/kv/", Seed: uint64(k*100 + pair),
		OnStart: func() {
			busy0 = cluster.MachineBusy()
			lead0, srv0, cli0, gen0 = cluster.ProcUsage(leaderPid), cluster.ProcUsage(m.ServerPids()), cluster.ProcUsage(m.ClientPids()), cluster.ProcUsage(self)
		},
	})
	if err != nil {
		return run, err
	}
	lead, srv, cli, gen := cluster.ProcUsage(leaderPid).Sub(lead0), cluster.ProcUsage(m.ServerPids()).Sub(srv0),
		cluster.ProcUsage(m.ClientPids()).Sub(cli0), cluster.ProcUsage(self).Sub(gen0)
	busy := cluster.MachineBusy() - busy0
	if after, err := m.Leader(ctx); err != nil || after.Name != li.Name {
		run.LeaderMoved = true
	}
	run.Ops, run.Errors, run.FirstError = res.Ops, res.Errors, res.FirstErr
	run.ElapsedS, run.WritesPerS = res.Elapsed.Seconds(), res.Throughput()
	run.P50Ms, run.P99Ms = load.Ms(res.Latency.P50), load.Ms(res.Latency.P99)
	if res.Ops > 0 {
		per := func(u cluster.Usage) float64 { return float64(u.CPU.Microseconds()) / float64(res.Ops) }
		run.LeaderCPUUs, run.ServersCPUUs, run.ClientsCPUUs, run.GenCPUUs = per(lead), per(srv), per(cli), per(gen)
	}
	if s := res.Elapsed.Seconds(); s > 0 {
		run.LeaderCPUPct = 100 * lead.CPU.Seconds() / s
		run.OtherCPUPct = max(0, 100*(busy-srv.CPU-cli.CPU-gen.CPU).Seconds()/s)
	}
	return run, nil
}

// summarize gives each client count the medians of its runs and of its
// pairs' ratios.
func summarize(runs []writeRun, sizes []int, pairs int) []sizeSummary {
	find := func(kind string, k, p int) *writeRun {
		for i := range runs {
			if r := &runs[i]; r.Kind == kind && r.K == k && r.Pair == p {
				return r
			}
		}
		return nil
	}
	var out []sizeSummary
	for _, k := range sizes {
		s := sizeSummary{K: k, Agents: 3 + k}
		var cw, aw, bw, cc, ac, bc, ca, rB, rA, cB, cA []float64
		for p := 0; p < pairs; p++ {
			c, a := find(kindClients, k, p), find(kindAllRaft, k, p)
			b := find(kindBaseline, k, p)
			if k == 0 {
				b = a
			}
			if c == nil || a == nil || b == nil {
				continue
			}
			cw, aw, bw = append(cw, c.WritesPerS), append(aw, a.WritesPerS), append(bw, b.WritesPerS)
			cc, ac, bc = append(cc, c.LeaderCPUUs), append(ac, a.LeaderCPUUs), append(bc, b.LeaderCPUUs)
			ca = append(ca, c.ClientsCPUUs)
			rB, rA = append(rB, c.WritesPerS/b.WritesPerS), append(rA, c.WritesPerS/a.WritesPerS)
			cB, cA = append(cB, c.LeaderCPUUs/b.LeaderCPUUs), append(cA, c.LeaderCPUUs/a.LeaderCPUUs)
		}
		if len(cw) == 0 {
			continue
		}
		s.ClientsWps, s.AllRaftWps, s.BaselineWps = load.Median(cw), load.Median(aw), load.Median(bw)
		s.ClientsCPU, s.AllRaftCPU, s.BaselineCPU = load.Median(cc), load.Median(ac), load.Median(bc)
		s.ClientsAgent = load.Median(ca)
		s.WpsVsBaseline, s.WpsVsAllRaft = load.Median(rB), load.Median(rA)
		s.CPUVsBaseline, s.CPUVsAllRaft = load.Median(cB), load.Median(cA)
		out = append(out, s)
	}
	return out
}

// medianRSS is the median VmRSS of the processes, in MiB (0 when none
// could be read).
func medianRSS(pids []int) float64 {
	var v []float64
	for _, pid := range pids {
		if b, err := cluster.RSS(pid); err == nil {
			v = append(v, mib(b))
		}
	}
	if len(v) == 0 {
		return 0
	}
	return load.Median(v)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
