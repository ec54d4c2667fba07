package node

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// resourceViolations are this node's active resource-threshold violations,
// as the health layer last set them. Status reports them in full; gossip
// carries the names of the metrics (nodeMeta.Violations), so that
// `members` shows every member's without asking any of them.
type resourceViolations struct {
	mu      sync.Mutex
	list    []*pb.ResourceViolation
	metrics string // sorted metric names, comma-separated
	// sendMu serializes gossip updates.
	sendMu sync.Mutex
}

// metaUpdateTimeout bounds the wait for a metadata broadcast to be sent.
const metaUpdateTimeout = 2 * time.Second

// SetResourceViolations replaces this node's active resource-threshold
// violations. When the set of metrics over their thresholds changes, the
// node's gossip metadata is updated and broadcast in the background.
func (n *Node) SetResourceViolations(list []*pb.ResourceViolation) {
	cp := make([]*pb.ResourceViolation, len(list))
	names := make([]string, len(list))
	for i, v := range list {
		cp[i] = proto.Clone(v).(*pb.ResourceViolation)
		names[i] = v.Metric
	}
	sort.Strings(names)
	metrics := strings.Join(names, ",")
	rv := &n.violations
	rv.mu.Lock()
	changed := metrics != rv.metrics
	rv.list, rv.metrics = cp, metrics
	rv.mu.Unlock()
	if !changed || n.ml == nil {
		return
	}
	go func() {
		rv.sendMu.Lock()
		defer rv.sendMu.Unlock()
		select {
		case <-n.shutdownCh:
			return
		default:
		}
		if err := n.ml.UpdateNode(metaUpdateTimeout); err != nil {
			n.logger.Debug("broadcasting resource violations", "error", err)
		}
	}()
}

// ResourceViolations returns this node's active resource-threshold
// violations.
func (n *Node) ResourceViolations() []*pb.ResourceViolation {
	rv := &n.violations
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := make([]*pb.ResourceViolation, len(rv.list))
	for i, v := range rv.list {
		out[i] = proto.Clone(v).(*pb.ResourceViolation)
	}
	return out
}

// violationMetrics is what gossip carries about them.
func (n *Node) violationMetrics() string {
	rv := &n.violations
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.metrics
}

// splitMetrics turns gossiped metric names back into a list.
func splitMetrics(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
