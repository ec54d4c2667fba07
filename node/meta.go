package node

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
)

// nodeMeta is what a node tells the others about itself through gossip
// (memberlist node metadata, at most 512 bytes).
type nodeMeta struct {
	RaftAddr  string `json:"r"`
	GRPCAddr  string `json:"g"`
	Version   string `json:"v"`
	ClusterID string `json:"c,omitempty"`
	Expect    int    `json:"e,omitempty"`
	// Leaving is set just before a graceful leave, so that the others
	// record the departure as left rather than failed.
	Leaving bool `json:"l,omitempty"`
	// Layers are fields the layers publish (SetGossipMeta), by key.
	Layers map[string]string `json:"x,omitempty"`
	// Mode is "client" for a client agent, which runs no Raft (RaftAddr
	// is then empty); "" for a server, as every node was before.
	Mode string `json:"m,omitempty"`
}

func (m nodeMeta) equal(o nodeMeta) bool {
	return m.RaftAddr == o.RaftAddr && m.GRPCAddr == o.GRPCAddr && m.Version == o.Version && m.ClusterID == o.ClusterID &&
		m.Expect == o.Expect && m.Leaving == o.Leaving && maps.Equal(m.Layers, o.Layers) && m.Mode == o.Mode
}

func (m nodeMeta) encode() []byte {
	b, _ := json.Marshal(m)
	return b
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) == 0 {
		return m, fmt.Errorf("no steward metadata")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("metadata is not steward's: %v", err)
	}
	for _, a := range []struct{ what, v string }{{"raft", m.RaftAddr}, {"grpc", m.GRPCAddr}} {
		if a.what == "raft" && m.Mode == ModeClient {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return m, fmt.Errorf("metadata has a bad %s address %q", a.what, a.v)
		}
	}
	return m, nil
}
