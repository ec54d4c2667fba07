package node

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/tlsutil"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// raftHandshakeTimeout bounds the TLS handshake of an incoming Raft
// connection.
const raftHandshakeTimeout = 10 * time.Second

// region is the node's region (the default when not set).
func (c Config) region() string {
	if c.Region == "" {
		return tlsutil.DefaultRegion
	}
	return c.Region
}

// setupTLS loads the TLS material when TLS is configured, and checks that
// the node's certificate carries its role: a server's
// server.<region>.steward, a client agent's client.<region>.steward.
func (n *Node) setupTLS() error {
	c := n.cfg.TLS
	if !c.Enabled() {
		return nil
	}
	c.Region = n.cfg.region()
	t, err := tlsutil.NewConfigurator(c)
	if err != nil {
		return err
	}
	want := tlsutil.RoleServer
	mode := "a server agent"
	if n.cfg.Client {
		want, mode = tlsutil.RoleClient, "a client agent"
	}
	if got := t.Role(); got != want {
		have := "no role"
		if got != "" {
			have = "role " + got.Name(c.Region)
		}
		return fmt.Errorf("cert_file %s: the certificate names %s; %s needs %s (steward tls cert create --%s)", c.CertFile, have, mode, want.Name(c.Region), want)
	}
	n.tls = t
	if !c.VerifyIncoming || !c.VerifyOutgoing || !c.VerifyServerHostname {
		n.logger.Warn("TLS is on with some verification off; set verify_incoming, verify_outgoing and verify_server_hostname in production",
			"verify_incoming", c.VerifyIncoming, "verify_outgoing", c.VerifyOutgoing, "verify_server_hostname", c.VerifyServerHostname)
	}
	return nil
}

// TLS is the node's TLS configurator (nil when TLS is off).
func (n *Node) TLS() *tlsutil.Configurator { return n.tls }

// ReloadTLS reads the certificate, key and CA files again; new
// connections (gRPC and Raft, in and out) use them, established ones keep
// theirs. On an error the material in use is kept. The agent calls it on
// SIGHUP.
func (n *Node) ReloadTLS() error {
	if n.tls == nil {
		return fmt.Errorf("tls: not configured on this node (no ca_file, cert_file, key_file)")
	}
	if err := n.tls.Reload(); err != nil {
		return err
	}
	leaf := n.tls.Leaf()
	n.logger.Info("TLS certificates reloaded", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// newPool is the node's connection pool: plain text without TLS; with it,
// each peer is dialed with this node's certificate and verified as the
// role gossip says it has.
func (n *Node) newPool() *transport.Pool {
	if n.tls == nil {
		return transport.NewPool(n.grpcDialOptions()...)
	}
	return transport.NewTLSPool(func(addr string) credentials.TransportCredentials {
		return credentials.NewTLS(n.tls.OutgoingRPCConfig(func() tlsutil.Role { return n.roleAt(addr) }))
	}, n.grpcDialOptions()...)
}

// roleAt is the role the node at gRPC address addr must hold: a client
// agent's when gossip knows the address as a client agent's, a server's
// otherwise.
func (n *Node) roleAt(addr string) tlsutil.Role {
	for _, m := range n.members.list() {
		if m.Meta.GRPCAddr == addr && m.Meta.Mode == ModeClient {
			return tlsutil.RoleClient
		}
	}
	return tlsutil.RoleServer
}

// tlsServerOptions are the gRPC server's TLS credentials and role check
// (none without TLS).
func (n *Node) tlsServerOptions() []grpc.ServerOption {
	if n.tls == nil {
		return nil
	}
	rc := transport.RoleCheck{Region: n.tls.Region()}
	return []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(n.tls.IncomingRPCConfig())),
		grpc.ChainUnaryInterceptor(rc.Unary()),
		grpc.ChainStreamInterceptor(rc.Stream()),
	}
}

// raftStream is Raft's stream layer on l: plain TCP without TLS; with it,
// TLS demanding a server certificate of this region on both sides.
func (n *Node) raftStream(l net.Listener, adv net.Addr) raft.StreamLayer {
	s := &streamLayer{Listener: l, advertise: adv, n: n}
	if n.tls == nil {
		return s
	}
	return &tlsStreamLayer{streamLayer: s, srv: n.tls.RaftServerConfig(), cli: n.tls.RaftClientConfig()}
}

// tlsStreamLayer is the Raft stream layer over TLS.
type tlsStreamLayer struct {
	*streamLayer
	srv, cli *tls.Config
}

func (s *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &raftServerConn{Conn: tls.Server(c, s.srv), n: s.n}, nil
}

func (s *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.streamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, s.cli)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("raft TLS to %s: %w", addr, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// raftServerConn completes the TLS handshake, bounded, before Raft reads
// anything: a peer refused (no server certificate of the CA) never gets a
// byte to Raft.
type raftServerConn struct {
	*tls.Conn
	n    *Node
	once sync.Once
	err  error
}

func (c *raftServerConn) Read(b []byte) (int, error) {
	c.once.Do(func() {
		_ = c.Conn.SetDeadline(time.Now().Add(raftHandshakeTimeout))
		if c.err = c.Conn.Handshake(); c.err != nil {
			c.n.logger.Warn("raft connection refused", "remote", c.Conn.RemoteAddr().String(), "error", c.err)
			return
		}
		_ = c.Conn.SetDeadline(time.Time{})
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(b)
}
