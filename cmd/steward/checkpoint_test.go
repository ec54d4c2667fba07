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
	"github.com/steward/steward/hotcode/checkpoint"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// The checkpoint commands against a one-node cluster: create with states
// and without (-o json, snake_case keys), list, inspect with the states,
// a rollback of what runs already (a no-op), a rollback that puts a
// count back, delete; an unknown id fails with exit code 1 saying so;
// bad usage exits 2.
func TestCheckpointCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		mods, coord := store.DefaultConfig(), coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Modules: &mods, Deployments: true, Checkpoints: true}
	}))
	addr := c.Node(0).GRPCAddr()
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join("..", "..", "examples", "modules", "counter-v1.wasm"))
	tree := filepath.Join(t.TempDir(), "t.json")
	_ = os.WriteFile(tree, []byte(`{"name":"tally","node":"n1","children":[{"id":"count","module":"counter"}]}`), 0o600)
	mustRun(t, "--addr", addr, "sup", "apply", tree)
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "send", "tree:tally/count", "inc 4", "--kind", "call")
		return err
	}, "tally running")

	for _, args := range [][]string{
		{"checkpoint", "rollback"},
		{"checkpoint", "inspect"},
		{"checkpoint", "list", "-o", "yaml"},
		{"checkpoint", "create", "-q", "-o", "json"},
		{"checkpoint", "create", "extra"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}

	var ck map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "checkpoint", "create", "--with-state", "--name", "four", "-o", "json")), &ck); err != nil {
		t.Fatal(err)
	}
	mods, _ := ck["modules"].([]any)
	procs, _ := ck["processes"].([]any)
	if len(mods) != 1 || mods[0].(map[string]any)["version"] != "1" || len(procs) != 1 || ck["with_state"] != true ||
		procs[0].(map[string]any)["child_id"] != "count" || procs[0].(map[string]any)["state_bytes"].(float64) == 0 {
		t.Fatalf("create: %v", ck)
	}
	id := ck["id"].(string)
	plain := strings.TrimSpace(mustRun(t, "--addr", addr, "checkpoint", "create", "--modules", "counter", "-q"))

	var list map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "checkpoint", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	items, _ := list["checkpoints"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["name"] != "four" || list["max_checkpoints"] != float64(checkpoint.MaxCheckpoints) {
		t.Fatalf("list: %v", list)
	}
	if out := mustRun(t, "--addr", addr, "checkpoint", "list"); !strings.Contains(out, id) || !strings.Contains(out, "counter@1") {
		t.Fatalf("list table: %s", out)
	}
	var insp map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "checkpoint", "inspect", "four", "--states", "-o", "json")), &insp); err != nil {
		t.Fatal(err)
	}
	if p := insp["processes"].([]any)[0].(map[string]any); !strings.Contains(p["state"].(string), `"count":4`) {
		t.Fatalf("inspect --states: %v", insp)
	}

	var rb map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "checkpoint", "rollback", plain, "-o", "json")), &rb); err != nil {
		t.Fatal(err)
	}
	if rb["noop"] != true || rb["complete"] != true || !strings.Contains(rb["message"].(string), "nothing to do") {
		t.Fatalf("rollback of what runs: %v", rb)
	}

	mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "inc 10", "--kind", "call")
	out := mustRun(t, "--addr", addr, "checkpoint", "rollback", id, "--safety", "permissive")
	if !strings.Contains(out, "1 states put back, 0 not") {
		t.Fatalf("rollback with states: %s", out)
	}
	if out := mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "get", "--kind", "call"); strings.TrimSpace(out) != "4" {
		t.Fatalf("get after the rollback: %q, want the checkpointed 4", out)
	}

	mustRun(t, "--addr", addr, "checkpoint", "delete", id)
	for _, args := range [][]string{{"checkpoint", "inspect", id}, {"checkpoint", "delete", id}, {"checkpoint", "rollback", id}} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 1 || !strings.Contains(err.Error(), "no checkpoint") {
			t.Errorf("steward %s: %v (exit %d), want not found", strings.Join(args, " "), err, exitCode(err))
		}
	}
}
