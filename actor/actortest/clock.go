package actortest

import (
	"context"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
)

// ManualClock is a actor.Clock whose time moves only when Advance is
// called. Due timers run in Advance, in deadline order, synchronously. It
// is the layers' manual clock (internal/clock.Manual) seen as the
// runtime's.
type ManualClock struct {
	m *clock.Manual
}

var _ actor.Clock = (*ManualClock)(nil)

// NewManualClock starts at start (a zero start means 2025-01-01 UTC).
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{m: clock.NewManual(start)}
}

// Now is the clock's current time.
func (c *ManualClock) Now() time.Time { return c.m.Now() }

// AfterFunc arms a timer; a non-positive d runs f at once in its own
// goroutine, as time.AfterFunc does.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) actor.Timer {
	return c.m.AfterFunc(d, f)
}

// Advance moves the clock forward by d, running every timer that falls due
// (timers armed by those run too if they fall within d).
func (c *ManualClock) Advance(d time.Duration) { c.m.Advance(d) }

// Pending is the number of armed timers.
func (c *ManualClock) Pending() int { return c.m.Pending() }

// WaitForTimers blocks until at least n timers are armed, or ctx ends.
func (c *ManualClock) WaitForTimers(ctx context.Context, n int) error {
	return c.m.WaitForTimers(ctx, n)
}
