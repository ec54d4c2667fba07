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

// A quorum of followers holding an entry does not commit it while the leader's
// own write has not returned; the leader's write does.
func TestCommitment_leaderSelfCapsCommit(t *testing.T) {
	commitCh := make(chan struct{}, 1)
	c := newLeaderCommitment(commitCh, voters(3), 1, "s1")
	c.match("s2", 5)
	c.match("s3", 5)
	if got := c.getCommitIndex(); got != 0 {
		t.Fatalf("followers alone committed up to %d; want 0 until the leader has written its log", got)
	}
	if drainNotifyCh(commitCh) {
		t.Fatalf("commit notified before the leader's own write")
	}
	c.match("s1", 3)
	if got := c.getCommitIndex(); got != 3 {
		t.Fatalf("commit index %d after the leader wrote up to 3; want 3", got)
	}
	if !drainNotifyCh(commitCh) {
		t.Fatalf("expected commit notify")
	}
	c.match("s1", 5)
	if got := c.getCommitIndex(); got != 5 {
		t.Fatalf("commit index %d; want 5", got)
	}
}

// The cap holds when the leader is not a voter of the configuration (it is
// removing itself): it still commits only what its own log holds.
func TestCommitment_leaderSelfCapsCommitAsNonVoter(t *testing.T) {
	commitCh := make(chan struct{}, 1)
	c := newLeaderCommitment(commitCh, voters(3), 1, "leader")
	c.match("s1", 7)
	c.match("s2", 7)
	if got := c.getCommitIndex(); got != 0 {
		t.Fatalf("commit index %d before the leader's own write; want 0", got)
	}
	c.match("leader", 7)
	if got := c.getCommitIndex(); got != 7 {
		t.Fatalf("commit index %d; want 7", got)
	}
}

func TestPendingLogs_get(t *testing.T) {
	var p pendingLogs
	var out Log
	if p.get(1, &out) {
		t.Fatalf("empty pending batch returned an entry")
	}
	p.set([]*Log{{Index: 10, Term: 2, Data: []byte("a")}, {Index: 11, Term: 2, Data: []byte("b")}})
	for _, idx := range []uint64{0, 9, 12, 1 << 63} {
		if p.get(idx, &out) {
			t.Fatalf("index %d outside the batch 10..11 returned an entry", idx)
		}
	}
	if !p.get(11, &out) || out.Index != 11 || string(out.Data) != "b" {
		t.Fatalf("index 11: got %+v", out)
	}
	p.set(nil)
	if p.get(10, &out) {
		t.Fatalf("cleared batch returned an entry")
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

type gatedCluster struct {
	rafts  []*Raft
	stores []*gatedLogStore
	fsms   []*MockFSM
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
		if err := BootstrapCluster(conf, store, store.InmemStore, NewDiscardSnapshotStore(), trans[i], configuration); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
		fsm := &MockFSM{}
		r, err := NewRaft(conf, fsm, store, store.InmemStore, NewDiscardSnapshotStore(), trans[i])
		if err != nil {
			t.Fatalf("NewRaft: %v", err)
		}
		c.rafts = append(c.rafts, r)
		c.stores = append(c.stores, store)
		c.fsms = append(c.fsms, fsm)
	}
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

// The followers store an entry while the leader's own write of it is still
// under way, and the entry is applied and acknowledged only once that write
// returns.
func TestRaft_LeaderWritesInParallelWithReplication(t *testing.T) {
	c := newGatedCluster(t, 3)
	l := c.leader(t)
	leader := c.rafts[l]
	index := leader.LastIndex() + 1 // the apply's entry
	c.stores[l].arm()
	done := c.applyAsync(leader, "x")
	receive(t, "the leader's own write", c.stores[l].entered)
	for i, s := range c.stores {
		if i == l {
			continue
		}
		waitFor(t, fmt.Sprintf("follower n%d to store index %d", i, index), func() bool {
			last, _ := s.LastIndex()
			return last >= index
		})
	}
	// Both followers hold the entry: a quorum without the leader. The leader
	// must not have committed or applied it.
	select {
	case err := <-done:
		t.Fatalf("apply returned (%v) before the leader's own write", err)
	default:
	}
	if n := len(c.fsms[l].Logs()); n != 0 {
		t.Fatalf("leader's FSM applied %d entries before its own write returned", n)
	}
	c.stores[l].release <- nil
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("apply did not return after the leader's write")
	}
	for i, fsm := range c.fsms {
		waitFor(t, fmt.Sprintf("n%d to apply the entry", i), func() bool {
			logs := fsm.Logs()
			return len(logs) == 1 && string(logs[0]) == "x"
		})
	}
}

// A leader whose own write fails answers that error, steps down, and the
// cluster carries on with the same log on every node, whichever way the
// failed entry went.
func TestRaft_LeaderOwnWriteFails(t *testing.T) {
	c := newGatedCluster(t, 3)
	l := c.leader(t)
	leader := c.rafts[l]
	c.stores[l].arm()
	done := c.applyAsync(leader, "lost")
	receive(t, "the leader's own write", c.stores[l].entered)
	diskErr := errors.New("injected disk failure")
	c.stores[l].release <- diskErr
	select {
	case err := <-done:
		if !errors.Is(err, diskErr) {
			t.Fatalf("apply returned %v; want the store's error %v", err, diskErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("apply did not return after the failed write")
	}
	// A new write through whoever leads now commits on every node, and all
	// nodes end with the same applied log.
	var err error
	waitFor(t, "a write under the next leader", func() bool {
		for _, r := range c.rafts {
			if r.State() == Leader {
				err = r.Apply([]byte("after"), time.Second).Error()
				return err == nil
			}
		}
		return false
	})
	want := c.fsms[0]
	for i, fsm := range c.fsms {
		waitFor(t, fmt.Sprintf("n%d to apply the write after the failure", i), func() bool {
			logs := fsm.Logs()
			return len(logs) > 0 && string(logs[len(logs)-1]) == "after"
		})
		if got, w := fmt.Sprint(fsm.Logs()), fmt.Sprint(want.Logs()); got != w {
			t.Fatalf("n%d applied %s, n0 applied %s", i, got, w)
		}
	}
}
