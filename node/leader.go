package node

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
)

// monitorLeadership starts the leader loop when this node wins an election
// and stops it when leadership is lost.
func (n *Node) monitorLeadership() {
	obsCh := make(chan raft.Observation, 16)
	obs := raft.NewObserver(obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)
	n.server.SetReady(n.raft.Leader() != "")

	var stop, done chan struct{}
	stopLeader := func() {
		if stop != nil {
			close(stop)
			<-done
			stop, done = nil, nil
		}
	}
	defer stopLeader()
	for {
		select {
		case isLeader := <-n.raftNotifyCh:
			if isLeader && stop == nil {
				stop, done = make(chan struct{}), make(chan struct{})
				go func(stop, done chan struct{}) {
					defer close(done)
					n.leaderLoop(stop)
				}(stop, done)
			} else if !isLeader {
				stopLeader()
			}
		case o := <-obsCh:
			lo := o.Data.(raft.LeaderObservation)
			n.server.SetReady(lo.LeaderID != "")
		case <-n.shutdownCh:
			return
		}
	}
}

// leaderLoop establishes leadership, then keeps the Raft configuration and
// the node registry in step with gossip membership until stop closes.
func (n *Node) leaderLoop(stop <-chan struct{}) {
	term := n.raft.CurrentTerm()
	n.logger.Info("leadership acquired", "term", term)
	defer n.logger.Info("leadership lost", "term", term)
	for {
		err := n.establishLeadership()
		if err == nil {
			break
		}
		n.logger.Error("establishing leadership", "error", err)
		retry := n.cfg.Clock.NewTimer(500 * time.Millisecond)
		select {
		case <-stop:
			retry.Stop()
			return
		case <-retry.C():
		}
	}
	n.readyTerm.Store(term)
	defer n.readyTerm.Store(0)
	stopTasks := n.runLeaderTasks()
	defer stopTasks()

	changed := n.members.subscribe()
	clk := n.cfg.Clock
	tick := clk.NewTimer(n.cfg.ReconcileInterval)
	defer tick.Stop()
	reap := clk.NewTimer(time.Hour)
	defer reap.Stop()
	for {
		next := n.reconcile()
		if !next.IsZero() {
			reap.Reset(next.Sub(clk.Now()))
		}
		select {
		case <-stop:
			return
		case <-n.shutdownCh:
			return
		case <-changed:
		case <-tick.C():
			tick.Reset(n.cfg.ReconcileInterval)
		case <-reap.C():
		}
	}
}

// establishLeadership waits until every entry of earlier terms is applied
// (so reads and decisions see all committed state), then fixes the cluster
// identity if this is the first leader.
func (n *Node) establishLeadership() error {
	if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
		return fmt.Errorf("barrier: %w", translateRaftErr(err))
	}
	if n.State().ClusterID() == "" {
		id := n.clusterID()
		if id == "" {
			id = newClusterID()
		}
		res, err := n.applyInternal(pb.CommandType_COMMAND_TYPE_CLUSTER_INIT, &pb.ClusterInitCommand{ClusterId: id})
		if err != nil {
			return fmt.Errorf("cluster init: %w", err)
		}
		if res.Err != nil {
			return fmt.Errorf("cluster init: %w", res.Err)
		}
		n.logger.Info("cluster initialised", "cluster_id", id)
	}
	return nil
}

func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
