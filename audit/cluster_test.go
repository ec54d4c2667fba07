package audit_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/steward/steward/audit"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
)

// entries reads node i's audit log file.
func entries(t *testing.T, c *testkit.Cluster, i int, method string) []*audit.Entry {
	t.Helper()
	res, err := audit.Read(audit.DefaultPath(c.Config(i).DataDir), audit.Filter{Method: method, Limit: audit.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	if res.Malformed != 0 {
		t.Fatalf("node %d: %d malformed lines in a log only the node wrote", i, res.Malformed)
	}
	return res.Entries
}

func withKey(es []*audit.Entry, key string) []*audit.Entry {
	var out []*audit.Entry
	for _, e := range es {
		if e.Target["key"] == key {
			out = append(out, e)
		}
	}
	return out
}

// A cluster with TLS, ACLs and the audit log on: a write through a
// follower is written once, on the follower (which accepted it), not on
// the leader it was forwarded to, with the method, resource, key, token
// accessor, certificate subject and result; a refused write with its
// code; reads are not written; the Audit service answers a node's log
// through another node, for an operator only.
func TestAuditCluster(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithTLS(testkit.NewTLS(t, "global")), testkit.WithACLs(),
		testkit.WithConfig(func(c *node.Config) { c.Audit.Enabled = true }))
	ctx := testkit.Ctx(t, 3*time.Minute)
	leader := c.WaitForLeader()
	li := c.Index(leader.Name())
	fi := (li + 1) % 3
	follower := c.Node(fi).Name()

	var boot *pb.ACLTokenResponse
	testkit.Eventually(t, time.Minute, func() error {
		var err error
		boot, err = pb.NewACLClient(c.Conn(fi)).Bootstrap(ctx, &pb.ACLBootstrapRequest{})
		if status.Code(err) == codes.FailedPrecondition {
			t.Fatalf("bootstrap refused: %v", err)
		}
		return err
	}, "bootstrap")
	m := testkit.WithToken(ctx, boot.Token.SecretId)

	// A write through the follower, retried through leader changes: each
	// attempt the follower accepted is one entry on the follower, none on
	// the others.
	kv := pb.NewKVClient(c.Conn(fi))
	attempts := 0
	testkit.Eventually(t, time.Minute, func() error {
		attempts++
		_, err := kv.Put(m, &pb.KVPutRequest{Key: "audit/x", Value: []byte("the-value")})
		return err
	}, "put through the follower")
	// The read is not written.
	if _, err := kv.Get(m, &pb.KVGetRequest{Key: "audit/x"}); err != nil {
		t.Fatal(err)
	}
	// Anonymous: refused, written with the code.
	_, err := kv.Put(ctx, &pb.KVPutRequest{Key: "audit/denied", Value: []byte("v")})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("anonymous put: %v", err)
	}

	puts := entries(t, c, fi, "/steward.v1.KV/Put")
	ok := withKey(puts, "audit/x")
	if len(ok) != attempts {
		t.Fatalf("the follower wrote %d entries for the put, tried %d times: %+v", len(ok), attempts, ok)
	}
	e := ok[len(ok)-1]
	if e.Result != audit.ResultOK || e.Node != follower || e.Resource != "kv" || e.Accessor != boot.Token.AccessorId ||
		e.Subject == "" || e.Peer == "" || e.Time.IsZero() {
		t.Fatalf("the follower's entry: %+v", e)
	}
	denied := withKey(puts, "audit/denied")
	if len(denied) != 1 || denied[0].Result != "PermissionDenied" || !strings.Contains(denied[0].Error, `kv write on "audit/denied"`) ||
		denied[0].Accessor != "anonymous" {
		t.Fatalf("the refused put: %+v", denied)
	}
	if got := entries(t, c, fi, "/steward.v1.KV/Get"); len(got) != 0 {
		t.Fatalf("reads written: %+v", got)
	}
	for i := 0; i < 3; i++ {
		if i == fi {
			continue
		}
		if got := entries(t, c, i, "/steward.v1.KV/"); len(got) != 0 {
			t.Fatalf("node %d, which did not accept the calls, wrote %+v", i, got)
		}
	}

	// The follower's log read through the leader, with the management
	// token; anonymous is refused.
	ac := pb.NewAuditClient(c.Conn(li))
	resp, err := ac.Read(m, &pb.AuditReadRequest{Node: follower, Method: "KV/Put"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Node != follower || len(resp.Entries) != len(puts) || resp.Malformed != 0 || len(resp.Files) != 1 {
		t.Fatalf("Audit.Read of %s: node %s, %d entries (want %d), files %v", follower, resp.Node, len(resp.Entries), len(puts), resp.Files)
	}
	last := resp.Entries[len(resp.Entries)-1]
	if last.Target["key"] != "audit/denied" || last.Result != "PermissionDenied" {
		t.Fatalf("the newest entry is not last: %+v", last)
	}
	if strings.Contains(fmt.Sprint(resp), "the-value") {
		t.Fatal("the value reached the audit log")
	}
	if _, err := ac.Read(ctx, &pb.AuditReadRequest{Node: follower}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("anonymous Audit.Read: %v", err)
	}
	if _, err := ac.Read(m, &pb.AuditReadRequest{Node: "nope"}); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Audit.Read of an unknown node: %v", err)
	}
	if _, err := ac.Read(m, &pb.AuditReadRequest{Limit: audit.MaxReadLimit + 1}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Audit.Read over the limit: %v", err)
	}
}

// A write through a client agent (which runs no Raft and forwards it to
// the leader) is written by the client agent, not by the server; a
// refused one with its code.
func TestAuditClientAgent(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithClients(1), testkit.WithConfig(func(c *node.Config) { c.Audit.Enabled = true }))
	ctx := testkit.Ctx(t, 2*time.Minute)
	c.WaitForLeader()
	attempts := 0
	testkit.Eventually(t, time.Minute, func() error {
		attempts++
		_, err := pb.NewKVClient(c.Conn(1)).Put(ctx, &pb.KVPutRequest{Key: "from/client", Value: []byte("v")})
		return err
	}, "put through the client agent")
	_, err := pb.NewKVClient(c.Conn(1)).Put(ctx, &pb.KVPutRequest{Key: "", Value: []byte("v")})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a put of an empty key: %v", err)
	}
	got := withKey(entries(t, c, 1, "KV/Put"), "from/client")
	if len(got) != attempts || got[0].Node != c.Node(1).Name() || got[0].Result != audit.ResultOK {
		t.Fatalf("the client agent wrote %+v for %d attempts", got, attempts)
	}
	if bad := entries(t, c, 1, "KV/Put"); bad[len(bad)-1].Target != nil || bad[len(bad)-1].Result != "InvalidArgument" || bad[len(bad)-1].Error == "" {
		t.Fatalf("the refused put: %+v", bad[len(bad)-1])
	}
	if srv := entries(t, c, 0, ""); len(srv) != 0 {
		t.Fatalf("the server, which the client agent forwarded to, wrote %+v", srv)
	}
}
