package tlsutil

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// files writes a role certificate of ca into dir and returns the agent
// Config using it.
func files(t *testing.T, dir string, ca *CA, role Role, o CertOptions) Config {
	t.Helper()
	o.Role = role
	c, err := ca.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, string(role)+".pem"),
		KeyFile:  filepath.Join(dir, string(role)+"-key.pem"),
	}
	write(t, cfg.CAFile, ca.CertPEM)
	write(t, cfg.CertFile, c.CertPEM)
	write(t, cfg.KeyFile, c.KeyPEM)
	return cfg
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newCA(t *testing.T) *CA {
	t.Helper()
	ca, err := GenerateCA(CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	good := files(t, dir, ca, RoleServer, CertOptions{})

	other := newCA(t)
	otherDir := t.TempDir()
	foreign := files(t, otherDir, other, RoleServer, CertOptions{})

	expiredDir := t.TempDir()
	expired := files(t, expiredDir, ca, RoleServer, CertOptions{NotBefore: time.Now().Add(-72 * time.Hour), Days: 1})

	notPEM := filepath.Join(dir, "garbage.pem")
	write(t, notPEM, []byte("this is not pem\n"))

	// A leaf certificate given as the CA.
	leafAsCA := good
	leafAsCA.CAFile = good.CertFile

	mismatch := good
	mismatch.KeyFile = foreign.KeyFile

	notSigned := good
	notSigned.CertFile, notSigned.KeyFile = foreign.CertFile, foreign.KeyFile

	missing := good
	missing.CAFile = filepath.Join(dir, "nope.pem")

	badKey := good
	badKey.KeyFile = notPEM

	for _, tc := range []struct {
		name string
		cfg  Config
		is   error
		want []string
	}{
		{"missing", missing, nil, []string{"ca_file", missing.CAFile, "does not exist"}},
		{"not pem", Config{CAFile: notPEM, CertFile: good.CertFile, KeyFile: good.KeyFile}, ErrNotPEM, []string{"ca_file", notPEM}},
		{"key not pem", badKey, ErrNotPEM, []string{"key_file", notPEM, "PRIVATE KEY"}},
		{"ca not a ca", leafAsCA, ErrNotCA, []string{"ca_file", good.CertFile}},
		{"key mismatch", mismatch, ErrKeyMismatch, []string{"key_file", foreign.KeyFile, good.CertFile}},
		{"expired", Config{CAFile: good.CAFile, CertFile: expired.CertFile, KeyFile: expired.KeyFile}, ErrExpired, []string{"cert_file", expired.CertFile, "expired at"}},
		{"foreign ca", notSigned, ErrNotSigned, []string{"cert_file", foreign.CertFile, good.CAFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConfigurator(tc.cfg)
			if err == nil {
				t.Fatal("loaded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if _, err := NewConfigurator(good); err != nil {
		t.Fatalf("good files: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{VerifyIncoming: true}, "tls.verify_incoming: needs ca_file"},
		{Config{CertFile: "c"}, "ca_file and key_file required"},
		{Config{CAFile: "a", CertFile: "c", KeyFile: "k", VerifyServerHostname: true}, "verify_server_hostname: needs verify_outgoing"},
		{Config{Region: "Bad_Region"}, `region: "Bad_Region"`},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("off: %v", err)
	}
}

func TestRoles(t *testing.T) {
	ca := newCA(t)
	for _, r := range Roles {
		c, err := ca.Issue(CertOptions{Role: r, Region: "eu"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := RoleOfCert(c.Cert, "eu")
		if err != nil || got != r {
			t.Errorf("role of %s cert = %q, %v", r, got, err)
		}
		if _, err := RoleOfCert(c.Cert, "global"); err == nil || !strings.Contains(err.Error(), "another region") {
			t.Errorf("%s cert of eu read in global: %v", r, err)
		}
	}
	if _, err := ca.Issue(CertOptions{Role: RoleClient, DNSNames: []string{"server.global.steward"}}); err == nil {
		t.Error("a client certificate named a server role")
	}
	if _, err := ca.Issue(CertOptions{Role: "admin"}); err == nil {
		t.Error("issued an unknown role")
	}
	if _, err := ca.Issue(CertOptions{Role: RoleServer, Days: MaxDays + 1}); err == nil {
		t.Error("issued past the days limit")
	}
}

// handshake runs a TLS handshake between a server and a client config and
// returns the server's and the client's errors.
func handshake(t *testing.T, srv, cli *tls.Config) (error, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, srv)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3: the server's verdict on the client certificate
			// reaches the client on its first read.
			_, err = s.Write([]byte("x"))
		}
		done <- err
	}()
	c := tls.Client(b, cli)
	cerr := c.Handshake()
	if cerr == nil {
		buf := make([]byte, 1)
		_, cerr = c.Read(buf)
	}
	// Closing the raw ends (not the TLS conns, whose Close waits for a
	// close_notify) unblocks a side still writing.
	_ = b.Close()
	_ = a.Close()
	return <-done, cerr
}

func configurator(t *testing.T, cfg Config) *Configurator {
	t.Helper()
	c, err := NewConfigurator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRaftDemandsServerOnBothSides(t *testing.T) {
	ca := newCA(t)
	srv := configurator(t, files(t, t.TempDir(), ca, RoleServer, CertOptions{}))
	peer := configurator(t, files(t, t.TempDir(), ca, RoleServer, CertOptions{}))
	client := configurator(t, files(t, t.TempDir(), ca, RoleClient, CertOptions{}))

	if s, c := handshake(t, srv.RaftServerConfig(), peer.RaftClientConfig()); s != nil || c != nil {
		t.Fatalf("server to server: %v / %v", s, c)
	}
	s, c := handshake(t, srv.RaftServerConfig(), client.RaftClientConfig())
	if s == nil || !strings.Contains(s.Error(), "has role client; server.global.steward needed") {
		t.Errorf("a client certificate dialing Raft: server side %v", s)
	}
	if c == nil {
		t.Error("a client certificate dialing Raft: the client saw no refusal")
	}
	// A client certificate listening for Raft: the server dialing refuses it.
	s, c = handshake(t, client.RaftServerConfig(), srv.RaftClientConfig())
	if c == nil || !strings.Contains(c.Error(), "has role client; server.global.steward needed") {
		t.Errorf("dialing a Raft listener with a client certificate: %v", c)
	}
	_ = s
}

func TestOutgoingVerifiesChainAndRole(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	cfg := files(t, dir, ca, RoleServer, CertOptions{})
	cfg.VerifyIncoming, cfg.VerifyOutgoing, cfg.VerifyServerHostname = true, true, true
	srv := configurator(t, cfg)
	clientCfg := files(t, t.TempDir(), ca, RoleClient, CertOptions{})
	clientCfg.VerifyIncoming, clientCfg.VerifyOutgoing, clientCfg.VerifyServerHostname = true, true, true
	client := configurator(t, clientCfg)

	asServer := func() Role { return RoleServer }
	if s, c := handshake(t, srv.IncomingRPCConfig(), client.OutgoingRPCConfig(asServer)); s != nil || c != nil {
		t.Fatalf("client agent to server: %v / %v", s, c)
	}
	// The client agent listening, dialed as a server: refused by name.
	if _, c := handshake(t, client.IncomingRPCConfig(), srv.OutgoingRPCConfig(asServer)); c == nil || !strings.Contains(c.Error(), "has role client") {
		t.Errorf("a client agent posing as a server: %v", c)
	}
	// A server of a foreign CA.
	foreign := configurator(t, files(t, t.TempDir(), newCA(t), RoleServer, CertOptions{}))
	if _, c := handshake(t, foreign.IncomingRPCConfig(), client.OutgoingRPCConfig(asServer)); c == nil || !strings.Contains(c.Error(), "unknown authority") {
		t.Errorf("a foreign server: %v", c)
	}
	// A caller of a foreign CA, with verify_incoming.
	if s, _ := handshake(t, srv.IncomingRPCConfig(), foreign.OutgoingRPCConfig(nil)); s == nil {
		t.Error("a foreign caller was accepted")
	}
}

func TestReloadSwapsForNewConnections(t *testing.T) {
	ca1, ca2 := newCA(t), newCA(t)
	dir := t.TempDir()
	cfg := files(t, dir, ca1, RoleServer, CertOptions{})
	cfg.VerifyIncoming, cfg.VerifyOutgoing, cfg.VerifyServerHostname = true, true, true
	srv := configurator(t, cfg)
	old := configurator(t, files(t, t.TempDir(), ca1, RoleServer, CertOptions{}))
	newer := configurator(t, files(t, t.TempDir(), ca2, RoleServer, CertOptions{}))
	if s, c := handshake(t, srv.RaftServerConfig(), old.RaftClientConfig()); s != nil || c != nil {
		t.Fatalf("before reload: %v / %v", s, c)
	}
	if s, _ := handshake(t, srv.RaftServerConfig(), newer.RaftClientConfig()); s == nil {
		t.Fatal("a peer of the new CA was accepted before the reload")
	}

	// A bad file: the reload fails naming it, the old material stays.
	write(t, cfg.CertFile, []byte("garbage"))
	if err := srv.Reload(); err == nil || !strings.Contains(err.Error(), cfg.CertFile) {
		t.Fatalf("reload of a bad file: %v", err)
	}
	if s, c := handshake(t, srv.RaftServerConfig(), old.RaftClientConfig()); s != nil || c != nil {
		t.Fatalf("after a failed reload: %v / %v", s, c)
	}

	files(t, dir, ca2, RoleServer, CertOptions{})
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if s, c := handshake(t, srv.RaftServerConfig(), newer.RaftClientConfig()); s != nil || c != nil {
		t.Fatalf("new CA after reload: %v / %v", s, c)
	}
	if s, _ := handshake(t, srv.RaftServerConfig(), old.RaftClientConfig()); s == nil {
		t.Error("a peer of the old CA is still accepted after the reload")
	}
	// The reloaded certificate is the one served.
	if _, c := handshake(t, srv.IncomingRPCConfig(), newer.OutgoingRPCConfig(func() Role { return RoleServer })); c != nil {
		t.Errorf("dialing the reloaded server with the new CA: %v", c)
	}
	// A reload to another role is refused.
	files(t, dir, ca2, RoleClient, CertOptions{})
	if err := os.Rename(filepath.Join(dir, "client.pem"), cfg.CertFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "client-key.pem"), cfg.KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil || !strings.Contains(err.Error(), `names role "client"`) {
		t.Errorf("reload to a client certificate: %v", err)
	}
}

func TestTLS13Only(t *testing.T) {
	ca := newCA(t)
	srv := configurator(t, files(t, t.TempDir(), ca, RoleServer, CertOptions{}))
	cli := srv.OutgoingRPCConfig(nil)
	cli.MaxVersion = tls.VersionTLS12
	cli.MinVersion = tls.VersionTLS12
	if s, _ := handshake(t, srv.IncomingRPCConfig(), cli); s == nil || !strings.Contains(s.Error(), "version") {
		t.Errorf("a TLS 1.2 client: %v", s)
	}
}
