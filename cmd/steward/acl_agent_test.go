package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The agent's ACL settings: the config file's acl block, the flags over
// it, and a default policy that is neither deny nor allow refused as a
// usage error naming it.
func TestAgentACLSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(file, []byte("name = \"a\"\ndata_dir = \"/tmp/a\"\nacl {\n  enabled = true\n  default_policy = \"allow\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := parseAgentFlags(t, "--config", file)
	if err != nil || !s.node.ACL.Enabled || s.node.ACL.DefaultPolicy != "allow" {
		t.Fatalf("file acl block: %+v %v", s.node.ACL, err)
	}
	s, err = parseAgentFlags(t, "--config", file, "--acl-default-policy", "deny")
	if err != nil || !s.node.ACL.Enabled || s.node.ACL.DefaultPolicy != "deny" {
		t.Fatalf("flag over the file: %+v %v", s.node.ACL, err)
	}
	s, err = parseAgentFlags(t, "--name", "b", "--data-dir", dir, "--acl-enabled")
	if err != nil || !s.node.ACL.Enabled || s.node.ACL.DefaultPolicy != "deny" {
		t.Fatalf("--acl-enabled: %+v %v", s.node.ACL, err)
	}
	if _, err := parseAgentFlags(t, "--name", "b", "--data-dir", dir, "--acl-enabled", "--acl-default-policy", "maybe"); exitCode(err) != 2 || !strings.Contains(err.Error(), `acl.default_policy: "maybe"`) {
		t.Fatalf("bad default policy: %v", err)
	}
	if line := securityLine(s.node, false); !strings.Contains(line, "ACLs on") || !strings.Contains(line, "gossip encryption off") {
		t.Errorf("security line with ACLs on: %q", line)
	}
}
