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
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// coordStack is a node with the coordination service (plans).
func coordStack(string) stack.Config {
	ccfg := coordination.DefaultConfig()
	return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// apply --wait follows the plan to its end: exit 0 and the final line when
// it succeeded, with -o json one document, the plan's final record; a
// plan that rolls back exits 1 naming its status; --wait-timeout reached
// exits 1 saying so; bad combinations are usage errors.
func TestApplyWait(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(coordStack))
	addr := c.Node(0).GRPCAddr()
	dir := t.TempDir()
	mustRun(t, "--addr", addr, "sup", "apply", writeFile(t, dir, "t.json",
		`{"name":"tally","node":"n1","children":[{"id":"count","behavior":"counter"}]}`))
	mustRun(t, "--addr", addr, "sup", "apply", writeFile(t, dir, "f.json",
		`{"name":"fragile","node":"n1","max_restarts":0,"max_seconds":5,"children":[{"id":"w","behavior":"echo"}]}`))
	testkit.Eventually(t, 15*time.Second, func() error {
		if _, err := run(t, "--addr", addr, "proc", "state", "tree:tally/count"); err != nil {
			return err
		}
		_, err := run(t, "--addr", addr, "proc", "state", "tree:fragile/w")
		return err
	}, "both trees running")

	inc := writeFile(t, dir, "inc.json", `{"operations":[
	 {"id":"a","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc 2"}},
	 {"id":"b","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc 3"},"depends_on":["a"]}]}`)
	out, err := run(t, "--addr", addr, "apply", inc, "--wait")
	if err != nil {
		t.Fatalf("apply --wait: %v\n%s", err, out)
	}
	if !strings.Contains(out, "committed at index") || !strings.Contains(out, "phase 1: succeeded") || !strings.Contains(out, " succeeded after ") ||
		strings.Contains(out, "Follow it with") || strings.Contains(out, "\x1b[") {
		t.Fatalf("apply --wait printed:\n%s", out)
	}
	// The wait ended with the plan: both messages were handled.
	if got := strings.TrimSpace(mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "get", "--kind", "call")); got != "5" {
		t.Fatalf("count after apply --wait: %q", got)
	}

	out, err = run(t, "--addr", addr, "apply", inc, "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("apply --wait -o json: %v\n%s", err, out)
	}
	var final map[string]any
	if err := json.Unmarshal([]byte(out), &final); err != nil {
		t.Fatalf("apply --wait -o json is not one JSON document: %v\n%s", err, out)
	}
	if final["status"] != "succeeded" || !strings.HasPrefix(final["id"].(string), "plan-") || len(final["phases"].([]any)) != 2 || final["finished_at"] == nil {
		t.Fatalf("apply --wait -o json: %v", final)
	}

	for _, args := range [][]string{
		{"apply", inc, "--wait", "--watch"},
		{"apply", inc, "--wait", "-q"},
		{"apply", inc, "--wait-timeout", "5s"},
		{"apply", inc, "--wait", "--wait-timeout", "-1s"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}

	// A wait that cannot last: the plan is committed and goes on, the
	// command exits 1 naming the limit.
	out, err = run(t, "--addr", addr, "apply", inc, "--wait", "--wait-timeout", "1ns")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "--wait-timeout 1ns reached: plan plan-") {
		t.Fatalf("apply --wait --wait-timeout 1ns: %v (exit %d)\n%s", err, exitCode(err), out)
	}

	// The kill makes fragile's root give up (no restarts allowed): the
	// phase's effect check fails and the plan rolls back.
	kill := writeFile(t, dir, "kill.json", `{"safety_level":"moderate","operations":[
	 {"id":"kill","type":"kill_process","target":{"supervisor":"fragile","child_id":"w"}}]}`)
	out, err = run(t, "--addr", addr, "apply", kill, "--wait", "-o", "json")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "rolled_back") {
		t.Fatalf("apply --wait of a failing plan: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	if err := json.Unmarshal([]byte(out), &final); err != nil || final["status"] != "rolled_back" {
		t.Fatalf("apply --wait -o json of a failing plan: %v %v\n%s", err, final["status"], out)
	}
}

// deploy --wait follows the deployment until it is successful (exit 0);
// with -o json it prints the final record only.
func TestDeployWait(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		mods, coord := store.DefaultConfig(), coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Modules: &mods, Deployments: true}
	}))
	addr := c.Node(0).GRPCAddr()
	mods := filepath.Join("..", "..", "examples", "modules")
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join(mods, "counter-v1.wasm"))
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join(mods, "counter-v2.wasm"))
	tree := writeFile(t, t.TempDir(), "t.hcl", "tree \"tally\" {\n  node = \"n1\"\n  child \"a\" { module = \"counter\" }\n  child \"b\" { module = \"counter\" }\n}\n")
	mustRun(t, "--addr", addr, "sup", "apply", tree)
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "send", "tree:tally/b", "inc 3", "--kind", "call")
		return err
	}, "the counters run")
	quick := []string{"--min-healthy-time", "50ms", "--healthy-deadline", "5s", "--progress-deadline", "20s", "--max-parallel", "1"}

	for _, args := range [][]string{
		{"deploy", "counter@2", "--wait", "-q"},
		{"deploy", "counter@2", "--wait", "--dry-run"},
		{"deploy", "counter@2", "--wait-timeout", "1m"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}
	out, err := run(t, append([]string{"--addr", addr, "deploy", "counter@2", "--wait"}, quick...)...)
	if err != nil {
		t.Fatalf("deploy --wait: %v\n%s", err, out)
	}
	if !strings.Contains(out, "committed: 2 processes") || !strings.Contains(out, "successful: moved 2/2") || strings.Contains(out, "Follow it with") {
		t.Fatalf("deploy --wait printed:\n%s", out)
	}
	out, err = run(t, append([]string{"--addr", addr, "deploy", "counter@1", "--wait", "-o", "json"}, quick...)...)
	if err != nil {
		t.Fatalf("deploy --wait -o json: %v\n%s", err, out)
	}
	var final map[string]any
	if err := json.Unmarshal([]byte(out), &final); err != nil {
		t.Fatalf("deploy --wait -o json is not one JSON document: %v\n%s", err, out)
	}
	if final["status"] != "successful" || final["version"] != "1" || final["done"] != float64(2) || final["finished_at"] == nil {
		t.Fatalf("deploy --wait -o json: %v", final)
	}
	if got := strings.TrimSpace(mustRun(t, "--addr", addr, "proc", "send", "tree:tally/b", "get", "--kind", "call")); !strings.Contains(got, "3") {
		t.Fatalf("count after two deployments: %s", got)
	}

	// deploy revert --wait of the successful deployment ends when it is
	// reverted (exit 0); the processes are back on version 2.
	id := final["id"].(string)
	out, err = run(t, "--addr", addr, "deploy", "revert", id, "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("deploy revert --wait: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &final); err != nil || final["status"] != "reverted" || final["reverted"] != float64(2) {
		t.Fatalf("deploy revert --wait -o json: %v %v\n%s", err, final, out)
	}
	// A deployment that ended cannot be resumed: the control is refused
	// before any waiting.
	if _, err := run(t, "--addr", addr, "deploy", "resume", id, "--wait"); exitCode(err) != 1 || !strings.Contains(err.Error(), "only a paused deployment can be resumed") {
		t.Fatalf("deploy resume --wait of a reverted deployment: %v (exit %d)", err, exitCode(err))
	}
	if got := strings.TrimSpace(mustRun(t, "--addr", addr, "proc", "send", "tree:tally/b", "get", "--kind", "call")); !strings.Contains(got, "3") {
		t.Fatalf("count after the revert: %s", got)
	}

	// Completion of deployment ids and of NAME@VERSION: the module names
	// with "@" and no space after, then the versions; a second module
	// argument completes the same way.
	if names, _, d := complete(t, "--addr", addr, "deploy", "status", ""); len(names) != 2 || !strings.Contains(strings.Join(names, ","), id) || d != noFileComp {
		t.Fatalf("deploy status <TAB>: %q %s", names, d)
	}
	if names, lines, d := complete(t, "--addr", addr, "deploy", "cou"); strings.Join(names, ",") != "counter@" || d != ":6" || lines[0] != "counter@\tactive 2, 2 versions" {
		t.Fatalf("deploy cou<TAB>: %q %s", lines, d)
	}
	if names, lines, d := complete(t, "--addr", addr, "deploy", "counter@2", "counter@"); strings.Join(names, ",") != "counter@1,counter@2" || d != noFileComp || lines[1] != "counter@2\tactive" {
		t.Fatalf("deploy counter@2 counter@<TAB>: %q %s", lines, d)
	}
	if names, _, _ := complete(t, "--addr", addr, "module", "history", ""); strings.Join(names, ",") != "counter" {
		t.Fatalf("module history <TAB>: %q", names)
	}
}

// snapshot restore --wait follows the restore plan: exit 0 once it
// succeeded, the report with each plan's final record with -o json.
func TestSnapshotRestoreWait(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		ccfg, scfg := coordination.DefaultConfig(), snapshot.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg, Snapshot: &scfg}
	}))
	addr := c.Node(0).GRPCAddr()
	mustRun(t, "--addr", addr, "sup", "apply", writeFile(t, t.TempDir(), "t.json",
		`{"name":"tally","node":"n1","children":[{"id":"count","behavior":"counter"}]}`))
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "send", "tree:tally/count", "inc 4", "--kind", "call")
		return err
	}, "tally running")
	id := snapID(t, mustRun(t, "--addr", addr, "snapshot", "capture", "--include-state", "-o", "json"))
	mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "inc 10", "--kind", "call")

	if _, err := run(t, "--addr", addr, "snapshot", "restore", id, "--wait", "--dry-run"); exitCode(err) != 2 {
		t.Fatalf("restore --wait --dry-run: %v (exit %d), want a usage error", err, exitCode(err))
	}
	out, err := run(t, "--addr", addr, "snapshot", "restore", id, "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("restore --wait -o json: %v\n%s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("restore --wait -o json is not one JSON document: %v\n%s", err, out)
	}
	plans, _ := rep["plans"].([]any)
	if rep["snapshot"] != id || len(plans) != 1 || plans[0].(map[string]any)["status"] != "succeeded" {
		t.Fatalf("restore --wait -o json: %v", rep)
	}
	if got := strings.TrimSpace(mustRun(t, "--addr", addr, "proc", "send", "tree:tally/count", "get", "--kind", "call")); got != "4" {
		t.Fatalf("count after restore --wait: %q", got)
	}
}

// sup apply --wait returns once the tree's node runs the spec (exit 0),
// and exits 1 when the node refuses it, naming the reason.
func TestSupApplyWait(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(coordStack))
	addr := c.Node(0).GRPCAddr()
	dir := t.TempDir()
	good := writeFile(t, dir, "t.json", `{"name":"tally","node":"n1","children":[{"id":"count","behavior":"counter"},{"id":"e","behavior":"echo"}]}`)
	for _, args := range [][]string{
		{"sup", "apply", good, "--wait", "--dry-run"},
		{"sup", "apply", good, "--wait-timeout", "5s"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}
	out, err := run(t, "--addr", addr, "sup", "apply", good, "--wait")
	if err != nil || !strings.Contains(out, "Tree tally applied") || !strings.Contains(out, "Tree tally running on n1: 3 processes, root n1/") {
		t.Fatalf("sup apply --wait: %v\n%s", err, out)
	}
	// No waiting of its own: the children run.
	if _, err := run(t, "--addr", addr, "proc", "state", "tree:tally/count"); err != nil {
		t.Fatalf("after sup apply --wait: %v", err)
	}
	var tree map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "sup", "apply", good, "--wait", "-o", "json")), &tree); err != nil {
		t.Fatal(err)
	}
	if tree["status"] != "running" || tree["applied_index"] != tree["modify_index"] || tree["processes"] != float64(3) {
		t.Fatalf("sup apply --wait -o json: %v", tree)
	}
	// A child whose init fails: the node refuses the spec and keeps the
	// one it runs.
	bad := writeFile(t, dir, "bad.json", `{"name":"tally","node":"n1","children":[{"id":"count","behavior":"counter"},{"id":"e","behavior":"crasher","args":{"crash_in_init":"true","reason":"no way"}}]}`)
	out, err = run(t, "--addr", addr, "sup", "apply", bad, "--wait", "--wait-timeout", "2m")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "node n1 refused the spec of index") || !strings.Contains(err.Error(), "no way") {
		t.Fatalf("sup apply --wait of a refused spec: %v (exit %d)\n%s", err, exitCode(err), out)
	}
}
