package actortest

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
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
// Timeout. Events that do not match are consumed and skipped: a later wait
// on s does not see them. Two waits in a row are therefore right only for
// events the runtime emits in that order (one goroutine emits both, or the
// first causes the second); wait for events that different goroutines
// emit independently together, with AwaitEvents.
func AwaitEvent(t testing.TB, s *actor.Subscription, match func(actor.Event) bool) actor.Event {
	t.Helper()
	return AwaitEvents(t, s, match)[0]
}

// AwaitEvents reads s until each of matches has matched an event, in
// whatever order the events come, and returns them in the order of
// matches. An event goes to the first match it satisfies that has none
// yet; events that go to none are skipped. It fails the test after
// Timeout, listing the last events it skipped.
func AwaitEvents(t testing.TB, s *actor.Subscription, matches ...func(actor.Event) bool) []actor.Event {
	t.Helper()
	got := make([]actor.Event, len(matches))
	done := make([]bool, len(matches))
	left := len(matches)
	var skipped []actor.Event // the last maxSkipped
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for left > 0 {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Fatalf("subscription closed while waiting for an event")
			}
			hit := false
			for i, m := range matches {
				if !done[i] && m(e) {
					got[i], done[i], hit = e, true, true
					left--
					break
				}
			}
			if !hit {
				if len(skipped) == maxSkipped {
					skipped = append(skipped[:0], skipped[1:]...)
				}
				skipped = append(skipped, e)
			}
		case <-deadline.C:
			which := ""
			if len(matches) > 1 {
				var waiting []string
				for i := range matches {
					if !done[i] {
						waiting = append(waiting, strconv.Itoa(i))
					}
				}
				which = fmt.Sprintf(" for match %s of %d", strings.Join(waiting, ","), len(matches))
			}
			t.Fatalf("no matching event within %s%s (dropped %d); last skipped: %s",
				Timeout, which, s.Dropped(), eventList(skipped))
		}
	}
	return got
}

// maxSkipped is how many skipped events a failed wait reports.
const maxSkipped = 16

func eventList(evs []actor.Event) string {
	if len(evs) == 0 {
		return "none"
	}
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = fmt.Sprintf("#%d %s %s %s/%s %q", e.Seq, e.Type, e.PID, e.Tree, e.ChildID, e.Reason)
	}
	return strings.Join(parts, "; ")
}

// Is matches an event by type and, when pid is not zero, PID.
func Is(typ actor.EventType, pid actor.PID) func(actor.Event) bool {
	return func(e actor.Event) bool {
		return e.Type == typ && (pid.IsZero() || e.PID == pid)
	}
}

// Eventually polls cond every millisecond until it holds, failing the test
// after Timeout. Prefer AwaitEvent when an event marks the change.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if poll.Until(ctx, clock.System(), poll.Every(time.Millisecond), func() (bool, error) { return cond(), nil }) != nil {
		t.Fatalf("condition not reached within %s: %s", Timeout, what)
	}
}
