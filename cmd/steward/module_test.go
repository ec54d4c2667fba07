package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// The module commands against a one-node cluster: push (and again: a
// no-op), list, history, inspect with -o json (snake_case keys), a tree
// running the stored module, delete refused while it runs and while
// active; a refused push fails with exit code 1 naming the check; bad
// usage exits 2.
func TestModuleCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Modules: &mods}
	}))
	addr := c.Node(0).GRPCAddr()
	wasm := filepath.Join("..", "..", "examples", "modules", "counter-v1.wasm")

	out := mustRun(t, "--addr", addr, "module", "push", "counter", wasm)
	if !strings.Contains(out, "Module counter@1 stored") || !strings.Contains(out, `"wasm:counter@1"`) {
		t.Fatalf("push: %s", out)
	}
	var again map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "push", "counter", wasm, "--version", "1", "-o", "json")), &again); err != nil {
		t.Fatal(err)
	}
	if again["unchanged"] != true {
		t.Fatalf("re-push: %v", again)
	}
	out, err := run(t, "--addr", addr, "module", "push", "ticker", wasm)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "name:") {
		t.Fatalf("push under another name: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	for _, args := range [][]string{
		{"module", "push", "counter", wasm, "--safety", "reckless"},
		{"module", "push", "counter"},
		{"module", "inspect", "counter"},
		{"module", "delete", "@1"},
		{"module", "list", "-o", "yaml"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}

	var list map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	mods, _ := list["modules"].([]any)
	if len(mods) != 1 || mods[0].(map[string]any)["active"] != "1" || list["max_bytes"] != float64(store.DefaultMaxTotalBytes) {
		t.Fatalf("list: %v", list)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "history", "counter", "-o", "json")), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0]["version"] != "1" || hist[0]["pushed_by"] == "" || hist[0]["active"] != true {
		t.Fatalf("history: %v", hist)
	}

	dir := t.TempDir()
	tree := filepath.Join(dir, "t.json")
	_ = os.WriteFile(tree, []byte(`{"name":"wasmtally","node":"n1","children":[{"id":"count","behavior":"wasm:counter@1"}]}`), 0o600)
	mustRun(t, "--addr", addr, "sup", "apply", tree)
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "send", "tree:wasmtally/count", "inc 4", "--kind", "call")
		return err
	}, "wasmtally running")
	if out := mustRun(t, "--addr", addr, "proc", "send", "tree:wasmtally/count", "get", "--kind", "call"); !strings.Contains(out, "4") {
		t.Fatalf("get: %s", out)
	}

	var insp map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "inspect", "counter@1", "-o", "json")), &insp); err != nil {
		t.Fatal(err)
	}
	pinned, _ := insp["pinned_by"].([]any)
	caps, _ := insp["capabilities"].([]any)
	if insp["behavior"] != "wasm:counter@1" || insp["safety"] != "moderate" || len(pinned) != 1 || len(caps) == 0 || insp["manifest"] == nil {
		t.Fatalf("inspect: %v", insp)
	}
	if _, err := run(t, "--addr", addr, "module", "delete", "counter@1"); err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "wasmtally") {
		t.Fatalf("delete while a tree runs it: %v", err)
	}
	if _, err := run(t, "--addr", addr, "module", "inspect", "counter@7"); err == nil || exitCode(err) != 1 {
		t.Fatalf("inspect of a version not stored: %v", err)
	}
}
