package clock

import (
	"context"
	"errors"
	"time"
)

// WithDeadline returns a context that ends, with
// context.DeadlineExceeded, when c reaches d, or when parent ends.
//
// On the wall clock it is context.WithDeadline. On any other clock the
// deadline is a time of that clock, which the wall clock cannot compare:
// the context ends on c's timer, and its Deadline method reports only
// parent's (gRPC and Raft, which read it against the wall, are not told a
// time they would misread); Deadline(ctx) reads it.
func WithDeadline(parent context.Context, c Clock, d time.Time) (context.Context, context.CancelFunc) {
	if _, ok := c.(systemClock); ok {
		return context.WithDeadline(parent, d)
	}
	inner, cancel := context.WithCancelCause(parent)
	ctx := &clockCtx{Context: inner, deadline: d}
	t := c.NewTimer(d.Sub(c.Now()))
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-inner.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// clockCtx is a context whose deadline is on a Clock other than the wall.
type clockCtx struct {
	context.Context
	deadline time.Time
}

type deadlineKey struct{}

func (c *clockCtx) Value(key any) any {
	if key == (deadlineKey{}) {
		return c.deadline
	}
	return c.Context.Value(key)
}

// Err is context.DeadlineExceeded once the clock passed the deadline, as
// for a context of context.WithDeadline.
func (c *clockCtx) Err() error {
	err := c.Context.Err()
	if err != nil && errors.Is(context.Cause(c.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// Deadline is the deadline of ctx: the one WithDeadline set on a clock
// (the nearest such, for nested ones), else ctx.Deadline().
func Deadline(ctx context.Context) (time.Time, bool) {
	if d, ok := ctx.Value(deadlineKey{}).(time.Time); ok {
		return d, true
	}
	return ctx.Deadline()
}
