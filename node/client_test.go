package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// clientStatus is the status of a client agent, which must stream from a
// server.
func streamingFrom(t *testing.T, n *node.Node) (string, error) {
	t.Helper()
	st := n.Status()
	if st.Mode != node.ModeClient {
		return "", fmt.Errorf("%s reports mode %q", n.Name(), st.Mode)
	}
	if !st.StreamConnected || st.StreamServer == "" {
		return "", fmt.Errorf("%s has no work stream", n.Name())
	}
	return st.StreamServer, nil
}

// Client agents join through gossip but never Raft: the Raft configuration
// holds the three servers only, members and the node registry show each
// node's mode, and a client's view holds the cluster-wide records but not
// the key/value table.
func TestClientsStayOutOfRaft(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithClients(2))
	leader := c.WaitForLeader()
	c.Eventually(20*time.Second, func() error {
		if got := peersString(raftPeers(t, leader)); got != "n1=voter,n2=voter,n3=voter" {
			return fmt.Errorf("raft peers %s", got)
		}
		_, nodes, _ := leader.State().Nodes(nil)
		modes := map[string]string{}
		for _, r := range nodes {
			modes[r.Name] = r.Mode
		}
		want := map[string]string{"n1": "server", "n2": "server", "n3": "server", "c1": "client", "c2": "client"}
		if fmt.Sprint(modes) != fmt.Sprint(want) {
			return fmt.Errorf("registry modes %v, want %v", modes, want)
		}
		for _, n := range c.Live() {
			if n.IsServer() {
				continue
			}
			if _, err := streamingFrom(t, n); err != nil {
				return err
			}
			// The registry reaches clients whole.
			if _, nodes, _ := n.State().Nodes(nil); len(nodes) != 5 {
				return fmt.Errorf("%s's view has %d nodes", n.Name(), len(nodes))
			}
		}
		return nil
	}, "three voters, two clients streaming")
	for _, m := range leader.Members() {
		want := "server"
		if m.Name[0] == 'c' {
			want = "client"
			if m.RaftRole != "none" || m.RaftAddr != "" {
				t.Errorf("client %s has raft role %q, raft address %q", m.Name, m.RaftRole, m.RaftAddr)
			}
		}
		if m.Mode != want {
			t.Errorf("member %s has mode %q, want %q", m.Name, m.Mode, want)
		}
	}
	client := c.Node(3)
	// The client names the leader its server names (which may move on a
	// loaded machine: compared with the leader of the moment).
	c.Eventually(20*time.Second, func() error {
		got, now := client.Status(), c.WaitForLeader().Name()
		if got.RaftState != "none" || got.Leader != now {
			return fmt.Errorf("client status: raft state %q, leader %q (want none, %s)", got.RaftState, got.Leader, now)
		}
		return nil
	}, "the client naming the leader")

	// Writes and reads sent to a client go to the servers: a consistent
	// read after the write sees it, and so does a stale one (answered by
	// the client's server once it applied it).
	kv := c.KV(3)
	resp := put(t, kv, "k", "v1")
	got, err := kv.Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: "k"})
	if err != nil || string(got.Entry.GetValue()) != "v1" {
		t.Fatalf("consistent get through a client: %v, %v", got, err)
	}
	c.Eventually(10*time.Second, func() error {
		v, err := staleGet(testkit.Ctx(t, 5*time.Second), kv, "k")
		if err != nil || v != "v1" {
			return fmt.Errorf("stale get through a client: %q, %v", v, err)
		}
		return nil
	}, "a stale read through a client")
	// The key/value table is not the client's: its view never holds it,
	// but its index passes the write's.
	c.Eventually(10*time.Second, func() error {
		if idx := client.State().LatestIndex(); idx < resp.Meta.Index {
			return fmt.Errorf("client at index %d, the write at %d", idx, resp.Meta.Index)
		}
		return nil
	}, "the client's index past the write")
	if _, e, _ := client.State().KVGet(nil, "k"); e != nil {
		t.Errorf("the client's view holds key k: %v", e)
	}
}

// The server a client streams from is killed: the client moves to
// another server, and misses nothing committed meanwhile.
func TestClientMovesToAnotherServer(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithClients(1))
	client := c.Node(3)
	var from string
	c.Eventually(20*time.Second, func() error {
		var err error
		from, err = streamingFrom(t, client)
		return err
	}, "the client streaming")
	c.Kill(c.Index(from))
	// Registry changes concern every client: the failed server's record
	// reaches the client through its new server.
	c.Eventually(30*time.Second, func() error {
		now, err := streamingFrom(t, client)
		if err != nil {
			return err
		}
		if now == from {
			return fmt.Errorf("still streaming from the killed %s", from)
		}
		if st := client.Status(); st.StreamFreshViews != 0 {
			return fmt.Errorf("the client took %d fresh views: moving servers must resume", st.StreamFreshViews)
		}
		rec, err := client.State().Node(from)
		if err != nil || rec == nil || rec.Status != node.StatusFailed {
			return fmt.Errorf("the client's view has %s as %v", from, rec)
		}
		return nil
	}, "the client on another server, seeing %s failed", from)
	// Its view matches the leader's for everything that concerns it.
	leader := c.WaitForLeader()
	c.Eventually(10*time.Second, func() error {
		_, want, _ := leader.State().Nodes(nil)
		_, got, _ := client.State().Nodes(nil)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return fmt.Errorf("client registry %v, leader's %v", got, want)
		}
		return nil
	}, "the same registry on the client and the leader")
}

// A client cut off while more commits than a server keeps go by gets a
// fresh view when it returns (not a replay), holding what was committed
// meanwhile; a client that only moved servers resumed instead.
func TestFarBehindClientGetsAFreshView(t *testing.T) {
	// The servers keep 64 commits for resuming streams (4,096 by default).
	c := testkit.NewCluster(t, 3, testkit.WithClients(1), testkit.WithPartitions(),
		testkit.WithConfig(func(c *node.Config) { c.ClientResumeCommits = 64 }))
	client := c.Node(3)
	c.Eventually(20*time.Second, func() error {
		_, err := streamingFrom(t, client)
		return err
	}, "the client streaming")
	before := client.Status().StreamFreshViews
	c.Partition([]int{3}, []int{0, 1, 2})
	c.Eventually(20*time.Second, func() error {
		if client.Status().StreamConnected {
			return fmt.Errorf("still streaming")
		}
		return nil
	}, "the client cut off")
	// More commits than the servers keep for resuming streams: written
	// until no server holds the commits after the client's index.
	behind := client.State().LatestIndex()
	kv := c.KV(0)
	ctx := testkit.Ctx(t, 120*time.Second)
	dropped := func() bool {
		for _, s := range c.Servers() {
			if _, _, ok := s.State().Since(behind); ok {
				return false
			}
		}
		return true
	}
	for round := 0; !dropped(); round++ {
		errs := make(chan error, 4)
		for w := range 4 {
			go func() {
				for i := range 16 {
					if _, err := kv.Put(ctx, &pb.KVPutRequest{Key: fmt.Sprintf("r%d/w%d/%d", round, w, i), Value: []byte("x")}); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	// And one record that concerns the client, committed meanwhile
	// (proposed through a server: the cut-off client knows no leader).
	if _, err := c.Node(0).Propose(ctx, pb.CommandType_COMMAND_TYPE_NODE_UPSERT, &pb.NodeUpsertCommand{Node: &pb.NodeRecord{Name: "ghost", Status: node.StatusLeft}}); err != nil {
		t.Fatal(err)
	}
	c.Heal()
	c.Eventually(30*time.Second, func() error {
		if _, err := streamingFrom(t, client); err != nil {
			return err
		}
		if rec, _ := client.State().Node("ghost"); rec == nil {
			return fmt.Errorf("the record committed while cut off has not arrived")
		}
		return nil
	}, "the client back, with what was committed")
	if got := client.Status().StreamFreshViews; got != before+1 {
		t.Fatalf("fresh views %d, want %d: a client further behind than the servers keep must start from a fresh view", got, before+1)
	}
}
