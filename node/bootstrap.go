package node

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
)

// bootstrapLoop bootstraps a new cluster once BootstrapExpect nodes with the
// same setting have met through gossip and none of them is already part of
// a cluster, as Consul's bootstrap_expect does. Every such node bootstraps
// with the same configuration (the sorted set of those nodes), which Raft
// accepts as one cluster.
func (n *Node) bootstrapLoop() {
	changed := n.members.subscribe()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		if n.tryBootstrap() {
			return
		}
		select {
		case <-changed:
		case <-ticker.C:
		case <-n.shutdownCh:
			return
		}
	}
}

// tryBootstrap returns true when there is nothing more to do: the cluster
// was bootstrapped, or this node belongs to (or will be added to) an
// existing one.
func (n *Node) tryBootstrap() bool {
	if n.hasRaftState() {
		return true
	}
	expect := n.cfg.BootstrapExpect
	var peers []member
	for _, m := range n.members.list() {
		if m.Status != StatusAlive || m.Meta.Expect == 0 {
			continue
		}
		if m.Meta.ClusterID != "" {
			n.logger.Info("an existing cluster was found through gossip; waiting to be added by its leader", "member", m.Name)
			return true
		}
		if m.Meta.Expect != expect {
			n.logger.Error("members disagree on bootstrap-expect; not bootstrapping", "member", m.Name, "theirs", m.Meta.Expect, "ours", expect)
			return false
		}
		peers = append(peers, m)
	}
	if len(peers) < expect {
		return false
	}
	for _, p := range peers {
		if p.Name == n.cfg.Name {
			continue
		}
		st, err := n.peerStatus(p.Meta.GRPCAddr)
		if err != nil {
			n.logger.Debug("bootstrap: peer not reachable yet", "member", p.Name, "error", err)
			return false
		}
		if st.HasRaftState {
			n.logger.Info("a peer already has Raft state; waiting to be added by the cluster's leader", "member", p.Name)
			return true
		}
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Name < peers[j].Name })
	var conf raft.Configuration
	for _, p := range peers {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(p.Name), Address: raft.ServerAddress(p.Meta.RaftAddr), Suffrage: raft.Voter})
	}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		n.logger.Error("bootstrap failed", "error", err)
		return false
	}
	n.logger.Info("bootstrapped the cluster", "servers", len(conf.Servers))
	return true
}

func (n *Node) peerStatus(addr string) (*pb.StatusResponse, error) {
	conn, err := n.pool.Get(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return pb.NewClusterClient(conn).Status(ctx, &pb.StatusRequest{})
}
