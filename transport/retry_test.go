package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	calls := 0
	err := Retry(ctx, time.Second, func(context.Context) error {
		calls++
		switch calls {
		case 1:
			return status.Error(codes.Unavailable, "no leader")
		case 2:
			return status.Error(codes.Aborted, "outcome unknown")
		case 3:
			return status.Error(codes.DeadlineExceeded, "attempt timed out")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	calls = 0
	err = Retry(ctx, 0, func(context.Context) error {
		calls++
		return status.Error(codes.FailedPrecondition, "refused")
	})
	if status.Code(err) != codes.FailedPrecondition || calls != 1 {
		t.Fatalf("a refusal was retried: %v after %d calls", err, calls)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	err = Retry(done, 0, func(context.Context) error { return status.Error(codes.Unavailable, "down") })
	if status.Code(err) != codes.Unavailable || errors.Is(err, context.Canceled) {
		t.Fatalf("after ctx ended: %v", err)
	}
}
