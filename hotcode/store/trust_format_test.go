package store_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/steward/steward/hotcode/store"
)

// The key and signature formats operators hold: PEM or raw base64 keys,
// base64 or raw signatures; anything else is refused saying why.
func TestKeyAndSignatureFormats(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	for name, in := range map[string]string{
		"pem":        string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"std base64": base64.StdEncoding.EncodeToString(pub) + "\n",
		"raw base64": "  " + base64.RawStdEncoding.EncodeToString(pub),
		"url base64": base64.URLEncoding.EncodeToString(pub),
	} {
		got, err := store.ParsePublicKey([]byte(in))
		if err != nil || !bytes.Equal(got, pub) {
			t.Errorf("%s: %x, %v; want %x", name, got, err, pub)
		}
	}
	for name, tc := range map[string]struct{ in, want string }{
		"private pem":  {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})), `type "PRIVATE KEY", want "PUBLIC KEY"`},
		"bad pem":      {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})), "PEM public key"},
		"short base64": {base64.StdEncoding.EncodeToString(pub[:31]), "base64 of 31 bytes, an ed25519 public key is 32"},
		"junk":         {"not a key!", "neither PEM nor base64"},
	} {
		if _, err := store.ParsePublicKey([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}

	sig := ed25519.Sign(priv, []byte("module bytes"))
	for name, in := range map[string][]byte{
		"base64": []byte(base64.StdEncoding.EncodeToString(sig) + "\n"),
		"raw":    sig,
	} {
		if got, err := store.ParseSignature(in); err != nil || !bytes.Equal(got, sig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"short": {[]byte(base64.StdEncoding.EncodeToString(sig[:63])), "base64 of 63 bytes, an ed25519 signature is 64"},
		"junk":  {[]byte("%%%"), "not base64"},
	} {
		if _, err := store.ParseSignature(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
	if fp := store.Fingerprint(pub); len(fp) != 64 {
		t.Fatalf("fingerprint %q", fp)
	}
}
