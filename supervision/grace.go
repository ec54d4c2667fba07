package supervision

import (
	"time"

	"github.com/steward/steward/node"
)

// NodeGrace decides when work auto-placed on a node that gossip no longer
// sees alive is moved: at once when the node left, after a grace when it
// failed (it may come back), timed from the first look that saw it so.
// The tree re-placement and the sandbox layer's share it.
type NodeGrace struct {
	after time.Duration
	since map[string]time.Time
	seen  map[string]bool
}

// NewNodeGrace returns a grace of after for failed nodes.
func NewNodeGrace(after time.Duration) *NodeGrace {
	return &NodeGrace{after: after, since: map[string]time.Time{}, seen: map[string]bool{}}
}

// Due reports whether work on nodeName, whose gossip status is status,
// is to be moved now; when not yet, wait is how long its grace still runs
// (0: it is alive, nothing to wait for).
func (g *NodeGrace) Due(nodeName, status string, now time.Time) (due bool, wait time.Duration) {
	g.seen[nodeName] = true
	switch status {
	case node.StatusAlive, node.StatusSuspect:
		delete(g.since, nodeName)
		return false, 0
	case node.StatusFailed, "":
		since, ok := g.since[nodeName]
		if !ok {
			since = now
			g.since[nodeName] = now
		}
		if w := since.Add(g.after).Sub(now); w > 0 {
			return false, w
		}
	}
	return true, 0
}

// EndPass forgets the nodes no work was asked about since the last
// EndPass.
func (g *NodeGrace) EndPass() {
	for n := range g.since {
		if !g.seen[n] {
			delete(g.since, n)
		}
	}
	clear(g.seen)
}
