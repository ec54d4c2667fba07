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

// Op is what a load run does: writes, or reads of one consistency.
type Op struct {
	// Read makes the run read the keys instead of writing them.
	Read bool
	// Stale reads from the serving member's own replica: steward's
	// ReadOptions{Stale: true}, etcd's serializable Range. Without it a
	// read is linearizable: steward's read-index on the leader, etcd's
	// default Range.
	Stale bool
}

// Write is the write workload.
var Write = Op{}

// The read workloads.
var (
	ReadLinearizable = Op{Read: true}
	ReadStale        = Op{Read: true, Stale: true}
)

// String names the op in reports: "write", "read-linearizable",
// "read-stale".
func (o Op) String() string {
	switch {
	case !o.Read:
		return "write"
	case o.Stale:
		return "read-stale"
	default:
		return "read-linearizable"
	}
}

// Consistency names a read for system: "linearizable", or for a stale
// read "stale" (steward) or "serializable" (etcd, and any other name).
func (o Op) Consistency(system string) string {
	switch {
	case !o.Read:
		return ""
	case !o.Stale:
		return "linearizable"
	case system == "etcd":
		return "serializable"
	default:
		return "stale"
	}
}

// ComparePairs runs a and b back to back at every concurrency, Pairs
// times, alternating which goes first (a b, b a, a b, ...), and returns
// the pairs per concurrency (index as in Plan.Clients). The outer loop is
// over pairs, so each concurrency's runs are spread over the whole
// comparison.
func ComparePairs(ctx context.Context, a, b System, ep cluster.Endpoint, p Plan) ([][]report.Pair, error) {
	out, err := CompareOps(ctx, a, b, ep, p, []Op{Write})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// CompareOps is ComparePairs for several workloads at once, interleaved:
// for each pair, for each concurrency, for each op, a and b back to back
// (a first in odd pairs, b in even ones). It returns the pairs per op and
// concurrency (indexes as in ops and Plan.Clients). When an op reads, each
// system's keyspace is filled first (load.Fill), so that every read finds
// a value.
func CompareOps(ctx context.Context, a, b System, ep cluster.Endpoint, p Plan, ops []Op) ([][][]report.Pair, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("ops: none to compare")
	}
	for _, op := range ops {
		if op.Read {
			if p.Keyspace < 1 {
				return nil, fmt.Errorf("keyspace: reads need a keyspace to fill (got %d)", p.Keyspace)
			}
			for _, sys := range []System{a, b} {
				if err := FillKeyspace(ctx, sys, ep, p); err != nil {
					return nil, err
				}
			}
			break
		}
	}
	out := make([][][]report.Pair, len(ops))
	for oi := range ops {
		out[oi] = make([][]report.Pair, len(p.Clients))
	}
	seq := 0
	for pair := 0; pair < p.Pairs; pair++ {
		for li, clients := range p.Clients {
			for oi, op := range ops {
				first, second := a, b
				if pair%2 == 1 {
					first, second = b, a
				}
				runs := map[System]report.Run{}
				for _, sys := range []System{first, second} {
					seq++
					r, err := RunOp(ctx, sys, ep, p, op, clients, p.Ops[li], seq)
					if err != nil {
						return nil, fmt.Errorf("%s, %s, %d clients, pair %d: %w", sys.Name(), op, clients, pair+1, err)
					}
					runs[sys] = r
					unit := "w/s"
					if op.Read {
						unit = "r/s"
					}
					p.progress("  pair %d/%d  %-8s %-17s → %-9s clients %3d: %7.0f %s  p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms  cpu %4.0f+%3.0f µs/op  other %3.0f%%  errors %d",
						pair+1, p.Pairs, sys.Name(), op, ep, clients, r.Throughput(), unit, r.P50Ms, r.P99Ms, r.MaxMs, r.CPUUsPerOp, r.ClientCPUUsPerOp, r.OtherCPUPct, r.Errors)
				}
				out[oi][li] = append(out[oi][li], report.NewPair(runs[a], runs[b], first.Name()))
			}
		}
	}
	return out, nil
}

// keyPrefix is where sys's load runs put their keys: one key space per
// system across runs, so the state stays bounded (Keyspace keys) and
// every run measures the same steady state.
func keyPrefix(sys System) string { return fmt.Sprintf("bench/%s/", sys.Name()) }

// FillKeyspace writes every key of sys's keyspace once, through ep, with
// up to 64 clients.
func FillKeyspace(ctx context.Context, sys System, ep cluster.Endpoint, p Plan) error {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.WaitHealthy(hctx)
	cancel()
	if err != nil {
		return err
	}
	clients := min(64, p.Keyspace)
	t, err := sys.Target(ctx, ep, clients, p.Conns)
	if err != nil {
		return err
	}
	defer t.Close()
	start := time.Now()
	if err := load.Fill(ctx, t, load.FillSpec{Keyspace: p.Keyspace, Prefix: keyPrefix(sys), Clients: clients, ValueSize: p.ValueSize, Timeout: p.Timeout}); err != nil {
		return fmt.Errorf("%s: %w", sys.Name(), err)
	}
	p.progress("  filled %s's keyspace: %d keys in %s", sys.Name(), p.Keyspace, time.Since(start).Round(time.Millisecond))
	return nil
}

// reader reads through a Target with one consistency.
type reader struct {
	t     cluster.Target
	stale bool
}

func (r reader) Get(ctx context.Context, client int, key string) error {
	return r.t.Get(ctx, client, key, r.stale)
}

// RunOnce makes one measured run of writes (RunOp with Write).
func RunOnce(ctx context.Context, sys System, ep cluster.Endpoint, p Plan, clients, ops, seq int) (report.Run, error) {
	return RunOp(ctx, sys, ep, p, Write, clients, ops, seq)
}

// RunOp makes one measured run of op on sys: it opens a fresh Target,
// warms it up with the same op, runs the load and accounts the servers'
// CPU and disk writes.
func RunOp(ctx context.Context, sys System, ep cluster.Endpoint, p Plan, op Op, clients, ops, seq int) (report.Run, error) {
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
	var target load.Target = t
	if op.Read {
		target = load.Reads(reader{t: t, stale: op.Stale})
	}
	spec := load.Spec{
		Clients:   clients,
		Ops:       ops,
		Warmup:    max(p.Warmup, 2*clients),
		ValueSize: p.ValueSize,
		Keyspace:  p.Keyspace,
		Prefix:    keyPrefix(sys),
		Timeout:   p.Timeout,
		Seed:      uint64(seq),
	}
	// The warm-up is separate from the measured load, so that the
	// accounting covers the measured writes only.
	if spec.Warmup > 0 {
		w := spec
		w.Ops, w.Warmup = spec.Warmup, 0
		if _, err := load.Run(ctx, target, w); err != nil {
			return report.Run{}, err
		}
		spec.Warmup = 0
	}
	before := cluster.ProcUsage(sys.Pids())
	selfBefore := selfCPU()
	busyBefore := cluster.MachineBusy()
	res, err := load.Run(ctx, target, spec)
	if err != nil {
		return report.Run{}, err
	}
	used := cluster.ProcUsage(sys.Pids()).Sub(before)
	self := selfCPU() - selfBefore
	busy := cluster.MachineBusy() - busyBefore
	r := report.FromResultOp(sys.Name(), op.String(), res)
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
