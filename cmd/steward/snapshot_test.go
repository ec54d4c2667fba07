package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

func TestSnapshotCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		ccfg, scfg := coordination.DefaultConfig(), snapshot.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg, Snapshot: &scfg}
	}))
	addr := c.Node(0).GRPCAddr()
	dir := t.TempDir()
	tree := filepath.Join(dir, "t.json")
	_ = os.WriteFile(tree, []byte(`{"name":"tally","node":"n1","children":[{"id":"count","behavior":"counter"}]}`), 0o600)
	mustRun(t, "--addr", addr, "sup", "apply", tree)
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "send", "tree:tally/count", "inc 4", "--kind", "call")
		return err
	}, "tally running")

	var snap map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "snapshot", "capture", "--include-state", "-o", "json")), &snap); err != nil {
		t.Fatal(err)
	}
	id, _ := snap["id"].(string)
	if snap["status"] != "complete" || !strings.HasPrefix(id, "snap-") {
		t.Fatalf("capture: %v", snap)
	}
	var insp map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "snapshot", "inspect", id, "--full", "-o", "json")), &insp); err != nil {
		t.Fatal(err)
	}
	parts, _ := insp["parts"].([]any)
	if insp["status"] != "complete" || len(parts) != 1 {
		t.Fatalf("inspect: %v", insp)
	}
	if p := parts[0].(map[string]any); p["node"] != "n1" || p["content"] == nil {
		t.Fatalf("part: %v", p)
	}
	mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "inc 10", "--kind", "call")
	id2 := snapID(t, mustRun(t, "--addr", addr, "snapshot", "capture", "--include-state", "-o", "json"))
	var changes []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "snapshot", "diff", id, id2, "-o", "json")), &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0]["kind"] != "state_changed" || changes[0]["subject"] != "tally/count" {
		t.Fatalf("diff: %v", changes)
	}

	file := filepath.Join(dir, "s.snap")
	mustRun(t, "--addr", addr, "snapshot", "export", id, file)
	data, _ := os.ReadFile(file)
	_ = os.WriteFile(file+".bad", data[:len(data)-5], 0o600)
	if _, err := run(t, "--addr", addr, "snapshot", "import", file+".bad"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("truncated import: %v", err)
	}
	mustRun(t, "--addr", addr, "snapshot", "delete", id)
	if out := mustRun(t, "--addr", addr, "snapshot", "import", file, "-o", "json"); !strings.Contains(out, id) {
		t.Fatalf("import: %s", out)
	}

	var rep map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "snapshot", "restore", id, "--dry-run", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["dry_run"] != true || rep["plan"] == nil {
		t.Fatalf("dry run: %v", rep)
	}
	if out := mustRun(t, "--addr", addr, "snapshot", "restore", id, "--watch"); !strings.Contains(out, "succeeded") {
		t.Fatalf("restore: %s", out)
	}
	if out := mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "get", "--kind", "call"); strings.TrimSpace(out) != "4" {
		t.Fatalf("count after restore: %q", out)
	}
	if _, err := run(t, "--addr", addr, "snapshot", "inspect", "snap-nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown id: %v", err)
	}
}

func snapID(t *testing.T, out string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m["id"].(string)
}
