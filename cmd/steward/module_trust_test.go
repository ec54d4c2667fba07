package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// Signing against a one-node cluster: keygen writes a PEM key pair (the
// private key mode 0600, never overwritten); trust add takes the PEM
// public key, a raw base64 key and openssl's keys; trust list -o json
// (snake_case keys); at strict a push unsigned, or signed by an untrusted
// key, fails with exit code 1 naming the signature check and stores
// nothing; sign + push --signature stores the version with its signer,
// shown by inspect; trust remove takes the key out.
func TestModuleSigningCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Modules: &mods}
	}))
	addr := c.Node(0).GRPCAddr()
	v1 := filepath.Join("..", "..", "examples", "modules", "counter-v1.wasm")
	v2 := filepath.Join("..", "..", "examples", "modules", "counter-v2.wasm")
	dir := t.TempDir()
	rel, stranger := filepath.Join(dir, "release"), filepath.Join(dir, "stranger")

	// keygen.
	for _, p := range []string{rel, stranger} {
		if out := mustRun(t, "module", "keygen", "--out", p); !strings.Contains(out, p+".key") || !strings.Contains(out, "fingerprint") {
			t.Fatalf("keygen: %s", out)
		}
	}
	if st, err := os.Stat(rel + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key %v, %v; want mode 0600", st, err)
	}
	keyPEM, _ := os.ReadFile(rel + ".key")
	pubPEM, _ := os.ReadFile(rel + ".pub")
	if !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("key files:\n%s\n%s", keyPEM, pubPEM)
	}
	if _, err := run(t, "module", "keygen", "--out", rel); exitCode(err) != 1 || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("keygen over existing files: %v", err)
	}
	if after, _ := os.ReadFile(rel + ".key"); string(after) != string(keyPEM) {
		t.Fatal("keygen overwrote the private key")
	}
	pub, err := store.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}

	// No key trusted yet.
	if out := mustRun(t, "--addr", addr, "module", "trust", "list"); !strings.Contains(out, "No signing key is trusted") {
		t.Fatalf("empty trust list: %s", out)
	}
	if out := mustRun(t, "--addr", addr, "module", "trust", "add", "release", rel+".pub"); !strings.Contains(out, "Key release trusted (fingerprint "+store.Fingerprint(pub)+")") {
		t.Fatalf("trust add: %s", out)
	}
	if out := mustRun(t, "--addr", addr, "module", "trust", "add", "release", rel+".pub"); !strings.Contains(out, "nothing changed") {
		t.Fatalf("trust add again: %s", out)
	}
	// The same key as raw base64 under another name: refused, it is trusted.
	rawFile := filepath.Join(dir, "raw.b64")
	_ = os.WriteFile(rawFile, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)
	if _, err := run(t, "--addr", addr, "module", "trust", "add", "dup", rawFile); exitCode(err) != 1 || !strings.Contains(err.Error(), `already trusted as "release"`) {
		t.Fatalf("trust add of a trusted key: %v", err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	_ = os.WriteFile(rawFile, []byte(base64.StdEncoding.EncodeToString(otherPub)), 0o644)
	mustRun(t, "--addr", addr, "module", "trust", "add", "raw", rawFile)
	junk := filepath.Join(dir, "junk")
	_ = os.WriteFile(junk, []byte("not a key"), 0o644)
	for _, args := range [][]string{
		{"module", "trust", "add", "junk", junk},
		{"module", "trust", "add", "bad/name", rel + ".pub"},
		{"module", "trust", "remove", "nope"},
		{"module", "sign", v1, "--key", rel + ".pub"},
		{"module", "push", "counter", v1, "--safety", "strict", "--signature", junk},
	} {
		if out, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 1 {
			t.Errorf("steward %s: %v (exit %d), want exit 1\n%s", strings.Join(args, " "), err, exitCode(err), out)
		}
	}
	for _, args := range [][]string{
		{"module", "keygen"},
		{"module", "sign", v1},
		{"module", "trust", "add", "x"},
		{"module", "trust", "list", "-o", "yaml"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}

	if path, err := exec.LookPath("openssl"); err == nil {
		// openssl's keys: genpkey's PKCS#8 private key signs, pkey -pubout's public key is trusted.
		okey, opub := filepath.Join(dir, "ossl.pem"), filepath.Join(dir, "ossl.pub")
		for _, args := range [][]string{{"genpkey", "-algorithm", "ed25519", "-out", okey}, {"pkey", "-in", okey, "-pubout", "-out", opub}} {
			if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, out)
			}
		}
		mustRun(t, "--addr", addr, "module", "trust", "add", "openssl", opub)
		mustRun(t, "module", "sign", v1, "--key", okey, "--out", filepath.Join(dir, "ossl.sig"))
		mustRun(t, "--addr", addr, "module", "trust", "remove", "openssl")
	} else {
		t.Log("openssl not installed: its key formats are not tried")
	}

	var list struct {
		Keys    []map[string]any `json:"keys"`
		MaxKeys int              `json:"max_keys"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "trust", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 2 || list.MaxKeys != store.MaxTrustedKeys || list.Keys[0]["name"] != "raw" || list.Keys[1]["name"] != "release" ||
		list.Keys[1]["fingerprint"] != store.Fingerprint(pub) || list.Keys[1]["added_by"] == "" || list.Keys[1]["added_at"] == nil {
		t.Fatalf("trust list -o json: %+v", list)
	}
	if out := mustRun(t, "--addr", addr, "module", "trust", "list"); !strings.Contains(out, store.Fingerprint(pub)[:16]) || !strings.Contains(out, "FINGERPRINT") {
		t.Fatalf("trust list: %s", out)
	}

	// Strict needs a signature by a trusted key now.
	if _, err := run(t, "--addr", addr, "module", "push", "counter", v1, "--safety", "strict"); exitCode(err) != 1 || !strings.Contains(err.Error(), "signature: unsigned module") {
		t.Fatalf("unsigned strict push: %v", err)
	}
	badSig := filepath.Join(dir, "stranger.sig")
	mustRun(t, "module", "sign", v1, "--key", stranger+".key", "--out", badSig)
	if _, err := run(t, "--addr", addr, "module", "push", "counter", v1, "--safety", "strict", "--signature", badSig); exitCode(err) != 1 ||
		!strings.Contains(err.Error(), "signature: signature not verified by a trusted key") {
		t.Fatalf("push signed by an untrusted key: %v", err)
	}
	if out := mustRun(t, "--addr", addr, "module", "list"); strings.Contains(out, "counter") {
		t.Fatalf("refused pushes stored something: %s", out)
	}
	local := filepath.Join(dir, "counter.wasm") // signed with the default --out, beside it
	if b, err := os.ReadFile(v1); err != nil || os.WriteFile(local, b, 0o644) != nil {
		t.Fatal(err)
	}
	v1, sig := local, local+".sig"
	if out := mustRun(t, "module", "sign", v1, "--key", rel+".key"); !strings.Contains(out, "Wrote "+sig) {
		t.Fatalf("sign: %s", out)
	}
	if b, _ := os.ReadFile(sig); len(strings.TrimSpace(string(b))) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		t.Fatalf("signature file %q: want the base64 of 64 bytes", b)
	}
	if out := mustRun(t, "--addr", addr, "module", "push", "counter", v1, "--safety", "strict", "--signature", sig); !strings.Contains(out, "Signed by trusted key release") {
		t.Fatalf("signed push: %s", out)
	}
	var insp map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "inspect", "counter@1", "-o", "json")), &insp); err != nil {
		t.Fatal(err)
	}
	if insp["signed_by"] != "release" || insp["signer_fingerprint"] != store.Fingerprint(pub) {
		t.Fatalf("inspect: %v", insp)
	}
	if out := mustRun(t, "--addr", addr, "module", "inspect", "counter@1"); !strings.Contains(out, "Signed by:  release") {
		t.Fatalf("inspect: %s", out)
	}

	// Removed: its signature no longer counts.
	mustRun(t, "--addr", addr, "module", "trust", "remove", "release")
	sig2 := filepath.Join(dir, "v2.sig")
	mustRun(t, "module", "sign", v2, "--key", rel+".key", "--out", sig2)
	if _, err := run(t, "--addr", addr, "module", "push", "counter", v2, "--safety", "strict", "--signature", sig2); exitCode(err) != 1 ||
		!strings.Contains(err.Error(), "none of the 1 trusted keys (raw)") {
		t.Fatalf("push signed by a removed key: %v", err)
	}
	if _, err := run(t, "--addr", addr, "module", "inspect", "counter@2"); exitCode(err) != 1 {
		t.Fatalf("counter@2 stored after a refusal: %v", err)
	}
}
