package client_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/client"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/transport"
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

func TestCheckAddr(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:7403", "localhost:1", "steward-1.internal:65535", "[::1]:7403"} {
		if err := client.CheckAddr(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ":::", "127.0.0.1", "127.0.0.1:", ":7403", "host:0", "host:65536", "host:99999", "host:http", "host:+80", "host:-1", "::1:7403", "dns:///host:7403"} {
		err := client.CheckAddr(bad)
		if !errors.Is(err, client.ErrBadAddress) || !strings.Contains(err.Error(), strconv.Quote(bad)+": not host:port (e.g. 127.0.0.1:7403)") {
			t.Errorf("%q: %v", bad, err)
		}
		if _, err := client.New(bad); !errors.Is(err, client.ErrBadAddress) {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
}

// Explain says in steward's words what gRPC reports in its own: a message
// over the size limit, a string that is not UTF-8, a host that does not
// resolve. The errors are real ones, from a real node.
func TestExplainGRPCFailures(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	addr := c.Node(0).GRPCAddr()
	cl, err := client.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testkit.Ctx(t, 30*time.Second)

	_, err = cl.Put(ctx, "big", make([]byte, transport.MaxMessageSize+1), nil)
	msg := client.Explain(addr, err)
	limit := strconv.Itoa(transport.MaxMessageSize)
	if !strings.Contains(msg, "over the gRPC message limit of "+limit+" bytes (16 MiB)") || strings.Contains(msg, "larger than max") {
		t.Errorf("oversized put: %q (from %v)", msg, err)
	}

	_, err = cl.Get(ctx, "bad\xffkey", false)
	msg = client.Explain(addr, err)
	if !strings.Contains(msg, "not valid UTF-8") || strings.Contains(msg, "marshaling") {
		t.Errorf("non-UTF-8 key: %q (from %v)", msg, err)
	}

	nowhere := "nosuchhost.invalid:7403"
	cl2, err := client.New(nowhere)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	_, err = cl2.Get(ctx, "k", true)
	msg = client.Explain(nowhere, err)
	if !strings.Contains(msg, "cannot resolve the host of "+nowhere) || strings.Contains(msg, "produced zero addresses") {
		t.Errorf("unresolvable host: %q (from %v)", msg, err)
	}
}
