package transport

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// forwardHopsKey counts how many times a request was forwarded. A request
// forwarded once that still lands on a non-leader is refused rather than
// bounced around while leadership moves.
const forwardHopsKey = "steward-forward-hops"

const maxForwardHops = 2

// tokenKey is the caller's ACL token (package acl's TokenMetadataKey): a
// forward carries it, so the leader checks the caller's own permissions.
const tokenKey = "x-steward-token"

// forwardContext is the outgoing context of a forward: the hop count
// and the caller's token.
func forwardContext(ctx context.Context, hops int) context.Context {
	kv := []string{forwardHopsKey, strconv.Itoa(hops + 1)}
	if v := metadata.ValueFromIncomingContext(ctx, tokenKey); len(v) > 0 {
		if out, _ := metadata.FromOutgoingContext(ctx); len(out.Get(tokenKey)) == 0 {
			kv = append(kv, tokenKey, v[0])
		}
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// forwardHops is how many times the request in ctx was forwarded. It
// reads the one key (metadata.ValueFromIncomingContext) instead of
// copying the whole incoming metadata.
func forwardHops(ctx context.Context) int {
	if v := metadata.ValueFromIncomingContext(ctx, forwardHopsKey); len(v) > 0 {
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
	// On the leader, where nearly every request of a loaded cluster
	// runs, the request runs at once: no hold timer, no metadata read,
	// no poll loop (together 2-3 % of a loaded leader's CPU). Only
	// ErrNotLeader (nothing was applied) goes on to the wait below.
	if s.backend.IsLeader() {
		r, err := local(ctx, req)
		if !errors.Is(err, ErrNotLeader) {
			return r, toStatus(err)
		}
	}
	holdCtx, cancel := s.holdContext(ctx)
	defer cancel()
	hops := forwardHops(ctx)
	// The answer, once one came: the loop ends then.
	var resp Resp
	var respErr error
	answered := func(r Resp, err error) (bool, error) {
		resp, respErr = r, err
		return true, nil
	}
	werr := poll.Until(holdCtx, clock.System(), leaderBackoff, func() (bool, error) {
		if s.backend.IsLeader() {
			r, err := local(ctx, req)
			if !errors.Is(err, ErrNotLeader) {
				return answered(r, toStatus(err))
			}
		} else if name, addr := s.backend.Leader(); addr != "" && name != s.backend.NodeName() {
			if hops >= maxForwardHops {
				return answered(zero, toStatus(fmt.Errorf("%w: request forwarded %d times without reaching the leader; leadership is changing", ErrNoLeader, hops)))
			}
			conn, err := s.pool.Get(addr)
			if err != nil {
				return answered(zero, toStatus(err))
			}
			fctx := forwardContext(ctx, hops)
			r, err := remote(fctx, conn, req)
			if err == nil || !NotApplied(err) || holdCtx.Err() != nil {
				return answered(r, err)
			}
			// The leader we knew is gone or no longer leads, and the request
			// was not applied: wait for the next leader, as while none is known.
		}
		return false, nil
	})
	if werr != nil {
		if ctx.Err() != nil {
			return zero, toStatus(ctx.Err())
		}
		return zero, toStatus(fmt.Errorf("%w: none elected within %s", ErrNoLeader, s.hold))
	}
	return resp, respErr
}

// leaderBackoff paces OnLeader's looks for a new leader: short waits, so
// that a request held through an election goes out within 32 ms of the
// leader being known.
var leaderBackoff = poll.Doubling(2*time.Millisecond, 32*time.Millisecond)
