package transport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/steward/steward/pb"
)

// Peers is how a layer reaches the other nodes' Internal service.
type Peers interface {
	Name() string
	Pool() *Pool
	PeerGRPCAddr(name string) (string, bool)
}

// AskNodes calls every node in nodes at once and waits for them all: this
// node (p.Name()) through local, each other one through remote on the
// Internal service of a pooled connection (both are given the node's
// name), each call bounded by timeout
// (0: ctx only). It returns one answer and one error per node, in nodes'
// order; a remote error is turned back into the sentinel it carries
// (FromStatus).
func AskNodes[Resp any](ctx context.Context, p Peers, nodes []string, timeout time.Duration,
	local func(ctx context.Context, node string) (Resp, error),
	remote func(ctx context.Context, node string, c pb.InternalClient) (Resp, error),
) ([]Resp, []error) {
	out := make([]Resp, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := ctx, context.CancelFunc(func() {})
			if timeout > 0 {
				cctx, cancel = context.WithTimeout(ctx, timeout)
			}
			defer cancel()
			if n == p.Name() {
				out[i], errs[i] = local(cctx, n)
				return
			}
			addr, ok := p.PeerGRPCAddr(n)
			if !ok {
				errs[i] = fmt.Errorf("no address for node %s", n)
				return
			}
			conn, err := p.Pool().Get(addr)
			if err != nil {
				errs[i] = err
				return
			}
			out[i], err = remote(cctx, n, pb.NewInternalClient(conn))
			errs[i] = FromStatus(err)
		}()
	}
	wg.Wait()
	return out, errs
}
