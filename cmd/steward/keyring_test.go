package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
)

// keygen prints a fresh 32-byte key in base64.
func TestKeygen(t *testing.T) {
	a := strings.TrimSpace(mustRun(t, "keygen"))
	b := strings.TrimSpace(mustRun(t, "keygen"))
	raw, err := base64.StdEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("keygen printed %q: %d bytes, %v", a, len(raw), err)
	}
	if a == b {
		t.Fatal("two keys from keygen are equal")
	}
	if _, err := run(t, "keygen", "extra"); exitCode(err) != 2 {
		t.Fatalf("keygen with an argument: %v", err)
	}
}

// The keyring commands rotate the key of a 3-node cluster: list shows
// each key with its node count (3/3) and each node's primary, -o json
// with snake_case keys; a refused operation exits 1 naming the nodes; a
// bad key argument is a usage error (exit 2), nothing sent.
func TestKeyringCLI(t *testing.T) {
	k1 := strings.TrimSpace(mustRun(t, "keygen"))
	k2 := strings.TrimSpace(mustRun(t, "keygen"))
	c := testkit.NewCluster(t, 3, testkit.WithConfig(func(c *node.Config) { c.Encrypt = k1 }))
	addr := c.Followers()[0].GRPCAddr()

	var list map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "keyring", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"total_nodes", "keys", "nodes", "failed_nodes"} {
		if _, ok := list[k]; !ok {
			t.Errorf("keyring list -o json lacks %q: %v", k, list)
		}
	}
	keys := list["keys"].([]any)
	if list["total_nodes"].(float64) != 3 || len(keys) != 1 {
		t.Fatalf("list: %v", list)
	}
	k := keys[0].(map[string]any)
	if k["key"] != k1 || k["nodes"].(float64) != 3 || k["primary_nodes"].(float64) != 3 {
		t.Fatalf("list key: %v", k)
	}
	nd := list["nodes"].([]any)[0].(map[string]any)
	for _, f := range []string{"name", "mode", "grpc_addr", "keys", "primary_key"} {
		if _, ok := nd[f]; !ok {
			t.Errorf("node entry lacks %q: %v", f, nd)
		}
	}

	out := mustRun(t, "--addr", addr, "keyring", "install", k2)
	if !strings.Contains(out, "Installed the key on 3/3 nodes") || !strings.Contains(out, k2+"  3/3    0/3") {
		t.Fatalf("install:\n%s", out)
	}
	// Removing the primary is refused, naming every node; nothing changes.
	out, err := run(t, "--addr", addr, "keyring", "remove", k1)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "(n1, n2, n3)") || !strings.Contains(err.Error(), "primary key") {
		t.Fatalf("remove of the primary: %v\n%s", err, out)
	}
	// -o json prints every node's result first, then fails.
	out, err = run(t, "--addr", addr, "keyring", "remove", k1, "-o", "json")
	if exitCode(err) != 1 {
		t.Fatalf("remove of the primary, -o json: %v", err)
	}
	var failed map[string]any
	if jerr := json.Unmarshal([]byte(out), &failed); jerr != nil || len(failed["failed_nodes"].([]any)) != 3 || !strings.Contains(failed["error"].(string), "primary key") {
		t.Fatalf("remove of the primary, -o json: %s %v", out, jerr)
	}
	mustRun(t, "--addr", addr, "keyring", "use", k2)
	mustRun(t, "--addr", addr, "keyring", "remove", k1)
	out = mustRun(t, "--addr", addr, "keyring", "list")
	if !strings.Contains(out, k2+"  3/3    3/3") || strings.Contains(out, k1) {
		t.Fatalf("list after the rotation:\n%s", out)
	}
	out = mustRun(t, "--addr", addr, "keyring", "list", "--local-only", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || list["total_nodes"].(float64) != 1 {
		t.Fatalf("local list: %s %v", out, err)
	}

	for _, args := range [][]string{
		{"keyring", "install", "not-a-key"},
		{"keyring", "use", base64.StdEncoding.EncodeToString(make([]byte, 8))},
		{"keyring", "remove"},
		{"keyring", "list", "-o", "yaml"},
	} {
		_, err := run(t, append([]string{"--addr", addr}, args...)...)
		if exitCode(err) != 2 {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
		if args[1] != "remove" && args[1] != "list" && !strings.Contains(err.Error(), "16, 24 or 32 bytes") {
			t.Fatalf("%v: %v", args, err)
		}
	}
}

// A bad --encrypt, or encrypt in the config file, is a usage error naming
// where it was given and the lengths allowed; the verify flags default to
// true and are set by the file and the flags.
func TestAgentEncryptSettings(t *testing.T) {
	settle := func(args ...string) (agentSettings, error) {
		f := &agentFlags{}
		cmd := newAgentCmdWith(f)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return agentConfig(cmd, f)
	}
	s, err := settle("--dev")
	if err != nil || s.node.Encrypt != "" || !s.node.EncryptVerifyIncoming || !s.node.EncryptVerifyOutgoing {
		t.Fatalf("defaults: %+v %v", s.node, err)
	}
	_, err = settle("--dev", "--encrypt", "c2hvcnQ=")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--encrypt: key decodes to 5 bytes; a key is 16, 24 or 32 bytes") {
		t.Fatalf("bad --encrypt: %v", err)
	}
	_, err = settle("--dev", "--encrypt", "")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--encrypt: the key is empty") {
		t.Fatalf("empty --encrypt: %v", err)
	}
	conf := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(conf, []byte("dev = true\nencrypt = \"%%%\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = settle("--config", conf)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "encrypt in "+conf+": key is not standard base64") {
		t.Fatalf("bad encrypt in the file: %v", err)
	}
	key := strings.TrimSpace(mustRun(t, "keygen"))
	s, err = settle("--dev", "--encrypt", key, "--encrypt-verify-incoming=false", "--encrypt-verify-outgoing=false")
	if err != nil || s.node.Encrypt != key || s.node.EncryptVerifyIncoming || s.node.EncryptVerifyOutgoing {
		t.Fatalf("flags: %+v %v", s.node, err)
	}
}
