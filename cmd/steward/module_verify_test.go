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
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// module verify against a one-node cluster running two counters on v1,
// one counting 13: counter@2 verifies (exit 0, snake_case JSON with each
// process's sizes), counter@3-trap fails that one process (exit 1, the
// JSON still printed, the trap named), and nothing moved; bad usage exits
// 2 before anything is sent.
func TestModuleVerifyCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		mods := store.DefaultConfig()
		coord := coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Modules: &mods, Deployments: true}
	}))
	c.WaitForLeader()
	addr := c.Node(0).GRPCAddr()
	mods := filepath.Join("..", "..", "examples", "modules")
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join(mods, "counter-v1.wasm"))
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join(mods, "counter-v2.wasm"))
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join("..", "..", "hotcode", "deploy", "testdata", "counter-v3-trap.wasm"))

	spec := filepath.Join(t.TempDir(), "t.hcl")
	_ = os.WriteFile(spec, []byte("tree \"tally\" {\n  node = \"n1\"\n  child \"a\" { module = \"counter\" }\n  child \"b\" { module = \"counter\" }\n}\n"), 0o600)
	mustRun(t, "--addr", addr, "sup", "apply", spec)
	testkit.Eventually(t, 15*time.Second, func() error {
		if _, err := run(t, "--addr", addr, "proc", "send", "tree:tally/a", "inc 4", "--kind", "call"); err != nil {
			return err
		}
		_, err := run(t, "--addr", addr, "proc", "send", "tree:tally/b", "get", "--kind", "call")
		return err
	}, "tally running")
	mustRun(t, "--addr", addr, "proc", "send", "tree:tally/b", "inc 13", "--kind", "call")

	var ok map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "module", "verify", "counter@2", "-o", "json")), &ok); err != nil {
		t.Fatal(err)
	}
	procs, _ := ok["processes"].([]any)
	if ok["ok"] != true || len(procs) != 2 || ok["warnings"] == nil {
		t.Fatalf("verify counter@2: %v", ok)
	}
	for _, p := range procs {
		m := p.(map[string]any)
		for _, k := range []string{"pid", "node", "tree", "child_id", "from_version", "ok", "error", "state_bytes_before", "state_bytes_after", "duration_us"} {
			if _, has := m[k]; !has {
				t.Errorf("no %q in %v", k, m)
			}
		}
		if m["ok"] != true || m["from_version"] != "1" || m["tree"] != "tally" || m["state_bytes_after"].(float64) <= m["state_bytes_before"].(float64) {
			t.Errorf("process %v", m)
		}
	}

	out, err := run(t, "--addr", addr, "module", "verify", "counter@3", "-o", "json")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 2 migrations failed") {
		t.Fatalf("verify counter@3: exit %d: %v\n%s", exitCode(err), err, out)
	}
	if out, _ := run(t, "--addr", addr, "module", "verify", "counter@3"); !strings.Contains(out, "FAILED, 1 migrations failed") || !strings.Contains(out, "code_change: wasm error: unreachable") {
		t.Errorf("verify counter@3, as a table:\n%s", out)
	}
	var bad map[string]any
	if err := json.Unmarshal([]byte(out), &bad); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	failed := 0
	for _, p := range bad["processes"].([]any) {
		m := p.(map[string]any)
		if m["ok"] != true {
			failed++
			if m["child_id"] != "b" || !strings.Contains(m["error"].(string), "unreachable") {
				t.Errorf("the failure: %v", m)
			}
		}
	}
	if bad["ok"] != false || bad["failures"] != float64(1) || failed != 1 {
		t.Fatalf("verify counter@3: %v", bad)
	}
	out, err = run(t, "--addr", addr, "module", "verify", "counter@3", "--targets", "path=tally/a")
	if err != nil || !strings.Contains(out, "OK, 0 migrations failed") || !strings.Contains(out, "STATE BEFORE") || strings.Contains(out, "tally  b") {
		t.Fatalf("verify --targets path=tally/a: %v\n%s", err, out)
	}

	for child, want := range map[string]string{"a": "4", "b": "13"} {
		if got := mustRun(t, "--addr", addr, "proc", "send", "tree:tally/"+child, "get", "--kind", "call"); strings.TrimSpace(got) != want {
			t.Errorf("tally/%s counts %q after verify, want %s", child, got, want)
		}
	}
	for _, args := range [][]string{
		{"module", "verify"},
		{"module", "verify", "counter"},
		{"module", "verify", "counter@2", "-o", "yaml"},
		{"module", "verify", "counter@2", "extra"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}
}
