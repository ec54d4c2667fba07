package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steward/steward/internal/clock"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestManualTimerFiresWhenAdvancedPast(t *testing.T) {
	m := clock.NewManual(time.Time{})
	start := m.Now()
	tm := m.NewTimer(time.Second)
	m.Advance(999 * time.Millisecond)
	if _, ok := received(tm.C()); ok {
		t.Fatal("fired before its time")
	}
	m.Advance(time.Millisecond)
	v, ok := received(tm.C())
	if !ok || !v.Equal(start.Add(time.Second)) {
		t.Fatalf("fired %v at %v, want at %v", ok, v, start.Add(time.Second))
	}
	if m.Pending() != 0 {
		t.Fatalf("%d timers still armed", m.Pending())
	}
}

func TestManualStopAndResetDropWhatWasNotReceived(t *testing.T) {
	m := clock.NewManual(time.Time{})
	tm := m.NewTimer(time.Second)
	m.Advance(time.Second)
	if tm.Stop() {
		t.Fatal("Stop of a fired timer reported it armed")
	}
	if _, ok := received(tm.C()); ok {
		t.Fatal("a value sent before Stop was received after it")
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a stopped timer reported it armed")
	}
	m.Advance(time.Second)
	if tm.Reset(time.Minute) {
		t.Fatal("Reset of a fired timer reported it armed")
	}
	if m.Pending() != 1 {
		t.Fatal("Reset did not arm the timer")
	}
	if _, ok := received(tm.C()); ok {
		t.Fatal("a value sent before Reset was received after it")
	}
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer reported it disarmed")
	}
	m.Advance(time.Hour)
	if _, ok := received(tm.C()); ok {
		t.Fatal("a stopped timer fired")
	}
}

func TestManualNonPositiveFiresAtOnce(t *testing.T) {
	m := clock.NewManual(time.Time{})
	if _, ok := received(m.NewTimer(0).C()); !ok {
		t.Fatal("NewTimer(0) did not fire at once")
	}
	done := make(chan struct{})
	m.AfterFunc(-time.Second, func() { close(done) })
	select {
	case <-done:
	case <-ctx(t).Done():
		t.Fatal("AfterFunc(-1s) did not run")
	}
}

// Due timers fire in deadline order, and those they arm fire in the same
// Advance when due within it.
func TestManualAdvanceOrderAndChains(t *testing.T) {
	m := clock.NewManual(time.Time{})
	var order []string
	m.AfterFunc(3*time.Second, func() { order = append(order, "3s") })
	m.AfterFunc(time.Second, func() {
		order = append(order, "1s")
		m.AfterFunc(time.Second, func() { order = append(order, "1s+1s") })
	})
	m.Advance(5 * time.Second)
	if got := len(order); got != 3 || order[0] != "1s" || order[1] != "1s+1s" || order[2] != "3s" {
		t.Fatalf("order %v", order)
	}
}

func TestManualWaitForTimers(t *testing.T) {
	m := clock.NewManual(time.Time{})
	go func() {
		m.NewTimer(time.Second)
		m.NewTimer(time.Second)
	}()
	if err := m.WaitForTimers(ctx(t), 2); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.WaitForTimers(short, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitForTimers past its context: %v", err)
	}
}

func TestWait(t *testing.T) {
	m := clock.NewManual(time.Time{})
	done := make(chan error, 1)
	go func() { done <- clock.Wait(context.Background(), m, time.Minute) }()
	if err := m.WaitForTimers(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	m.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clock.Wait(c, m, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait past its context: %v", err)
	}
	if m.Pending() != 0 {
		t.Fatal("Wait left its timer armed")
	}
}

func TestWithDeadlineOnAManualClock(t *testing.T) {
	m := clock.NewManual(time.Time{})
	due := m.Now().Add(time.Minute)
	c, cancel := clock.WithDeadline(context.Background(), m, due)
	defer cancel()
	if _, ok := c.Deadline(); ok {
		t.Fatal("a manual deadline is reported to the wall")
	}
	if d, ok := clock.Deadline(c); !ok || !d.Equal(due) {
		t.Fatalf("clock.Deadline = %v %v", d, ok)
	}
	if err := m.WaitForTimers(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	m.Advance(time.Minute)
	select {
	case <-c.Done():
	case <-ctx(t).Done():
		t.Fatal("not done past its deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", c.Err())
	}

	c2, cancel2 := clock.WithDeadline(context.Background(), m, m.Now().Add(time.Minute))
	cancel2()
	<-c2.Done()
	if !errors.Is(c2.Err(), context.Canceled) {
		t.Fatalf("cancelled: Err = %v", c2.Err())
	}
}

func TestWithDeadlineOnTheWall(t *testing.T) {
	due := time.Now().Add(time.Hour)
	c, cancel := clock.WithDeadline(context.Background(), clock.System(), due)
	defer cancel()
	if d, ok := c.Deadline(); !ok || !d.Equal(due) {
		t.Fatalf("Deadline = %v %v", d, ok)
	}
	if d, ok := clock.Deadline(c); !ok || !d.Equal(due) {
		t.Fatalf("clock.Deadline = %v %v", d, ok)
	}
	if clock.Or(nil) != clock.System() {
		t.Fatal("Or(nil) is not the wall clock")
	}
}
