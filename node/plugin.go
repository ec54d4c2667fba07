package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Plugin is a layer added to a node (supervision, plans, snapshots): it
// registers its gRPC services and starts its loops. Attach runs once Raft
// and gossip are up and before the gRPC server starts serving; a plugin
// stops its loops through OnShutdown.
type Plugin interface {
	Name() string
	Attach(n *Node) error
}

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
	if rec, err := n.fsm.State().Node(name); err == nil && rec != nil && rec.GrpcAddr != "" {
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
