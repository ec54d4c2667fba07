package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
)

func writeConf(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Any name but *.json is read as HCL, *.conf included, and a parse error
// says which the file was read as.
func TestConfigFileFormatByName(t *testing.T) {
	for _, name := range []string{"agent.hcl", "agent.conf", "agent"} {
		fc, err := node.ParseConfigFile(writeConf(t, name, "name = \"n1\"\nresource_sample_interval = \"7s\"\n"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d, set, err := fc.SampleInterval(); *fc.Name != "n1" || !set || err != nil || d != 7*time.Second {
			t.Fatalf("%s: name %q, sample interval %s %v %v", name, *fc.Name, d, set, err)
		}
	}
	for _, tc := range []struct{ name, src, want string }{
		{"agent.conf", `{"name": "n1"}`, "read as HCL"},
		{"agent.hcl", "name = ", "read as HCL"},
		{"agent.conf", "colour = \"blue\"", "read as HCL"},
		{"agent.json", `name = "n1"`, "read as JSON"},
	} {
		_, err := node.ParseConfigFile(writeConf(t, tc.name, tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s %q: err = %v; want it to name the file and say %q", tc.name, tc.src, err, tc.want)
		}
	}
	fc, err := node.ParseConfigFile(writeConf(t, "agent.hcl", `resource_sample_interval = "often"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fc.SampleInterval(); err == nil || !strings.Contains(err.Error(), "resource_sample_interval") {
		t.Fatalf("bad duration: %v", err)
	}
}

// The mode blocks, named as Nomad names them, in HCL and JSON: server {
// enabled, bootstrap_expect } and client { enabled }. A server wins over a
// client; bootstrap_expect may be given at the top level or in the server
// block, and given in both the two must agree.
func TestConfigFileServerClientBlocks(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		client    bool
		expect    int
	}{
		{"agent.hcl", "server {\n  enabled = true\n  bootstrap_expect = 3\n}\n", false, 3},
		{"agent.json", `{"server": {"enabled": true, "bootstrap_expect": 5}}`, false, 5},
		{"agent.hcl", "client {\n  enabled = true\n}\n", true, 0},
		{"agent.json", `{"client": {"enabled": true}}`, true, 0},
		{"agent.hcl", "server {\n  enabled = true\n}\nclient {\n  enabled = true\n}\n", false, 0},
		{"agent.hcl", "bootstrap_expect = 3\nserver {\n  enabled = true\n}\n", false, 3},
		{"agent.hcl", "bootstrap_expect = 3\nserver {\n  enabled = true\n  bootstrap_expect = 3\n}\n", false, 3},
	} {
		fc, err := node.ParseConfigFile(writeConf(t, tc.name, tc.src))
		if err != nil {
			t.Fatalf("%s %q: %v", tc.name, tc.src, err)
		}
		c := node.DefaultConfig()
		c.Client = !tc.client
		if err := fc.ApplyTo(&c); err != nil {
			t.Fatalf("%s %q: %v", tc.name, tc.src, err)
		}
		if c.Client != tc.client || c.BootstrapExpect != tc.expect {
			t.Errorf("%s %q: client %v, bootstrap-expect %d; want %v, %d", tc.name, tc.src, c.Client, c.BootstrapExpect, tc.client, tc.expect)
		}
	}

	// The server block's tuning.
	fc, err := node.ParseConfigFile(writeConf(t, "agent.hcl", "server {\n  enabled = true\n  client_resume_commits = 100\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := node.DefaultConfig()
	if err := fc.ApplyTo(&c); err != nil || c.ClientResumeCommits != 100 {
		t.Errorf("client_resume_commits: %d, %v; want 100", c.ClientResumeCommits, err)
	}

	// Neither block: the mode is the agent's to settle, left as it was.
	fc, err = node.ParseConfigFile(writeConf(t, "agent.hcl", `name = "n1"`))
	if err != nil {
		t.Fatal(err)
	}
	if fc.ServerEnabled() != nil || fc.ClientEnabled() != nil {
		t.Fatalf("no blocks: server %v, client %v", fc.ServerEnabled(), fc.ClientEnabled())
	}
	for _, was := range []bool{false, true} {
		c := node.DefaultConfig()
		c.Client = was
		if err := fc.ApplyTo(&c); err != nil || c.Client != was {
			t.Fatalf("no blocks: client %v (was %v), %v", c.Client, was, err)
		}
	}

	for _, tc := range []struct{ name, src string }{
		{"agent.hcl", "bootstrap_expect = 3\nserver {\n  enabled = true\n  bootstrap_expect = 5\n}\n"},
		{"agent.json", `{"bootstrap_expect": 3, "server": {"enabled": true, "bootstrap_expect": 5}}`},
	} {
		fc, err := node.ParseConfigFile(writeConf(t, tc.name, tc.src))
		if err != nil {
			t.Fatal(err)
		}
		c := node.DefaultConfig()
		err = fc.ApplyTo(&c)
		if err == nil || !strings.Contains(err.Error(), "bootstrap_expect = 3") || !strings.Contains(err.Error(), "server.bootstrap_expect = 5") {
			t.Errorf("%s: both bootstrap_expect keys, differing: err = %v; want it to name both", tc.name, err)
		}
	}
	if _, err := node.ParseConfigFile(writeConf(t, "agent.hcl", "server {\n  enable = true\n}\n")); err == nil || !strings.Contains(err.Error(), "enable") {
		t.Errorf("unknown key in the server block: %v", err)
	}
}
