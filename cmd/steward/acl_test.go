package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The ACL commands against a one-node cluster with ACLs on: bootstrap
// (-o json, once), a policy from a file and one from standard input, a
// token with --ttl, list/read/self (-o json snake_case, no secret after
// creation), the token from STEWARD_TOKEN or --token, a write the token
// may not do refused with exit 1 naming the permission, usage errors
// exit 2, a policy in use not deleted, revoke.
func TestACLCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithACLs())
	addr := c.Node(0).GRPCAddr()
	t.Setenv("STEWARD_ADDR", addr)
	t.Setenv("STEWARD_TOKEN", "")

	if _, err := run(t, "kv", "put", "app/x", "1"); exitCode(err) != 1 || !strings.Contains(err.Error(), `permission denied: kv write on "app/x" (token anonymous)`) {
		t.Fatalf("anonymous put: %v", err)
	}
	var boot struct {
		AccessorID string   `json:"accessor_id"`
		SecretID   string   `json:"secret_id"`
		Management bool     `json:"management"`
		Policies   []string `json:"policies"`
	}
	// A secret of the caller's choosing: a file without a UUID is a usage
	// error, and the server refuses one too, committing nothing.
	badSecret := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(badSecret, []byte("not-a-uuid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "acl", "bootstrap", badSecret); exitCode(err) != 2 || !strings.Contains(err.Error(), "does not hold a UUID") {
		t.Fatalf("bootstrap with a bad secret file: %v", err)
	}
	if _, err := pb.NewACLClient(c.Conn(0)).Bootstrap(testkit.Ctx(t, 10*time.Second), &pb.ACLBootstrapRequest{BootstrapSecret: "zz"}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "bootstrap_secret") {
		t.Fatalf("bootstrap_secret zz: %v, want InvalidArgument naming bootstrap_secret", err)
	}
	chosen := "3f0c9a52-7d1e-4b8a-9c2f-5e6d7a8b9c0d"
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(chosen+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "acl", "bootstrap", secretFile, "-o", "json")), &boot); err != nil || boot.SecretID != chosen || !boot.Management {
		t.Fatalf("bootstrap with %s: %+v %v", chosen, boot, err)
	}
	if _, err := run(t, "acl", "bootstrap"); exitCode(err) != 1 || !strings.Contains(err.Error(), "already bootstrapped") {
		t.Fatalf("second bootstrap: %v", err)
	}
	if _, err := run(t, "acl", "bootstrap", secretFile); exitCode(err) != 1 || !strings.Contains(err.Error(), "already bootstrapped") {
		t.Fatalf("second bootstrap with the same secret: %v", err)
	}
	mgmt := []string{"--token", boot.SecretID}

	rules := filepath.Join(t.TempDir(), "read.hcl")
	if err := os.WriteFile(rules, []byte(`kv_prefix "" { policy = "read" }`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, append(mgmt, "acl", "policy", "create", "--name", "kv-read", "--rules", rules, "--description", "reads kv")...); !strings.Contains(out, "Policy kv-read written") {
		t.Fatalf("policy create: %s", out)
	}
	if _, err := run(t, append(mgmt, "acl", "policy", "create", "--name", "bad", "--rules", rules+".missing")...); err == nil {
		t.Fatal("a rules file that does not exist was accepted")
	}
	if _, err := run(t, append(mgmt, "acl", "policy", "create", "--rules", rules)...); exitCode(err) != 2 {
		t.Fatalf("policy create without --name: %v, want exit 2", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	_ = os.WriteFile(bad, []byte(`kv_prefix "" { policy = "sudo" }`), 0o644)
	if _, err := run(t, append(mgmt, "acl", "policy", "create", "--name", "bad", "--rules", bad)...); exitCode(err) != 1 || !strings.Contains(err.Error(), `kv_prefix[""].policy: "sudo" is not a policy`) {
		t.Fatalf("bad rules: %v", err)
	}
	var pols []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Rules       string `json:"rules"`
		ModifyIndex uint64 `json:"modify_index"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, append(mgmt, "acl", "policy", "list", "-o", "json")...)), &pols); err != nil || len(pols) != 1 || pols[0].Name != "kv-read" || pols[0].Description != "reads kv" || pols[0].ModifyIndex == 0 {
		t.Fatalf("policy list: %+v %v", pols, err)
	}
	if out := mustRun(t, append(mgmt, "acl", "policy", "read", "kv-read")...); !strings.Contains(out, `kv_prefix "" { policy = "read" }`) {
		t.Fatalf("policy read: %s", out)
	}

	var tok struct {
		AccessorID     string   `json:"accessor_id"`
		SecretID       string   `json:"secret_id"`
		Policies       []string `json:"policies"`
		ExpirationTime *string  `json:"expiration_time"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, append(mgmt, "acl", "token", "create", "--policy", "kv-read", "--description", "ci", "--ttl", "24h", "-o", "json")...)), &tok); err != nil || tok.SecretID == "" || tok.ExpirationTime == nil || len(tok.Policies) != 1 {
		t.Fatalf("token create: %+v %v", tok, err)
	}
	if _, err := run(t, append(mgmt, "acl", "token", "create")...); exitCode(err) != 2 {
		t.Fatalf("token create without --policy: %v, want exit 2", err)
	}
	out := mustRun(t, append(mgmt, "acl", "token", "list", "-o", "json")...)
	if strings.Contains(out, tok.SecretID) || strings.Contains(out, boot.SecretID) || strings.Contains(out, "secret_id") || !strings.Contains(out, tok.AccessorID) {
		t.Fatalf("token list shows secrets or misses the token: %s", out)
	}
	if out := mustRun(t, append(mgmt, "acl", "token", "read", tok.AccessorID)...); !strings.Contains(out, "kv-read") || strings.Contains(out, tok.SecretID) {
		t.Fatalf("token read: %s", out)
	}

	// The new token from STEWARD_TOKEN: reads, cannot write.
	mustRun(t, append(mgmt, "kv", "put", "app/x", "hello")...)
	t.Setenv("STEWARD_TOKEN", tok.SecretID)
	if out := mustRun(t, "acl", "token", "self", "-o", "json"); !strings.Contains(out, `"accessor_id": "`+tok.AccessorID+`"`) {
		t.Fatalf("token self: %s", out)
	}
	if out := mustRun(t, "kv", "get", "app/x"); !strings.Contains(out, "hello") {
		t.Fatalf("kv get with the read token: %s", out)
	}
	if _, err := run(t, "kv", "put", "app/x", "bye"); exitCode(err) != 1 || !strings.Contains(err.Error(), `kv write on "app/x" (token `+tok.AccessorID[:8]) {
		t.Fatalf("kv put with the read token: %v", err)
	}
	if _, err := run(t, "acl", "token", "list"); exitCode(err) != 1 || !strings.Contains(err.Error(), "acl read") {
		t.Fatalf("token list with the read token: %v", err)
	}
	t.Setenv("STEWARD_TOKEN", "")

	if _, err := run(t, append(mgmt, "acl", "policy", "delete", "kv-read")...); exitCode(err) != 1 || !strings.Contains(err.Error(), "used by token "+tok.AccessorID) {
		t.Fatalf("delete of a policy in use: %v", err)
	}
	if out := mustRun(t, append(mgmt, "acl", "token", "delete", tok.AccessorID)...); !strings.Contains(out, "deleted") {
		t.Fatalf("token delete: %s", out)
	}
	if _, err := run(t, "--token", tok.SecretID, "kv", "get", "app/x"); exitCode(err) != 1 || !strings.Contains(err.Error(), "matches no token") {
		t.Fatalf("revoked token: %v", err)
	}
	mustRun(t, append(mgmt, "acl", "policy", "delete", "kv-read")...)
}

// A cluster with TLS and ACLs on: the CLI with a cli certificate and a
// token works; the same certificate with a kv-read token cannot write nor
// kill a process (exit 1, naming the permission); without a token it is
// refused.
func TestCLIWithTLSAndACLs(t *testing.T) {
	x := testkit.NewTLS(t, "")
	c := testkit.NewCluster(t, 3, testkit.WithTLS(x), testkit.WithACLs(), testkit.WithStack(func(string) stack.Config {
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig()}
	}))
	f := x.Issue(tlsutil.RoleCLI, tlsutil.CertOptions{})
	flags := []string{"--addr", c.Followers()[0].GRPCAddr(), "--ca-file", f.CAFile, "--cert-file", f.CertFile, "--key-file", f.KeyFile}
	t.Setenv("STEWARD_TOKEN", "")
	cli := func(args ...string) []string { return append(append([]string(nil), flags...), args...) }

	if _, err := run(t, cli("kv", "put", "app/x", "1")...); exitCode(err) != 1 || !strings.Contains(err.Error(), `kv write on "app/x" (token anonymous)`) {
		t.Fatalf("anonymous put over TLS: %v", err)
	}
	var boot struct {
		SecretID string `json:"secret_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, cli("acl", "bootstrap", "-o", "json")...)), &boot); err != nil || boot.SecretID == "" {
		t.Fatalf("bootstrap over TLS: %v", err)
	}
	mgmt := cli("--token", boot.SecretID)
	mustRun(t, append(mgmt, "kv", "put", "app/x", "hello")...)
	rules := filepath.Join(t.TempDir(), "r.hcl")
	_ = os.WriteFile(rules, []byte(`kv_prefix "" { policy = "read" }`), 0o644)
	mustRun(t, append(mgmt, "acl", "policy", "create", "--name", "kv-read", "--rules", rules)...)
	var tok struct {
		AccessorID string `json:"accessor_id"`
		SecretID   string `json:"secret_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, append(mgmt, "acl", "token", "create", "--policy", "kv-read", "-o", "json")...)), &tok); err != nil {
		t.Fatal(err)
	}
	follower := c.Followers()[0]
	testkit.Eventually(t, 30*time.Second, func() error {
		if got, _ := follower.State().ACLToken(tok.AccessorID); got == nil {
			return fmt.Errorf("%s has not the token yet", follower.Name())
		}
		return nil
	}, "token replicated")
	reader := cli("--token", tok.SecretID)
	if out := mustRun(t, append(reader, "kv", "get", "app/x")...); !strings.Contains(out, "hello") {
		t.Fatalf("read with the kv-read token: %s", out)
	}
	if _, err := run(t, append(reader, "kv", "put", "app/x", "bye")...); exitCode(err) != 1 || !strings.Contains(err.Error(), `kv write on "app/x"`) {
		t.Fatalf("write with the kv-read token: %v", err)
	}
	if _, err := run(t, append(reader, "proc", "kill", "n1/1")...); exitCode(err) != 1 || !strings.Contains(err.Error(), `process write on "n1"`) {
		t.Fatalf("kill with the kv-read token: %v", err)
	}
}
