package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
)

// steward audit against a three-node cluster whose first two nodes keep
// an audit log: a node's own log and another's through it (--node), -o
// json with stable snake_case keys, the filters, the table, malformed
// lines counted; usage errors exit 2, a node without the log exits 1
// naming it.
func TestAuditCLI(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithNodeConfig(func(i int, cfg *node.Config) { cfg.Audit.Enabled = i < 2 }))
	c.WaitForLeader()
	a0, a1 := c.Node(0).GRPCAddr(), c.Node(1).GRPCAddr()
	t.Setenv("STEWARD_TOKEN", "")
	testkit.Eventually(t, time.Minute, func() error {
		_, err := run(t, "--addr", a0, "kv", "put", "audit/zero", "secret-0")
		return err
	}, "put through node 0")
	testkit.Eventually(t, time.Minute, func() error {
		_, err := run(t, "--addr", a1, "kv", "put", "audit/one", "secret-1")
		return err
	}, "put through node 1")
	mustRun(t, "--addr", a0, "kv", "get", "audit/zero")

	var own map[string]json.RawMessage
	out := mustRun(t, "--addr", a0, "audit", "-o", "json")
	if err := json.Unmarshal([]byte(out), &own); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wantKeys(t, own, "entries", "files", "last_write_error", "malformed", "node", "truncated", "write_failures")
	var j auditJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if j.Node != c.Node(0).Name() || len(j.Entries) == 0 || strings.Contains(out, "secret-0") {
		t.Fatalf("node 0's log: %s", out)
	}
	last := j.Entries[len(j.Entries)-1]
	if last.Method != "/steward.v1.KV/Put" || last.Target["key"] != "audit/zero" || last.Result != "ok" || last.Node != c.Node(0).Name() {
		t.Fatalf("node 0's last entry: %+v", last)
	}
	for _, e := range j.Entries {
		if strings.Contains(e.Method, "KV/Get") || e.Target["key"] == "audit/one" {
			t.Fatalf("node 0 wrote %+v", e)
		}
	}
	var entry map[string]json.RawMessage
	raw := []map[string]json.RawMessage{}
	_ = json.Unmarshal(own["entries"], &raw)
	entry = raw[len(raw)-1]
	wantKeys(t, entry, "accessor", "duration_us", "error", "method", "node", "peer", "resource", "result", "subject", "target", "time")

	// Node 1's log through node 0.
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", a0, "audit", "--node", c.Node(1).Name(), "--method", "KV/Put", "--since", "1h", "-o", "json")), &j); err != nil {
		t.Fatal(err)
	}
	if j.Node != c.Node(1).Name() || len(j.Entries) == 0 || j.Entries[len(j.Entries)-1].Target["key"] != "audit/one" {
		t.Fatalf("node 1's log through node 0: %+v", j)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", a0, "audit", "--method", "KV/Delete", "-o", "json")), &j); err != nil || len(j.Entries) != 0 {
		t.Fatalf("filtered on a method never called: %+v %v", j, err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", a0, "audit", "--limit", "1", "-o", "json")), &j); err != nil || len(j.Entries) != 1 ||
		j.Entries[0].Target["key"] != "audit/zero" {
		t.Fatalf("--limit 1: %+v %v", j, err)
	}

	// A malformed line is counted, not fatal; the table says so.
	f, err := os.OpenFile(filepath.Join(c.Config(0).DataDir, "audit", "audit.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("{not json\n")
	f.Close()
	table := mustRun(t, "--addr", a0, "audit")
	if !strings.Contains(table, "METHOD") || !strings.Contains(table, "KV/Put") || !strings.Contains(table, "key=audit/zero") ||
		!strings.Contains(table, "1 malformed lines skipped") {
		t.Fatalf("table:\n%s", table)
	}

	for _, args := range [][]string{{"audit", "--limit", "0"}, {"audit", "--limit", "5001"}, {"audit", "--since", "yesterday"},
		{"audit", "-o", "yaml"}, {"audit", "extra"}} {
		if _, err := run(t, append([]string{"--addr", a0}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v, want exit 2", strings.Join(args, " "), err)
		}
	}
	if _, err := run(t, "--addr", a0, "audit", "--node", c.Node(2).Name()); exitCode(err) != 1 || !strings.Contains(err.Error(), "audit log is not enabled") ||
		!strings.Contains(err.Error(), c.Node(2).Name()) {
		t.Fatalf("a node without the log: %v", err)
	}
}

func wantKeys(t *testing.T, m map[string]json.RawMessage, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Fatalf("json keys %v, want %v", got, keys)
	}
}

// The agent's audit settings: the config file's audit block, the flag
// over it, and a rotation size under the minimum refused as a usage error
// naming the field.
func TestAgentAuditSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		file := filepath.Join(dir, "agent.hcl")
		if err := os.WriteFile(file, []byte("name = \"a\"\ndata_dir = \"/tmp/a\"\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	file := write("audit {\n  enabled = true\n  path = \"/var/log/steward/audit.log\"\n  rotate_bytes = 1048576\n  rotate_max_files = 3\n}\n")
	s, err := parseAgentFlags(t, "--config", file)
	if err != nil || !s.node.Audit.Enabled || s.node.Audit.Path != "/var/log/steward/audit.log" || s.node.Audit.RotateBytes != 1<<20 || s.node.Audit.RotateMaxFiles != 3 {
		t.Fatalf("file audit block: %+v %v", s.node.Audit, err)
	}
	if s, err = parseAgentFlags(t, "--config", file, "--audit-enabled=false"); err != nil || s.node.Audit.Enabled {
		t.Fatalf("flag over the file: %+v %v", s.node.Audit, err)
	}
	if _, err := parseAgentFlags(t, "--config", write("audit {\n  rotate_bytes = 10\n}\n")); exitCode(err) != 2 || !strings.Contains(err.Error(), "audit.rotate_bytes: 10") {
		t.Fatalf("rotate_bytes 10: %v", err)
	}
}
