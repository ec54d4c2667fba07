package node

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/steward/steward/pb"
)

// layerMeta holds the fields layers add to this node's gossip metadata
// (nodeMeta.Layers), and the hooks through which they fill in what
// members and status report. The spine carries the fields without knowing
// what they mean.
type layerMeta struct {
	mu       sync.Mutex
	fields   map[string]string
	onMember []func(meta map[string]string, m *pb.Member)
	onStatus []func(s *pb.StatusResponse)
	// sendMu serializes gossip updates.
	sendMu sync.Mutex
}

// metaUpdateTimeout bounds the wait for a metadata broadcast to be sent.
const metaUpdateTimeout = 2 * time.Second

// SetGossipMeta sets a layer's field in this node's gossip metadata (an
// empty value removes it). Keys are short and owned by one layer each;
// the whole metadata must stay within memberlist's 512 bytes. A change is
// broadcast in the background.
func (n *Node) SetGossipMeta(key, value string) {
	lm := &n.layerMeta
	lm.mu.Lock()
	if lm.fields == nil {
		lm.fields = map[string]string{}
	}
	changed := lm.fields[key] != value
	if value == "" {
		delete(lm.fields, key)
	} else {
		lm.fields[key] = value
	}
	lm.mu.Unlock()
	if !changed || n.ml == nil {
		return
	}
	go func() {
		lm.sendMu.Lock()
		defer lm.sendMu.Unlock()
		select {
		case <-n.shutdownCh:
			return
		default:
		}
		if err := n.ml.UpdateNode(metaUpdateTimeout); err != nil {
			n.logger.Debug("broadcasting gossip metadata", "error", err)
		}
	}()
}

// OnMember registers a hook that fills in a member's entry (Members)
// from the layer fields it gossips.
func (n *Node) OnMember(f func(meta map[string]string, m *pb.Member)) {
	n.layerMeta.mu.Lock()
	n.layerMeta.onMember = append(n.layerMeta.onMember, f)
	n.layerMeta.mu.Unlock()
}

// OnStatus registers a hook that adds a layer's part to this node's
// Status.
func (n *Node) OnStatus(f func(s *pb.StatusResponse)) {
	n.layerMeta.mu.Lock()
	n.layerMeta.onStatus = append(n.layerMeta.onStatus, f)
	n.layerMeta.mu.Unlock()
}

// layerFields is a copy of this node's layer fields, for its metadata.
func (n *Node) layerFields() map[string]string {
	n.layerMeta.mu.Lock()
	defer n.layerMeta.mu.Unlock()
	if len(n.layerMeta.fields) == 0 {
		return nil
	}
	return maps.Clone(n.layerMeta.fields)
}

func (n *Node) memberHooks() []func(map[string]string, *pb.Member) {
	n.layerMeta.mu.Lock()
	defer n.layerMeta.mu.Unlock()
	return slices.Clone(n.layerMeta.onMember)
}

func (n *Node) statusHooks() []func(*pb.StatusResponse) {
	n.layerMeta.mu.Lock()
	defer n.layerMeta.mu.Unlock()
	return slices.Clone(n.layerMeta.onStatus)
}

// ServersGossip reports whether every server in this node's copy of the
// Raft configuration is a gossip member that publishes the layer field key
// (any non-empty value): the check a layer makes before it proposes a
// command that only the versions publishing key can apply, so that a
// rolling upgrade does not commit it while an earlier server remains (as
// Consul asks of its servers' versions before using a newer feature, here
// by capability). False on a client agent, which holds no configuration,
// and for a server gossip does not know.
func (n *Node) ServersGossip(key string) bool {
	servers, _, err := n.raftServers()
	if err != nil || len(servers) == 0 {
		return false
	}
	for _, s := range servers {
		if string(s.ID) == n.cfg.Name {
			n.layerMeta.mu.Lock()
			v := n.layerMeta.fields[key]
			n.layerMeta.mu.Unlock()
			if v == "" {
				return false
			}
			continue
		}
		if m, ok := n.members.get(string(s.ID)); !ok || m.Meta.Layers[key] == "" {
			return false
		}
	}
	return true
}
