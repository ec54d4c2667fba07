package coordination

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/plan"
)

// probeRounds is how many times a health probe is timed, before and after
// a batch; the slowest round is compared.
const probeRounds = 3

// latencies are the slowest health probe answers of a batch's targets
// before it, by PID; a target whose module has no probe is absent.
type latencies map[string]time.Duration

// probeHealth times, before a deployment batch, the health probes of its
// targets on this node.
func (l *Layer) probeHealth(ctx context.Context, checks []plan.Check) latencies {
	out := latencies{}
	for _, c := range checks {
		if c.Kind != plan.CheckHealthy {
			continue
		}
		refs := c.ForNode(l.node.Name()).Processes
		pids := make([]string, len(refs))
		for i, r := range refs {
			pids[i] = r.PID
		}
		for i, pr := range l.probeAll(ctx, pids) {
			if pr.err == nil {
				out[pids[i]] = pr.d
			}
		}
	}
	return out
}

// probeWorkers bounds the probes in flight on a node: a batch's targets
// are probed this many at a time, not one after the other (each probe is a
// round trip through the process's goroutine; a thousand in series cost a
// batch tens of milliseconds before and again after it), nor all at once
// (the latencies would mostly measure the scheduler).
const probeWorkers = 16

type probeResult struct {
	d   time.Duration
	err error
}

// probeAll probes each pid (probe), probeWorkers at a time; the answers
// are in pids' order.
func (l *Layer) probeAll(ctx context.Context, pids []string) []probeResult {
	out := make([]probeResult, len(pids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(probeWorkers, len(pids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i].d, out[i].err = l.probe(ctx, pids[i])
			}
		}()
	}
	for i := range pids {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// probe times the slowest of probeRounds answers of pid's health probe.
func (l *Layer) probe(ctx context.Context, s string) (time.Duration, error) {
	pid, err := actor.ParsePID(s)
	if err != nil {
		return 0, err
	}
	var worst time.Duration
	for range probeRounds {
		start := time.Now()
		if err := l.rt.Probe(ctx, pid); err != nil {
			return 0, err
		}
		worst = max(worst, time.Since(start))
	}
	return worst, nil
}

// healthGate is one batch's healthy check on this node: the targets'
// restart counts when the batch ended, and when min_healthy_time is over.
type healthGate struct {
	l        *Layer
	check    plan.Check
	before   latencies
	restarts map[string]int
	until    time.Time
}

func (l *Layer) startHealthGate(_ context.Context, c plan.Check, before latencies) *healthGate {
	g := &healthGate{l: l, check: c, before: before, restarts: map[string]int{},
		until: l.clock.Now().Add(time.Duration(c.Health.MinHealthyMS) * time.Millisecond)}
	for _, r := range c.Processes {
		if pid, err := actor.ParsePID(r.PID); err == nil {
			if info, err := l.rt.Process(pid); err == nil {
				g.restarts[r.PID] = info.Restarts
			}
		}
	}
	return g
}

// waitMin waits until min_healthy_time has passed since the batch.
func (g *healthGate) waitMin(ctx context.Context) error {
	d := g.until.Sub(g.l.clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	return clock.Wait(ctx, g.l.clock, d)
}

// finish adds to the observed part of the check what only the executor
// can see: no restart counted since the batch, and each probe answering
// within ProbeFactor times its latency before plus ProbeSlackMS.
func (g *healthGate) finish(ctx context.Context, r plan.CheckResult) plan.CheckResult {
	h := g.check.Health
	pids := make([]string, len(g.check.Processes))
	for i, ref := range g.check.Processes {
		pids[i] = ref.PID
	}
	probes := g.l.probeAll(ctx, pids)
	for i, ref := range g.check.Processes {
		pid, err := actor.ParsePID(ref.PID)
		if err != nil {
			continue
		}
		info, err := g.l.rt.Process(pid)
		if err != nil {
			continue // the observed part already failed it
		}
		if n, ok := g.restarts[ref.PID]; ok && info.Restarts != n {
			r.Failures = append(r.Failures, fmt.Sprintf("%s restarted during min_healthy_time (%d -> %d restarts)", ref, n, info.Restarts))
		}
		prev, probed := g.before[ref.PID]
		d, err := probes[i].d, probes[i].err
		switch {
		case errors.Is(err, actor.ErrNotSupported):
		case err != nil:
			r.Failures = append(r.Failures, fmt.Sprintf("%s: health probe: %v", ref, err))
		case probed && h.ProbeFactor > 0:
			limit := time.Duration(float64(prev)*h.ProbeFactor) + time.Duration(h.ProbeSlackMS)*time.Millisecond
			if d > limit {
				r.Failures = append(r.Failures, fmt.Sprintf("%s: health probe took %s, more than %.1fx its %s before plus %dms", ref, d, h.ProbeFactor, prev, h.ProbeSlackMS))
			}
		}
	}
	r.OK = len(r.Failures) == 0
	return r
}
