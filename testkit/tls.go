package testkit

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/steward/steward/node"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TLS is the certificate authority of a test cluster with TLS on, and the
// files of the certificates it issued, in a directory of the test's.
type TLS struct {
	t      testing.TB
	Dir    string
	Region string
	CA     *tlsutil.CA
	// CAFile is the CA certificate's file.
	CAFile string

	mu sync.Mutex
	n  int
}

// NewTLS makes a CA for region ("": the default region) and writes its
// certificate to a temporary directory.
func NewTLS(t testing.TB, region string) *TLS {
	t.Helper()
	if region == "" {
		region = tlsutil.DefaultRegion
	}
	ca, err := tlsutil.GenerateCA(tlsutil.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := &TLS{t: t, Dir: t.TempDir(), Region: region, CA: ca}
	x.CAFile = x.write("steward-agent-ca.pem", ca.CertPEM)
	return x
}

func (x *TLS) write(name string, b []byte) string {
	x.t.Helper()
	p := filepath.Join(x.Dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		x.t.Fatal(err)
	}
	return p
}

// Issue writes a new certificate of role (opts.Role is set to it) and its
// key and returns their files with the CA's.
func (x *TLS) Issue(role tlsutil.Role, opts tlsutil.CertOptions) tlsutil.CLIConfig {
	x.t.Helper()
	opts.Role = role
	if opts.Region == "" {
		opts.Region = x.Region
	}
	c, err := x.CA.Issue(opts)
	if err != nil {
		x.t.Fatal(err)
	}
	x.mu.Lock()
	k := x.n
	x.n++
	x.mu.Unlock()
	base := fmt.Sprintf("%s-%s-steward-%d", opts.Region, role, k)
	return tlsutil.CLIConfig{
		CAFile:   x.CAFile,
		CertFile: x.write(base+".pem", c.CertPEM),
		KeyFile:  x.write(base+"-key.pem", c.KeyPEM),
	}
}

// Agent is the TLS setting of an agent of role (server or client), every
// verification on. Its files are its own (the CA's a copy), so that a test
// may replace one agent's files and reload it.
func (x *TLS) Agent(role tlsutil.Role) tlsutil.Config {
	x.t.Helper()
	f := x.Issue(role, tlsutil.CertOptions{})
	ca := x.write(strings.TrimSuffix(filepath.Base(f.CertFile), ".pem")+"-ca.pem", x.CA.CertPEM)
	return tlsutil.Config{
		CAFile: ca, CertFile: f.CertFile, KeyFile: f.KeyFile,
		VerifyIncoming: true, VerifyOutgoing: true, VerifyServerHostname: true,
		Region: x.Region,
	}
}

// ClientConfig is the *tls.Config of a caller with a new certificate of
// role (a CLI user: tlsutil.RoleCLI).
func (x *TLS) ClientConfig(role tlsutil.Role) *tls.Config {
	x.t.Helper()
	cfg, err := tlsutil.ClientTLSConfig(x.Issue(role, tlsutil.CertOptions{}))
	if err != nil {
		x.t.Fatal(err)
	}
	return cfg
}

// WithTLS turns TLS on, every verification on, for every node: each gets a
// certificate of its role (server, or client for a client agent) issued by
// x, and the cluster's Conn dials with a cli certificate.
func WithTLS(x *TLS) Option {
	return func(o *options) {
		o.tls = x
		o.configs = append(o.configs, func(_ int, c *node.Config) {
			role := tlsutil.RoleServer
			if c.Client {
				role = tlsutil.RoleClient
			}
			c.Region = x.Region
			c.TLS = x.Agent(role)
		})
	}
}

// TLS is the cluster's CA and certificates (WithTLS), or nil.
func (c *Cluster) TLS() *TLS { return c.tls }

// DialTLS opens a gRPC connection to addr over TLS with cfg, closed with
// the test.
func DialTLS(t testing.TB, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
