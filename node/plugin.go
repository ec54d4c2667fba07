package node

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// Plugin is a layer added to a node (supervision, plans, snapshots): it
// registers its gRPC services and starts its loops. Attach runs once Raft
// and gossip are up and before the gRPC server starts serving; a plugin
// stops its loops through OnShutdown.
type Plugin interface {
	Name() string
	Attach(h Host) error
}

// Host is what the node offers the layers attached to it. A layer keeps
// only the few of these methods it uses, in an interface of its own.
type Host interface {
	// Name is this node's name; Logger its logger.
	Name() string
	Logger() hclog.Logger
	// DataDir is the node's data directory.
	DataDir() string

	// State is the local replica of the replicated state.
	State() *state.Store
	// Propose gets a command committed, forwarded to the leader when this
	// node does not lead: the one way a layer commits.
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
	// ReadBarrier makes a subsequent read of State linearizable.
	ReadBarrier(ctx context.Context) error
	// IsLeader and Leader tell who leads; LastIndex is the last Raft
	// index this node holds.
	IsLeader() bool
	Leader() (name, grpcAddr string)
	LastIndex() uint64
	// IsServer is false on a client agent: it runs no Raft, and its State
	// holds only the records that concern it (see State).
	IsServer() bool
	// OpenSnapshot and RestoreSnapshot take and install a Raft snapshot
	// of the replicated state (backups), on the leader.
	OpenSnapshot(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error)
	RestoreSnapshot(ctx context.Context, meta *raft.SnapshotMeta, r io.Reader) error

	// Server is the node's gRPC server (layers register their services
	// and peer handlers on it); Pool its connections to other nodes.
	Server() *transport.Server
	Pool() *transport.Pool
	// Members, AliveNodes, MemberStatus and PeerGRPCAddr describe the
	// gossip membership.
	Members() []*pb.Member
	AliveNodes() []string
	MemberStatus(name string) string
	PeerGRPCAddr(name string) (string, bool)

	// SetGossipMeta publishes a layer's field in this node's gossip
	// metadata; OnMember and OnStatus let a layer fill in what members
	// and status report from it.
	SetGossipMeta(key, value string)
	// ServersGossip reports whether every Raft server publishes the
	// field key: a capability gate for a command only newer versions apply.
	ServersGossip(key string) bool
	OnMember(f func(meta map[string]string, m *pb.Member))
	OnStatus(f func(s *pb.StatusResponse))

	// OnLeadership runs a task for every term in which this node leads;
	// OnShutdown registers a stop function, run at shutdown.
	OnLeadership(name string, f LeaderTask)
	OnShutdown(f func())
}

var _ Host = (*Node)(nil)

// LeaderTask runs on the leader, from the moment leadership is established
// (every earlier entry applied) until ctx is cancelled when it is lost.
type LeaderTask func(ctx context.Context)

type leaderTasks struct {
	mu    sync.Mutex
	tasks []namedTask
}

type namedTask struct {
	name string
	f    LeaderTask
}

// OnLeadership registers a task for every term in which this node leads.
func (n *Node) OnLeadership(name string, f LeaderTask) {
	n.leaderTasks.mu.Lock()
	n.leaderTasks.tasks = append(n.leaderTasks.tasks, namedTask{name, f})
	n.leaderTasks.mu.Unlock()
}

// runLeaderTasks starts every leader task and returns a function that stops
// them and waits for them.
func (n *Node) runLeaderTasks() func() {
	n.leaderTasks.mu.Lock()
	tasks := append([]namedTask(nil), n.leaderTasks.tasks...)
	n.leaderTasks.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func(t namedTask) {
			defer wg.Done()
			t.f(ctx)
		}(t)
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (n *Node) attachPlugins() error {
	for _, p := range n.cfg.Plugins {
		if err := p.Attach(n); err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
	}
	return nil
}

// PeerGRPCAddr returns the gRPC address of a node: from gossip while it is
// a member, else from the replicated node registry.
func (n *Node) PeerGRPCAddr(name string) (string, bool) {
	if name == n.cfg.Name {
		return n.grpcAddr, true
	}
	if m, ok := n.members.get(name); ok && m.Meta.GRPCAddr != "" {
		return m.Meta.GRPCAddr, true
	}
	if rec, err := n.State().Node(name); err == nil && rec != nil && rec.GrpcAddr != "" {
		return rec.GrpcAddr, true
	}
	return "", false
}

// AliveNodes lists the members gossip sees alive (this node included), by
// name.
func (n *Node) AliveNodes() []string {
	var out []string
	for _, m := range n.members.list() {
		if m.Status == StatusAlive || m.Status == StatusSuspect {
			out = append(out, m.Name)
		}
	}
	sort.Strings(out)
	return out
}

// MemberStatus returns a member's gossip status (alive, suspect, left,
// failed), or "" for a node gossip does not know.
func (n *Node) MemberStatus(name string) string {
	if m, ok := n.members.get(name); ok {
		return m.Status
	}
	return ""
}
