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
