package harness

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
)

// Plan is the load part of a benchmark: which concurrencies, how many
// operations, how many interleaved pairs.
type Plan struct {
	// Clients lists the concurrencies; Ops the measured writes at each
	// (same length).
	Clients []int
	Ops     []int
	// Warmup is the unmeasured writes before each run (at least two per
	// client are made regardless).
	Warmup    int
	Pairs     int
	ValueSize int
	Keyspace  int
	// Conns caps the connections a Target opens (0: one per client).
	Conns   int
	Timeout time.Duration
	// Progress receives one line per run (nil: none).
	Progress io.Writer
}

// Validate checks the plan; errors name the field.
func (p Plan) Validate() error {
	if len(p.Clients) == 0 {
		return fmt.Errorf("clients: empty")
	}
	if len(p.Ops) != len(p.Clients) {
		return fmt.Errorf("ops: %d values for %d concurrencies", len(p.Ops), len(p.Clients))
	}
	if p.Pairs < 1 {
		return fmt.Errorf("pairs: must be at least 1, got %d", p.Pairs)
	}
	for i, c := range p.Clients {
		if err := (load.Spec{Clients: c, Ops: p.Ops[i], ValueSize: p.ValueSize, Keyspace: p.Keyspace}).Validate(); err != nil {
			return fmt.Errorf("level %d clients: %w", c, err)
		}
	}
	return nil
}

func (p Plan) progress(format string, args ...any) {
	if p.Progress != nil {
		fmt.Fprintf(p.Progress, format+"\n", args...)
	}
}

// ComparePairs runs a and b back to back at every concurrency, Pairs
// times, alternating which goes first (a b, b a, a b, ...), and returns
// the pairs per concurrency (index as in Plan.Clients). The outer loop is
// over pairs, so each concurrency's runs are spread over the whole
// comparison.
func ComparePairs(ctx context.Context, a, b System, ep cluster.Endpoint, p Plan) ([][]report.Pair, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := make([][]report.Pair, len(p.Clients))
	seq := 0
	for pair := 0; pair < p.Pairs; pair++ {
		for li, clients := range p.Clients {
			first, second := a, b
			if pair%2 == 1 {
				first, second = b, a
			}
			runs := map[System]report.Run{}
			for _, sys := range []System{first, second} {
				seq++
				r, err := RunOnce(ctx, sys, ep, p, clients, p.Ops[li], seq)
				if err != nil {
					return nil, fmt.Errorf("%s, %d clients, pair %d: %w", sys.Name(), clients, pair+1, err)
				}
				runs[sys] = r
				p.progress("  pair %d/%d  %-8s → %-9s clients %3d: %7.0f w/s  p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms  cpu %4.0f+%3.0f µs/op  other %3.0f%%  errors %d",
					pair+1, p.Pairs, sys.Name(), ep, clients, r.WritesPerS, r.P50Ms, r.P99Ms, r.MaxMs, r.CPUUsPerOp, r.ClientCPUUsPerOp, r.OtherCPUPct, r.Errors)
			}
			out[li] = append(out[li], report.NewPair(runs[a], runs[b], first.Name()))
		}
	}
	return out, nil
}

// RunOnce makes one measured run of sys: it opens a fresh Target, warms it
// up, runs the load and accounts the servers' CPU and disk writes.
func RunOnce(ctx context.Context, sys System, ep cluster.Endpoint, p Plan, clients, ops, seq int) (report.Run, error) {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.WaitHealthy(hctx)
	cancel()
	if err != nil {
		return report.Run{}, err
	}
	t, err := sys.Target(ctx, ep, clients, p.Conns)
	if err != nil {
		return report.Run{}, err
	}
	defer t.Close()
	spec := load.Spec{
		Clients:   clients,
		Ops:       ops,
		Warmup:    max(p.Warmup, 2*clients),
		ValueSize: p.ValueSize,
		Keyspace:  p.Keyspace,
		// One key space per system across runs: the state stays bounded
		// (keyspace keys), so every run measures the same steady state.
		Prefix:  fmt.Sprintf("bench/%s/", sys.Name()),
		Timeout: p.Timeout,
		Seed:    uint64(seq),
	}
	// The warm-up is separate from the measured load, so that the
	// accounting covers the measured writes only.
	if spec.Warmup > 0 {
		w := spec
		w.Ops, w.Warmup = spec.Warmup, 0
		if _, err := load.Run(ctx, t, w); err != nil {
			return report.Run{}, err
		}
		spec.Warmup = 0
	}
	before := cluster.ProcUsage(sys.Pids())
	selfBefore := selfCPU()
	busyBefore := cluster.MachineBusy()
	res, err := load.Run(ctx, t, spec)
	if err != nil {
		return report.Run{}, err
	}
	used := cluster.ProcUsage(sys.Pids()).Sub(before)
	self := selfCPU() - selfBefore
	busy := cluster.MachineBusy() - busyBefore
	r := report.FromResult(sys.Name(), res)
	if res.Ops > 0 {
		r.CPUUsPerOp = float64(used.CPU.Microseconds()) / float64(res.Ops)
		r.DiskBytesPerOp = float64(used.WriteBytes) / float64(res.Ops)
		r.ClientCPUUsPerOp = float64(self.Microseconds()) / float64(res.Ops)
	}
	if other := busy - used.CPU - self; busy > 0 && other > 0 && res.Elapsed > 0 {
		r.OtherCPUPct = 100 * other.Seconds() / res.Elapsed.Seconds()
	}
	return r, nil
}

// selfCPU is this process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
