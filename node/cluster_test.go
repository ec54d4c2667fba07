package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func put(t *testing.T, kv pb.KVClient, key, value string) *pb.KVPutResponse {
	t.Helper()
	resp, err := kv.Put(testkit.Ctx(t, 15*time.Second), &pb.KVPutRequest{Key: key, Value: []byte(value)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return resp
}

func staleGet(ctx context.Context, kv pb.KVClient, key string) (string, error) {
	resp, err := kv.Get(ctx, &pb.KVGetRequest{Key: key, Read: &pb.ReadOptions{Stale: true}})
	if err != nil {
		return "", err
	}
	return string(resp.Entry.Value), nil
}

func raftPeers(t *testing.T, n *node.Node) map[string]string {
	t.Helper()
	resp, err := n.RaftPeers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range resp.Peers {
		out[p.Node] = p.Suffrage
	}
	return out
}

func peersString(m map[string]string) string {
	var parts []string
	for _, name := range []string{"n1", "n2", "n3", "n4", "n5"} {
		if s, ok := m[name]; ok {
			parts = append(parts, name+"="+s)
		}
	}
	return strings.Join(parts, ",")
}

// Three nodes started in different orders form exactly one cluster with one
// leader, all voters, one cluster id, and a registry of three alive nodes.
func TestThreeNodesFormOneClusterInAnyOrder(t *testing.T) {
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			c := testkit.NewClusterOrdered(t, 3, order)
			leader := c.WaitForLeader()
			c.Eventually(20*time.Second, func() error {
				ids := map[string]bool{}
				for _, n := range c.Live() {
					p := raftPeers(t, n)
					if got := peersString(p); got != "n1=voter,n2=voter,n3=voter" {
						return fmt.Errorf("%s sees peers %s", n.Name(), got)
					}
					ids[n.Status().ClusterId] = true
					if _, nodes, _ := n.State().Nodes(nil); len(nodes) != 3 {
						return fmt.Errorf("%s registry has %d nodes", n.Name(), len(nodes))
					}
				}
				if len(ids) != 1 || ids[""] {
					return fmt.Errorf("cluster ids: %v", ids)
				}
				return nil
			}, "three voters")
			leaders := 0
			for _, n := range c.Live() {
				if n.IsLeader() {
					leaders++
				}
			}
			if leaders != 1 {
				t.Fatalf("%d leaders", leaders)
			}
			for _, m := range leader.Members() {
				if m.Status != "alive" {
					t.Errorf("member %s is %s", m.Name, m.Status)
				}
			}
		})
	}
}

// A write sent to a follower is forwarded to the leader and becomes readable
// everywhere; a default (consistent) read through another follower sees it
// at once.
func TestWriteThroughFollowerIsForwarded(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	f := c.Followers()
	fi, fj := c.Index(f[0].Name()), c.Index(f[1].Name())
	resp := put(t, c.KV(fi), "greeting", "hello")
	if resp.Meta.Leader != c.Leader().Name() {
		t.Fatalf("write meta names leader %q, want %q", resp.Meta.Leader, c.Leader().Name())
	}
	got, err := c.KV(fj).Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: "greeting"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Entry.Value) != "hello" || got.Entry.ModifyIndex != resp.Entry.ModifyIndex {
		t.Fatalf("consistent read through follower = %+v", got.Entry)
	}
	for i := 0; i < 3; i++ {
		c.Eventually(10*time.Second, func() error {
			v, err := staleGet(testkit.Ctx(t, time.Second), c.KV(i), "greeting")
			if err != nil || v != "hello" {
				return fmt.Errorf("n%d: %q %v", i+1, v, err)
			}
			return nil
		}, "replicated to n%d", i+1)
	}
}

// The leader is killed while a client writes through a follower: a new
// leader is elected and every acknowledged write is readable afterwards.
func TestLeaderKilledNoAcknowledgedWriteLost(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	leader := c.Leader()
	var via *node.Node
	for _, n := range c.Followers() {
		via = n
		break
	}
	kv := c.KV(c.Index(via.Name()))

	var (
		mu    sync.Mutex
		acked []string
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	afterKill := make(chan struct{})
	var afterOnce sync.Once
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			key := fmt.Sprintf("k%05d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := kv.Put(ctx, &pb.KVPutRequest{Key: key, Value: []byte(key)})
			cancel()
			if err != nil {
				continue
			}
			mu.Lock()
			acked = append(acked, key)
			n := len(acked)
			mu.Unlock()
			select {
			case <-killed:
				afterOnce.Do(func() { close(afterKill) })
			default:
			}
			_ = n
		}
	}()
	c.Eventually(10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 20 {
			return fmt.Errorf("%d writes acknowledged", len(acked))
		}
		return nil
	}, "writes before the kill")
	c.Kill(c.Index(leader.Name()))
	close(killed)
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
	ackedKept(t, kv, "k", acked)
	t.Logf("%d acknowledged writes, all present under new leader %s", len(acked), newLeader.Name())
}

// A follower killed and restarted from its data dir comes back with its
// state (here through a Raft snapshot and the log) and catches up.
func TestRestartedNodeRecoversAndCatchesUp(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithConfig(func(cfg *node.Config) {
		cfg.RaftSnapshotThreshold = 32
		cfg.RaftTrailingLogs = 8
		cfg.RaftSnapshotInterval = 100 * time.Millisecond
	}))
	kv := c.KV(c.Index(c.Leader().Name()))
	for i := 0; i < 100; i++ {
		put(t, kv, fmt.Sprintf("before/%03d", i), "x")
	}
	victim := c.Followers()[0]
	vi := c.Index(victim.Name())
	c.Eventually(10*time.Second, func() error {
		if _, err := staleGet(testkit.Ctx(t, time.Second), c.KV(vi), "before/099"); err != nil {
			return err
		}
		snaps, _ := filepath.Glob(filepath.Join(victim.DataDir(), "raft", "snapshots", "*", "meta.json"))
		if len(snaps) == 0 {
			return errors.New("no snapshot on disk yet")
		}
		return nil
	}, "victim replicated and snapshotted")
	c.Kill(vi)
	kv = c.KV(c.Index(c.Leader().Name()))
	for i := 0; i < 50; i++ {
		put(t, kv, fmt.Sprintf("after/%03d", i), "y")
	}
	restarted := c.Restart(vi)
	c.Eventually(20*time.Second, func() error {
		st := restarted.State()
		for _, k := range []string{"before/000", "before/099", "after/049"} {
			if _, rec, _ := st.KVGet(nil, k); rec == nil {
				return fmt.Errorf("%s missing on restarted node", k)
			}
		}
		return nil
	}, "restarted node caught up")
}

// A node that leaves gracefully is removed from Raft at once and shows as
// left; when the leader leaves, it hands leadership over first.
func TestGracefulLeaveRemovesPeer(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithConfig(func(cfg *node.Config) {
		cfg.ReconcileInterval = time.Hour // only membership events drive the reconciler here
		cfg.FailedReapTimeout = time.Hour
		// Leave's own bound out of reach: a Leave that waited for its own
		// configuration (which a removed server may never see) would run
		// into the context's deadline below.
		cfg.LeaveTimeout = time.Hour
	}))
	leaver := c.Followers()[0]
	leader := c.WaitForLeader()
	ctx := testkit.Ctx(t, time.Minute)
	if err := leaver.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Leave returned only at its deadline (%v): it waited for what the leader had confirmed", ctx.Err())
	}
	// Leave returns once the leader has committed the configuration
	// without the leaver: the leader's configuration shows it at once.
	if p := raftPeers(t, leader); len(p) != 2 {
		t.Fatalf("Leave returned while the leader's peers are %v", p)
	}
	<-leaver.ShutdownCh()
	leader = c.WaitForLeader()
	c.Eventually(10*time.Second, func() error {
		p := raftPeers(t, leader)
		if _, ok := p[leaver.Name()]; ok || len(p) != 2 {
			return fmt.Errorf("peers: %v, members %v", p, leader.Members())
		}
		for _, m := range leader.Members() {
			if m.Name == leaver.Name() && m.Status != "left" {
				return fmt.Errorf("%s is %s", m.Name, m.Status)
			}
		}
		if rec, _ := leader.State().Node(leaver.Name()); rec == nil || rec.Status != state.NodeLeft {
			return fmt.Errorf("registry: %v", rec)
		}
		return nil
	}, "leaver removed")

	// The leader leaves: leadership moves, the last node remains with a quorum of one.
	old := leader.Name()
	ctx = testkit.Ctx(t, time.Minute)
	if err := leader.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the leader's Leave returned only at its deadline (%v)", ctx.Err())
	}
	<-leader.ShutdownCh()
	last := c.WaitForLeader()
	if last.Name() == old {
		t.Fatal("leader did not change")
	}
	c.Eventually(10*time.Second, func() error {
		if p := raftPeers(t, last); len(p) != 1 {
			return fmt.Errorf("peers: %v", p)
		}
		return nil
	}, "old leader removed")
	put(t, c.KV(c.Index(last.Name())), "still", "writable")
}

// A failed member is reaped after the grace period; a further failure that
// would leave no quorum is never reaped, and the cluster recovers when the
// node returns. The grace period is on a manual clock.
func TestFailedNodeReapedButNeverBelowQuorum(t *testing.T) {
	clk := clock.NewManual(time.Now())
	const grace = 1500 * time.Millisecond
	c := testkit.NewCluster(t, 3, testkit.WithConfig(func(cfg *node.Config) {
		cfg.FailedReapTimeout = grace
		cfg.Clock = clk
	}))
	leader := c.Leader()
	fs := c.Followers()
	first, second := fs[0], fs[1]
	c.Kill(c.Index(first.Name()))
	c.Eventually(20*time.Second, func() error {
		for _, m := range leader.Members() {
			if m.Name == first.Name() && m.Status == node.StatusFailed {
				return nil
			}
		}
		return fmt.Errorf("members: %v", leader.Members())
	}, "%s seen failed", first.Name())
	if _, ok := raftPeers(t, leader)[first.Name()]; !ok {
		t.Fatal("reaped before its grace period passed")
	}
	clk.Advance(grace)
	c.Eventually(20*time.Second, func() error {
		p := raftPeers(t, leader)
		if _, ok := p[first.Name()]; ok {
			return fmt.Errorf("peers still %v", p)
		}
		if rec, _ := leader.State().Node(first.Name()); rec == nil || rec.Status != state.NodeFailed {
			return fmt.Errorf("registry: %v", rec)
		}
		return nil
	}, "failed node reaped")

	// Two voters left; losing one more would leave no quorum: it must stay,
	// however long it has failed (the clock moves on while the leader holds).
	c.Kill(c.Index(second.Name()))
	c.Eventually(20*time.Second, func() error {
		clk.Advance(grace)
		if leader.IsLeader() {
			return errors.New("still leader without a quorum")
		}
		return nil
	}, "leader steps down without quorum")
	if p := raftPeers(t, leader); len(p) != 2 {
		t.Fatalf("configuration shrank below quorum: %v", p)
	}
	c.Restart(c.Index(second.Name()))
	c.WaitForLeader()
	put(t, c.KV(c.Index(leader.Name())), "recovered", "yes")
	if p := raftPeers(t, c.Leader()); peersString(p) != "" && len(p) != 2 {
		t.Fatalf("peers after recovery: %v", p)
	}
}

// With at most 3 voters, a fourth node joins as a non-voter and is promoted
// when a voter leaves.
func TestNonVoterPromotedWhenVoterLeaves(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithConfig(func(cfg *node.Config) { cfg.MaxVoters = 3 }))
	cfg := testkit.FastConfig("n4", filepath.Join(t.TempDir(), "n4"))
	cfg.MaxVoters = 3
	cfg.Join = []string{c.Node(0).GossipAddr()}
	c.Start(cfg)
	leader := c.Leader()
	c.Eventually(20*time.Second, func() error {
		if got := peersString(raftPeers(t, leader)); got != "n1=voter,n2=voter,n3=voter,n4=nonvoter" {
			return errors.New(got)
		}
		return nil
	}, "n4 as non-voter")
	leaver := c.Followers()[0]
	if leaver.Name() == "n4" {
		leaver = c.Followers()[1]
	}
	if err := leaver.Leave(testkit.Ctx(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, func() error {
		p := raftPeers(t, c.Leader())
		if p["n4"] != "voter" || len(p) != 3 {
			return fmt.Errorf("peers %v", p)
		}
		return nil
	}, "n4 promoted")
}

func TestCASConflictsRefused(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	kv := c.KV(c.Index(c.Followers()[0].Name()))
	ctx := testkit.Ctx(t, 20*time.Second)
	zero := uint64(0)
	first, err := kv.Put(ctx, &pb.KVPutRequest{Key: "lock", Value: []byte("a"), Cas: &zero})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kv.Put(ctx, &pb.KVPutRequest{Key: "lock", Value: []byte("b"), Cas: &zero})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create: %v", err)
	}
	stale := first.Entry.ModifyIndex + 100
	_, err = kv.Put(ctx, &pb.KVPutRequest{Key: "lock", Value: []byte("b"), Cas: &stale})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("stale cas: %v", err)
	}
	idx := first.Entry.ModifyIndex
	if _, err := kv.Put(ctx, &pb.KVPutRequest{Key: "lock", Value: []byte("c"), Cas: &idx}); err != nil {
		t.Fatalf("matching cas: %v", err)
	}
	got, err := kv.Get(ctx, &pb.KVGetRequest{Key: "lock"})
	if err != nil || string(got.Entry.Value) != "c" {
		t.Fatalf("final value: %v %v", got, err)
	}
	if _, err := kv.Delete(ctx, &pb.KVDeleteRequest{Key: "lock", Cas: &idx}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("stale cas delete: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	kv := c.KV(0)
	ctx := testkit.Ctx(t, 20*time.Second)
	cases := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"empty key", ignore(kv.Put(ctx, &pb.KVPutRequest{Key: ""})), codes.InvalidArgument, "key is empty"},
		{"oversized value", ignore(kv.Put(ctx, &pb.KVPutRequest{Key: "big", Value: make([]byte, state.MaxKVValueSize+1)})), codes.InvalidArgument, "512 KiB"},
		{"missing key", ignore(kv.Get(ctx, &pb.KVGetRequest{Key: "absent"})), codes.NotFound, "absent"},
		{"prefix delete with cas", ignore(kv.Delete(ctx, &pb.KVDeleteRequest{Key: "a", Prefix: true, Cas: new(uint64)})), codes.InvalidArgument, "cas"},
	}
	cl := pb.NewClusterClient(c.Conn(0))
	_, err := cl.RemovePeer(ctx, &pb.RemovePeerRequest{Node: "ghost"})
	cases = append(cases, struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{"remove unknown peer", err, codes.NotFound, "the peers are: n1, n2, n3"})
	_, err = cl.RemovePeer(ctx, &pb.RemovePeerRequest{Node: "n2"})
	cases = append(cases, struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{"remove alive peer", err, codes.FailedPrecondition, "alive in gossip"})
	_, err = cl.TransferLeader(ctx, &pb.TransferLeaderRequest{To: "ghost"})
	cases = append(cases, struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{"transfer to unknown", err, codes.NotFound, "not a Raft peer"})
	for _, tc := range cases {
		if status.Code(tc.err) != tc.code || !strings.Contains(tc.err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %s containing %q", tc.name, tc.err, tc.code, tc.msg)
		}
	}
	// Nothing above changed the kv table.
	if idx := c.Node(0).State().TableIndex("kv"); idx != 0 {
		t.Errorf("kv table index %d after refused requests", idx)
	}
}

func ignore[T any](_ T, err error) error { return err }

func TestTransferLeader(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	old := c.Leader()
	target := c.Followers()[0].Name()
	resp, err := pb.NewClusterClient(c.Conn(c.Index(old.Name()))).TransferLeader(testkit.Ctx(t, 20*time.Second), &pb.TransferLeaderRequest{To: target})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NewLeader != target {
		t.Fatalf("new leader %s, want %s", resp.NewLeader, target)
	}
	if l := c.WaitForLeader(); l.Name() != target {
		t.Fatalf("cluster leader %s", l.Name())
	}
}

func startOne(t *testing.T, cfg node.Config) (*node.Node, error) {
	t.Helper()
	cfg.Logger = testkit.Logger(t, cfg.Name)
	n, err := node.New(cfg)
	if err == nil {
		t.Cleanup(func() { _ = n.Shutdown() })
	}
	return n, err
}

func TestStartupErrors(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	busy := c.Node(0)

	t.Run("join unreachable", func(t *testing.T) {
		cfg := testkit.FastConfig("lonely", t.TempDir())
		cfg.Join = []string{"127.0.0.1:1"}
		_, err := startOne(t, cfg)
		if !errors.Is(err, node.ErrJoin) || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		cfg := testkit.FastConfig("clash", t.TempDir())
		cfg.GRPCAddr = busy.GRPCAddr()
		_, err := startOne(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "grpc-addr") || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		cfg := testkit.FastConfig("bad", t.TempDir())
		cfg.RaftAddr = "localhost"
		_, err := startOne(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "raft-addr") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unwritable data dir", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// root ignores permissions; use a path under a regular file instead.
			f := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := testkit.FastConfig("ro", filepath.Join(f, "sub"))
			_, err := startOne(t, cfg)
			if err == nil || !strings.Contains(err.Error(), "data-dir") {
				t.Fatalf("err = %v", err)
			}
			return
		}
		dir := t.TempDir()
		_ = os.Chmod(dir, 0o500)
		cfg := testkit.FastConfig("ro", filepath.Join(dir, "sub"))
		_, err := startOne(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "data-dir") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("data dir of another node", func(t *testing.T) {
		dir := t.TempDir()
		n, err := startOne(t, testkit.FastConfig("alpha", dir))
		if err != nil {
			t.Fatal(err)
		}
		_ = n.Shutdown()
		_, err = startOne(t, testkit.FastConfig("beta", dir))
		if !errors.Is(err, node.ErrDataDirOwner) || !strings.Contains(err.Error(), `belongs to node "alpha"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("duplicate name", func(t *testing.T) {
		cfg := testkit.FastConfig(busy.Name(), t.TempDir())
		cfg.Join = []string{busy.GossipAddr()}
		_, err := startOne(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "already in use") {
			t.Fatalf("err = %v", err)
		}
	})
}

// A node whose data dir belongs to another cluster cannot join this one.
func TestDataDirFromAnotherClusterRefused(t *testing.T) {
	a := testkit.NewCluster(t, 1)
	b := testkit.NewCluster(t, 1)
	a.Eventually(10*time.Second, func() error {
		if a.Node(0).Status().ClusterId == "" || b.Node(0).Status().ClusterId == "" {
			return errors.New("cluster ids not fixed yet")
		}
		return nil
	}, "cluster ids")
	cfgB := b.Config(0)
	b.Kill(0)
	cfgB.Join = []string{a.Node(0).GossipAddr()}
	cfgB.BootstrapExpect = 0
	_, err := startOne(t, cfgB)
	if !errors.Is(err, node.ErrJoin) || !strings.Contains(err.Error(), "cluster") {
		t.Fatalf("err = %v", err)
	}
	if p := raftPeers(t, a.Node(0)); len(p) != 1 {
		t.Fatalf("cluster a gained peers: %v", p)
	}
}

func TestDevNodeReadyAtOnce(t *testing.T) {
	cfg := testkit.FastConfig("", "")
	cfg.Dev = true
	cfg.Name = ""
	n, err := startOne(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.WaitForLeader(testkit.Ctx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	conn := testkit.Dial(t, n.GRPCAddr())
	if _, err := pb.NewKVClient(conn).Put(testkit.Ctx(t, 10*time.Second), &pb.KVPutRequest{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	dir := n.DataDir()
	_ = n.Shutdown()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dev data dir %s not removed: %v", dir, err)
	}
}

// A command type this binary does not know stops the node with a clear error
// instead of letting the replica diverge.
func TestUnknownCommandStopsNode(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	n := c.Node(0)
	res, err := n.Apply(testkit.Ctx(t, 10*time.Second), pb.CommandType(9999), &pb.KVPutCommand{Key: "x"})
	if err == nil && (res == nil || res.Err == nil) {
		t.Fatal("unknown command applied")
	}
	select {
	case <-n.ShutdownCh():
	case <-time.After(20 * time.Second):
		t.Fatal("node did not stop")
	}
	if n.Err() == nil || !strings.Contains(n.Err().Error(), "9999") {
		t.Fatalf("node error: %v", n.Err())
	}
}

// ackedKept fails t for every key of acked (writes acknowledged under
// prefix) that a linearizable list of prefix through kv does not hold.
func ackedKept(t *testing.T, kv pb.KVClient, prefix string, acked []string) {
	t.Helper()
	list, err := kv.List(testkit.Ctx(t, 10*time.Second), &pb.KVListRequest{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range list.Entries {
		have[e.Key] = true
	}
	for _, k := range acked {
		if !have[k] {
			t.Errorf("acknowledged write %s lost", k)
		}
	}
}
