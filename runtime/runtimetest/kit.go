package runtimetest

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/steward/steward/runtime"
)

// Logger returns an hclog logger writing to t.Log, so logs show only when a
// test fails.
func Logger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   t.Name(),
		Level:  hclog.Debug,
		Output: tWriter{t},
	})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

var _ io.Writer = tWriter{}

// Timeout bounds every wait of this kit.
const Timeout = 10 * time.Second

// Context returns a context ending after Timeout, cancelled with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// AwaitEvent reads s until an event matches, failing the test after
// Timeout. Events that do not match are skipped.
func AwaitEvent(t testing.TB, s *runtime.Subscription, match func(runtime.Event) bool) runtime.Event {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Fatalf("subscription closed while waiting for an event")
			}
			if match(e) {
				return e
			}
		case <-deadline.C:
			t.Fatalf("no matching event within %s (dropped %d)", Timeout, s.Dropped())
		}
	}
}

// Is matches an event by type and, when pid is not zero, PID.
func Is(typ runtime.EventType, pid runtime.PID) func(runtime.Event) bool {
	return func(e runtime.Event) bool {
		return e.Type == typ && (pid.IsZero() || e.PID == pid)
	}
}

// Eventually polls cond every millisecond until it holds, failing the test
// after Timeout. Prefer AwaitEvent when an event marks the change.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("condition not reached within %s: %s", Timeout, what)
		}
	}
}
