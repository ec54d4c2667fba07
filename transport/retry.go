package transport

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry calls an idempotent proposal until it is answered: while no leader
// is known or the node is unreachable (Unavailable), the outcome is unknown
// (Aborted), or one attempt ran out of its own time (attempt > 0: each call
// gets that long), it waits 50 ms, doubling to 1 s, and tries again; any
// other answer is returned. It stops when ctx ends.
func Retry(ctx context.Context, attempt time.Duration, f func(context.Context) error) error {
	backoff := 50 * time.Millisecond
	for {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if attempt > 0 {
			actx, cancel = context.WithTimeout(ctx, attempt)
		}
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		switch code := status.Code(err); {
		case code == codes.Unavailable, code == codes.Aborted:
		case code == codes.DeadlineExceeded && attempt > 0 && ctx.Err() == nil:
		default:
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if backoff < time.Second {
			backoff *= 2
		}
	}
}
