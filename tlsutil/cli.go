package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CLIConfig is how a CLI or API user connects with TLS (--ca-file,
// --cert-file, --key-file, --tls-server-name).
type CLIConfig struct {
	// CAFile verifies the agent's certificate (required).
	CAFile string
	// CertFile and KeyFile are the caller's certificate (a cli role one,
	// normally); both or neither (an agent with verify_incoming off takes
	// callers without one).
	CertFile string
	KeyFile  string
	// ServerName is the name the agent's certificate must carry ("": any
	// agent role name, server.<region>.steward or client.<region>.steward,
	// of any region).
	ServerName string
}

// ClientTLSConfig loads c's files and returns the config of a CLI
// connection: TLS 1.3, the agent's chain verified against the CA and its
// name checked. Errors name the flag's file and what is wrong.
func ClientTLSConfig(c CLIConfig) (*tls.Config, error) {
	if c.CAFile == "" {
		return nil, errors.New("ca-file: required with TLS (the CA that signed the agents' certificates)")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("cert-file and key-file: give both or neither")
	}
	now := time.Now()
	b, err := readFile("ca-file", c.CAFile)
	if err != nil {
		return nil, err
	}
	cas, err := parseCerts("ca-file", c.CAFile, b)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, ca := range cas {
		if !ca.IsCA || !ca.BasicConstraintsValid {
			return nil, fmt.Errorf("ca-file %s: %w: %q has no CA basic constraint", c.CAFile, ErrNotCA, ca.Subject.String())
		}
		pool.AddCert(ca)
	}
	cfg := &tls.Config{MinVersion: MinVersion, RootCAs: pool}
	if c.CertFile != "" {
		m, err := load(Config{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}, now, false)
		if err != nil {
			return nil, cliNames(err)
		}
		cfg.Certificates = []tls.Certificate{*m.cert}
	}
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
		return cfg, nil
	}
	// Any agent's role name: the chain is verified here, the name by role.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the agent presented no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return fmt.Errorf("tls: agent certificate %q: %w", leaf.Subject.String(), err)
		}
		for _, n := range leaf.DNSNames {
			if r, _, ok := ParseRoleName(n); ok && (r == RoleServer || r == RoleClient) {
				return nil
			}
		}
		return fmt.Errorf("tls: certificate %q names no agent role (server.<region>.steward or client.<region>.steward)", leaf.Subject.String())
	}
	return cfg, nil
}

// cliNames renames the agent settings in load's errors to the CLI's
// flags.
func cliNames(err error) error {
	return &renamed{err: err}
}

type renamed struct{ err error }

func (r *renamed) Error() string {
	s := r.err.Error()
	for _, p := range [][2]string{{"ca_file", "ca-file"}, {"cert_file", "cert-file"}, {"key_file", "key-file"}} {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

func (r *renamed) Unwrap() error { return r.err }
