package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// MinVersion is the lowest TLS version steward speaks, on every
// connection.
const MinVersion = tls.VersionTLS13

// Configurator holds an agent's loaded TLS material and builds the
// *tls.Config of each connection kind from it. Every config it returns
// reads the current material at each handshake (GetConfigForClient,
// GetCertificate, GetClientCertificate, VerifyConnection), so Reload
// changes what new connections use without restarting anything;
// established connections keep theirs.
type Configurator struct {
	cfg Config
	now func() time.Time
	// reload serialises Reload.
	reload sync.Mutex
	cur    atomic.Pointer[material]
}

// NewConfigurator validates c and loads its files. Errors name the
// setting, the file and what is wrong with it.
func NewConfigurator(c Config) (*Configurator, error) {
	return newConfigurator(c, time.Now)
}

func newConfigurator(c Config, now func() time.Time) (*Configurator, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, errors.New("tls: not configured (no ca_file, cert_file, key_file)")
	}
	c.Region = c.region()
	m, err := load(c, now(), true)
	if err != nil {
		return nil, err
	}
	cf := &Configurator{cfg: c, now: now}
	cf.cur.Store(m)
	return cf, nil
}

// Reload reads the files again and, when they load without error, makes
// new connections use them; on an error the material in use is kept and
// the error says what is wrong.
func (c *Configurator) Reload() error {
	c.reload.Lock()
	defer c.reload.Unlock()
	m, err := load(c.cfg, c.now(), true)
	if err != nil {
		return fmt.Errorf("tls reload (the certificates in use are kept): %w", err)
	}
	if m.role != c.cur.Load().role {
		return fmt.Errorf("tls reload (the certificates in use are kept): cert_file %s names role %q, the agent runs with %q", c.cfg.CertFile, m.role, c.cur.Load().role)
	}
	c.cur.Store(m)
	return nil
}

// Config is the setting the configurator loads (Region filled in).
func (c *Configurator) Config() Config { return c.cfg }

// Region is the region of the role names.
func (c *Configurator) Region() string { return c.cfg.Region }

// Role is the role the agent's own certificate names ("" for none).
func (c *Configurator) Role() Role { return c.cur.Load().role }

// Leaf is the agent's current certificate.
func (c *Configurator) Leaf() *x509.Certificate { return c.cur.Load().leaf }

func (c *Configurator) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load().cert, nil
}

func (c *Configurator) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return c.cur.Load().cert, nil
}

// IncomingRPCConfig is the gRPC server's: this agent's certificate, and a
// caller's certificate verified against the CA (required with
// VerifyIncoming, verified when given otherwise). The Internal service's
// role check reads the verified chain (PeerIdentity).
func (c *Configurator) IncomingRPCConfig() *tls.Config {
	auth := tls.VerifyClientCertIfGiven
	if c.cfg.VerifyIncoming {
		auth = tls.RequireAndVerifyClientCert
	}
	return c.incoming(auth, nil)
}

func (c *Configurator) incoming(auth tls.ClientAuthType, verify func(tls.ConnectionState) error) *tls.Config {
	return &tls.Config{
		MinVersion: MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := c.cur.Load()
			return &tls.Config{
				MinVersion:       MinVersion,
				GetCertificate:   c.getCertificate,
				ClientCAs:        m.pool,
				ClientAuth:       auth,
				VerifyConnection: verify,
			}, nil
		},
	}
}

// OutgoingRPCConfig is the config of a node-to-node gRPC dial to a peer
// expected to hold role want (asked at each handshake, as a peer's role is
// learned from gossip): this agent's certificate as the client
// certificate; with VerifyOutgoing the peer's chain verified against the
// CA, and with VerifyServerHostname its role name (want.<region>.steward)
// checked too.
func (c *Configurator) OutgoingRPCConfig(want func() Role) *tls.Config {
	return &tls.Config{
		MinVersion:           MinVersion,
		GetClientCertificate: c.getClientCertificate,
		// The peer is verified by VerifyConnection against the current CA
		// pool (which a reload changes), not by the static RootCAs.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if !c.cfg.VerifyOutgoing {
				return nil
			}
			var r Role
			if c.cfg.VerifyServerHostname && want != nil {
				r = want()
			}
			return c.verifyPeer(cs, x509.ExtKeyUsageServerAuth, r)
		},
	}
}

// RaftServerConfig is the Raft stream layer's listener config: mutual,
// whatever the verify settings, and only a server certificate of this
// region is accepted from the dialer.
func (c *Configurator) RaftServerConfig() *tls.Config {
	return c.incoming(tls.RequireAndVerifyClientCert, func(cs tls.ConnectionState) error {
		return c.checkRole(cs, RoleServer)
	})
}

// RaftClientConfig is the Raft stream layer's dial config: this agent's
// certificate, the peer's chain verified against the CA and its server
// role name checked, whatever the verify settings.
func (c *Configurator) RaftClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:           MinVersion,
		GetClientCertificate: c.getClientCertificate,
		InsecureSkipVerify:   true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return c.verifyPeer(cs, x509.ExtKeyUsageServerAuth, RoleServer)
		},
	}
}

// checkRole checks that the verified peer of a server-side handshake holds
// role want in this region.
func (c *Configurator) checkRole(cs tls.ConnectionState, want Role) error {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return fmt.Errorf("tls: the peer presented no certificate signed by the CA; %s needed", want.Name(c.cfg.Region))
	}
	return hasRole(cs.VerifiedChains[0][0], want, c.cfg.Region)
}

func hasRole(leaf *x509.Certificate, want Role, region string) error {
	got, err := RoleOfCert(leaf, region)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if got != want {
		have := string(got)
		if have == "" {
			have = "no role"
		}
		return fmt.Errorf("tls: certificate %q has role %s; %s needed", leaf.Subject.String(), have, want.Name(region))
	}
	return nil
}

// verifyPeer verifies the chain of the peer of a client-side handshake
// against the current CA pool and, when want is set, its role name.
func (c *Configurator) verifyPeer(cs tls.ConnectionState, usage x509.ExtKeyUsage, want Role) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the peer presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.cur.Load().pool, Intermediates: inter, CurrentTime: c.now(), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("tls: peer certificate %q: %w", leaf.Subject.String(), err)
	}
	if want == "" {
		return nil
	}
	return hasRole(leaf, want, c.cfg.Region)
}
