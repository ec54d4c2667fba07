package node_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A cluster of three servers and a client agent with TLS on and every
// verification on works: writes through every node (forwarded to the
// leader, from the client agent too), replicated to every server's Raft
// log, and the client agent's work stream.
func TestTLSClusterWorks(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 3, testkit.WithClients(1), testkit.WithTLS(x))
	for i := range 4 {
		put(t, c.KV(i), fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	c.Eventually(20*time.Second, func() error {
		for _, n := range c.Servers() {
			for i := range 4 {
				_, e, _ := n.State().KVGet(nil, fmt.Sprintf("k%d", i))
				if e == nil || string(e.Value) != fmt.Sprintf("v%d", i) {
					return fmt.Errorf("%s has k%d = %v", n.Name(), i, e)
				}
			}
		}
		_, err := streamingFrom(t, c.Node(3))
		return err
	}, "every write on every server, the client streaming")
	if got := peersString(raftPeers(t, c.WaitForLeader())); got != "n1=voter,n2=voter,n3=voter" {
		t.Errorf("raft peers %s", got)
	}
	// A consistent read through the client agent.
	got, err := c.KV(3).Get(testkit.Ctx(t, 10*time.Second), &pb.KVGetRequest{Key: "k0"})
	if err != nil || string(got.Entry.GetValue()) != "v0" {
		t.Fatalf("get through the client agent: %v, %v", got, err)
	}
}

// internal dials addr with a certificate of role and returns an Internal
// client.
func internalAs(t *testing.T, x *testkit.TLS, addr string, role tlsutil.Role) pb.InternalClient {
	return pb.NewInternalClient(testkit.DialTLS(t, addr, x.ClientConfig(role)))
}

func wantDenied(t *testing.T, err error, parts ...string) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("got %v, want PermissionDenied", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}

// Nomad CVE-2021-37218: a client certificate must not do what a server
// does. On the Internal service a client agent's certificate calls only
// Work, Signal, Deliver and Propose of its own reports; a cli certificate
// calls nothing; a server certificate calls everything.
func TestTLSInternalRoles(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 3, testkit.WithTLS(x))
	addr := c.WaitForLeader().GRPCAddr()
	ctx := testkit.Ctx(t, 30*time.Second)
	kvPut, err := proto.Marshal(&pb.KVPutCommand{Key: "owned", Value: []byte("by a client cert")})
	if err != nil {
		t.Fatal(err)
	}

	client := internalAs(t, x, addr, tlsutil.RoleClient)
	_, err = client.Facts(ctx, &pb.FactsRequest{})
	wantDenied(t, err, "role client", "steward.v1.Internal/Facts")
	_, err = client.ValidateNode(ctx, &pb.ValidateNodeRequest{})
	wantDenied(t, err, "role client", "steward.v1.Internal/ValidateNode")
	_, err = client.Propose(ctx, &pb.ProposeRequest{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: kvPut})
	wantDenied(t, err, "role client", "Internal/Propose", "COMMAND_TYPE_KV_PUT", "PLAN_STEP_REPORT")
	_, err = client.Propose(ctx, &pb.ProposeRequest{Type: pb.CommandType_COMMAND_TYPE_TREE_APPLY})
	wantDenied(t, err, "COMMAND_TYPE_TREE_APPLY")
	// A report a client agent makes passes the role check (the command's
	// own outcome follows: no such sandbox here).
	sb, _ := proto.Marshal(&pb.SandboxStatusCommand{Name: "none", Node: "c1", PlacedIndex: 1, Status: "running"})
	if _, err := client.Propose(ctx, &pb.ProposeRequest{Type: pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, Payload: sb}); status.Code(err) == codes.PermissionDenied {
		t.Errorf("a client agent's sandbox status report was refused: %v", err)
	}
	// Work is a client agent's.
	ws, err := client.Work(ctx, &pb.WorkRequest{Node: "c9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Recv(); err != nil {
		t.Errorf("a client agent's work stream: %v", err)
	}

	cli := internalAs(t, x, addr, tlsutil.RoleCLI)
	_, err = cli.Propose(ctx, &pb.ProposeRequest{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: kvPut})
	wantDenied(t, err, "role cli", "steward.v1.Internal/Propose")
	wsc, err := cli.Work(ctx, &pb.WorkRequest{Node: "c9"})
	if err == nil {
		_, err = wsc.Recv()
	}
	wantDenied(t, err, "role cli", "steward.v1.Internal/Work")
	_, err = cli.Signal(ctx, &pb.SignalRequest{})
	wantDenied(t, err, "role cli", "steward.v1.Internal/Signal")

	// Nothing the refused calls carried was committed.
	for _, n := range c.Servers() {
		if _, e, _ := n.State().KVGet(nil, "owned"); e != nil {
			t.Fatalf("%s holds the key a client certificate proposed: %v", n.Name(), e)
		}
	}
	// The public service takes a cli certificate.
	if _, err := pb.NewKVClient(testkit.DialTLS(t, addr, x.ClientConfig(tlsutil.RoleCLI))).Put(ctx, &pb.KVPutRequest{Key: "cli", Value: []byte("ok")}); err != nil {
		t.Fatalf("kv put with a cli certificate: %v", err)
	}
	// A server certificate proposes anything.
	srv := internalAs(t, x, addr, tlsutil.RoleServer)
	if _, err := srv.Propose(ctx, &pb.ProposeRequest{Type: pb.CommandType_COMMAND_TYPE_KV_PUT, Payload: kvPut}); err != nil {
		t.Fatalf("propose with a server certificate: %v", err)
	}
}

// A gRPC port with TLS speaks only TLS, and takes only certificates of
// its CA that are valid now.
func TestTLSRefusesPlainTextExpiredAndForeign(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 1, testkit.WithTLS(x))
	addr := c.Node(0).GRPCAddr()
	get := func(conn *grpc.ClientConn) error {
		return answered(pb.NewKVClient(conn).Get(testkit.Ctx(t, 5*time.Second), &pb.KVGetRequest{Key: "k"}))
	}
	if err := get(c.Conn(0)); err != nil {
		t.Fatalf("with a cli certificate: %v", err)
	}
	plain, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := get(plain); status.Code(err) != codes.Unavailable {
		t.Errorf("a plain-text client: %v, want Unavailable", err)
	}

	expired := x.Issue(tlsutil.RoleCLI, tlsutil.CertOptions{NotBefore: time.Now().Add(-72 * time.Hour), Days: 1})
	if _, err := tlsutil.ClientTLSConfig(expired); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("the CLI loaded an expired certificate: %v", err)
	}
	// Sent anyway (a client that does not check its own certificate).
	pair, err := tls.LoadX509KeyPair(expired.CertFile, expired.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := x.ClientConfig(tlsutil.RoleCLI)
	cfg.Certificates = []tls.Certificate{pair}
	if err := get(testkit.DialTLS(t, addr, cfg)); err == nil {
		t.Error("an expired client certificate was accepted")
	}

	other := testkit.NewTLS(t, "")
	if err := get(testkit.DialTLS(t, addr, other.ClientConfig(tlsutil.RoleCLI))); err == nil {
		t.Error("a certificate of a foreign CA was accepted")
	}
}

// answered is nil when a KV get was answered (the key missing is an
// answer), the error otherwise.
func answered(_ *pb.KVGetResponse, err error) error {
	if status.Code(err) == codes.NotFound {
		return nil
	}
	return err
}

// raftPeer is a Raft transport that dials with the TLS of a certificate
// of the given role, to talk to a node's Raft port as an outsider.
type raftPeer struct {
	net.Listener
	cfg *tls.Config
}

func (p *raftPeer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	return tls.Client(c, p.cfg), nil
}

func newRaftPeer(t *testing.T, x *testkit.TLS, role tlsutil.Role) *raft.NetworkTransport {
	t.Helper()
	f := x.Issue(role, tlsutil.CertOptions{})
	conf, err := tlsutil.NewConfigurator(tlsutil.Config{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &raftPeer{Listener: l, cfg: conf.RaftClientConfig()},
		MaxPool: 1, Timeout: 5 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func (p *raftPeer) Addr() net.Addr { return p.Listener.Addr() }

// The Raft port demands a server certificate: a client agent's is refused
// at the handshake, and the AppendEntries it carried (a term far ahead,
// which would make the node step down and take that term) never reaches
// Raft. A server certificate of the CA is answered.
func TestTLSRaftRefusesClientCertificate(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 3, testkit.WithTLS(x))
	target := c.Followers()[0]
	term := target.Status().Term
	addr := raft.ServerAddress(target.RaftAddr())
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte("127.0.0.1:1")}

	for _, role := range []tlsutil.Role{tlsutil.RoleClient, tlsutil.RoleCLI} {
		tr := newRaftPeer(t, x, role)
		var resp raft.AppendEntriesResponse
		err := tr.AppendEntries("n", addr, &raft.AppendEntriesRequest{RPCHeader: header, Term: term + 1000}, &resp)
		if err == nil {
			t.Fatalf("AppendEntries with a %s certificate was answered: %+v", role, resp)
		}
		t.Logf("%s certificate refused: %v", role, err)
	}
	if got := target.Status().Term; got >= term+1000 {
		t.Fatalf("the refused AppendEntries reached Raft: term %d", got)
	}
	if target.Status().RaftState != "follower" && target.Status().RaftState != "leader" {
		t.Errorf("raft state %s", target.Status().RaftState)
	}

	// A server certificate: a stale AppendEntries is answered (and
	// refused by Raft itself, harmlessly).
	tr := newRaftPeer(t, x, tlsutil.RoleServer)
	var resp raft.AppendEntriesResponse
	if err := tr.AppendEntries("n", addr, &raft.AppendEntriesRequest{RPCHeader: header, Term: 1}, &resp); err != nil {
		t.Fatalf("AppendEntries with a server certificate: %v", err)
	}
	if resp.Success || resp.Term < term {
		t.Errorf("a stale AppendEntries answered %+v (term %d)", resp, term)
	}
}

// ReloadTLS swaps the certificates for new connections: after the files
// are replaced by ones of a new CA, a caller needs the new CA.
func TestTLSReload(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 1, testkit.WithTLS(x))
	n := c.Node(0)
	addr := n.GRPCAddr()
	get := func(cfg *tls.Config) error {
		return answered(pb.NewKVClient(testkit.DialTLS(t, addr, cfg)).Get(testkit.Ctx(t, 5*time.Second), &pb.KVGetRequest{Key: "k"}))
	}
	if err := get(x.ClientConfig(tlsutil.RoleCLI)); err != nil {
		t.Fatal(err)
	}
	y := testkit.NewTLS(t, "")
	fresh := y.Agent(tlsutil.RoleServer)
	cfg := n.TLS().Config()
	for _, f := range [][2]string{{fresh.CAFile, cfg.CAFile}, {fresh.CertFile, cfg.CertFile}, {fresh.KeyFile, cfg.KeyFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if err := get(y.ClientConfig(tlsutil.RoleCLI)); err != nil {
		t.Errorf("with the new CA after the reload: %v", err)
	}
	if err := get(x.ClientConfig(tlsutil.RoleCLI)); err == nil {
		t.Error("the old CA still works after the reload")
	}
	// The node still commits (its Raft runs on).
	put(t, pb.NewKVClient(testkit.DialTLS(t, addr, y.ClientConfig(tlsutil.RoleCLI))), "after", "reload")
}

// A node whose certificate's role is not its mode does not start.
func TestTLSWrongRoleRefusedAtStart(t *testing.T) {
	x := testkit.NewTLS(t, "")
	cfg := testkit.FastConfig("n1", t.TempDir())
	cfg.BootstrapExpect = 1
	cfg.TLS = x.Agent(tlsutil.RoleClient)
	_, err := node.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "a server agent needs server.global.steward") {
		t.Fatalf("a server with a client certificate: %v", err)
	}
}

// The config file's region and tls block reach the node's settings; a
// partial TLS setting is refused naming what is missing.
func TestTLSConfigFileBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.hcl")
	src := `region = "eu"
tls {
  ca_file                = "/etc/steward/ca.pem"
  cert_file              = "/etc/steward/eu-server-steward-0.pem"
  key_file               = "/etc/steward/eu-server-steward-0-key.pem"
  verify_incoming        = true
  verify_outgoing        = true
  verify_server_hostname = true
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := node.ParseConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := node.DefaultConfig()
	if err := fc.ApplyTo(&c); err != nil {
		t.Fatal(err)
	}
	want := tlsutil.Config{CAFile: "/etc/steward/ca.pem", CertFile: "/etc/steward/eu-server-steward-0.pem", KeyFile: "/etc/steward/eu-server-steward-0-key.pem",
		VerifyIncoming: true, VerifyOutgoing: true, VerifyServerHostname: true}
	if c.Region != "eu" || c.TLS != want {
		t.Errorf("region %q, tls %+v", c.Region, c.TLS)
	}

	c = testkit.FastConfig("n1", t.TempDir())
	c.TLS = tlsutil.Config{CertFile: "x.pem"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ca_file and key_file required") {
		t.Errorf("a partial tls setting: %v", err)
	}
	c.TLS = tlsutil.Config{}
	c.Region = "EU"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `region: "EU"`) {
		t.Errorf("a bad region: %v", err)
	}
}
