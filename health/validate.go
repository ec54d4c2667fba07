package health

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/status"
)

// settleFor is the settle time a request asks for, bounded by MaxSettle
// (0: the default).
func (l *Layer) settleFor(ms uint32) time.Duration {
	if ms == 0 {
		return l.cfg.Settle
	}
	d := time.Duration(ms) * time.Millisecond
	if d > l.cfg.MaxSettle {
		d = l.cfg.MaxSettle
	}
	return d
}

// validateLocal validates this node: once its replica has applied
// minIndex, it checks; while something is wrong it checks again after each
// runtime event or change of the desired state, until the settle time
// ends, and then reports what is still wrong.
func (l *Layer) validateLocal(ctx context.Context, minIndex uint64, settle time.Duration) *pb.NodeValidation {
	ctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	sub := l.rt.Subscribe(256)
	defer sub.Close()
	if err := waitIndex(ctx, l.node, minIndex); err != nil {
		// Without a fresh enough replica the desired state is not checked;
		// the runtime's own invariants are.
		rep := l.rt.Validate(ctx)
		c := &nodeCheck{node: l.node.Name(), checked: rep.Checked, stateIndex: l.node.State().LatestIndex()}
		for _, v := range rep.Violations {
			c.add(string(v.Kind), v.Subject, "%s", v.Detail)
		}
		c.add(KindStateBehind, "node:"+c.node, "its replica is at index %d and did not reach the commit point %d within %s; the desired state was not checked",
			c.stateIndex, minIndex, settle)
		sortViolations(c.violations)
		return c.toPB()
	}
	for {
		started := time.Now()
		st := l.node.State()
		ws := memdb.NewWatchSet()
		c := l.check(ctx, st, ws)
		if len(c.violations) == 0 || ctx.Err() != nil {
			return c.toPB()
		}
		wctx, wcancel := context.WithCancel(ctx)
		changed := ws.WatchCh(wctx)
		select {
		case <-changed:
		case <-st.AbandonCh():
		case _, ok := <-sub.C:
			if !ok {
				wcancel()
				return c.toPB()
			}
		case <-ctx.Done():
			wcancel()
			return c.toPB()
		}
		wcancel()
		// A busy runtime (a tree crashing in a loop) emits events
		// constantly: check at most once per recheckInterval.
		if wait := recheckInterval - time.Since(started); wait > 0 && clock.Wait(ctx, clock.System(), wait) != nil {
			return c.toPB()
		}
		drain(sub.C)
	}
}

// recheckInterval is the least time between two checks of one node while
// it settles.
const recheckInterval = 25 * time.Millisecond

func drain[T any](ch <-chan T) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// waitIndex waits until n's replica has applied idx, looking every 100 µs
// doubling to 12.8 ms.
func waitIndex(ctx context.Context, n cluster, idx uint64) error {
	return poll.Until(ctx, clock.System(), poll.Doubling(100*time.Microsecond, 12800*time.Microsecond), func() (bool, error) {
		return n.State().LatestIndex() >= idx, nil
	})
}

func (c *nodeCheck) toPB() *pb.NodeValidation {
	return &pb.NodeValidation{Node: c.node, Checked: uint32(c.checked), Violations: c.violations, StateIndex: c.stateIndex, Reachable: true}
}

// targets are the nodes a Validate checks: the named ones (each must be
// known to the cluster), else every node of the registry or of gossip
// that has not left, and every node trees are committed for.
func (l *Layer) targets(names []string) ([]string, error) {
	st := l.node.State()
	known := map[string]bool{}
	_, recs, err := st.Nodes(nil)
	if err != nil {
		return nil, err
	}
	left := map[string]bool{}
	for _, r := range recs {
		known[r.Name] = true
		left[r.Name] = state.NodeStatusOf(r) == pb.NodeStatus_NODE_STATUS_LEFT
	}
	for _, m := range l.node.Members() {
		known[m.Name] = true
		left[m.Name] = m.Status == node.StatusLeft
	}
	if len(names) > 0 {
		seen := map[string]bool{}
		var out []string
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			if !known[n] {
				return nil, fmt.Errorf("%w: %q is not a member of this cluster", ErrUnknownNode, n)
			}
			out = append(out, n)
		}
		sort.Strings(out)
		return out, nil
	}
	set := map[string]bool{}
	for n := range known {
		if !left[n] {
			set[n] = true
		}
	}
	_, trees, err := st.Trees(nil, "")
	if err != nil {
		return nil, err
	}
	for _, t := range trees {
		set[t.Node] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// validateCluster validates the nodes in parallel against minIndex.
func (l *Layer) validateCluster(ctx context.Context, req *pb.ValidateRequest, minIndex uint64) (*pb.ValidateResponse, error) {
	targets, err := l.targets(req.Nodes)
	if err != nil {
		return nil, err
	}
	settle := l.settleFor(req.SettleMs)
	results := make([]*pb.NodeValidation, len(targets))
	var wg sync.WaitGroup
	for i, name := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = l.validateOn(ctx, name, minIndex, settle)
		}()
	}
	wg.Wait()
	resp := &pb.ValidateResponse{MinIndex: minIndex, ServedBy: l.node.Name(), Nodes: results}
	for _, r := range results {
		resp.Violations = append(resp.Violations, r.Violations...)
	}
	sortViolations(resp.Violations)
	resp.Consistent = len(resp.Violations) == 0
	return resp, nil
}

// validateOn validates one node, here or through its Health service. A
// node gossip reports failed or left is not dialed.
func (l *Layer) validateOn(ctx context.Context, name string, minIndex uint64, settle time.Duration) *pb.NodeValidation {
	if name == l.node.Name() {
		return l.validateLocal(ctx, minIndex, settle)
	}
	unreachable := func(format string, args ...any) *pb.NodeValidation {
		return &pb.NodeValidation{Node: name, Violations: []*pb.ConsistencyViolation{{
			Node: name, Kind: KindNodeUnreachable, Subject: "node:" + name, Detail: fmt.Sprintf(format, args...),
		}}}
	}
	switch st := l.node.MemberStatus(name); st {
	case node.StatusFailed, node.StatusLeft:
		return unreachable("gossip reports it %s", st)
	}
	addr, ok := l.node.PeerGRPCAddr(name)
	if !ok {
		return unreachable("no address is known for it")
	}
	conn, err := l.node.Pool().Get(addr)
	if err != nil {
		return unreachable("%v", err)
	}
	nctx, cancel := context.WithTimeout(ctx, settle+l.cfg.NodeTimeout)
	defer cancel()
	resp, err := pb.NewInternalClient(conn).ValidateNode(nctx, &pb.ValidateNodeRequest{MinIndex: minIndex, SettleMs: uint32(settle / time.Millisecond)})
	if err != nil {
		return unreachable("%s did not answer: %s", addr, status.Convert(err).Message())
	}
	resp.Node, resp.Reachable = name, true
	return resp
}

// consistentIndex is the leader's commit point for a consistent Validate:
// after a read barrier, the highest index that changed the state.
func (l *Layer) consistentIndex(ctx context.Context) (uint64, error) {
	if err := l.node.ReadBarrier(ctx); err != nil {
		return 0, err
	}
	return l.node.State().LatestIndex(), nil
}
