package poll_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
)

// The waits between tries follow the backoff: Min, growing by Factor, held
// at Max; the clock is manual, so the test sees every wait.
func TestUntilWaitsAsTheBackoffSays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := clock.NewManual(time.Time{})
	tries := make(chan time.Time) // unbuffered: a try waits for the test to see it
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- poll.Until(ctx, m, poll.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 2}, func() (bool, error) {
			tries <- m.Now()
			n++
			return n == 6, nil
		})
	}()
	start := <-tries
	var waits []time.Duration
	prev := start
	for len(waits) < 5 {
		if err := m.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		m.Advance(time.Millisecond)
		if m.Pending() == 0 { // the wait is over: the next try comes
			at := <-tries
			waits = append(waits, at.Sub(prev))
			prev = at
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Until: %v", err)
	}
	want := []time.Duration{10, 20, 40, 50, 50}
	for i, w := range want {
		if waits[i] != w*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", waits, want)
		}
	}
}

func TestUntilEnds(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	err := poll.Until(context.Background(), clock.NewManual(time.Time{}), poll.Every(time.Hour), func() (bool, error) {
		calls++
		return false, boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("a failing try: %v after %d calls", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	err = poll.Until(ctx, clock.NewManual(time.Time{}), poll.Doubling(time.Millisecond, time.Second), func() (bool, error) {
		calls++
		return false, nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("an ended context: %v after %d calls (want one try, then its error)", err, calls)
	}

	calls = 0
	err = poll.Until(ctx, clock.System(), poll.Every(time.Hour), func() (bool, error) {
		calls++
		return true, nil
	})
	if err != nil || calls != 1 {
		t.Fatalf("done at once: %v after %d calls", err, calls)
	}
}
