package testkit

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// links is a cluster's network between its nodes (node.Network): every
// node is on side 0 until Partition puts nodes on sides 1 and 2; traffic
// crosses between nodes on the same side, and between a node on side 0
// (in neither part) and any other.
type links struct {
	mu    sync.RWMutex
	owner map[string]int // a node's Raft, gossip and gRPC address -> its index
	side  map[int]int
}

// nodeLinks is node self's view of the links.
type nodeLinks struct {
	l    *links
	self int
}

func (n nodeLinks) Allowed(addr string) bool {
	n.l.mu.RLock()
	defer n.l.mu.RUnlock()
	o, ok := n.l.owner[addr]
	if !ok {
		return true
	}
	a, b := n.l.side[n.self], n.l.side[o]
	return a == b || a == 0 || b == 0
}

func (l *links) own(idx int, addrs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range addrs {
		l.owner[a] = idx
	}
}

// WithPartitions makes the nodes' Raft, gossip and gRPC traffic between
// one another go through the cluster's links, so that Partition can cut
// them.
func WithPartitions() Option {
	return func(o *options) { o.partitions = true }
}

// Partition cuts every link between the nodes of a and those of b (indexes;
// a node in neither keeps its links to both): their Raft, gossip and gRPC
// traffic is dropped both ways until Heal. The cluster must have been
// started WithPartitions.
func (c *Cluster) Partition(a, b []int) {
	c.t.Helper()
	if c.links == nil {
		c.t.Fatal("testkit: Partition needs a cluster started WithPartitions")
	}
	c.links.mu.Lock()
	defer c.links.mu.Unlock()
	c.links.side = map[int]int{}
	for _, i := range a {
		c.links.side[i] = 1
	}
	for _, i := range b {
		c.links.side[i] = 2
	}
}

// Heal restores every link Partition cut.
func (c *Cluster) Heal() {
	c.t.Helper()
	if c.links == nil {
		return
	}
	c.links.mu.Lock()
	c.links.side = map[int]int{}
	c.links.mu.Unlock()
}

// EnsureSame waits until every live server's replicated state persists to
// the same bytes (state.Snapshot().Persist: the FSM's deterministic
// snapshot), and fails the test with the first difference if they do not
// within timeout.
func (c *Cluster) EnsureSame(timeout time.Duration) {
	c.t.Helper()
	c.Eventually(timeout, func() error {
		var first []byte
		var firstName string
		for _, n := range c.Servers() {
			sn := n.State().Snapshot()
			var b bytes.Buffer
			err := sn.Persist(&b)
			sn.Release()
			if err != nil {
				return fmt.Errorf("%s: persist: %v", n.Name(), err)
			}
			if first == nil {
				first, firstName = b.Bytes(), n.Name()
				continue
			}
			if !bytes.Equal(first, b.Bytes()) {
				return fmt.Errorf("%s and %s hold different states (%d and %d bytes, first difference at byte %d)",
					firstName, n.Name(), len(first), b.Len(), firstDiff(first, b.Bytes()))
			}
		}
		return nil
	}, "the same replicated state on every live node")
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
