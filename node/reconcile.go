package node

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/fsm"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// applyInternal proposes a command from the leader's own loops.
func (n *Node) applyInternal(t pb.CommandType, payload proto.Message) (*fsm.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	return n.Apply(ctx, t, payload)
}

// reconcile brings the Raft configuration and the node registry in line
// with gossip membership, as Consul's autopilot does:
//   - alive members become voters up to MaxVoters, then non-voters; a
//     non-voter is promoted when a voter slot frees up;
//   - a member that left gracefully is removed at once;
//   - a failed member is removed once it has been failed for
//     FailedReapTimeout, and only if a quorum of healthy voters survives.
//
// Client agents are recorded in the node registry but never enter the
// Raft configuration.
//
// It returns when the next failed member becomes due for removal (zero if
// none is pending).
func (n *Node) reconcile() (nextReap time.Time) {
	servers, _, err := n.raftServers()
	if err != nil {
		n.logger.Warn("reconcile: raft configuration", "error", err)
		return time.Time{}
	}
	inRaft := map[string]raft.Server{}
	voters := 0
	for _, s := range servers {
		inRaft[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	members := n.members.list()
	status := map[string]string{}
	for _, m := range members {
		status[m.Name] = m.Status
	}
	now := n.cfg.Clock.Now()

	for _, m := range members {
		n.reconcileRegistry(m)
		srv, isPeer := inRaft[m.Name]
		if m.Meta.Mode != "" && !isPeer {
			continue // a client agent (or a mode this version does not know): never a Raft peer
		}
		switch m.Status {
		case StatusAlive:
			switch {
			case !isPeer:
				if voters < n.cfg.MaxVoters {
					if n.changeConfig("add voter", m.Name, n.raft.AddVoter(raft.ServerID(m.Name), raft.ServerAddress(m.Meta.RaftAddr), 0, 0)) {
						voters++
					}
				} else {
					n.changeConfig("add non-voter", m.Name, n.raft.AddNonvoter(raft.ServerID(m.Name), raft.ServerAddress(m.Meta.RaftAddr), 0, 0))
				}
			case string(srv.Address) != m.Meta.RaftAddr && m.Meta.RaftAddr != "":
				// The node came back on another address: keep its suffrage.
				if srv.Suffrage == raft.Voter {
					n.changeConfig("update address", m.Name, n.raft.AddVoter(srv.ID, raft.ServerAddress(m.Meta.RaftAddr), 0, 0))
				} else {
					n.changeConfig("update address", m.Name, n.raft.AddNonvoter(srv.ID, raft.ServerAddress(m.Meta.RaftAddr), 0, 0))
				}
			}
		case StatusLeft:
			if isPeer && m.Name != n.cfg.Name {
				if n.changeConfig("remove left member", m.Name, n.raft.RemoveServer(srv.ID, 0, 0)) && srv.Suffrage == raft.Voter {
					voters--
				}
			}
		case StatusFailed:
			if !isPeer || m.Name == n.cfg.Name {
				continue
			}
			due := m.Since.Add(n.cfg.FailedReapTimeout)
			if now.Before(due) {
				if nextReap.IsZero() || due.Before(nextReap) {
					nextReap = due
				}
				continue
			}
			if srv.Suffrage == raft.Voter && !quorumSurvives(servers, status, m.Name) {
				n.logger.Warn("not removing failed voter: the remaining healthy voters would not form a quorum", "member", m.Name)
				continue
			}
			if n.changeConfig("reap failed member", m.Name, n.raft.RemoveServer(srv.ID, 0, 0)) {
				delete(inRaft, m.Name)
				if srv.Suffrage == raft.Voter {
					voters--
				}
			}
		}
	}

	// Promote alive non-voters while voter slots are free.
	if voters < n.cfg.MaxVoters {
		for _, m := range members {
			srv, ok := inRaft[m.Name]
			if !ok || srv.Suffrage == raft.Voter || m.Status != StatusAlive || m.Meta.Mode != "" {
				continue
			}
			if n.changeConfig("promote to voter", m.Name, n.raft.AddVoter(srv.ID, srv.Address, 0, 0)) {
				voters++
				if voters >= n.cfg.MaxVoters {
					break
				}
			}
		}
	}
	return nextReap
}

// quorumSurvives reports whether removing voter `gone` leaves a quorum of
// healthy voters in the new configuration.
func quorumSurvives(servers []raft.Server, status map[string]string, gone string) bool {
	votersAfter, healthy := 0, 0
	for _, s := range servers {
		if s.Suffrage != raft.Voter || string(s.ID) == gone {
			continue
		}
		votersAfter++
		if status[string(s.ID)] == StatusAlive {
			healthy++
		}
	}
	return votersAfter > 0 && healthy >= votersAfter/2+1
}

func (n *Node) changeConfig(what, name string, f raft.IndexFuture) bool {
	if err := f.Error(); err != nil {
		n.logger.Warn("raft configuration change failed", "change", what, "member", name, "error", err)
		return false
	}
	n.logger.Info("raft configuration changed", "change", what, "member", name, "index", f.Index())
	return true
}

// reconcileRegistry records the member in the replicated node registry when
// what the registry says differs from gossip.
func (n *Node) reconcileRegistry(m member) {
	status := m.Status
	if status == StatusSuspect {
		status = StatusAlive
	}
	rec, _ := n.State().Node(m.Name)
	want := &pb.NodeRecord{
		Name:       m.Name,
		GossipAddr: m.Addr,
		RaftAddr:   m.Meta.RaftAddr,
		GrpcAddr:   m.Meta.GRPCAddr,
		Version:    m.Meta.Version,
		Status:     status,
		Mode:       metaMode(m.Meta),
	}
	if rec != nil && rec.Status == want.Status && rec.GossipAddr == want.GossipAddr && rec.RaftAddr == want.RaftAddr &&
		rec.GrpcAddr == want.GrpcAddr && rec.Version == want.Version && rec.Mode == want.Mode {
		return
	}
	if m.Meta.GRPCAddr == "" && rec != nil {
		// A left/failed event carries no metadata: keep the known addresses.
		want.RaftAddr, want.GrpcAddr, want.Version, want.Mode = rec.RaftAddr, rec.GrpcAddr, rec.Version, rec.Mode
	}
	now := n.cfg.Clock.Now().UnixNano()
	want.UpdatedAtUnixNano = now
	if status == StatusAlive && (rec == nil || rec.Status != StatusAlive) {
		want.JoinedAtUnixNano = now
	} else if rec != nil {
		want.JoinedAtUnixNano = rec.JoinedAtUnixNano
	}
	res, err := n.applyInternal(pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: want})
	if err == nil && res.Err != nil {
		err = res.Err
	}
	if err != nil {
		n.logger.Warn("node registry update failed", "member", m.Name, "error", err)
	}
}
