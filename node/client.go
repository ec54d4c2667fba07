package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
)

// Modes of a node, as members and status report them.
const (
	ModeServer = "server"
	ModeClient = "client"
)

// Timing of the work stream between a client agent and its server.
const (
	// workHeartbeat is how often a server sends a batch on a stream
	// besides the changes: it carries the index the commits that did not
	// concern the client brought it to (a write load the client has no
	// part in costs its stream two messages a second, not one per commit)
	// and the leader's name, and its absence tells the client the server
	// is gone.
	workHeartbeat = 500 * time.Millisecond
	// workSilence is how long a client waits for a batch before it drops
	// the stream and moves to another server.
	workSilence = 3 * time.Second
	// workMaxBatchBytes is the most record bytes in one stream message; a
	// larger batch is split (WorkBatch.more), and applied whole.
	workMaxBatchBytes = 4 << 20
)

// Mode is this node's mode: ModeServer or ModeClient.
func (n *Node) Mode() string {
	if n.cfg.Client {
		return ModeClient
	}
	return ModeServer
}

// IsServer reports whether this node runs Raft.
func (n *Node) IsServer() bool { return !n.cfg.Client }

// clientState is what a client agent holds in place of Raft: the records
// that concern it, as the stream from a server delivered them, and what
// that stream says of the cluster.
type clientState struct {
	mu    sync.RWMutex
	store *state.Store
	// leader is the leader's name, server and serverAddr the server the
	// stream is from ("" while there is none).
	leader, server, serverAddr string
	connected                  bool
	lastContact                time.Time
	// freshViews and batches count the fresh views and all batches
	// applied (status).
	freshViews, batches uint64
	// movedOff is set once the client moved its stream off the leader it
	// had happened to pick first; later it stays where it is, so that
	// elections do not make every client move.
	movedOff bool
}

func newClientState() (*clientState, error) {
	st, err := state.New()
	if err != nil {
		return nil, err
	}
	return &clientState{store: st}, nil
}

func (c *clientState) State() *state.Store {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.store
}

// leaderVia returns the leader's name and the address of the server that
// forwards to it.
func (c *clientState) leaderVia() (string, string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.connected || c.leader == "" {
		return "", ""
	}
	return c.leader, c.serverAddr
}

// runClient keeps a work stream to one server, moving to another whenever
// the stream ends, until shutdown.
func (n *Node) runClient() {
	c := n.client
	var last string // the server the last stream was with
	backoff := 50 * time.Millisecond
	for {
		name, addr := n.pickServer(last)
		var err error
		if addr == "" {
			err = errors.New("no alive server is known through gossip")
			// Cut off long enough, both sides hold the other failed and
			// gossip no longer reaches across: join the servers known
			// again, as Serf reconnects failed members.
			n.rejoinServers()
		} else {
			last = name
			err = n.streamWork(name, addr)
		}
		c.mu.Lock()
		wasUp := c.connected
		c.connected, c.server, c.serverAddr = false, "", ""
		c.mu.Unlock()
		n.server.SetReady(false)
		if n.shuttingDown() {
			return
		}
		if errors.Is(err, errOffLeader) {
			n.logger.Debug("moving the work stream off the leader", "server", name)
			continue
		}
		if wasUp {
			n.logger.Warn("work stream ended; moving to another server", "server", name, "error", err)
			backoff = 50 * time.Millisecond
		} else {
			n.logger.Debug("no work stream", "server", name, "error", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-n.shutdownCh:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// pickServer chooses the server to stream from: an alive server other than
// the one the last stream was with, preferring one that does not lead (a
// leader's CPU goes to Raft), at random among equals.
func (n *Node) pickServer(last string) (string, string) {
	n.client.mu.RLock()
	leader := n.client.leader // as last known, also while disconnected
	n.client.mu.RUnlock()
	var best []member
	rank := func(m member) int {
		r := 0
		if m.Name == last {
			r += 2
		}
		if m.Name == leader {
			r++
		}
		return r
	}
	for _, m := range n.aliveServers() {
		switch {
		case len(best) == 0 || rank(m) < rank(best[0]):
			best = []member{m}
		case rank(m) == rank(best[0]):
			best = append(best, m)
		}
	}
	if len(best) == 0 {
		return "", ""
	}
	m := best[rand.IntN(len(best))]
	return m.Name, m.Meta.GRPCAddr
}

// rejoinServers joins, through gossip, the servers this client knows of
// (from gossip, even failed, and from the node registry in its view) that
// have not left.
func (n *Node) rejoinServers() {
	seen := map[string]bool{}
	var addrs []string
	add := func(name, addr string) {
		if addr != "" && name != n.cfg.Name && !seen[addr] {
			seen[addr] = true
			addrs = append(addrs, addr)
		}
	}
	for _, m := range n.members.list() {
		if m.Meta.Mode != ModeClient && m.Status != StatusLeft {
			add(m.Name, m.Addr)
		}
	}
	if _, recs, err := n.State().Nodes(nil); err == nil {
		for _, r := range recs {
			if r.Mode != ModeClient && r.Status != StatusLeft {
				add(r.Name, r.GossipAddr)
			}
		}
	}
	if len(addrs) == 0 {
		return
	}
	if joined, err := n.ml.Join(addrs); joined > 0 {
		n.logger.Info("rejoined servers through gossip", "joined", joined)
	} else {
		n.logger.Debug("cannot rejoin servers", "addrs", addrs, "error", err)
	}
}

// streamWork holds one work stream to a server until it fails, falls
// silent for workSilence, or the node shuts down.
func (n *Node) streamWork(name, addr string) error {
	c := n.client
	conn, err := n.pool.Get(addr)
	if err != nil {
		return err
	}
	ctx, cancel := n.untilShutdown(context.Background())
	defer cancel()
	stream, err := pb.NewInternalClient(conn).Work(ctx, &pb.WorkRequest{
		Node: n.cfg.Name, After: c.State().LatestIndex(), ClusterId: n.clusterID(),
	})
	if err != nil {
		return err
	}
	// A stream that falls silent is dropped: the server is gone or cut off.
	watchdog := time.AfterFunc(workSilence, cancel)
	defer watchdog.Stop()
	var parts []*pb.RecordChange
	for {
		b, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil && !n.shuttingDown() {
				return fmt.Errorf("no batch from %s in %s", name, workSilence)
			}
			return transport.FromStatus(err)
		}
		watchdog.Reset(workSilence)
		parts = append(parts, b.Changes...)
		if b.More {
			continue
		}
		if err := n.applyWork(b, parts); err != nil {
			// The client's view cannot take the batch: start over from a
			// fresh view.
			n.logger.Error("cannot apply work from server; asking for a fresh view", "server", name, "index", b.Index, "error", err)
			c.replaceStore(nil)
			return err
		}
		parts = nil
		c.mu.Lock()
		first := !c.connected
		c.leader, c.server, c.serverAddr, c.connected, c.lastContact = b.Leader, name, addr, true, time.Now()
		c.batches++
		if b.Fresh {
			c.freshViews++
		}
		c.mu.Unlock()
		n.server.SetReady(b.Leader != "")
		if first {
			n.logger.Info("streaming work from server", "server", name, "index", b.Index, "fresh", b.Fresh)
			// Picked before the leader was known, and it is the leader:
			// move to a follower when there is one, once.
			if b.Leader == name && !n.client.movedOff && n.otherServerAlive(name) {
				n.client.movedOff = true
				return errOffLeader
			}
		}
	}
}

// applyWork applies one whole batch to the client's view.
func (n *Node) applyWork(b *pb.WorkBatch, changes []*pb.RecordChange) error {
	c := n.client
	if b.Fresh {
		st, err := state.NewView(b.Index, changes)
		if err != nil {
			return err
		}
		c.replaceStore(st)
		return nil
	}
	return c.State().ApplyRemote(b.Index, changes)
}

// replaceStore swaps in a new view (an empty one when st is nil) and
// abandons the old, waking whatever watched it.
func (c *clientState) replaceStore(st *state.Store) {
	if st == nil {
		var err error
		if st, err = state.New(); err != nil {
			return
		}
	}
	c.mu.Lock()
	old := c.store
	c.store = st
	c.mu.Unlock()
	old.Abandon()
}

// serveWork is the server's end of a client agent's work stream
// (Internal.Work).
func (n *Node) serveWork(req *pb.WorkRequest, stream pb.Internal_WorkServer) error {
	if !ValidName(req.Node) {
		return transport.ToStatus(fmt.Errorf("%w: work stream for %q: not a valid node name", transport.ErrInvalidRequest, req.Node))
	}
	if mine := n.clusterID(); mine != "" && req.ClusterId != "" && req.ClusterId != mine {
		return transport.ToStatus(fmt.Errorf("%w: client %s is in cluster %s, this server (%s) in cluster %s",
			ErrOtherCluster, req.Node, req.ClusterId, n.cfg.Name, mine))
	}
	ctx := stream.Context()
	after := req.After
	st := n.State()
	fresh := false
	sentLeader := ""
	// The stream's timing is the network's, on the wall clock, also when a
	// test drives the layers' deadlines with a manual one.
	heartbeat := time.NewTicker(workHeartbeat)
	defer heartbeat.Stop()
	beat := true // the first batch goes at once, as if a heartbeat
	for {
		if cur := n.State(); cur != st {
			st, fresh = cur, true // restored: the client's view starts over
		}
		commits, wake, ok := st.Since(after)
		leader, _ := n.Leader()
		if !ok || fresh {
			idx, recs, err := st.View(req.Node)
			if err != nil {
				return transport.ToStatus(err)
			}
			if err := sendWork(stream, &pb.WorkBatch{Index: idx, Fresh: true, Leader: leader, Server: n.cfg.Name}, recs); err != nil {
				return err
			}
			after, sentLeader, fresh, beat = idx, leader, false, false
			continue
		}
		changes, err := state.ChangesFor(req.Node, commits)
		if err != nil {
			return transport.ToStatus(err)
		}
		if len(commits) > 0 {
			after = commits[len(commits)-1].Index
		}
		// Changes go at once; the index alone (commits that concerned the
		// client not at all), and the leader, with the next heartbeat or a
		// change of leader.
		if len(changes) > 0 || beat || leader != sentLeader {
			if err := sendWork(stream, &pb.WorkBatch{Index: after, Leader: leader, Server: n.cfg.Name}, changes); err != nil {
				return err
			}
			sentLeader, beat = leader, false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-n.shutdownCh:
			return transport.ToStatus(transport.ErrShuttingDown)
		case <-wake:
		case <-st.AbandonCh():
		case <-heartbeat.C:
			beat = true
		}
	}
}

// sendWork sends a batch, split into messages of at most
// workMaxBatchBytes of records.
func sendWork(stream pb.Internal_WorkServer, head *pb.WorkBatch, changes []*pb.RecordChange) error {
	for {
		b := &pb.WorkBatch{Index: head.Index, Fresh: head.Fresh, Leader: head.Leader, Server: head.Server}
		size := 0
		for len(changes) > 0 && (len(b.Changes) == 0 || size+len(changes[0].Record) <= workMaxBatchBytes) {
			size += len(changes[0].Record)
			b.Changes = append(b.Changes, changes[0])
			changes = changes[1:]
		}
		b.More = len(changes) > 0
		if err := stream.Send(b); err != nil {
			return err
		}
		if !b.More {
			return nil
		}
	}
}

// clientMode is the gossip metadata's mode field.
func (n *Node) clientMode() string {
	if n.cfg.Client {
		return ModeClient
	}
	return ""
}

// errOffLeader ends a stream that was opened to the leader, so that the
// client moves to a follower.
var errOffLeader = errors.New("streaming from the leader; moving to a follower")

// aliveServers lists the servers gossip sees alive that this node can
// stream from: other nodes, with a gRPC address the network reaches.
func (n *Node) aliveServers() []member {
	var out []member
	for _, m := range n.members.list() {
		if m.Status == StatusAlive && m.Meta.Mode != ModeClient && m.Name != n.cfg.Name && m.Meta.GRPCAddr != "" && n.allowed(m.Meta.GRPCAddr) {
			out = append(out, m)
		}
	}
	return out
}

// otherServerAlive reports whether an alive server other than name can be
// streamed from.
func (n *Node) otherServerAlive(name string) bool {
	for _, m := range n.aliveServers() {
		if m.Name != name {
			return true
		}
	}
	return false
}

// errClientNoRaft answers what only a server can do; it wraps ErrNotLeader,
// so that a request meeting it is sent on to the leader.
var errClientNoRaft = fmt.Errorf("%w: this node is a client agent and runs no Raft", transport.ErrNotLeader)

// metaMode is the mode a member gossips.
func metaMode(m nodeMeta) string {
	if m.Mode == ModeClient {
		return ModeClient
	}
	return ModeServer
}

// clientStatus is Status on a client agent: no Raft, the work stream.
func (n *Node) clientStatus() *pb.StatusResponse {
	c := n.client
	c.mu.RLock()
	leader, server, connected, fresh, batches := c.leader, c.server, c.connected, c.freshViews, c.batches
	c.mu.RUnlock()
	st := &pb.StatusResponse{
		Node:             n.cfg.Name,
		Leader:           leader,
		AppliedIndex:     n.State().LatestIndex(),
		RaftState:        "none",
		ClusterId:        n.clusterID(),
		Version:          Version,
		LastContactMs:    n.LastContact().Milliseconds(),
		Mode:             ModeClient,
		StreamServer:     server,
		StreamConnected:  connected,
		StreamFreshViews: fresh,
		StreamBatches:    batches,
	}
	if leader != "" {
		st.LeaderAddr, _ = n.PeerGRPCAddr(leader)
	}
	for _, f := range n.statusHooks() {
		f(st)
	}
	return st
}

// StaleReadsFrom implements transport.Backend: a server answers stale
// reads from its replica; a client agent sends them to the server it
// streams from.
func (n *Node) StaleReadsFrom() (string, error) {
	if n.client == nil {
		return "", nil
	}
	n.client.mu.RLock()
	defer n.client.mu.RUnlock()
	if !n.client.connected {
		return "", fmt.Errorf("%w: client agent %s has no work stream to a server to read from", transport.ErrNoLeader, n.cfg.Name)
	}
	return n.client.serverAddr, nil
}
