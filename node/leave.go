package node

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
)

// Leave leaves the cluster gracefully and then shuts the node down: a
// leader first hands leadership to another voter, the node leaves gossip
// (the leader then removes it from Raft at once), and it waits until the
// leader has committed a Raft configuration without it, so its departure
// never costs the cluster its quorum.
func (n *Node) Leave(ctx context.Context) error {
	if !n.leaving.CompareAndSwap(false, true) {
		return nil
	}
	defer func() { go n.Shutdown() }()
	n.logger.Info("leaving the cluster")
	// Announce the departure in gossip metadata first, so that members
	// record it as left, not failed.
	if err := n.ml.UpdateNode(n.cfg.LeaveTimeout); err != nil {
		n.logger.Warn("announcing leave through gossip", "error", err)
	}
	if n.client != nil {
		// A client is in no Raft configuration: leaving gossip is all.
		if err := n.ml.Leave(n.cfg.LeaveTimeout); err != nil {
			n.logger.Warn("gossip leave", "error", err)
		}
		return nil
	}
	servers, _, err := n.raftServers()
	if err != nil {
		return err
	}
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if n.IsLeader() && voters > 1 {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.logger.Warn("leadership transfer before leaving failed; removing self instead", "error", err)
			if err := n.raft.RemoveServer(raft.ServerID(n.cfg.Name), 0, 0).Error(); err != nil {
				n.logger.Error("removing self from raft failed", "error", err)
			}
		}
	}
	// The leader answers once the configuration without this node is
	// committed: from then on its departure cannot cost the quorum. The
	// node itself may never see that entry (the leader stops replicating
	// to a removed server), so only a failed request is followed by
	// waiting for the local configuration.
	removed := false
	if _, inRaft := findServer(servers, n.cfg.Name); inRaft && len(servers) > 1 {
		if err := n.askLeaderToRemoveSelf(ctx); err != nil {
			n.logger.Warn("asking the leader to remove this node", "error", err)
		} else {
			removed = true
		}
	}
	if err := n.ml.Leave(n.cfg.LeaveTimeout); err != nil {
		n.logger.Warn("gossip leave", "error", err)
	}
	if len(servers) <= 1 || removed {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, n.cfg.LeaveTimeout)
	defer cancel()
	err = waitFor(wctx, func() bool {
		cur, _, err := n.raftServers()
		if err != nil {
			return false
		}
		_, still := findServer(cur, n.cfg.Name)
		return !still
	})
	if err != nil {
		n.logger.Warn("left gossip but was not removed from raft in time", "timeout", n.cfg.LeaveTimeout)
	}
	return nil
}

// askLeaderToRemoveSelf commits this node's removal from the Raft
// configuration through the leader.
func (n *Node) askLeaderToRemoveSelf(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LeaveTimeout)
	defer cancel()
	for {
		if n.IsLeader() {
			_, err := n.removePeer(n.cfg.Name, true)
			return err
		}
		if name, addr := n.Leader(); name != "" && addr != "" {
			conn, err := n.pool.Get(addr)
			if err != nil {
				return err
			}
			_, err = pb.NewClusterClient(conn).RemovePeer(ctx, &pb.RemovePeerRequest{Node: n.cfg.Name, Leaving: true})
			return err
		}
		if err := waitFor(ctx, func() bool { name, _ := n.Leader(); return name != "" }); err != nil {
			return err
		}
	}
}

// Leaving reports whether the node is leaving.
func (n *Node) Leaving() bool { return n.leaving.Load() }

func peerNames(servers []raft.Server) string {
	names := make([]string, 0, len(servers))
	for _, s := range servers {
		names = append(names, string(s.ID))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func findServer(servers []raft.Server, name string) (raft.Server, bool) {
	for _, s := range servers {
		if string(s.ID) == name {
			return s, true
		}
	}
	return raft.Server{}, false
}

// RemovePeer removes a node from the Raft configuration. A node that gossip
// still sees alive is refused: the leader would add it back at once; stop
// it, or run `steward leave` against it.
func (n *Node) RemovePeer(ctx context.Context, name string, leaving bool) (uint64, error) {
	return n.removePeer(name, leaving)
}

func (n *Node) removePeer(name string, leaving bool) (uint64, error) {
	if !n.IsLeader() {
		return 0, transport.ErrNotLeader
	}
	servers, _, err := n.raftServers()
	if err != nil {
		return 0, err
	}
	srv, ok := findServer(servers, name)
	if !ok {
		if leaving {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: %q is not a Raft peer; the peers are: %s", transport.ErrUnknownPeer, name, peerNames(servers))
	}
	if m, ok := n.members.get(name); !leaving && ok && (m.Status == StatusAlive || m.Status == StatusSuspect) {
		return 0, fmt.Errorf("%w: %q is %s in gossip and would be added back; stop it or run `steward leave` against it", transport.ErrConflict, name, m.Status)
	}
	if leaving {
		// Record the departure now, so the reconciler does not add the node
		// back before its gossip leave arrives.
		n.members.setStatus(name, StatusLeft)
	}
	f := n.raft.RemoveServer(srv.ID, 0, 0)
	if err := f.Error(); err != nil {
		return 0, translateRaftErr(err)
	}
	n.logger.Info("removed raft peer", "peer", name, "leaving", leaving, "index", f.Index())
	return f.Index(), nil
}

// TransferLeader hands leadership to the named voter, or to the most
// up-to-date voter when to is empty, and returns the new leader's name.
func (n *Node) TransferLeader(ctx context.Context, to string) (string, error) {
	if !n.IsLeader() {
		return "", transport.ErrNotLeader
	}
	var f raft.Future
	if to == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		servers, _, err := n.raftServers()
		if err != nil {
			return "", err
		}
		srv, ok := findServer(servers, to)
		switch {
		case !ok:
			return "", fmt.Errorf("%w: %q is not a Raft peer; the peers are: %s", transport.ErrUnknownPeer, to, peerNames(servers))
		case to == n.cfg.Name:
			return to, nil
		case srv.Suffrage != raft.Voter:
			return "", fmt.Errorf("%w: %q is a non-voter and cannot lead", transport.ErrInvalidRequest, to)
		}
		f = n.raft.LeadershipTransferToServer(srv.ID, srv.Address)
	}
	if err := f.Error(); err != nil {
		return "", fmt.Errorf("leadership transfer: %w", translateRaftErr(err))
	}
	wctx, cancel := context.WithTimeout(ctx, 5*n.cfg.RaftElectionTimeout+time.Second)
	defer cancel()
	var leader string
	err := waitFor(wctx, func() bool {
		leader, _ = n.Leader()
		return leader != "" && leader != n.cfg.Name
	})
	if err != nil {
		return "", fmt.Errorf("leadership transfer: no new leader seen: %w", err)
	}
	return leader, nil
}
