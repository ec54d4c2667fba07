package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
)

// SteadyPlan is a fault-free run of writes during which the elections are
// counted.
type SteadyPlan struct {
	// Duration is how long the clients write.
	Duration time.Duration
	// Clients write in a closed loop, to the leader.
	Clients   int
	ValueSize int
	Keyspace  int
	// Timeout bounds one write (0: 10 s).
	Timeout time.Duration
	// Poll is how often every member's term and leader are sampled (0:
	// 200 ms).
	Poll time.Duration
	// Progress receives one line at the end (nil: none).
	Progress func(format string, args ...any)
}

// Validate checks the plan; errors name the field.
func (p SteadyPlan) Validate() error {
	if p.Duration <= 0 {
		return fmt.Errorf("steady: duration must be positive, got %s", p.Duration)
	}
	if p.Clients < 1 {
		return fmt.Errorf("steady: clients must be at least 1, got %d", p.Clients)
	}
	return nil
}

// RaftCounterNames are the steward counters a steady run reports the
// increase of (summed over the members).
var RaftCounterNames = []string{
	"steward_raft_heartbeat_timeouts_total",
	"steward_raft_leader_lease_timeouts_total",
	`steward_raft_state_transitions_total{state="candidate"}`,
	`steward_raft_state_transitions_total{state="leader"}`,
}

// MetricsSource is a System whose members expose counters (steward's
// /metrics).
type MetricsSource interface {
	Metrics(ctx context.Context, i int, names ...string) (map[string]float64, error)
}

// metricsOf finds the MetricsSource under sys's wrappers, if any.
func metricsOf(sys System) (MetricsSource, bool) {
	for {
		if m, ok := sys.(MetricsSource); ok {
			return m, true
		}
		switch w := sys.(type) {
		case Named:
			sys = w.System
		case connsOverride:
			sys = w.System
		default:
			return nil, false
		}
	}
}

// termWatch samples every member's term and leader.
type termWatch struct {
	sys System

	mu       sync.Mutex
	maxTerm  uint64
	leaders  []string
	errors   int
	disagree int
}

// sample asks every running member once; it returns the highest term
// seen and records a change of the agreed leader.
func (w *termWatch) sample(ctx context.Context) uint64 {
	var top uint64
	leader, agreed := "", true
	for i := 0; i < w.sys.Size(); i++ {
		if !w.sys.Running(i) {
			continue
		}
		st, err := w.sys.MemberStatus(ctx, i)
		if err != nil {
			w.mu.Lock()
			w.errors++
			w.mu.Unlock()
			agreed = false
			continue
		}
		top = max(top, st.Term)
		switch {
		case st.Leader == "":
			agreed = false
		case leader == "":
			leader = st.Leader
		case leader != st.Leader:
			agreed = false
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxTerm = max(w.maxTerm, top)
	if agreed && leader != "" && (len(w.leaders) == 0 || w.leaders[len(w.leaders)-1] != leader) {
		w.leaders = append(w.leaders, leader)
	}
	return top
}

func sumCounters(ctx context.Context, m MetricsSource, n int, running func(int) bool) (map[string]float64, error) {
	out := map[string]float64{}
	for i := 0; i < n; i++ {
		if !running(i) {
			continue
		}
		v, err := m.Metrics(ctx, i, RaftCounterNames...)
		if err != nil {
			return nil, err
		}
		for k, x := range v {
			out[k] += x
		}
	}
	return out, nil
}

// Steady writes to sys's leader with plan.Clients clients for
// plan.Duration, with no fault injected, and counts the elections: the
// rise of the highest term the members report, the leader changes seen by
// sampling them, and (for a MetricsSource) Raft's own counters.
func Steady(ctx context.Context, sys System, plan SteadyPlan, timeouts map[string]string) (report.Steady, error) {
	out := report.Steady{System: sys.Name(), Timeouts: timeouts, Clients: plan.Clients, Endpoint: string(cluster.ToLeader)}
	if err := plan.Validate(); err != nil {
		return out, err
	}
	poll := plan.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	out.PollMs = load.Ms(poll)
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.WaitHealthy(hctx)
	cancel()
	if err != nil {
		return out, err
	}
	w := &termWatch{sys: sys}
	out.TermStart = w.sample(ctx)
	if w.errors > 0 || out.TermStart == 0 {
		return out, fmt.Errorf("steady %s: the members' terms could not be read before the run", sys.Name())
	}
	ms, hasMetrics := metricsOf(sys)
	var before map[string]float64
	if hasMetrics {
		if before, err = sumCounters(ctx, ms, sys.Size(), sys.Running); err != nil {
			return out, fmt.Errorf("steady %s: metrics: %w", sys.Name(), err)
		}
	}
	t, err := sys.Target(ctx, cluster.ToLeader, plan.Clients, 0)
	if err != nil {
		return out, err
	}
	defer t.Close()

	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
				w.sample(wctx)
			}
		}
	}()
	res, err := load.RunFor(ctx, t, load.TimedSpec{
		Clients: plan.Clients, Duration: plan.Duration, ValueSize: plan.ValueSize, Keyspace: plan.Keyspace,
		Prefix: fmt.Sprintf("bench/%s/steady/", sys.Name()), Timeout: plan.Timeout, Seed: 1,
	})
	stopWatch()
	<-watched
	if err != nil {
		return out, err
	}
	end := w.sample(ctx)
	w.mu.Lock()
	out.TermEnd = max(end, w.maxTerm)
	out.Leaders = append([]string(nil), w.leaders...)
	out.PollErrors = w.errors
	w.mu.Unlock()
	if out.TermEnd >= out.TermStart {
		out.SpuriousElections = int(out.TermEnd - out.TermStart)
	}
	out.LeaderChanges = max(len(out.Leaders)-1, 0)
	out.DurationS = res.Elapsed.Seconds()
	out.Writes, out.Errors, out.FirstError = res.Ops, res.Errors, res.FirstErr
	out.WritesPerS = res.Throughput()
	out.P50Ms, out.P99Ms, out.MaxMs = load.Ms(res.Latency.P50), load.Ms(res.Latency.P99), load.Ms(res.Latency.Max)
	if hasMetrics {
		after, err := sumCounters(ctx, ms, sys.Size(), sys.Running)
		if err != nil {
			return out, fmt.Errorf("steady %s: metrics: %w", sys.Name(), err)
		}
		out.RaftCounters = map[string]float64{}
		for _, k := range RaftCounterNames {
			out.RaftCounters[k] = after[k] - before[k]
		}
	}
	if plan.Progress != nil {
		plan.Progress("  steady %s: %d clients for %s: %.0f w/s, p99 %.2f ms, max %.1f ms, errors %d; terms %d → %d: %d elections, %d leader changes %v",
			sys.Name(), plan.Clients, res.Elapsed.Round(time.Second), out.WritesPerS, out.P99Ms, out.MaxMs, out.Errors,
			out.TermStart, out.TermEnd, out.SpuriousElections, out.LeaderChanges, out.Leaders)
	}
	return out, nil
}
