package node_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newKey(t *testing.T) string {
	t.Helper()
	k, err := node.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func withKey(key string) testkit.Option {
	return testkit.WithConfig(func(c *node.Config) { c.Encrypt = key })
}

// tryJoin starts a node named name with key (""; none) joining the
// cluster's first node, and returns the error New gave. A node that did
// start is shut down.
func tryJoin(t *testing.T, c *testkit.Cluster, name, key string) error {
	t.Helper()
	cfg := testkit.FastConfig(name, filepath.Join(t.TempDir(), name))
	cfg.Encrypt = key
	cfg.Join = []string{c.Node(0).GossipAddr()}
	cfg.Logger = testkit.Logger(t, name)
	n, err := node.New(cfg)
	if err == nil {
		_ = n.Shutdown()
		return nil
	}
	return err
}

// joinWithKey starts one more node of the cluster with key, joining its
// first node, and waits until every live node lists it alive.
func joinWithKey(t *testing.T, c *testkit.Cluster, name, key string) *node.Node {
	t.Helper()
	cfg := testkit.FastConfig(name, filepath.Join(t.TempDir(), name))
	cfg.Encrypt = key
	cfg.Client = true
	cfg.Join = []string{c.Node(0).GossipAddr()}
	n := c.Node(c.Start(cfg))
	waitMemberStatus(t, c, name, node.StatusAlive)
	return n
}

func waitMemberStatus(t *testing.T, c *testkit.Cluster, name, want string) {
	t.Helper()
	c.Eventually(30*time.Second, func() error {
		for _, n := range c.Live() {
			got := ""
			for _, m := range n.Members() {
				if m.Name == name {
					got = m.Status
				}
			}
			if got != want {
				return fmt.Errorf("%s lists %s as %q", n.Name(), name, got)
			}
		}
		return nil
	}, "%s %s everywhere", name, want)
}

// notListed fails when a live node of the cluster lists name.
func notListed(t *testing.T, c *testkit.Cluster, name string) {
	t.Helper()
	for _, n := range c.Live() {
		for _, m := range n.Members() {
			if m.Name == name {
				t.Errorf("%s lists %s (%s), which should not have been admitted", n.Name(), name, m.Status)
			}
		}
	}
}

// A node without the gossip key, or with another key, cannot join an
// encrypted cluster: its join fails, and the members never list it (a
// node with the key that joins after it is listed everywhere, it is not).
func TestGossipNodeWithoutKeyIsNotAdmitted(t *testing.T) {
	key := newKey(t)
	c := testkit.NewCluster(t, 3, withKey(key))
	for _, n := range c.Live() {
		if got := n.GossipKeys(); len(got) != 1 || got[0] != key {
			t.Fatalf("%s keyring %v, want the encrypt key alone", n.Name(), got)
		}
	}
	for _, tc := range []struct{ name, key string }{
		{"nokey", ""},
		{"wrongkey", newKey(t)},
		{"shortkey", "AAECAwQFBgcICQoLDA0ODw=="}, // 16 bytes: AES-128, another key
	} {
		err := tryJoin(t, c, tc.name, tc.key)
		if !errors.Is(err, node.ErrJoin) {
			t.Fatalf("%s: join = %v, want %v", tc.name, err, node.ErrJoin)
		}
	}
	joinWithKey(t, c, "good", key)
	for _, name := range []string{"nokey", "wrongkey", "shortkey"} {
		notListed(t, c, name)
	}
}

func keyringClient(c *testkit.Cluster, i int) pb.KeyringClient {
	return pb.NewKeyringClient(c.Conn(i))
}

// primaries returns each node's primary key, by node, from a response.
func primaries(resp *pb.KeyringResponse) map[string]string {
	out := map[string]string{}
	for _, nd := range resp.Nodes {
		out[nd.Name] = nd.PrimaryKey
	}
	return out
}

func keyCount(resp *pb.KeyringResponse, key string) (nodes, primary uint32) {
	for _, k := range resp.Keys {
		if k.Key == key {
			return k.Nodes, k.PrimaryNodes
		}
	}
	return 0, 0
}

func nodeNames(resp *pb.KeyringResponse) string {
	var names []string
	for _, nd := range resp.Nodes {
		names = append(names, nd.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// watchFailed records every member a live node lists as failed, until
// stop is called.
func watchFailed(t *testing.T, c *testkit.Cluster) (stop func() []string) {
	var mu sync.Mutex
	var seen []string
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, n := range c.Live() {
				for _, m := range n.Members() {
					if m.Status == node.StatusFailed || m.Status == node.StatusLeft {
						mu.Lock()
						seen = append(seen, fmt.Sprintf("%s saw %s %s", n.Name(), m.Name, m.Status))
						mu.Unlock()
					}
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() []string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// A rotation under write load: while a writer puts keys continuously,
// install a new key on every node (servers and a client agent), use it,
// remove the old one. Every acknowledged write is readable afterwards, no
// member is ever marked failed, every node ends with the new key alone, a
// node with the new key joins, and a node with only the old key is not
// admitted.
func TestGossipKeyRotationUnderWriteLoad(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	c := testkit.NewCluster(t, 3, withKey(oldKey), testkit.WithClients(1))
	kvs := []pb.KVClient{c.KV(0), c.KV(1), c.KV(2), c.KV(3)}
	stopWatch := watchFailed(t, c)

	// The writer: each key is put until acknowledged (the same value, so a
	// retry through a leader change is harmless).
	var acked sync.Map
	var ackCount atomic.Int64
	stopWrites := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			key := fmt.Sprintf("load/%05d", i)
			for attempt := 0; ; attempt++ {
				select {
				case <-stopWrites:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := kvs[(i+attempt)%len(kvs)].Put(ctx, &pb.KVPutRequest{Key: key, Value: []byte(key)})
				cancel()
				if err == nil {
					acked.Store(key, true)
					ackCount.Add(1)
					break
				}
			}
		}
	}()
	waitWrites := func(n int64) {
		t.Helper()
		c.Eventually(30*time.Second, func() error {
			if got := ackCount.Load(); got < n {
				return fmt.Errorf("%d writes acknowledged", got)
			}
			return nil
		}, "%d writes", n)
	}
	waitWrites(20)

	kr := keyringClient(c, 1) // a follower or the leader: any node fans out
	ctx := testkit.Ctx(t, 60*time.Second)

	// Rules first: using a key not installed, or removing the primary, is
	// refused with every node named and nothing changed.
	_, err := kr.Use(ctx, &pb.KeyringUseRequest{SecretKey: newK})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("use before install: %v", err)
	}
	if r := node.KeyringResponseOf(err); r == nil || len(r.FailedNodes) != 4 {
		t.Fatalf("use before install: details %v", r)
	}
	_, err = kr.Remove(ctx, &pb.KeyringRemoveRequest{SecretKey: oldKey})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "primary key") {
		t.Fatalf("remove of the primary: %v", err)
	}

	resp, err := kr.Install(ctx, &pb.KeyringInstallRequest{SecretKey: newK})
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if got := nodeNames(resp); got != "c1,n1,n2,n3" || resp.TotalNodes != 4 {
		t.Fatalf("install reached %s (%d), want c1,n1,n2,n3", got, resp.TotalNodes)
	}
	if held, prim := keyCount(resp, newK); held != 4 || prim != 0 {
		t.Fatalf("after install: new key on %d/4 nodes, primary on %d", held, prim)
	}
	waitWrites(ackCount.Load() + 10)

	if resp, err = kr.Use(ctx, &pb.KeyringUseRequest{SecretKey: newK}); err != nil {
		t.Fatalf("use: %v", err)
	}
	for name, p := range primaries(resp) {
		if p != newK {
			t.Fatalf("after use: %s primary is not the new key", name)
		}
	}
	waitWrites(ackCount.Load() + 10)

	if resp, err = kr.Remove(ctx, &pb.KeyringRemoveRequest{SecretKey: oldKey}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if held, _ := keyCount(resp, oldKey); held != 0 {
		t.Fatalf("after remove: old key still on %d nodes", held)
	}
	waitWrites(ackCount.Load() + 10)

	list, err := keyringClient(c, 3).List(ctx, &pb.KeyringListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 1 || list.Keys[0].Key != newK || list.Keys[0].Nodes != 4 || list.Keys[0].PrimaryNodes != 4 || list.TotalNodes != 4 {
		t.Fatalf("list after the rotation: %v", list)
	}
	for _, n := range c.Live() {
		if got := n.GossipKeys(); len(got) != 1 || got[0] != newK {
			t.Fatalf("%s keyring after the rotation: %d keys", n.Name(), len(got))
		}
	}

	close(stopWrites)
	<-writerDone
	if seen := stopWatch(); len(seen) > 0 {
		t.Fatalf("members marked failed during the rotation: %v", seen)
	}

	// Every acknowledged write is there (a consistent read on the leader).
	leaderKV := c.KV(c.Index(c.Leader().Name()))
	lost := 0
	acked.Range(func(k, _ any) bool {
		var got *pb.KVGetResponse
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			got, err = leaderKV.Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: k.(string)})
			if status.Code(err) != codes.Unavailable {
				break
			}
			leaderKV = c.KV(c.Index(c.Leader().Name()))
		}
		if err != nil || string(got.Entry.Value) != k.(string) {
			lost++
			t.Errorf("acknowledged %s: %v", k, err)
		}
		return true
	})
	if n := ackCount.Load(); lost > 0 || n < 50 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, n)
	}
	t.Logf("%d writes acknowledged during the rotation, none lost", ackCount.Load())

	// The cluster speaks the new key: a node with it joins; a node with
	// only the old key is not admitted.
	joinWithKey(t, c, "newcomer", newK)
	if err := tryJoin(t, c, "stale", oldKey); !errors.Is(err, node.ErrJoin) {
		t.Fatalf("node with the old key: join = %v, want %v", err, node.ErrJoin)
	}
	waitMemberStatus(t, c, "newcomer", node.StatusAlive)
	notListed(t, c, "stale")
}

// A node restarted after a rotation uses the keyring persisted in its data
// dir, not its (old) encrypt setting, and rejoins.
func TestGossipRestartAfterRotationUsesPersistedKeyring(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	c := testkit.NewCluster(t, 3, withKey(oldKey))
	kr := keyringClient(c, 0)
	ctx := testkit.Ctx(t, 60*time.Second)
	if _, err := kr.Install(ctx, &pb.KeyringInstallRequest{SecretKey: newK}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Use(ctx, &pb.KeyringUseRequest{SecretKey: newK}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Remove(ctx, &pb.KeyringRemoveRequest{SecretKey: oldKey}); err != nil {
		t.Fatal(err)
	}
	i := c.Index(c.Followers()[0].Name())
	name := c.Node(i).Name()
	c.Kill(i)
	waitMemberStatus(t, c, name, node.StatusFailed)
	if c.Config(i).Encrypt != oldKey {
		t.Fatal("the restarted node should be configured with the old key")
	}
	n := c.Restart(i)
	if got := n.GossipKeys(); len(got) != 1 || got[0] != newK {
		t.Fatalf("restarted keyring has %d keys, want the new key alone", len(got))
	}
	waitMemberStatus(t, c, name, node.StatusAlive)
	put(t, c.KV(i), "after/restart", "ok")
	c.Eventually(20*time.Second, func() error {
		v, err := staleGet(testkit.Ctx(t, 5*time.Second), c.KV(i), "after/restart")
		if err != nil || v != "ok" {
			return fmt.Errorf("read on the restarted node: %q %v", v, err)
		}
		return nil
	}, "the restarted node applies writes")
}

// Use refuses a key some node lacks, naming the nodes, and changes no
// primary; the keyring operations are refused on a cluster without
// encryption; a bad key is an invalid argument naming the lengths.
func TestKeyringRules(t *testing.T) {
	key, other := newKey(t), newKey(t)
	c := testkit.NewCluster(t, 3, withKey(key))
	ctx := testkit.Ctx(t, 60*time.Second)
	// Installed on n2 alone.
	if _, err := keyringClient(c, 1).Install(ctx, &pb.KeyringInstallRequest{SecretKey: other, LocalOnly: true}); err != nil {
		t.Fatal(err)
	}
	_, err := keyringClient(c, 1).Use(ctx, &pb.KeyringUseRequest{SecretKey: other})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "(n1, n3)") || !strings.Contains(err.Error(), "no node changed") {
		t.Fatalf("use of a key n1 and n3 lack: %v", err)
	}
	list, err := keyringClient(c, 0).List(ctx, &pb.KeyringListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range primaries(list) {
		if p != key {
			t.Fatalf("%s changed its primary on a refused use", name)
		}
	}
	if held, _ := keyCount(list, other); held != 1 {
		t.Fatalf("the other key is on %d nodes, want 1", held)
	}
	// Local only: one node's view.
	local, err := keyringClient(c, 2).List(ctx, &pb.KeyringListRequest{LocalOnly: true})
	if err != nil || nodeNames(local) != "n3" {
		t.Fatalf("local list: %v %v", local, err)
	}
	for _, bad := range []string{"", "not base64!", "AAEC"} {
		_, err := keyringClient(c, 0).Install(ctx, &pb.KeyringInstallRequest{SecretKey: bad})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "16, 24 or 32 bytes") {
			t.Fatalf("install %q: %v", bad, err)
		}
	}

	plain := testkit.NewCluster(t, 1)
	_, err = keyringClient(plain, 0).Install(ctx, &pb.KeyringInstallRequest{SecretKey: key})
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "not enabled") {
		t.Fatalf("install without encryption: %v", err)
	}
	_, err = keyringClient(plain, 0).List(ctx, &pb.KeyringListRequest{LocalOnly: true})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "not enabled") {
		t.Fatalf("local list without encryption: %v", err)
	}
}

// Encryption is enabled on a running cluster without downtime, as in
// Consul: each node is restarted with the key and both verify settings
// off (it accepts plain and encrypted gossip, sends plain), then with
// encrypt_verify_outgoing, then with encrypt_verify_incoming. The cluster
// stays whole at every step; a plain node is admitted while incoming
// gossip is not verified, and refused at the end.
func TestGossipRollingEnablement(t *testing.T) {
	key := newKey(t)
	c := testkit.NewCluster(t, 3)
	nodes := []*node.Node{c.Node(0), c.Node(1), c.Node(2)}
	cfgs := []node.Config{c.Config(0), c.Config(1), c.Config(2)}
	whole := func(stage string) {
		t.Helper()
		c.Eventually(30*time.Second, func() error {
			for _, n := range nodes {
				alive := 0
				for _, m := range n.Members() {
					if m.Status == node.StatusAlive && (m.Name == "n1" || m.Name == "n2" || m.Name == "n3") {
						alive++
					}
				}
				if alive != 3 {
					return fmt.Errorf("%s sees %d of n1..n3 alive", n.Name(), alive)
				}
				if l, _ := n.Leader(); l == "" {
					return fmt.Errorf("%s knows no leader", n.Name())
				}
			}
			return nil
		}, "the cluster whole (%s)", stage)
	}
	restart := func(i int, set func(*node.Config)) {
		t.Helper()
		_ = nodes[i].Shutdown()
		cfg := cfgs[i]
		set(&cfg)
		cfg.Logger = testkit.Logger(t, cfg.Name)
		cfg.Join = nil
		for j, n := range nodes {
			if j != i {
				cfg.Join = append(cfg.Join, n.GossipAddr())
			}
		}
		var n *node.Node
		c.Eventually(20*time.Second, func() error {
			var err error
			n, err = node.New(cfg)
			return err
		}, "restart %s", cfg.Name)
		t.Cleanup(func() { _ = n.Shutdown() })
		nodes[i], cfgs[i] = n, cfg
	}
	stages := []struct {
		name string
		set  func(*node.Config)
	}{
		{"encrypt, verify off", func(c *node.Config) {
			c.Encrypt, c.EncryptVerifyIncoming, c.EncryptVerifyOutgoing = key, false, false
		}},
		{"verify outgoing", func(c *node.Config) { c.EncryptVerifyOutgoing = true }},
		{"verify incoming", func(c *node.Config) { c.EncryptVerifyIncoming = true }},
	}
	for s, st := range stages {
		for i := range nodes {
			restart(i, st.set)
			whole(fmt.Sprintf("%s, n%d restarted", st.name, i+1))
		}
		if s == 0 {
			// Incoming gossip is not verified yet: a plain node joins.
			cfg := testkit.FastConfig("plain", filepath.Join(t.TempDir(), "plain"))
			cfg.Client = true
			cfg.Join = []string{nodes[0].GossipAddr()}
			cfg.Logger = testkit.Logger(t, "plain")
			p, err := node.New(cfg)
			if err != nil {
				t.Fatalf("a plain node while incoming gossip is not verified: %v", err)
			}
			_ = p.Leave(testkit.Ctx(t, 20*time.Second))
			_ = p.Shutdown()
		}
	}
	for _, n := range nodes {
		if got := n.GossipKeys(); len(got) != 1 || got[0] != key {
			t.Fatalf("%s keyring: %d keys", n.Name(), len(got))
		}
	}
	cfg := testkit.FastConfig("plain2", filepath.Join(t.TempDir(), "plain2"))
	cfg.Join = []string{nodes[1].GossipAddr()}
	cfg.Logger = testkit.Logger(t, "plain2")
	if p, err := node.New(cfg); !errors.Is(err, node.ErrJoin) {
		if p != nil {
			_ = p.Shutdown()
		}
		t.Fatalf("a plain node after the enablement: %v, want %v", err, node.ErrJoin)
	}
	for _, n := range nodes {
		for _, m := range n.Members() {
			if m.Name == "plain2" {
				t.Fatalf("%s lists plain2", n.Name())
			}
		}
	}
}
