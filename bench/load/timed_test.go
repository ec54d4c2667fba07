package load

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type countingTarget struct {
	n    atomic.Int64
	fail bool
}

func (c *countingTarget) Put(ctx context.Context, _ int, _ string, _ []byte) error {
	c.n.Add(1)
	if c.fail {
		return errors.New("refused")
	}
	runtime.Gosched() // a write that lets the others run
	return nil
}

func TestRunForStopsAtDurationAndCountsWrites(t *testing.T) {
	tg := &countingTarget{}
	started := false
	r, err := RunFor(context.Background(), tg, TimedSpec{Clients: 4, Duration: 50 * time.Millisecond, Warmup: 10 * time.Millisecond,
		OnStart: func() { started = true }})
	if err != nil {
		t.Fatal(err)
	}
	if !started {
		t.Error("OnStart was not called")
	}
	if r.Ops == 0 || r.Errors != 0 || r.Latency.Count != r.Ops {
		t.Errorf("ops %d errors %d latencies %d", r.Ops, r.Errors, r.Latency.Count)
	}
	if int64(r.Ops) >= tg.n.Load() {
		t.Errorf("measured %d of %d writes: the warm-up was counted", r.Ops, tg.n.Load())
	}
	if r.Elapsed < 50*time.Millisecond {
		t.Errorf("elapsed %s, shorter than the 50 ms asked for", r.Elapsed)
	}
}

func TestRunForCountsErrors(t *testing.T) {
	tg := &countingTarget{fail: true}
	r, err := RunFor(context.Background(), tg, TimedSpec{Clients: 1, Duration: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 0 || r.Errors == 0 || r.FirstErr != "refused" {
		t.Errorf("ops %d errors %d first %q", r.Ops, r.Errors, r.FirstErr)
	}
}

func TestTimedSpecValidateNamesFields(t *testing.T) {
	err := TimedSpec{}.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, f := range []string{"clients", "duration"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
}
