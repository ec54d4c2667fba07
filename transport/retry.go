package transport

import (
	"context"
	"time"

	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry calls an idempotent proposal until it is answered: while no leader
// is known or the node is unreachable (Unavailable), the outcome is unknown
// (Aborted), or one attempt ran out of its own time (attempt > 0: each call
// gets that long), it waits 50 ms, doubling to 1.6 s, and tries again; any
// other answer is returned. It stops when ctx ends, with the last error.
func Retry(ctx context.Context, attempt time.Duration, f func(context.Context) error) error {
	var last error
	_ = poll.Until(ctx, clock.System(), retryBackoff, func() (bool, error) {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if attempt > 0 {
			actx, cancel = context.WithTimeout(ctx, attempt)
		}
		last = f(actx)
		cancel()
		switch code := status.Code(last); {
		case last == nil:
			return true, nil
		case code == codes.Unavailable, code == codes.Aborted:
			return false, nil
		case code == codes.DeadlineExceeded && attempt > 0 && ctx.Err() == nil:
			return false, nil
		}
		return true, nil
	})
	return last
}

// retryBackoff is Retry's wait between two attempts.
var retryBackoff = poll.Doubling(50*time.Millisecond, 1600*time.Millisecond)
