package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Limits and defaults of generated certificates (as `consul tls`).
const (
	// DefaultCADays is a generated CA's validity (days).
	DefaultCADays = 1825
	// DefaultCertDays is a generated certificate's validity (days).
	DefaultCertDays = 365
	// MaxDays is the longest validity accepted (days, 100 years).
	MaxDays = 36500
	// clockSkew backdates NotBefore so that a peer whose clock is a little
	// behind accepts a certificate issued just now.
	clockSkew = time.Minute
)

// CA is a certificate authority: its certificate and key.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// CAOptions configure GenerateCA.
type CAOptions struct {
	// Days is the validity (0: DefaultCADays).
	Days int
	// CommonName is the subject's CN ("" : "Steward Agent CA <serial>").
	CommonName string
	// NotBefore is the start of validity (zero: now, less a minute).
	NotBefore time.Time
}

func days(d, def int) (int, error) {
	if d == 0 {
		return def, nil
	}
	if d < 1 || d > MaxDays {
		return 0, fmt.Errorf("days: %d is out of range 1..%d", d, MaxDays)
	}
	return d, nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func keyID(pub crypto.PublicKey) ([]byte, error) {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:20], nil
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}), nil
}

// GenerateCA makes a new CA with an ECDSA P-256 key.
func GenerateCA(o CAOptions) (*CA, error) {
	d, err := days(o.Days, DefaultCADays)
	if err != nil {
		return nil, err
	}
	key, sn, id, err := newKey()
	if err != nil {
		return nil, err
	}
	cn := o.CommonName
	if cn == "" {
		cn = fmt.Sprintf("Steward Agent CA %d", sn.Uint64()%1e9)
	}
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-clockSkew)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"steward"}},
		NotBefore:             nb,
		NotAfter:              nb.Add(time.Duration(d) * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          id,
		AuthorityKeyId:        id,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// ParseCA reads a CA from its PEM certificate and key (as GenerateCA
// wrote them).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("ca certificate: %w: no PEM CERTIFICATE block", ErrNotPEM)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %v", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("ca certificate %q: %w", cert.Subject.String(), ErrNotCA)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("ca key: %w: no PEM PRIVATE KEY block", ErrNotPEM)
	}
	var signer crypto.Signer
	if k, err := x509.ParseECPrivateKey(kb.Bytes); err == nil {
		signer = k
	} else if k, err2 := x509.ParsePKCS8PrivateKey(kb.Bytes); err2 == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("ca key: not a signing key")
		}
		signer = s
	} else {
		return nil, fmt.Errorf("ca key: %v", err)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("ca key: %w", ErrKeyMismatch)
	}
	return &CA{Cert: cert, Key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// CertOptions configure CA.Issue.
type CertOptions struct {
	// Role is the certificate's role; its name <role>.<region>.steward is
	// the first DNS SAN and the CN.
	Role Role
	// Region of the role name ("": DefaultRegion).
	Region string
	// Days is the validity (0: DefaultCertDays).
	Days int
	// NotBefore is the start of validity (zero: now, less a minute).
	NotBefore time.Time
	// DNSNames and IPAddresses are additional SANs; server and client
	// certificates also name localhost and 127.0.0.1, as consul's do.
	DNSNames    []string
	IPAddresses []net.IP
}

// Cert is an issued certificate and its key, PEM-encoded.
type Cert struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// Issue signs a new role certificate with an ECDSA P-256 key, usable as a
// TLS server and client certificate.
func (ca *CA) Issue(o CertOptions) (*Cert, error) {
	if !o.Role.Valid() {
		return nil, fmt.Errorf("role: %q is not one of server, client, cli", o.Role)
	}
	region := o.Region
	if region == "" {
		region = DefaultRegion
	}
	if err := CheckRegion(region); err != nil {
		return nil, err
	}
	d, err := days(o.Days, DefaultCertDays)
	if err != nil {
		return nil, err
	}
	for _, n := range o.DNSNames {
		if _, _, ok := ParseRoleName(n); ok {
			return nil, fmt.Errorf("additional-dnsname: %q is a role name; the role comes from --server, --client or --cli", n)
		}
	}
	key, sn, id, err := newKey()
	if err != nil {
		return nil, err
	}
	name := o.Role.Name(region)
	dns := []string{name}
	ips := append([]net.IP(nil), o.IPAddresses...)
	if o.Role != RoleCLI {
		dns = append(dns, "localhost")
		ips = append(ips, net.IPv4(127, 0, 0, 1))
	}
	dns = append(dns, o.DNSNames...)
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-clockSkew)
	}
	notAfter := nb.Add(time.Duration(d) * 24 * time.Hour)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:   sn,
		Subject:        pkix.Name{CommonName: name, Organization: []string{"steward"}},
		NotBefore:      nb,
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:       dns,
		IPAddresses:    ips,
		SubjectKeyId:   id,
		AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// newKey makes a certificate's ECDSA P-256 key, a random serial number
// and the key's subject key ID.
func newKey() (*ecdsa.PrivateKey, *big.Int, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, nil, err
	}
	id, err := keyID(key.Public())
	if err != nil {
		return nil, nil, nil, err
	}
	return key, sn, id, nil
}
