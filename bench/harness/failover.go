package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
	"github.com/steward/steward/internal/clock"
	backoff "github.com/steward/steward/internal/poll"
)

// FailoverPlan configures the leader-kill measurements.
type FailoverPlan struct {
	// Runs is the number of leader kills per system.
	Runs int
	// RequestTimeout bounds each write of the client (it then retries with
	// a new key on the next member).
	RequestTimeout time.Duration
	// Before is how many writes must be acknowledged before the kill.
	Before int
	// Deadline bounds the wait for a write under the new leader.
	Deadline time.Duration
	// Progress receives one line per run (nil: none).
	Progress func(format string, args ...any)
	// First and Total number the runs in progress lines when one plan is
	// run a run at a time (interleaved with another system).
	First, Total int
}

func (f FailoverPlan) progress(format string, args ...any) {
	if f.Progress != nil {
		f.Progress(format, args...)
	}
}

// Failover kills the leader of sys plan.Runs times while one client
// writes, each time measuring the time from the SIGKILL to the first
// write the system reports as committed under the new leader, then
// restarts the killed member and waits for the cluster to heal.
func Failover(ctx context.Context, sys System, plan FailoverPlan, timeouts map[string]string) report.Failover {
	out := report.Failover{System: sys.Name(), Timeouts: timeouts}
	total := plan.Total
	if total == 0 {
		total = plan.Runs
	}
	for i := 0; i < plan.Runs; i++ {
		r := FailoverOnce(ctx, sys, plan, plan.First+i)
		out.Runs = append(out.Runs, r)
		n := plan.First + i + 1
		if r.Error != "" {
			plan.progress("  failover %s run %d/%d: FAILED: %s", sys.Name(), n, total, r.Error)
		} else {
			plan.progress("  failover %s run %d/%d: %s (term %d) killed → first write under %s (term %d) after %.0f ms; gap %.0f ms; %d failed writes",
				sys.Name(), n, total, r.OldLeader, r.OldTerm, r.NewLeader, r.NewTerm, r.ToNewLeaderMs, r.GapMs, r.FailedWrites)
		}
		if ctx.Err() != nil {
			break
		}
	}
	SummarizeFailover(&out)
	return out
}

// SummarizeFailover fills the medians and maxima from the runs that
// succeeded and counts those that did not.
func SummarizeFailover(f *report.Failover) {
	var to, gap []float64
	f.Failed, f.MaxMs, f.MaxGapMs = 0, 0, 0
	for _, r := range f.Runs {
		if r.Error != "" {
			f.Failed++
			continue
		}
		to = append(to, r.ToNewLeaderMs)
		gap = append(gap, r.GapMs)
		f.MaxMs = max(f.MaxMs, r.ToNewLeaderMs)
		f.MaxGapMs = max(f.MaxGapMs, r.GapMs)
	}
	f.MedianMs, f.MedianGapMs = 0, 0
	if len(to) > 0 {
		f.MedianMs = load.Median(to)
		f.MedianGapMs = load.Median(gap)
	}
}

type ack struct {
	at     time.Time
	commit cluster.Commit
}

// writer is the failover client: sequential writes, each to the member it
// last succeeded with, moving to the next member on an error.
type writer struct {
	sys     System
	timeout time.Duration
	prefix  string

	mu     sync.Mutex
	acks   []ack
	failed int
	cond   func(ack) bool // signalled through hit when an ack satisfies it
	hit    chan struct{}
}

func (w *writer) run(ctx context.Context, start int) {
	cur := start
	value := make([]byte, 64)
	for seq := 0; ctx.Err() == nil; seq++ {
		rctx, cancel := context.WithTimeout(ctx, w.timeout)
		c, err := w.sys.PutOn(rctx, cur, fmt.Sprintf("%s%08d", w.prefix, seq), value)
		cancel()
		now := time.Now()
		w.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				w.failed++
			}
			cur = (cur + 1) % w.sys.Size()
		} else {
			a := ack{at: now, commit: c}
			w.acks = append(w.acks, a)
			if w.cond != nil && w.cond(a) {
				w.cond = nil
				close(w.hit)
			}
		}
		w.mu.Unlock()
	}
}

// await arms cond and waits until an ack satisfies it or ctx ends.
func (w *writer) await(ctx context.Context, cond func(ack) bool) error {
	w.mu.Lock()
	for _, a := range w.acks {
		if cond(a) {
			w.mu.Unlock()
			return nil
		}
	}
	hit := make(chan struct{})
	w.cond, w.hit = cond, hit
	w.mu.Unlock()
	select {
	case <-hit:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		w.cond = nil
		w.mu.Unlock()
		return ctx.Err()
	}
}

// FailoverOnce is one leader kill.
func FailoverOnce(ctx context.Context, sys System, plan FailoverPlan, run int) report.FailoverRun {
	var r report.FailoverRun
	fail := func(err error) report.FailoverRun {
		r.Error = err.Error()
		return r
	}
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.WaitHealthy(hctx)
	cancel()
	if err != nil {
		return fail(err)
	}
	old, err := sys.Leader(ctx)
	if err != nil {
		return fail(err)
	}
	r.OldLeader, r.OldTerm = old.Name, old.Term

	w := &writer{sys: sys, timeout: plan.RequestTimeout, prefix: fmt.Sprintf("bench/failover/%s/%d/%d/", sys.Name(), time.Now().UnixNano(), run)}
	wctx, stopWriter := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(wctx, old.Index) // the client talks to the leader when it dies
	}()
	defer func() { stopWriter(); <-done }()

	before, cancel := context.WithTimeout(ctx, 30*time.Second)
	n := 0
	err = w.await(before, func(ack) bool { n++; return n >= max(plan.Before, 1) })
	cancel()
	if err != nil {
		return fail(fmt.Errorf("no writes before the kill: %w", err))
	}
	killAt := time.Now()
	if err := sys.Kill(old.Index); err != nil {
		return fail(err)
	}
	underNew := func(a ack) bool {
		if !a.at.After(killAt) {
			return false
		}
		if a.commit.Leader != "" {
			return a.commit.Leader != old.Name
		}
		return a.commit.Term > old.Term
	}
	dctx, cancel := context.WithTimeout(ctx, plan.Deadline)
	err = w.await(dctx, underNew)
	cancel()
	stopWriter()
	<-done
	if err != nil {
		_ = sys.Restart(ctx, old.Index)
		return fail(fmt.Errorf("no write under a new leader within %s of the kill: %w", plan.Deadline, err))
	}
	// The client's view: the last write the old leader acknowledged and
	// the first one acknowledged under the new leader.
	var lastOld, firstNew time.Time
	for _, a := range w.acks {
		if underNew(a) {
			firstNew = a.at
			break
		}
		lastOld = a.at
	}
	r.ToNewLeaderMs = load.Ms(firstNew.Sub(killAt))
	r.GapMs = load.Ms(firstNew.Sub(lastOld))
	r.FailedWrites = w.failed

	// The new leader, as the system's status API says.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = poll(lctx, func() error {
		li, err := sys.Leader(lctx)
		if err == nil {
			r.NewLeader, r.NewTerm = li.Name, li.Term
		}
		return err
	})
	cancel()
	if err != nil {
		r.Error = fmt.Sprintf("new leader not reported: %v", err)
	}
	if err := sys.Restart(ctx, old.Index); err != nil {
		if r.Error != "" {
			err = fmt.Errorf("%s; %w", r.Error, err)
		}
		r.Error = err.Error()
	}
	return r
}

// poll calls f until it returns nil or ctx ends (5 ms doubling to 160 ms
// between calls), returning f's last error.
func poll(ctx context.Context, f func() error) error {
	var err error
	_ = backoff.Until(ctx, clock.System(), backoff.Doubling(5*time.Millisecond, 160*time.Millisecond), func() (bool, error) {
		err = f()
		return err == nil, nil
	})
	return err
}
