// Copyright (c) HashiCorp, Inc.
// SPDX-License-Identifier: MPL-2.0

// Tests of steward's patch: the leader writes its own log in parallel with
// replicating it (Raft thesis, section 10.2.1). See dispatchLogs.

package raft

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestPendingLogs(t *testing.T) {
	var p pendingLogs
	var out Log
	if p.get(1, &out) {
		t.Fatalf("empty pending entries returned an entry")
	}
	p.add([]*Log{{Index: 10, Term: 2, Data: []byte("a")}, {Index: 11, Term: 2, Data: []byte("b")}})
	p.add([]*Log{{Index: 12, Term: 2, Data: []byte("c")}})
	for _, idx := range []uint64{0, 9, 13, 1 << 63} {
		if p.get(idx, &out) {
			t.Fatalf("index %d outside 10..12 returned an entry", idx)
		}
	}
	if !p.get(12, &out) || out.Index != 12 || string(out.Data) != "c" {
		t.Fatalf("index 12: got %+v", out)
	}
	stored := p.storedCh()
	p.trim(11)
	select {
	case <-stored:
	default:
		t.Fatalf("trim did not wake the waiters of storedCh")
	}
	if p.get(11, &out) {
		t.Fatalf("index 11 still pending after trim(11)")
	}
	if !p.get(12, &out) || string(out.Data) != "c" {
		t.Fatalf("index 12 after trim(11): got %+v", out)
	}
	p.trim(12)
	if p.get(12, &out) || p.logs != nil {
		t.Fatalf("entries left after trimming all: %v", p.logs)
	}
	stored = p.storedCh()
	p.reset()
	select {
	case <-stored:
	default:
		t.Fatalf("reset did not wake the waiters of storedCh")
	}
}

// gatedLogStore holds an armed StoreLogs until the test releases it, and
// returns what the test sends: nil to store the batch, an error to fail it.
type gatedLogStore struct {
	*InmemStore
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan error
}

func newGatedLogStore() *gatedLogStore {
	return &gatedLogStore{InmemStore: NewInmemStore(), entered: make(chan struct{}, 1), release: make(chan error, 1)}
}

func (g *gatedLogStore) arm() {
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
}

func (g *gatedLogStore) StoreLog(l *Log) error { return g.StoreLogs([]*Log{l}) }

func (g *gatedLogStore) StoreLogs(logs []*Log) error {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		g.entered <- struct{}{}
		if err := <-g.release; err != nil {
			return err
		}
	}
	return g.InmemStore.StoreLogs(logs)
}

// recordingSnapshotStore notes, for each snapshot created, its index and the
// last index its node's log store held at that moment.
type recordingSnapshotStore struct {
	DiscardSnapshotStore
	logs LogStore
	mu   sync.Mutex
	made [][2]uint64 // {snapshot index, log store's last index}
}

func (s *recordingSnapshotStore) Create(version SnapshotVersion, index, term uint64,
	configuration Configuration, configurationIndex uint64, trans Transport) (SnapshotSink, error) {
	last, _ := s.logs.LastIndex()
	s.mu.Lock()
	s.made = append(s.made, [2]uint64{index, last})
	s.mu.Unlock()
	return s.DiscardSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
}

func (s *recordingSnapshotStore) created() [][2]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][2]uint64(nil), s.made...)
}

type gatedCluster struct {
	rafts  []*Raft
	stores []*gatedLogStore
	snaps  []*recordingSnapshotStore
	fsms   []*MockFSM
	trans  []*InmemTransport
}

func newGatedCluster(t *testing.T, n int) *gatedCluster {
	t.Helper()
	c := &gatedCluster{}
	var configuration Configuration
	addrs := make([]ServerAddress, n)
	trans := make([]*InmemTransport, n)
	for i := 0; i < n; i++ {
		addrs[i], trans[i] = NewInmemTransport("")
		configuration.Servers = append(configuration.Servers, Server{
			Suffrage: Voter, ID: ServerID(fmt.Sprintf("n%d", i)), Address: addrs[i],
		})
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				trans[i].Connect(addrs[j], trans[j])
			}
		}
	}
	for i := 0; i < n; i++ {
		conf := inmemConfig(t)
		conf.LocalID = configuration.Servers[i].ID
		store := newGatedLogStore()
		snaps := &recordingSnapshotStore{logs: store}
		if err := BootstrapCluster(conf, store, store.InmemStore, snaps, trans[i], configuration); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
		fsm := &MockFSM{}
		r, err := NewRaft(conf, fsm, store, store.InmemStore, snaps, trans[i])
		if err != nil {
			t.Fatalf("NewRaft: %v", err)
		}
		c.rafts = append(c.rafts, r)
		c.stores = append(c.stores, store)
		c.snaps = append(c.snaps, snaps)
		c.fsms = append(c.fsms, fsm)
	}
	c.trans = trans
	t.Cleanup(func() {
		for _, s := range c.stores {
			select {
			case s.release <- nil:
			default:
			}
		}
		for _, r := range c.rafts {
			_ = r.Shutdown().Error()
		}
	})
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *gatedCluster) leader(t *testing.T) int {
	t.Helper()
	leader := -1
	waitFor(t, "a leader", func() bool {
		for i, r := range c.rafts {
			if r.State() == Leader {
				leader = i
				return true
			}
		}
		return false
	})
	// A barrier commits the leader's first entry of its term, so that the
	// next apply is the only entry in flight.
	if err := c.rafts[leader].Barrier(5 * time.Second).Error(); err != nil {
		t.Fatalf("barrier: %v", err)
	}
	return leader
}

func (c *gatedCluster) applyAsync(r *Raft, data string) <-chan error {
	done := make(chan error, 1)
	f := r.Apply([]byte(data), 5*time.Second)
	go func() { done <- f.Error() }()
	return done
}

func receive(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// isolate cuts node i off from every other node, both ways.
func (c *gatedCluster) isolate(i int) {
	c.trans[i].DisconnectAll()
	for j, tr := range c.trans {
		if j != i {
			tr.Disconnect(c.trans[i].LocalAddr())
		}
	}
}

// follower returns a node other than the leader l and than skip.
func (c *gatedCluster) follower(l, skip int) int {
	for i := range c.rafts {
		if i != l && i != skip {
			return i
		}
	}
	return -1
}

func (c *gatedCluster) waitStored(t *testing.T, i int, index uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("n%d to store index %d", i, index), func() bool {
		last, _ := c.stores[i].LastIndex()
		return last >= index
	})
}

func applyResult(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

func (c *gatedCluster) waitSameLogs(t *testing.T, last string) {
	t.Helper()
	for i, fsm := range c.fsms {
		waitFor(t, fmt.Sprintf("n%d to apply %q", i, last), func() bool {
			logs := fsm.Logs()
			return len(logs) > 0 && string(logs[len(logs)-1]) == last
		})
	}
	want := fmt.Sprint(c.fsms[0].Logs())
	for i, fsm := range c.fsms {
		if got := fmt.Sprint(fsm.Logs()); got != want {
			t.Fatalf("n%d applied %s, n0 applied %s", i, got, want)
		}
	}
}

// While the leader's own write of an entry is held, both followers store it,
// and that majority of copies commits it: the apply returns and the leader's
// state machine applies it. The leader loop goes on meanwhile, so later
// writes commit too; once the leader's write is released its log holds them
// all.
func TestRaft_LeaderCommitsOnFollowersWhileItsOwnWriteRuns(t *testing.T) {
	c := newGatedCluster(t, 3)
	l := c.leader(t)
	leader := c.rafts[l]
	index := leader.LastIndex() + 1 // the first apply's entry
	c.stores[l].arm()
	first := c.applyAsync(leader, "x0")
	receive(t, "the leader's own write", c.stores[l].entered)
	if err := applyResult(t, "the apply, with the leader's write held", first); err != nil {
		t.Fatalf("apply: %v", err)
	}
	// A stale candidate's vote request is answered meanwhile: only an RPC
	// that can write the log waits for the leader's own writes.
	addr, intruder := NewInmemTransport("")
	intruder.Connect(c.trans[l].LocalAddr(), c.trans[l])
	var vote RequestVoteResponse
	if err := intruder.RequestVote(leader.localID, c.trans[l].LocalAddr(), &RequestVoteRequest{
		RPCHeader: RPCHeader{ProtocolVersion: ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(addr)},
		Term:      leader.getCurrentTerm(),
	}, &vote); err != nil || vote.Granted {
		t.Fatalf("vote request to the leader with its write held: granted %v, error %v; want refused, answered", vote.Granted, err)
	}
	for k := 1; k < 10; k++ {
		if err := leader.Apply([]byte(fmt.Sprintf("x%d", k)), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply x%d with the leader's write held: %v", k, err)
		}
	}
	if n := len(c.fsms[l].Logs()); n != 10 {
		t.Fatalf("leader's FSM applied %d entries; want 10", n)
	}
	if last, _ := c.stores[l].LastIndex(); last >= index {
		t.Fatalf("leader's log holds index %d while its write of %d is held", last, index)
	}
	c.stores[l].release <- nil
	c.waitStored(t, l, index+9)
	c.waitSameLogs(t, "x9")
}

// An entry that only one follower holds is not committed while the leader's
// own write of it runs: in a 3-node cluster the leader's copy is the second
// one a majority needs.
func TestRaft_LeaderOwnWriteCountsTowardQuorum(t *testing.T) {
	c := newGatedCluster(t, 3)
	l := c.leader(t)
	leader := c.rafts[l]
	cut := c.follower(l, -1)
	peer := c.follower(l, cut)
	c.isolate(cut)
	index := leader.LastIndex() + 1
	c.stores[l].arm()
	done := c.applyAsync(leader, "x")
	receive(t, "the leader's own write", c.stores[l].entered)
	c.waitStored(t, peer, index)
	// The leader has counted the follower's copy...
	cm := leader.leaderState.commitment
	waitFor(t, "the leader to count the follower's copy", func() bool {
		cm.Lock()
		defer cm.Unlock()
		return cm.matchIndexes[c.rafts[peer].localID] >= index
	})
	// ...and one copy of three is not a majority.
	if got := cm.getCommitIndex(); got >= index {
		t.Fatalf("leader committed up to %d on one follower's copy; want below %d", got, index)
	}
	select {
	case err := <-done:
		t.Fatalf("apply returned (%v) with one copy of three on disk", err)
	default:
	}
	if n := len(c.fsms[l].Logs()); n != 0 {
		t.Fatalf("leader's FSM applied %d entries with one copy of three on disk", n)
	}
	c.stores[l].release <- nil
	if err := applyResult(t, "the apply after the leader's write", done); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// A snapshot of a leader whose state machine is ahead of its own log waits
// for the log: no snapshot is created at an index the log store does not
// hold.
func TestRaft_SnapshotWaitsForLeaderLog(t *testing.T) {
	c := newGatedCluster(t, 3)
	l := c.leader(t)
	leader := c.rafts[l]
	index := leader.LastIndex() + 1
	c.stores[l].arm()
	done := c.applyAsync(leader, "x")
	receive(t, "the leader's own write", c.stores[l].entered)
	if err := applyResult(t, "the apply, with the leader's write held", done); err != nil {
		t.Fatalf("apply: %v", err)
	}
	snap := leader.Snapshot()
	// Either the snapshot waits for the log store (a waiter appears on
	// pending.stored), or it is created at once, which is the failure.
	waitFor(t, "the snapshot to wait for the log, or to be created", func() bool {
		leader.pending.mu.Lock()
		waiting := leader.pending.stored != nil
		leader.pending.mu.Unlock()
		return waiting || len(c.snaps[l].created()) > 0
	})
	if made := c.snaps[l].created(); len(made) > 0 {
		t.Fatalf("snapshot created at index %d while the log store held up to %d", made[0][0], made[0][1])
	}
	c.stores[l].release <- nil
	if err := snap.Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	made := c.snaps[l].created()
	if len(made) != 1 || made[0][0] < index || made[0][1] < made[0][0] {
		t.Fatalf("snapshots created {index, log's last index}: %v; want one at index >= %d with the log holding it", made, index)
	}
}

// A leader whose own write fails, with only one follower holding the entry,
// answers the store's error and steps down; the cluster carries on with the
// same log on every node, whichever way the failed entry went.
func TestRaft_LeaderOwnWriteFails(t *testing.T) {
	c := newGatedCluster(t, 3)
	l := c.leader(t)
	leader := c.rafts[l]
	cut := c.follower(l, -1)
	peer := c.follower(l, cut)
	c.isolate(cut)
	index := leader.LastIndex() + 1
	c.stores[l].arm()
	done := c.applyAsync(leader, "lost")
	receive(t, "the leader's own write", c.stores[l].entered)
	c.waitStored(t, peer, index)
	diskErr := errors.New("injected disk failure")
	c.stores[l].release <- diskErr
	if err := applyResult(t, "the apply after the failed write", done); !errors.Is(err, diskErr) {
		t.Fatalf("apply returned %v; want the store's error %v", err, diskErr)
	}
	// Stepping down, the old leader sets its last index back to what its
	// log holds.
	waitFor(t, fmt.Sprintf("the old leader to step down with its last index below %d", index), func() bool {
		return leader.State() != Leader && leader.LastIndex() < index
	})
	for i, tr := range c.trans {
		for j, other := range c.trans {
			if i != j {
				tr.Connect(other.LocalAddr(), other)
			}
		}
	}
	// A new write through whoever leads now commits on every node, and all
	// nodes end with the same applied log.
	waitFor(t, "a write under the next leader", func() bool {
		for _, r := range c.rafts {
			if r.State() == Leader {
				return r.Apply([]byte("after"), time.Second).Error() == nil
			}
		}
		return false
	})
	c.waitSameLogs(t, "after")
}
