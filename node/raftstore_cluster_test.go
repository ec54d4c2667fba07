package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// leaderKV writes through the current leader, retrying an idempotent put
// through leader changes; it returns the write's response.
type leaderKV struct {
	t   *testing.T
	c   *testkit.Cluster
	mu  sync.Mutex
	kvs map[int]pb.KVClient
}

func newLeaderKV(t *testing.T, c *testkit.Cluster) *leaderKV {
	return &leaderKV{t: t, c: c, kvs: map[int]pb.KVClient{}}
}

func (l *leaderKV) put(key, value string) *pb.KVPutResponse {
	l.t.Helper()
	var resp *pb.KVPutResponse
	l.c.Eventually(30*time.Second, func() error {
		i := l.c.Index(l.c.Leader().Name())
		l.mu.Lock()
		kv, ok := l.kvs[i]
		if !ok {
			kv = l.c.KV(i)
			l.kvs[i] = kv
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := kv.Put(ctx, &pb.KVPutRequest{Key: key, Value: []byte(value)})
		if err != nil {
			return err
		}
		resp = r
		return nil
	}, "put %s", key)
	return resp
}

// walBounds opens the raft-wal log of a stopped node's data dir and returns
// its first and last index.
func walBounds(t *testing.T, dataDir string) (first, last uint64) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(filepath.Join(dataDir, "raft", "wal"), raftwal.WithMetaStore(meta), raftwal.WithLogger(testkit.Logger(t, "wal")))
	if err != nil {
		t.Fatalf("open the wal of %s: %v", dataDir, err)
	}
	defer func() {
		_ = w.Close()
		_ = meta.Close()
	}()
	if first, err = w.FirstIndex(); err != nil {
		t.Fatal(err)
	}
	if last, err = w.LastIndex(); err != nil {
		t.Fatal(err)
	}
	return first, last
}

// latestSnapshotIndex is the highest Raft index of a snapshot on disk in a
// node's data dir (0: none).
func latestSnapshotIndex(dataDir string) uint64 {
	metas, _ := filepath.Glob(filepath.Join(dataDir, "raft", "snapshots", "*", "meta.json"))
	var top uint64
	for _, p := range metas {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // being written or reaped
		}
		var m struct{ Index uint64 }
		if json.Unmarshal(b, &m) == nil && m.Index > top {
			top = m.Index
		}
	}
	return top
}

// A 3-server cluster on raft-wal: every node's data dir records wal and has
// segments; the leader is killed while a client writes through a follower,
// a new leader is elected and every acknowledged write is there; the old
// leader restarted on its data dir comes back with its log (everything
// acknowledged before the kill), rejoins as a voter and catches up.
func TestWALLeaderKilledNothingLostRestartRejoins(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithRaftLogStore(node.RaftLogStoreWAL))
	for _, n := range c.Live() {
		if m := readMarker(t, n.DataDir()); m != "wal\n" {
			t.Fatalf("%s: raft/log-store = %q", n.Name(), m)
		}
		if segs, _ := filepath.Glob(filepath.Join(n.DataDir(), "raft", "wal", "*.wal")); len(segs) == 0 {
			t.Fatalf("%s: no raft-wal segment", n.Name())
		}
	}
	leader := c.Leader()
	li := c.Index(leader.Name())
	kv := c.KV(c.Index(c.Followers()[0].Name()))

	var (
		mu           sync.Mutex
		acked        []string
		beforeKillAt uint64 // highest Raft index the leader acknowledged before the kill
		stop         atomic.Bool
		// killing is set before the kill, killed once it is done.
		killing, killed atomic.Bool
		wg              sync.WaitGroup
	)
	afterKill := make(chan struct{})
	var afterOnce sync.Once
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			key := fmt.Sprintf("w%05d", i)
			started := killed.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := kv.Put(ctx, &pb.KVPutRequest{Key: key, Value: []byte(key)})
			cancel()
			if err != nil {
				continue
			}
			mu.Lock()
			acked = append(acked, key)
			if !killing.Load() && resp.Meta.Leader == leader.Name() && resp.Meta.Index > beforeKillAt {
				beforeKillAt = resp.Meta.Index
			}
			mu.Unlock()
			if started {
				afterOnce.Do(func() { close(afterKill) })
			}
		}
	}()
	c.Eventually(15*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 20 {
			return fmt.Errorf("%d writes acknowledged", len(acked))
		}
		return nil
	}, "writes before the kill")
	killing.Store(true)
	c.Kill(li)
	killed.Store(true)
	select {
	case <-afterKill:
	case <-time.After(30 * time.Second):
		t.Fatal("no write was acknowledged after the leader was killed")
	}
	stop.Store(true)
	wg.Wait()

	newLeader := c.WaitForLeader()
	if newLeader.Name() == leader.Name() {
		t.Fatal("the killed node is still the leader")
	}
	mu.Lock()
	defer mu.Unlock()
	ackedKept(t, kv, "w", acked)
	if first, last := walBounds(t, leader.DataDir()); last < beforeKillAt {
		t.Fatalf("the killed leader's wal holds %d..%d, want it to reach %d (every write it acknowledged)", first, last, beforeKillAt)
	}

	after := newLeaderKV(t, c).put("after-kill", "x")
	restarted := c.Restart(li)
	if got := restarted.Status().LastLogIndex; got < beforeKillAt {
		t.Fatalf("restarted %s has its log up to %d, want >= %d", restarted.Name(), got, beforeKillAt)
	}
	c.Eventually(20*time.Second, func() error {
		if p := raftPeers(t, c.Leader()); peersString(p) != "n1=voter,n2=voter,n3=voter" {
			return fmt.Errorf("peers %s", peersString(p))
		}
		if restarted.Status().AppliedIndex < after.Meta.Index {
			return fmt.Errorf("applied %d < %d", restarted.Status().AppliedIndex, after.Meta.Index)
		}
		st := restarted.State()
		for _, k := range append([]string{"after-kill"}, acked...) {
			if _, rec, _ := st.KVGet(nil, k); rec == nil {
				return fmt.Errorf("%s missing on the restarted node", k)
			}
		}
		return nil
	}, "restarted old leader rejoined and caught up")
	t.Logf("%d acknowledged writes, all present; new leader %s; %s restarted with its log to %d", len(acked), newLeader.Name(), restarted.Name(), beforeKillAt)
}

// Raft snapshots and log compaction on raft-wal: with a low snapshot
// threshold a follower's wal is truncated at its head (its first entries
// live only in its snapshot); killed, it misses writes until the survivors
// have compacted past its log, so that restarted it restores its own
// snapshot and must then be sent the leader's; it ends with every write.
func TestWALSnapshotCompactionAndRestore(t *testing.T) {
	const trailing = 4
	c := testkit.NewCluster(t, 3, testkit.WithRaftLogStore(node.RaftLogStoreWAL), testkit.WithConfig(func(cfg *node.Config) {
		cfg.RaftSnapshotThreshold = 16
		cfg.RaftTrailingLogs = trailing
		cfg.RaftSnapshotInterval = 100 * time.Millisecond
	}))
	w := newLeaderKV(t, c)
	first := w.put("before/000", "x")
	for i := 1; i < 50; i++ {
		w.put(fmt.Sprintf("before/%03d", i), "x")
	}
	victim := c.Followers()[0]
	vi := c.Index(victim.Name())
	c.Eventually(15*time.Second, func() error {
		if _, rec, _ := victim.State().KVGet(nil, "before/049"); rec == nil {
			return errors.New("before/049 not applied yet")
		}
		if latestSnapshotIndex(victim.DataDir()) <= first.Meta.Index+trailing {
			return errors.New("no snapshot past the first writes yet")
		}
		return nil
	}, "victim replicated and snapshotted")
	c.Kill(vi)
	walFirst, walLast := walBounds(t, victim.DataDir())
	if walFirst <= first.Meta.Index {
		t.Fatalf("victim's wal starts at %d: not compacted past before/000 at %d", walFirst, first.Meta.Index)
	}

	for i := 0; i < 50; i++ {
		w.put(fmt.Sprintf("after/%03d", i), "y")
	}
	// Once every survivor has a snapshot past the victim's log by more
	// than the trailing logs, their logs no longer reach back to it.
	c.Eventually(20*time.Second, func() error {
		for _, n := range c.Live() {
			if s := latestSnapshotIndex(n.DataDir()); s <= walLast+trailing+1 {
				return fmt.Errorf("%s: latest snapshot at %d, victim's log ends at %d", n.Name(), s, walLast)
			}
		}
		return nil
	}, "survivors compacted past the victim's log")
	last := w.put("after/last", "z")

	restarted := c.Restart(vi)
	c.Eventually(30*time.Second, func() error {
		st := restarted.State()
		for _, k := range []string{"before/000", "before/049", "after/000", "after/049", "after/last"} {
			if _, rec, _ := st.KVGet(nil, k); rec == nil {
				return fmt.Errorf("%s missing on the restarted node", k)
			}
		}
		if a := restarted.Status().AppliedIndex; a < last.Meta.Index {
			return fmt.Errorf("applied %d < %d", a, last.Meta.Index)
		}
		return nil
	}, "restarted node restored and caught up")
	t.Logf("victim's wal held %d..%d at the kill (before/000 at %d); caught up to %d", walFirst, walLast, first.Meta.Index, last.Meta.Index)
}

// The way to move a server to the other log store, which the refusal
// names: stop it, start it with the other store on an empty data dir, and
// it rejoins under its name and is sent the cluster's state.
func TestRaftLogStoreChangedByRejoiningOnEmptyDataDir(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithRaftLogStore(node.RaftLogStoreBoltDB))
	w := newLeaderKV(t, c)
	for i := 0; i < 20; i++ {
		w.put(fmt.Sprintf("bolt/%02d", i), "x")
	}
	victim := c.Followers()[0]
	vi := c.Index(victim.Name())
	c.Kill(vi)

	cfg := c.Config(vi)
	cfg.Logger = testkit.Logger(t, cfg.Name)
	cfg.RaftLogStore = node.RaftLogStoreWAL
	if n, err := node.New(cfg); !errors.Is(err, node.ErrRaftLogStore) {
		if n != nil {
			_ = n.Shutdown()
		}
		t.Fatalf("%s's boltdb data dir started as wal: %v", cfg.Name, err)
	}

	cfg.DataDir = filepath.Join(t.TempDir(), cfg.Name+"-wal")
	cfg.Join = nil
	for _, n := range c.Live() {
		cfg.Join = append(cfg.Join, n.GossipAddr())
	}
	var moved *node.Node
	c.Eventually(20*time.Second, func() error {
		var err error
		moved, err = node.New(cfg)
		return err
	}, "start %s on an empty data dir", cfg.Name)
	t.Cleanup(func() { _ = moved.Shutdown() })
	last := w.put("after-move", "y")
	c.Eventually(30*time.Second, func() error {
		if p := raftPeers(t, c.Leader()); peersString(p) != "n1=voter,n2=voter,n3=voter" {
			return fmt.Errorf("peers %s", peersString(p))
		}
		if a := moved.Status().AppliedIndex; a < last.Meta.Index {
			return fmt.Errorf("applied %d < %d", a, last.Meta.Index)
		}
		st := moved.State()
		for _, k := range []string{"bolt/00", "bolt/19", "after-move"} {
			if _, rec, _ := st.KVGet(nil, k); rec == nil {
				return fmt.Errorf("%s missing on %s", k, moved.Name())
			}
		}
		return nil
	}, "%s rejoined on wal and caught up", cfg.Name)
	if m := readMarker(t, cfg.DataDir); m != "wal\n" {
		t.Fatalf("new data dir's raft/log-store = %q", m)
	}
}

// A user snapshot restore (steward operator restore) on raft-wal: Raft
// installs the snapshot past the leader's last index and, the wal being a
// MonotonicLogStore, drops the whole log on every node; the log goes on
// after the gap, and a follower restarted afterwards has the restored state.
func TestWALUserSnapshotRestore(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithRaftLogStore(node.RaftLogStoreWAL))
	w := newLeaderKV(t, c)
	for i := 0; i < 10; i++ {
		w.put(fmt.Sprintf("a/%d", i), "x")
	}
	var backup []byte
	var meta *raft.SnapshotMeta
	c.Eventually(30*time.Second, func() error {
		m, rc, err := c.Leader().OpenSnapshot(testkit.Ctx(t, 10*time.Second))
		if err != nil {
			return err
		}
		defer func() { _ = rc.Close() }()
		b, err := io.ReadAll(rc)
		if err != nil {
			return err
		}
		meta, backup = m, b
		return nil
	}, "backup")
	var lastB *pb.KVPutResponse
	for i := 0; i < 10; i++ {
		lastB = w.put(fmt.Sprintf("b/%d", i), "y")
	}
	c.Eventually(30*time.Second, func() error {
		return c.Leader().RestoreSnapshot(testkit.Ctx(t, 10*time.Second), meta, bytes.NewReader(backup))
	}, "restore")
	restored := func(n *node.Node) error {
		st := n.State()
		if _, rec, _ := st.KVGet(nil, "a/9"); rec == nil {
			return fmt.Errorf("%s: a/9 missing after the restore", n.Name())
		}
		if _, rec, _ := st.KVGet(nil, "b/0"); rec != nil {
			return fmt.Errorf("%s: b/0, written after the backup, still there", n.Name())
		}
		return nil
	}
	last := w.put("c/0", "z")
	c.Eventually(20*time.Second, func() error {
		for _, n := range c.Live() {
			if err := restored(n); err != nil {
				return err
			}
			if a := n.Status().AppliedIndex; a < last.Meta.Index {
				return fmt.Errorf("%s applied %d < %d", n.Name(), a, last.Meta.Index)
			}
		}
		return nil
	}, "every node restored and writing on")
	vi := c.Index(c.Followers()[0].Name())
	c.Kill(vi)
	if first, _ := walBounds(t, c.Node(vi).DataDir()); first <= lastB.Meta.Index {
		t.Fatalf("the follower's wal starts at %d: the log before the restore (to %d) was not dropped", first, lastB.Meta.Index)
	}
	restarted := c.Restart(vi)
	c.Eventually(20*time.Second, func() error {
		if err := restored(restarted); err != nil {
			return err
		}
		if _, rec, _ := restarted.State().KVGet(nil, "c/0"); rec == nil {
			return errors.New("c/0 missing on the restarted node")
		}
		return nil
	}, "restarted follower has the restored state")
}
