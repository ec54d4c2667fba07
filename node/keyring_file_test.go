package node

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func testKey(t *testing.T) string {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A key is standard base64 of 16, 24 or 32 bytes; anything else is
// refused with the lengths allowed, and the error never repeats the key.
func TestParseKey(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		k := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n))
		if b, err := ParseKey(k); err != nil || len(b) != n {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	g := testKey(t)
	if b, err := ParseKey(g); err != nil || len(b) != 32 {
		t.Fatalf("keygen's key: %d bytes, %v", len(b), err)
	}
	for _, bad := range []string{"", "%%%", base64.StdEncoding.EncodeToString(make([]byte, 31)), base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))} {
		_, err := ParseKey(bad)
		if err == nil || !strings.Contains(err.Error(), "16, 24 or 32 bytes") {
			t.Fatalf("%q: %v", bad, err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Fatalf("the error repeats the key: %v", err)
		}
	}
	if _, err := ParseKey(base64.StdEncoding.EncodeToString(make([]byte, 20))); err == nil || !strings.Contains(err.Error(), "20 bytes") {
		t.Fatalf("20 bytes: %v", err)
	}
	// A spelling with stray low bits in its last character decodes to the
	// same key; the keyring answers use the canonical one.
	canon := base64.StdEncoding.EncodeToString(make([]byte, 16)) // "AAAAAAAAAAAAAAAAAAAAAA=="
	loose := canon[:21] + "B=="
	if b, err := ParseKey(loose); err != nil || canonicalKey(b) != canon {
		t.Fatalf("%s: %v, canonical %q", loose, err, canonicalKey(b))
	}
}

// Validate names the encrypt setting when its key is bad.
func TestConfigValidateEncrypt(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.DataDir = "n1", t.TempDir()
	if !c.EncryptVerifyIncoming || !c.EncryptVerifyOutgoing {
		t.Fatal("encrypt_verify_incoming and encrypt_verify_outgoing default to true")
	}
	c.Encrypt = "c2hvcnQ="
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "encrypt: key decodes to 5 bytes; a key is 16, 24 or 32 bytes") {
		t.Fatalf("validate: %v", err)
	}
	c.Encrypt = testKey(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The config file's top-level encrypt and encrypt_verify_* reach the
// configuration.
func TestConfigFileEncrypt(t *testing.T) {
	key := testKey(t)
	p := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(p, []byte("encrypt = \""+key+"\"\nencrypt_verify_incoming = false\nencrypt_verify_outgoing = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := ParseConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := fc.ApplyTo(&c); err != nil {
		t.Fatal(err)
	}
	if c.Encrypt != key || c.EncryptVerifyIncoming || c.EncryptVerifyOutgoing {
		t.Fatalf("encrypt settings: %q %v %v", c.Encrypt, c.EncryptVerifyIncoming, c.EncryptVerifyOutgoing)
	}
}

func keyringNodeFor(t *testing.T, dir, encrypt string) (*Node, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	return &Node{
		cfg:    Config{Name: "n1", DataDir: dir, Encrypt: encrypt, EncryptVerifyIncoming: true, EncryptVerifyOutgoing: true},
		logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info}),
	}, &logs
}

// The first start with encrypt persists the keyring (mode 0600); a change
// is persisted; at the next start the persisted keyring overrides
// encrypt, and the log says so.
func TestKeyringPersistence(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := testKey(t), testKey(t)
	n, _ := keyringNodeFor(t, dir, k1)
	ring, err := n.setupKeyring()
	if err != nil || ring == nil {
		t.Fatalf("setup: %v %v", ring, err)
	}
	path := filepath.Join(dir, filepath.FromSlash(KeyringFile))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode %v, want 0600", st.Mode().Perm())
	}
	raw1, _ := ParseKey(k1)
	raw2, _ := ParseKey(k2)
	if err := n.keyring.installKey(raw2); err != nil {
		t.Fatal(err)
	}
	if err := n.keyring.useKey(raw2); err != nil {
		t.Fatal(err)
	}
	if err := n.keyring.removeKey(raw2); !errors.Is(err, ErrRemovePrimary) {
		t.Fatalf("remove the primary: %v", err)
	}
	if err := n.keyring.removeKey(raw1); err != nil {
		t.Fatal(err)
	}
	if got := n.GossipKeys(); len(got) != 1 || got[0] != k2 {
		t.Fatalf("keyring %v", got)
	}
	if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(tmps) != 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}

	// Restart with the old encrypt: the persisted keyring wins, logged.
	n2, logs := keyringNodeFor(t, dir, k1)
	ring, err = n2.setupKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if p := ring.GetPrimaryKey(); !bytes.Equal(p, raw2) || len(ring.GetKeys()) != 1 {
		t.Fatal("the restarted keyring is not the persisted one")
	}
	if !strings.Contains(logs.String(), "persisted in the data dir overrides encrypt") || !strings.Contains(logs.String(), "encrypt_key_in_keyring=false") {
		t.Fatalf("log: %s", logs.String())
	}
	if strings.Contains(logs.String(), k1) || strings.Contains(logs.String(), k2) {
		t.Fatal("a key appears in the log")
	}
	// Without encrypt the persisted keyring still turns encryption on.
	n3, _ := keyringNodeFor(t, dir, "")
	if ring, err = n3.setupKeyring(); err != nil || ring == nil {
		t.Fatalf("persisted keyring without encrypt: %v %v", ring, err)
	}
	// No encrypt, no file: off, and the operations say so.
	n4, _ := keyringNodeFor(t, t.TempDir(), "")
	if ring, err = n4.setupKeyring(); err != nil || ring != nil {
		t.Fatalf("off: %v %v", ring, err)
	}
	if err := n4.keyring.installKey(raw1); !errors.Is(err, ErrEncryptionOff) {
		t.Fatalf("install when off: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n4.cfg.DataDir, filepath.FromSlash(KeyringFile))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a keyring file was written with encryption off: %v", err)
	}
}

// A corrupt keyring file stops the start with an error naming the file
// and the entry.
func TestKeyringFileCorrupt(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{`not json`, "not a JSON array of base64 keys"},
		{`[]`, "holds no key"},
		{`["AAEC"]`, "entry 0: key decodes to 3 bytes"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, filepath.FromSlash(KeyringFile))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		n, _ := keyringNodeFor(t, dir, testKey(t))
		_, err := n.setupKeyring()
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v", tc.content, err)
		}
	}
}

// The keyring holds at most MaxKeyringKeys keys; installing a key again
// is a no-op, and a key not installed cannot be used.
func TestKeyringLimits(t *testing.T) {
	n, _ := keyringNodeFor(t, t.TempDir(), testKey(t))
	if _, err := n.setupKeyring(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < MaxKeyringKeys; i++ {
		k, _ := ParseKey(testKey(t))
		if err := n.keyring.installKey(k); err != nil {
			t.Fatal(err)
		}
		if err := n.keyring.installKey(k); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(n.GossipKeys()); got != MaxKeyringKeys {
		t.Fatalf("%d keys", got)
	}
	k, _ := ParseKey(testKey(t))
	if err := n.keyring.installKey(k); !errors.Is(err, ErrKeyringFull) {
		t.Fatalf("install past the limit: %v", err)
	}
	if err := n.keyring.useKey(k); !errors.Is(err, ErrKeyNotInstalled) {
		t.Fatalf("use of a key not installed: %v", err)
	}
}
