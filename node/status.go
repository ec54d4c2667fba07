package node

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
)

// raftServers returns this node's view of the Raft configuration.
func (n *Node) raftServers() ([]raft.Server, uint64, error) {
	if n.client != nil {
		return nil, 0, errClientNoRaft
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, 0, translateRaftErr(err)
	}
	return f.Configuration().Servers, f.Index(), nil
}

func (n *Node) hasRaftState() bool {
	if n.client != nil {
		return false
	}
	if n.raft.LastIndex() > 0 {
		return true
	}
	servers, _, err := n.raftServers()
	return err == nil && len(servers) > 0
}

// Status describes this node's view of the cluster.
func (n *Node) Status() *pb.StatusResponse {
	if n.client != nil {
		return n.clientStatus()
	}
	leader, leaderAddr := n.Leader()
	st := &pb.StatusResponse{
		Node:            n.cfg.Name,
		Leader:          leader,
		LeaderAddr:      leaderAddr,
		Term:            n.raft.CurrentTerm(),
		CommitIndex:     n.raft.CommitIndex(),
		AppliedIndex:    n.raft.AppliedIndex(),
		LastLogIndex:    n.raft.LastIndex(),
		RaftState:       raftStateName(n.raft.State()),
		ClusterId:       n.clusterID(),
		Version:         Version,
		LastContactMs:   n.LastContact().Milliseconds(),
		HasRaftState:    n.hasRaftState(),
		BootstrapExpect: uint32(n.cfg.BootstrapExpect),
		Mode:            ModeServer,
	}
	for _, f := range n.statusHooks() {
		f(st)
	}
	if servers, _, err := n.raftServers(); err == nil {
		for _, s := range servers {
			if s.Suffrage == raft.Voter {
				st.Voters++
			} else {
				st.Nonvoters++
			}
		}
	}
	return st
}

func raftStateName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	default:
		return "shutdown"
	}
}

// Members lists gossip members as this node sees them, with their Raft role
// from this node's copy of the Raft configuration.
func (n *Node) Members() []*pb.Member {
	roles := map[string]string{}
	if servers, _, err := n.raftServers(); err == nil {
		for _, s := range servers {
			if s.Suffrage == raft.Voter {
				roles[string(s.ID)] = "voter"
			} else {
				roles[string(s.ID)] = "nonvoter"
			}
		}
	}
	if leader, _ := n.Leader(); leader != "" {
		roles[leader] = "leader"
	}
	var out []*pb.Member
	hooks := n.memberHooks()
	for _, m := range n.members.list() {
		role := roles[m.Name]
		if role == "" {
			role = "none"
		}
		out = append(out, &pb.Member{
			Name:       m.Name,
			Status:     m.Status,
			RaftRole:   role,
			GossipAddr: m.Addr,
			RaftAddr:   m.Meta.RaftAddr,
			GrpcAddr:   m.Meta.GRPCAddr,
			Version:    m.Meta.Version,
			ClusterId:  m.Meta.ClusterID,
			Mode:       metaMode(m.Meta),
		})
		for _, f := range hooks {
			f(m.Meta.Layers, out[len(out)-1])
		}
	}
	return out
}

// RaftPeers lists the Raft configuration (on the leader: the authoritative one).
func (n *Node) RaftPeers() (*pb.RaftPeersResponse, error) {
	servers, idx, err := n.raftServers()
	if err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	_, leaderID := n.raft.LeaderWithID()
	resp := &pb.RaftPeersResponse{ConfigurationIndex: idx}
	for _, s := range servers {
		suffrage := "voter"
		if s.Suffrage != raft.Voter {
			suffrage = "nonvoter"
		}
		resp.Peers = append(resp.Peers, &pb.RaftPeer{
			Node:     string(s.ID),
			Address:  string(s.Address),
			Suffrage: suffrage,
			Leader:   s.ID == leaderID,
		})
	}
	sort.Slice(resp.Peers, func(i, j int) bool { return resp.Peers[i].Node < resp.Peers[j].Node })
	return resp, nil
}

// StateDigest is the highest Raft index in this server's state store and
// the hex SHA-256 of the store's snapshot bytes, both from one
// point-in-time view. The snapshot format is deterministic (tables in name
// order, records in id order), so two replicas at the same index have the
// same digest unless their states diverged. It reads the whole store
// (what a Raft snapshot writes), so it is for checks, not for a hot path.
func (n *Node) StateDigest() (uint64, string, error) {
	if n.client != nil {
		return 0, "", errClientNoRaft
	}
	snap := n.fsm.State().Snapshot()
	defer snap.Release()
	h := sha256.New()
	if err := snap.Persist(h); err != nil {
		return 0, "", fmt.Errorf("state digest: %w", err)
	}
	return snap.Index(), hex.EncodeToString(h.Sum(nil)), nil
}
