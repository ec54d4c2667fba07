package tlsutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// Errors of loading the files; each wrapped with the file's setting and
// path.
var (
	// ErrNotPEM: the file holds no PEM block of the kind expected.
	ErrNotPEM = errors.New("no PEM data of the expected kind")
	// ErrNotCA: a certificate of the CA file is not a CA.
	ErrNotCA = errors.New("not a CA certificate")
	// ErrKeyMismatch: the key does not belong to the certificate.
	ErrKeyMismatch = errors.New("the private key does not match the certificate")
	// ErrExpired: a certificate is outside its validity period.
	ErrExpired = errors.New("certificate not valid now")
	// ErrNotSigned: the certificate does not chain to the CA.
	ErrNotSigned = errors.New("certificate not signed by the CA")
)

// material is what one load of the files yields.
type material struct {
	pool *x509.CertPool
	// cas are the CA file's certificates.
	cas  []*x509.Certificate
	cert *tls.Certificate
	leaf *x509.Certificate
	role Role
}

func readFile(setting, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s %s: the file does not exist", setting, path)
		}
		return nil, fmt.Errorf("%s %s: %w", setting, path, err)
	}
	return b, nil
}

// parseCerts reads every CERTIFICATE block of a PEM file.
func parseCerts(setting, path string, b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: certificate %d: %v", setting, path, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %s: %w: no PEM CERTIFICATE block", setting, path, ErrNotPEM)
	}
	return out, nil
}

func checkValid(setting, path string, c *x509.Certificate, now time.Time) error {
	if now.After(c.NotAfter) {
		return fmt.Errorf("%s %s: %w: %q expired at %s", setting, path, ErrExpired, c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("%s %s: %w: %q is valid only from %s", setting, path, ErrExpired, c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// load reads and checks the files of c at now; with roles, it also reads
// the role the certificate names in c's region (an agent's; a CLI user's
// certificate is not read for one).
func load(c Config, now time.Time, roles bool) (*material, error) {
	caPEM, err := readFile("ca_file", c.CAFile)
	if err != nil {
		return nil, err
	}
	cas, err := parseCerts("ca_file", c.CAFile, caPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, ca := range cas {
		if !ca.IsCA || !ca.BasicConstraintsValid {
			return nil, fmt.Errorf("ca_file %s: %w: %q has no CA basic constraint", c.CAFile, ErrNotCA, ca.Subject.String())
		}
		if err := checkValid("ca_file", c.CAFile, ca, now); err != nil {
			return nil, err
		}
		pool.AddCert(ca)
	}
	certPEM, err := readFile("cert_file", c.CertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile("key_file", c.KeyFile)
	if err != nil {
		return nil, err
	}
	chain, err := parseCerts("cert_file", c.CertFile, certPEM)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(keyPEM); blk == nil || !bytes.Contains([]byte(blk.Type), []byte("PRIVATE KEY")) {
		return nil, fmt.Errorf("key_file %s: %w: no PEM PRIVATE KEY block", c.KeyFile, ErrNotPEM)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if bytes.Contains([]byte(err.Error()), []byte("does not match")) {
			return nil, fmt.Errorf("key_file %s: %w in cert_file %s", c.KeyFile, ErrKeyMismatch, c.CertFile)
		}
		return nil, fmt.Errorf("key_file %s with cert_file %s: %v", c.KeyFile, c.CertFile, err)
	}
	leaf := chain[0]
	pair.Leaf = leaf
	if err := checkValid("cert_file", c.CertFile, leaf, now); err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("cert_file %s: %w of ca_file %s: %v", c.CertFile, ErrNotSigned, c.CAFile, err)
	}
	var role Role
	if roles {
		if role, err = RoleOfCert(leaf, c.region()); err != nil {
			return nil, fmt.Errorf("cert_file %s: %w", c.CertFile, err)
		}
	}
	return &material{pool: pool, cas: cas, cert: &pair, leaf: leaf, role: role}, nil
}

// RoleOfCert is the role a certificate names for region: the one
// <role>.<region>.steward among its DNS SANs ("" when it names none). A
// certificate naming two roles is refused, as is one naming a role of
// another region only.
func RoleOfCert(c *x509.Certificate, region string) (Role, error) {
	var found Role
	var other string
	for _, name := range c.DNSNames {
		for _, r := range Roles {
			if name == r.Name(region) {
				if found != "" && found != r {
					return "", fmt.Errorf("certificate %q names two roles, %s and %s; a certificate carries one role", c.Subject.String(), found, r)
				}
				found = r
			} else if bytes.HasPrefix([]byte(name), []byte(string(r)+".")) && bytes.HasSuffix([]byte(name), []byte("."+Domain)) {
				other = name
			}
		}
	}
	if found == "" && other != "" {
		return "", fmt.Errorf("certificate %q names %s, a role of another region than %s", c.Subject.String(), other, region)
	}
	return found, nil
}
