package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/steward/steward/client"
	"github.com/steward/steward/testkit"
)

// A leader-routed client writes to the leader directly, and keeps working
// when the leader changes.
func TestLeaderRoutedClient(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	follower := c.Followers()[0]
	cl, err := client.NewLeaderRouted(follower.GRPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cl.Put(ctx, "a", []byte("1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Meta.Leader != c.Leader().Name() {
		t.Fatalf("committed by %s", resp.Meta.Leader)
	}
	if got := cl.RoutedTo(); got != c.Leader().GRPCAddr() {
		t.Fatalf("writes go to %q, not to the leader %s", got, c.Leader().GRPCAddr())
	}
	old := c.Leader()
	c.Kill(c.Index(old.Name()))
	if follower == old {
		t.Fatal("the follower was the leader")
	}
	// The first write after the kill may fail over to the given node.
	testkit.Eventually(t, 30*time.Second, func() error {
		_, err := cl.Put(ctx, "b", []byte("2"), nil)
		return err
	}, "write after the leader's death")
	if _, err := cl.Put(ctx, "c", []byte("3"), nil); err != nil {
		t.Fatal(err)
	}
	want := c.Leader().GRPCAddr()
	if c.Leader() == follower {
		want = "" // the node given leads now: no detour to route around
	}
	if got := cl.RoutedTo(); got != want {
		t.Fatalf("after failover writes go to %q, want %q", got, want)
	}
	got, err := cl.Get(ctx, "a", false)
	if err != nil || string(got.Entry.Value) != "1" {
		t.Fatalf("read after failover: %v %v", got, err)
	}
}
