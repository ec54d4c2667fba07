package acl_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/acl"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const webTree = `tree "web" {
  strategy = "one_for_one"
  child "hits" {
    behavior = "counter"
  }
}
`

func wantDenied(t *testing.T, what string, err error, text string, forbidden ...string) {
	t.Helper()
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(msg, text) {
		t.Errorf("%s: got %v, want PermissionDenied naming %q", what, err, text)
	}
	for _, f := range forbidden {
		if strings.Contains(msg, f) {
			t.Errorf("%s: the refusal leaks %q: %s", what, f, msg)
		}
	}
}

// hasToken waits until node n's own state holds the token (replication
// to a follower or to a client agent's work stream).
func hasToken(t *testing.T, c *testkit.Cluster, i int, accessor string, present bool) {
	t.Helper()
	c.Eventually(30*time.Second, func() error {
		tok, err := c.Node(i).State().ACLToken(accessor)
		if err != nil {
			return err
		}
		if (tok != nil) != present {
			return fmt.Errorf("%s holds token %s: %v", c.Node(i).Name(), accessor, tok != nil)
		}
		return nil
	}, "token %s present=%v on node %d", accessor, present, i)
}

// retry runs an idempotent call until it succeeds (through leader
// changes) or fails with a code that is no transient cluster state.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, func() error {
		err := f()
		if err != nil && (status.Code(err) == codes.PermissionDenied || status.Code(err) == codes.InvalidArgument) {
			t.Fatalf("%s: %v", what, err)
		}
		return err
	}, "%s", what)
}

// A cluster with ACLs on (three servers, one client agent): anonymous
// calls are refused, bootstrap works once, the management token does
// everything, a kv-read token reads but can neither write nor kill, the
// client agent checks tokens for the reads it answers, and revoking
// works.
func TestACLCluster(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithACLs(), testkit.WithClients(1),
		testkit.WithStack(func(string) stack.Config {
			return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig()}
		}))
	ctx := testkit.Ctx(t, 3*time.Minute)
	leader := c.WaitForLeader()
	li := c.Index(leader.Name())
	fi := (li + 1) % 3
	kv := pb.NewKVClient(c.Conn(li))
	aclc := pb.NewACLClient(c.Conn(fi))

	// Anonymous: refused, naming the permission.
	_, err := kv.Put(ctx, &pb.KVPutRequest{Key: "app/x", Value: []byte("v")})
	wantDenied(t, "anonymous put", err, `kv write on "app/x" (token anonymous)`)
	_, err = kv.Get(ctx, &pb.KVGetRequest{Key: "app/x"})
	wantDenied(t, "anonymous get", err, `kv read on "app/x"`)
	_, err = pb.NewClusterClient(c.Conn(li)).Members(ctx, &pb.MembersRequest{})
	wantDenied(t, "anonymous members", err, "node read on every name")
	_, err = aclc.TokenList(ctx, &pb.ACLListRequest{})
	wantDenied(t, "anonymous token list", err, "acl read")

	// Bootstrap through a follower; a second one is refused.
	var boot *pb.ACLTokenResponse
	retry(t, "bootstrap", func() error {
		var err error
		boot, err = aclc.Bootstrap(ctx, &pb.ACLBootstrapRequest{})
		if status.Code(err) == codes.FailedPrecondition {
			t.Fatalf("first bootstrap refused: %v", err)
		}
		return err
	})
	mgmt := boot.Token.SecretId
	if mgmt == "" || !boot.Token.Management || boot.Token.AccessorId == "" {
		t.Fatalf("bootstrap answered %v", boot.Token)
	}
	_, err = aclc.Bootstrap(ctx, &pb.ACLBootstrapRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "already bootstrapped") {
		t.Fatalf("second bootstrap: %v, want FailedPrecondition (already bootstrapped)", err)
	}
	stored, _ := leader.State().ACLToken(boot.Token.AccessorId)
	if stored == nil || stored.SecretHash != acl.HashSecret(mgmt) || strings.Contains(stored.String(), mgmt) {
		t.Fatalf("stored management token %v: want the secret's SHA-256 only", stored)
	}
	m := testkit.WithToken(ctx, mgmt)

	// Management does everything: kv, a tree, policies, tokens.
	retry(t, "management put", func() error {
		_, err := kv.Put(m, &pb.KVPutRequest{Key: "app/x", Value: []byte("secret-value")})
		return err
	})
	sup := pb.NewSupervisionClient(c.Conn(li))
	retry(t, "apply web", func() error {
		_, err := sup.ApplyTree(m, &pb.ApplyTreeRequest{Spec: []byte(webTree), Filename: "web.hcl", Node: "n1"})
		if status.Code(err) == codes.FailedPrecondition {
			return nil // applied by an earlier try
		}
		return err
	})
	rt := pb.NewRuntimeClient(c.Conn(fi))
	c.Eventually(30*time.Second, func() error {
		v, err := rt.TreeView(m, &pb.SupervisorRequest{Tree: "web"})
		if err != nil {
			return err
		}
		if v.Status != "running" {
			return fmt.Errorf("web is %s", v.Status)
		}
		return nil
	}, "web running")

	retry(t, "policy kv-read", func() error {
		_, err := aclc.PolicyUpsert(m, &pb.ACLPolicyUpsertRequest{Name: "kv-read", Rules: `kv_prefix "" { policy = "read" }`})
		return err
	})
	_, err = aclc.PolicyUpsert(m, &pb.ACLPolicyUpsertRequest{Name: "bad", Rules: `kv_prefix "" { policy = "admin" }`})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `kv_prefix[""].policy`) {
		t.Errorf("bad rules: %v, want InvalidArgument naming the field", err)
	}
	var reader *pb.ACLTokenResponse
	retry(t, "token kv-read", func() error {
		var err error
		reader, err = aclc.TokenCreate(m, &pb.ACLTokenCreateRequest{Description: "reads kv", Policies: []string{"kv-read"}})
		return err
	})
	_, err = aclc.TokenCreate(m, &pb.ACLTokenCreateRequest{Policies: []string{"nope"}})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("token with an unknown policy: %v", err)
	}
	for i := 0; i < 4; i++ {
		hasToken(t, c, i, reader.Token.AccessorId, true)
	}
	r := testkit.WithToken(ctx, reader.Token.SecretId)

	// The kv-read token reads kv on every node, but cannot write it nor
	// kill a process; the refusals leak no data.
	for i := 0; i < 3; i++ {
		got, err := pb.NewKVClient(c.Conn(i)).Get(r, &pb.KVGetRequest{Key: "app/x", Read: &pb.ReadOptions{Stale: true}})
		if err != nil || string(got.GetEntry().GetValue()) != "secret-value" {
			t.Errorf("read token get on node %d: %v %v", i, got, err)
		}
	}
	// A client agent checks, then forwards the read to its server with
	// the caller's token (the peer pool carries it), which checks again.
	for _, stale := range []bool{true, false} {
		got, err := pb.NewKVClient(c.Conn(3)).Get(r, &pb.KVGetRequest{Key: "app/x", Read: &pb.ReadOptions{Stale: stale}})
		if err != nil || string(got.GetEntry().GetValue()) != "secret-value" {
			t.Errorf("read token get through the client agent (stale %v): %v %v", stale, got, err)
		}
	}
	_, err = pb.NewKVClient(c.Conn(3)).Put(r, &pb.KVPutRequest{Key: "app/x", Value: []byte("overwritten")})
	wantDenied(t, "read token put through the client agent", err, `kv write on "app/x"`, "secret-value")
	_, err = kv.Put(r, &pb.KVPutRequest{Key: "app/x", Value: []byte("overwritten")})
	wantDenied(t, "read token put", err, `kv write on "app/x" (token `+reader.Token.AccessorId[:8], "secret-value")
	_, err = kv.Delete(r, &pb.KVDeleteRequest{Key: "app/", Prefix: true})
	wantDenied(t, "read token delete prefix", err, `kv write on every name under "app/"`)
	_, err = rt.Kill(r, &pb.KillRequest{Ref: &pb.ProcessRef{Tree: "web", Path: "hits"}})
	wantDenied(t, "read token kill", err, `process write on "n1"`)
	_, err = rt.ListProcesses(r, &pb.ListProcessesRequest{})
	wantDenied(t, "read token list processes", err, "process read on every name")
	// A stream is checked when its request arrives.
	ev, err := rt.Events(r, &pb.EventsRequest{Node: "n1"})
	if err == nil {
		_, err = ev.Recv()
	}
	wantDenied(t, "read token events of n1", err, `process read on "n1"`)
	if ev, err := rt.Events(m, &pb.EventsRequest{Node: "n1"}); err != nil {
		t.Fatalf("management events: %v", err)
	} else if _, err := ev.Recv(); err != nil {
		t.Fatalf("management events of n1: %v", err)
	}
	_, err = aclc.TokenList(r, &pb.ACLListRequest{})
	wantDenied(t, "read token acl list", err, "acl read")
	self, err := aclc.TokenSelf(r, &pb.ACLTokenSelfRequest{})
	if err != nil || self.Token.AccessorId != reader.Token.AccessorId || self.Token.SecretId != "" {
		t.Errorf("token self: %v %v", self, err)
	}
	if _, v, err := leader.State().KVGet(nil, "app/x"); err != nil || string(v.GetValue()) != "secret-value" {
		t.Errorf("after the refused put app/x is %v (%v)", v, err)
	}

	// Management kills the process.
	before, err := rt.GetProcess(m, &pb.ProcessRequest{Ref: &pb.ProcessRef{Tree: "web", Path: "hits"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Kill(m, &pb.KillRequest{Ref: &pb.ProcessRef{Pid: before.Pid}}); err != nil {
		t.Fatalf("management kill: %v", err)
	}

	// The client agent answers its own stats: it checks the token with
	// the ACL tables its work stream brought.
	ci := 3
	crt := pb.NewRuntimeClient(c.Conn(ci))
	_, err = crt.Stats(r, &pb.StatsRequest{})
	wantDenied(t, "client agent stats with kv-read", err, `process read on "c1"`)
	retry(t, "policy c1-read", func() error {
		_, err := aclc.PolicyUpsert(m, &pb.ACLPolicyUpsertRequest{Name: "c1-read", Rules: `process_prefix "c" { policy = "read" }`})
		return err
	})
	var proc *pb.ACLTokenResponse
	retry(t, "token c1-read", func() error {
		var err error
		proc, err = aclc.TokenCreate(m, &pb.ACLTokenCreateRequest{Policies: []string{"c1-read"}})
		return err
	})
	hasToken(t, c, ci, proc.Token.AccessorId, true)
	p := testkit.WithToken(ctx, proc.Token.SecretId)
	if st, err := crt.Stats(p, &pb.StatsRequest{}); err != nil || st.Node != "c1" {
		t.Errorf("client agent stats with c1-read: %v %v", st, err)
	}
	_, err = crt.Stats(p, &pb.StatsRequest{Node: "n1"})
	wantDenied(t, "stats of n1 with c1-read", err, `process read on "n1"`)

	// Revoke: the token is refused everywhere once replicated; a policy in
	// use cannot be deleted.
	_, err = aclc.PolicyDelete(m, &pb.ACLPolicyDeleteRequest{Name: "kv-read"})
	if status.Code(err) != codes.FailedPrecondition && !strings.Contains(err.Error(), "used by token") {
		t.Errorf("delete of a policy in use: %v", err)
	}
	retry(t, "revoke reader", func() error {
		_, err := aclc.TokenDelete(m, &pb.ACLTokenDeleteRequest{AccessorId: reader.Token.AccessorId})
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	})
	for i := 0; i < 4; i++ {
		hasToken(t, c, i, reader.Token.AccessorId, false)
	}
	_, err = pb.NewKVClient(c.Conn(fi)).Get(r, &pb.KVGetRequest{Key: "app/x"})
	wantDenied(t, "revoked token get", err, "matches no token", "secret-value")
}

// A follower that does not check (ACLs off on it: as a follower whose
// replica still holds a revoked token) forwards a write with the caller's
// token, and the leader checks it before proposing: a valid token's write
// commits, a revoked token's and an anonymous one are refused.
func TestACLLeaderChecksForwardedWrites(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithNodeConfig(func(i int, cfg *node.Config) {
		cfg.ACL.Enabled = i != 2
		cfg.ACL.DefaultPolicy = "deny"
	}))
	ctx := testkit.Ctx(t, 3*time.Minute)
	aclc := pb.NewACLClient(c.Conn(0))
	// n3 must not lead: it does not check. checking runs f while a node
	// that checks leads; a failure is retried when n3 took the lead
	// meanwhile (an election on a loaded machine), else it fails the test.
	notN3 := func() {
		c.Eventually(60*time.Second, func() error {
			l := c.WaitForLeader()
			if l.Name() != "n3" {
				return nil
			}
			_, err := l.TransferLeader(ctx, "")
			return fmt.Errorf("n3 leads (transfer: %v)", err)
		}, "a leader that checks tokens")
	}
	var boot *pb.ACLTokenResponse
	c.Eventually(60*time.Second, func() error {
		notN3()
		var err error
		boot, err = aclc.Bootstrap(ctx, &pb.ACLBootstrapRequest{})
		if err != nil && strings.Contains(err.Error(), "already bootstrapped") {
			t.Fatalf("bootstrap: %v", err)
		}
		return err
	}, "bootstrap on a leader with ACLs on")
	m := testkit.WithToken(ctx, boot.Token.SecretId)
	// retried: checks run again after n3 led, whose write n3 may have
	// let through unchecked.
	retried := map[string]bool{}
	checking := func(what string, f func() error) {
		t.Helper()
		for {
			notN3()
			err := f()
			if err == nil {
				return
			}
			if c.WaitForLeader().Name() != "n3" {
				t.Fatalf("%s: %v", what, err)
			}
			retried[what] = true
		}
	}
	denied := func(err error, text string) error {
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), text) {
			return fmt.Errorf("got %v, want PermissionDenied naming %q", err, text)
		}
		return nil
	}
	retry(t, "policy", func() error {
		_, err := aclc.PolicyUpsert(m, &pb.ACLPolicyUpsertRequest{Name: "app-write", Rules: `kv_prefix "app/" { policy = "write" }`})
		return err
	})
	var w *pb.ACLTokenResponse
	retry(t, "token", func() error {
		var err error
		w, err = aclc.TokenCreate(m, &pb.ACLTokenCreateRequest{Policies: []string{"app-write"}})
		return err
	})
	writer := testkit.WithToken(ctx, w.Token.SecretId)
	via := pb.NewKVClient(c.Conn(2))
	retry(t, "forwarded write with the token", func() error {
		_, err := via.Put(writer, &pb.KVPutRequest{Key: "app/a", Value: []byte("1")})
		return err
	})
	checking("forwarded write outside the policy", func() error {
		_, err := via.Put(writer, &pb.KVPutRequest{Key: "other/a", Value: []byte("1")})
		return denied(err, `kv write on "other/a"`)
	})
	checking("forwarded anonymous write", func() error {
		_, err := via.Put(ctx, &pb.KVPutRequest{Key: "app/b", Value: []byte("1")})
		return denied(err, `kv write on "app/b" (token anonymous)`)
	})

	retry(t, "revoke", func() error {
		_, err := aclc.TokenDelete(m, &pb.ACLTokenDeleteRequest{AccessorId: w.Token.AccessorId})
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	})
	checking("forwarded write with a revoked token", func() error {
		_, err := via.Put(writer, &pb.KVPutRequest{Key: "app/c", Value: []byte("1")})
		return denied(err, "matches no token")
	})
	for _, n := range c.Live() {
		if _, e, _ := n.State().KVGet(nil, "app/c"); e != nil && !retried["forwarded write with a revoked token"] {
			t.Errorf("%s holds app/c, written with a revoked token", n.Name())
		}
		if _, e, _ := n.State().KVGet(nil, "other/a"); e != nil && !retried["forwarded write outside the policy"] {
			t.Errorf("%s holds other/a, outside the token's policy", n.Name())
		}
	}
}

// With TLS and ACLs on, a server leaving gracefully is removed from Raft:
// it asks the leader with its server certificate and no token, which only
// a server certificate may do, and only for a leave.
func TestACLGracefulLeaveWithTLS(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 4, testkit.WithTLS(x), testkit.WithACLs(), testkit.WithConfig(func(cfg *node.Config) {
		cfg.ReconcileInterval = time.Hour // only the leave removes the peer here
		cfg.FailedReapTimeout = time.Hour
	}))
	ctx := testkit.Ctx(t, time.Minute)
	leader := c.WaitForLeader()
	target := c.Followers()[1]
	asCLI := pb.NewClusterClient(testkit.DialTLS(t, leader.GRPCAddr(), x.ClientConfig(tlsutil.RoleCLI)))
	asServer := pb.NewClusterClient(testkit.DialTLS(t, leader.GRPCAddr(), x.ClientConfig(tlsutil.RoleServer)))
	_, err := asCLI.RemovePeer(ctx, &pb.RemovePeerRequest{Node: target.Name(), Leaving: true})
	wantDenied(t, "leave removal with a cli certificate", err, "operator write")
	_, err = asServer.RemovePeer(ctx, &pb.RemovePeerRequest{Node: target.Name()})
	wantDenied(t, "removal (no leave) with a server certificate", err, "operator write")
	if _, err := asServer.RemovePeer(ctx, &pb.RemovePeerRequest{Node: target.Name(), Leaving: true}); err != nil {
		t.Fatalf("leave removal with a server certificate: %v", err)
	}
	c.Kill(c.Index(target.Name())) // out of Raft: it would wait for a leader forever
	leaver := c.Followers()[0]
	if leaver.Name() == target.Name() {
		leaver = c.Followers()[1]
	}
	if err := leaver.Leave(testkit.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("leave: %v", err)
	}
	<-leaver.ShutdownCh()
	c.Eventually(30*time.Second, func() error {
		l := c.WaitForLeader()
		peers, err := pb.NewClusterClient(c.Conn(c.Index(l.Name()))).RaftPeers(testkit.Ctx(t, 10*time.Second), &pb.RaftPeersRequest{})
		if err == nil {
			return fmt.Errorf("anonymous raft peers answered: %v", peers)
		}
		rp, err := l.RaftPeers()
		if err != nil {
			return err
		}
		if len(rp.Peers) != 2 { // the target and the leaver removed
			return fmt.Errorf("raft peers %v", rp.Peers)
		}
		for _, p := range rp.Peers {
			if p.Node == leaver.Name() || p.Node == target.Name() {
				return fmt.Errorf("%s still a raft peer", p.Node)
			}
		}
		for _, n := range c.Live() {
			if n.Name() == leaver.Name() {
				continue
			}
			if rec, _ := n.State().Node(leaver.Name()); rec == nil || rec.Status != "left" {
				return fmt.Errorf("%s: registry says %v", n.Name(), rec)
			}
		}
		return nil
	}, "leaver removed")
}
