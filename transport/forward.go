package transport

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// forwardHopsKey counts how many times a request was forwarded. A request
// forwarded once that still lands on a non-leader is refused rather than
// bounced around while leadership moves.
const forwardHopsKey = "steward-forward-hops"

const maxForwardHops = 2

func forwardHops(ctx context.Context) int {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(forwardHopsKey); len(v) > 0 {
		n, _ := strconv.Atoi(v[0])
		return n
	}
	return 0
}

// OnLeader runs a request where it belongs: locally when this node is the
// leader, otherwise on the leader through remote. While no leader is known
// it waits, up to the hold timeout, for one to be elected; when local
// reports ErrNotLeader (leadership moved before anything was applied) it
// tries again the same way.
func OnLeader[Req, Resp any](ctx context.Context, s *Server, req Req,
	remote func(context.Context, *grpc.ClientConn, Req) (Resp, error),
	local func(context.Context, Req) (Resp, error),
) (Resp, error) {
	var zero Resp
	holdCtx, cancel := s.holdContext(ctx)
	defer cancel()
	hops := forwardHops(ctx)
	// Polling for a new leader: short waits, so a request held through an
	// election goes out within ~20 ms of the leader being known.
	backoff := 2 * time.Millisecond
	for {
		if s.backend.IsLeader() {
			resp, err := local(ctx, req)
			if !errors.Is(err, ErrNotLeader) {
				return resp, toStatus(err)
			}
		} else if name, addr := s.backend.Leader(); addr != "" && name != s.backend.NodeName() {
			if hops >= maxForwardHops {
				return zero, toStatus(fmt.Errorf("%w: request forwarded %d times without reaching the leader; leadership is changing", ErrNoLeader, hops))
			}
			conn, err := s.pool.Get(addr)
			if err != nil {
				return zero, toStatus(err)
			}
			fctx := metadata.AppendToOutgoingContext(ctx, forwardHopsKey, strconv.Itoa(hops+1))
			resp, err := remote(fctx, conn, req)
			if err == nil || !NotApplied(err) || holdCtx.Err() != nil {
				return resp, err
			}
			// The leader we knew is gone or no longer leads, and the request
			// was not applied: wait for the next leader, as while none is known.
		}
		t := time.NewTimer(backoff)
		select {
		case <-holdCtx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return zero, toStatus(ctx.Err())
			}
			return zero, toStatus(fmt.Errorf("%w: none elected within %s", ErrNoLeader, s.hold))
		case <-t.C:
		}
		if backoff < 20*time.Millisecond {
			backoff *= 2
		}
	}
}
