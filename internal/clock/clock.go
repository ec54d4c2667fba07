package clock

import (
	"context"
	"time"
)

// Clock tells the time and arms timers.
type Clock interface {
	// Now is the clock's current time.
	Now() time.Time
	// NewTimer returns a timer that delivers the clock's time on its
	// channel once d has passed (at once for a non-positive d).
	NewTimer(d time.Duration) Timer
}

// Timer is a pending NewTimer, with time.Timer's semantics since Go 1.23:
// after Stop or Reset returns, no value sent before is received.
type Timer interface {
	// C delivers the time the timer fired at.
	C() <-chan time.Time
	// Stop disarms the timer; it reports whether it was armed.
	Stop() bool
	// Reset arms the timer again to fire once d has passed; it reports
	// whether it was armed.
	Reset(d time.Duration) bool
}

// System is the wall clock.
func System() Clock { return systemClock{} }

// Or is c, or the wall clock when c is nil (a Config's zero value).
func Or(c Clock) Clock {
	if c == nil {
		return System()
	}
	return c
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time        { return s.t.C }
func (s systemTimer) Stop() bool                 { return s.t.Stop() }
func (s systemTimer) Reset(d time.Duration) bool { return s.t.Reset(d) }

// Wait returns nil once d has passed on c, or ctx's error when ctx ends
// first.
func Wait(ctx context.Context, c Clock, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
