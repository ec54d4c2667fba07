package poll

import (
	"context"
	"time"

	"github.com/steward/steward/internal/clock"
)

// Backoff is how long Until waits between two tries: Min after the first,
// then each wait Factor times the one before (a Factor of 1 or less keeps
// it at Min), at most Max (zero: no bound).
type Backoff struct {
	Min    time.Duration
	Max    time.Duration
	Factor float64
}

// Every is a constant interval.
func Every(d time.Duration) Backoff { return Backoff{Min: d, Max: d} }

// Doubling starts at min and doubles up to max.
func Doubling(min, max time.Duration) Backoff { return Backoff{Min: min, Max: max, Factor: 2} }

// next is the wait after one of d.
func (b Backoff) next(d time.Duration) time.Duration {
	if b.Factor > 1 {
		d = time.Duration(float64(d) * b.Factor)
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Until calls try until it reports done or fails, waiting on c between two
// calls as b says. It returns try's error, nil once try is done, or ctx's
// error when ctx ends during a wait. try is called at least once, even
// when ctx has already ended.
func Until(ctx context.Context, c clock.Clock, b Backoff, try func() (done bool, err error)) error {
	wait := b.Min
	for {
		done, err := try()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := clock.Wait(ctx, c, wait); err != nil {
			return err
		}
		wait = b.next(wait)
	}
}
