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
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/sandbox/manager"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// sandboxCluster is a 3-node cluster running the sandbox layer; the CLI
// talks to a follower, so creates and destroys are forwarded to the leader
// and live views to the sandbox's node.
func sandboxCluster(t *testing.T) (*testkit.Cluster, string) {
	t.Helper()
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		sb, coord := manager.DefaultConfig(), coordination.DefaultConfig()
		sb.ResyncInterval = 200 * time.Millisecond
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Sandboxes: &sb}
	}))
	c.WaitForLeader()
	return c, c.Followers()[0].GRPCAddr()
}

func jsonOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, out)
	}
	return m
}

// leakySandbox breaks two rules at once: "out" looks up a name outside
// (echo-box's echo, on the same node), which strict refuses (a boundary violation, logged:
// response log keeps it alive), and "flood" sends ten times more than
// max_messages_per_second lets through (dropped: resource isolation fails).
const leakySandbox = `
name      = "leaky"
isolation = "strict"
response  = "log"
limits {
  max_processes           = 10
  max_messages_per_second = 20
}
tree {
  child "echo" {
    behavior = "echo"
    name     = "leaky-echo"
  }
  child "flood" {
    behavior = "ticker"
    args     = { target = "leaky-echo", interval = "5ms" }
  }
  child "out" {
    behavior = "ticker"
    args     = { target = "echo-box-echo", interval = "20ms" }
  }
}
`

// The sandbox commands against a 3-node cluster: create the example
// (-o json), list, inspect (-o json keys, the process table), violations,
// interactions, trace by type, verify passing (exit 0) on the clean
// example and failing (exit 1) on a sandbox that reaches outside and
// floods past its rate limit, destroy; a second create of a name is
// refused; a missing sandbox exits 1 saying so; bad usage exits 2.
func TestSandboxCLI(t *testing.T) {
	_, addr := sandboxCluster(t)
	cli := func(args ...string) []string { return append([]string{"--addr", addr}, args...) }
	example := filepath.Join("..", "..", "examples", "sandboxes", "echo.hcl")

	for _, args := range [][]string{
		{"sandbox"},
		{"sandbox", "create"},
		{"sandbox", "create", example, "extra"},
		{"sandbox", "create", example, "--deadline", "-1s"},
		{"sandbox", "inspect"},
		{"sandbox", "list", "-o", "yaml"},
		{"sandbox", "verify", "a", "b"},
		{"sandbox", "trace", "echo-box", "--type", "bytes"},
		{"sandbox", "violatons", "echo-box"},
		{"sandbox", "list", "--nodes", "n1"},
	} {
		if out, err := run(t, cli(args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error\n%s", strings.Join(args, " "), err, exitCode(err), out)
		}
	}
	for _, args := range [][]string{
		{"sandbox", "inspect", "nosuch"},
		{"sandbox", "violations", "nosuch"},
		{"sandbox", "verify", "nosuch"},
		{"sandbox", "trace", "nosuch"},
		{"sandbox", "destroy", "nosuch"},
	} {
		if _, err := run(t, cli(args...)...); exitCode(err) != 1 || !strings.Contains(err.Error(), `no sandbox "nosuch"`) {
			t.Errorf("steward %s: %v (exit %d), want exit 1 with no sandbox \"nosuch\"", strings.Join(args, " "), err, exitCode(err))
		}
	}
	if _, err := run(t, cli("sandbox", "create", filepath.Join(t.TempDir(), "missing.hcl"))...); exitCode(err) != 1 || !strings.Contains(err.Error(), "missing.hcl") {
		t.Errorf("create of a missing file: %v (exit %d)", err, exitCode(err))
	}

	dry := mustRun(t, cli("sandbox", "create", example, "--dry-run", "--node", "n2")...)
	if !strings.Contains(dry, "dry_run") || !strings.Contains(dry, "n2") || !strings.Contains(dry, "nothing was committed") {
		t.Fatalf("dry run: %s", dry)
	}
	created := jsonOf(t, mustRun(t, cli("sandbox", "create", example, "-o", "json")...))
	hasKeys(t, "sandbox create -o json", created, "name", "node", "status", "isolation", "limits", "policy", "experiment", "standalone")
	if created["name"] != "echo-box" || created["status"] != "running" || created["isolation"] != "strict" || created["standalone"] != true {
		t.Fatalf("create: %v", created)
	}
	if lim := created["limits"].(map[string]any); lim["max_processes"] != float64(10) || lim["max_memory_bytes"] != float64(10<<20) {
		t.Fatalf("create limits: %v", lim)
	}
	node := created["node"].(string)
	if _, err := run(t, cli("sandbox", "create", example)...); exitCode(err) != 1 || !strings.Contains(err.Error(), `a sandbox named "echo-box" exists`) {
		t.Fatalf("a second echo-box: %v (exit %d)", err, exitCode(err))
	}

	list := jsonOf(t, mustRun(t, cli("sandbox", "list", "-o", "json")...))
	if items := list["sandboxes"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "echo-box" {
		t.Fatalf("list: %v", list)
	}
	if out := mustRun(t, cli("sandbox", "list")...); !strings.Contains(out, "ISOLATION") || !strings.Contains(out, "echo-box") || !strings.Contains(out, "strict") {
		t.Fatalf("list table: %s", out)
	}
	if out := mustRun(t, cli("sandbox", "list", "--node", "nosuch", "-o", "json")...); !strings.Contains(out, `"sandboxes": []`) {
		t.Fatalf("list --node nosuch: %s", out)
	}

	insp := jsonOf(t, mustRun(t, cli("sandbox", "inspect", "echo-box", "-o", "json")...))
	hasKeys(t, "sandbox inspect -o json", insp, "name", "node", "status", "running", "tree", "sandbox", "processes")
	if insp["node"] != node || insp["running"] != true || len(insp["processes"].([]any)) != 4 {
		t.Fatalf("inspect: %v", insp)
	}
	hasKeys(t, "inspect's sandbox", insp["sandbox"].(map[string]any), "policy", "processes", "memory_bytes", "violations", "throttles", "latency", "cpu_used", "traced_up")
	hasKeys(t, "inspect's process", insp["processes"].([]any)[1].(map[string]any), "pid", "child_id", "behavior", "status", "queue_len", "memory_bytes", "messages_in")
	out := mustRun(t, cli("sandbox", "inspect", "echo-box")...)
	for _, want := range []string{"Processes     4 / 10", "/ 10485760 bytes", "/ 25% of one core", "Latency", "Traced up", "MSGS IN", "pinger", "ticker"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}

	// The pinger's messages to echo show as an interaction inside.
	testkit.Eventually(t, 15*time.Second, func() error {
		r := jsonOf(t, mustRun(t, cli("sandbox", "interactions", "echo-box", "-o", "json")...))
		for _, x := range r["interactions"].([]any) {
			in := x.(map[string]any)
			if in["from_child_id"] == "pinger" && in["to_child_id"] == "echo" && in["crosses"] == false && in["count"].(float64) >= 2 {
				return nil
			}
		}
		return fmt.Errorf("no pinger -> echo interaction yet: %v", r)
	}, "pinger -> echo")
	if out := mustRun(t, cli("sandbox", "interactions", "echo-box")...); !strings.Contains(out, "PATTERN") || !strings.Contains(out, "(pinger)") {
		t.Fatalf("interactions table: %s", out)
	}
	if v := jsonOf(t, mustRun(t, cli("sandbox", "violations", "echo-box", "-o", "json")...)); v["total"] != float64(0) {
		t.Fatalf("violations of the clean sandbox: %v", v)
	}
	if out := mustRun(t, cli("sandbox", "violations", "echo-box")...); !strings.Contains(out, "0 violations") {
		t.Fatalf("violations: %s", out)
	}
	tr := jsonOf(t, mustRun(t, cli("sandbox", "trace", "echo-box", "--type", "messages", "-o", "json")...))
	if _, ok := tr["states"]; ok || tr["kind"] != "messages" || tr["messages"] == nil {
		t.Fatalf("trace --type messages: %v", tr)
	}
	if out := mustRun(t, cli("sandbox", "trace", "echo-box")...); !strings.Contains(out, "Messages") || !strings.Contains(out, "States") {
		t.Fatalf("trace: %s", out)
	}
	out = mustRun(t, cli("sandbox", "verify", "echo-box")...)
	for _, want := range []string{"PASS  message_isolation", "PASS  state_isolation", "PASS  resource_isolation", "PASS  code_isolation", "Verdict: pass"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q:\n%s", want, out)
		}
	}

	// A sandbox that breaks its rules: violations list them, interactions
	// show the refused lookup crossing, verify fails with exit 1.
	leaky := filepath.Join(t.TempDir(), "leaky.hcl")
	if err := os.WriteFile(leaky, []byte(leakySandbox), 0o600); err != nil {
		t.Fatal(err)
	}
	// On echo-box's node: registered names are per node.
	mustRun(t, cli("sandbox", "create", leaky, "--node", node)...)
	testkit.Eventually(t, 15*time.Second, func() error {
		v := jsonOf(t, mustRun(t, cli("sandbox", "violations", "leaky", "-o", "json")...))
		kinds := map[string]bool{}
		for _, x := range v["violations"].([]any) {
			kinds[x.(map[string]any)["kind"].(string)] = true
		}
		if !kinds["boundary"] || !kinds["max_messages_per_second"] {
			return fmt.Errorf("violations so far: %v", kinds)
		}
		return nil
	}, "leaky's violations")
	out = mustRun(t, cli("sandbox", "violations", "leaky")...)
	for _, want := range []string{"RESPONSE", "boundary", "lookup", "(echo-box-echo)", "max_messages_per_second", "(out)"} {
		if !strings.Contains(out, want) {
			t.Errorf("violations table lacks %q:\n%s", want, out)
		}
	}
	if out := mustRun(t, cli("sandbox", "interactions", "leaky")...); !strings.Contains(out, "yes (lookup)") {
		t.Errorf("interactions lack the refused lookup:\n%s", out)
	}
	out, err := run(t, cli("sandbox", "verify", "leaky")...)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "resource_isolation") || !strings.Contains(out, "FAIL  resource_isolation") ||
		!strings.Contains(out, "dropped at max_messages_per_second") || !strings.Contains(out, "Verdict: fail") {
		t.Fatalf("verify of leaky: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	out, err = run(t, cli("sandbox", "verify", "leaky", "-o", "json")...)
	if exitCode(err) != 1 || jsonOf(t, out)["verdict"] != "fail" {
		t.Fatalf("verify -o json of leaky: %v (exit %d)\n%s", err, exitCode(err), out)
	}

	for _, name := range []string{"leaky", "echo-box"} {
		if out := mustRun(t, cli("sandbox", "destroy", name)...); !strings.Contains(out, "Sandbox "+name+" destroyed (removed: "+name+")") {
			t.Fatalf("destroy %s: %s", name, out)
		}
	}
	if out := mustRun(t, cli("sandbox", "list", "-o", "json")...); !strings.Contains(out, `"sandboxes": []`) {
		t.Fatalf("list after destroy: %s", out)
	}
	if _, err := run(t, cli("sandbox", "inspect", "echo-box")...); exitCode(err) != 1 || !strings.Contains(err.Error(), `no sandbox "echo-box"`) {
		t.Fatalf("inspect after destroy: %v", err)
	}

	// A sandbox its node cannot set up: create prints the reason, exit 1,
	// and nothing is left.
	big := filepath.Join(t.TempDir(), "big.hcl")
	_ = os.WriteFile(big, []byte("name = \"big\"\nlimits { max_processes = 2 }\ntree {\n  child \"a\" { behavior = \"echo\" }\n  child \"b\" { behavior = \"echo\" }\n}\n"), 0o600)
	if out, err := run(t, cli("sandbox", "create", big)...); exitCode(err) != 1 || !strings.Contains(err.Error(), "create failed") || !strings.Contains(err.Error(), "process") {
		t.Fatalf("create of a sandbox over its limit: %v (exit %d)\n%s", err, exitCode(err), out)
	}
}

// The experiment commands against a 3-node cluster: create the example
// (progress lines, running), list, status (-o json), watch of a running
// experiment (exit 0), compare (a column per sandbox, -o json rows), a part
// cannot be destroyed alone, destroy; a failing experiment exits 1 with the
// reason and stays listed as failed; missing ids exit 1; bad usage exits 2.
func TestExperimentCLI(t *testing.T) {
	_, addr := sandboxCluster(t)
	cli := func(args ...string) []string { return append([]string{"--addr", addr}, args...) }
	example := filepath.Join("..", "..", "examples", "sandboxes", "ab.hcl")

	for _, args := range [][]string{
		{"experiment"},
		{"experiment", "create"},
		{"experiment", "status"},
		{"experiment", "compare", "ab", "-o", "csv"},
		{"experiment", "watch", "a", "b"},
		{"experiment", "destroy"},
		{"experiment", "creat", example},
		{"experiment", "create", example, "--wait", "--no-wait"},
		{"experiment", "create", example, "--wait=false"},
		{"experiment", "create", example, "--wait-timeout", "-1s"},
		{"experiment", "create", example, "--no-wait", "--wait-timeout", "5s"},
	} {
		if out, err := run(t, cli(args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error\n%s", strings.Join(args, " "), err, exitCode(err), out)
		}
	}
	for _, args := range [][]string{{"experiment", "status", "nosuch"}, {"experiment", "compare", "nosuch"}, {"experiment", "destroy", "nosuch"}, {"experiment", "watch", "nosuch"}} {
		if _, err := run(t, cli(args...)...); exitCode(err) != 1 || !strings.Contains(err.Error(), `no experiment "nosuch"`) {
			t.Errorf("steward %s: %v (exit %d), want exit 1 with no experiment \"nosuch\"", strings.Join(args, " "), err, exitCode(err))
		}
	}

	dry := mustRun(t, cli("experiment", "create", example, "--dry-run")...)
	if !strings.Contains(dry, "ab-fast") || !strings.Contains(dry, "ab-slow") || !strings.Contains(dry, "nothing was committed") {
		t.Fatalf("dry run: %s", dry)
	}
	out := mustRun(t, cli("experiment", "create", example)...)
	for _, want := range []string{"Experiment ab (exp-", "committed: 2 sandboxes", "running: ab-fast on n", "ab-slow on n", "experiment compare ab"} {
		if !strings.Contains(out, want) {
			t.Errorf("create lacks %q:\n%s", want, out)
		}
	}
	st := jsonOf(t, mustRun(t, cli("experiment", "status", "ab", "-o", "json")...))
	hasKeys(t, "experiment status -o json", st, "id", "name", "status", "parts", "sandboxes", "created_at", "deadline", "created_by")
	parts := st["parts"].([]any)
	if st["status"] != "running" || len(parts) != 2 || len(st["sandboxes"].([]any)) != 2 {
		t.Fatalf("status: %v", st)
	}
	if a, b := parts[0].(map[string]any)["node"], parts[1].(map[string]any)["node"]; a == b {
		t.Errorf("auto placement put both parts on %v", a)
	}
	id := st["id"].(string)
	if out := mustRun(t, cli("experiment", "status", id)...); !strings.Contains(out, "SANDBOX") || !strings.Contains(out, "max_processes=5") {
		t.Fatalf("status table: %s", out)
	}
	if out := mustRun(t, cli("experiment", "list")...); !strings.Contains(out, id) || !strings.Contains(out, "ab-fast,ab-slow") {
		t.Fatalf("list: %s", out)
	}
	if out := mustRun(t, cli("sandbox", "list")...); strings.Count(out, " ab\n") != 2 {
		t.Fatalf("sandbox list shows the experiment's parts: %s", out)
	}
	if out := mustRun(t, cli("experiment", "watch", "ab")...); !strings.Contains(out, "running: ab-fast") {
		t.Fatalf("watch of a running experiment: %s", out)
	}

	// ab-fast pings 10 times as often as ab-slow.
	testkit.Eventually(t, 15*time.Second, func() error {
		cmp := jsonOf(t, mustRun(t, cli("experiment", "compare", "ab", "-o", "json")...))
		rows := cmp["rows"].([]any)
		if len(rows) != 2 {
			return fmt.Errorf("rows: %v", rows)
		}
		fast, slow := rows[0].(map[string]any), rows[1].(map[string]any)
		fm, sm := fast["metrics"].(map[string]any), slow["metrics"].(map[string]any)
		if fast["sandbox"] != "ab-fast" || fm["messages_handled"].(float64) < 20 || fm["messages_handled"].(float64) <= 2*sm["messages_handled"].(float64) {
			return fmt.Errorf("compare: %v", cmp)
		}
		return nil
	}, "ab-fast handling more messages")
	out = mustRun(t, cli("experiment", "compare", id)...)
	for _, want := range []string{"METRIC", "ab-fast", "ab-slow", "messages_handled", "latency_p99_ms", "cpu_used_ms", "dropped"} {
		if !strings.Contains(out, want) {
			t.Errorf("compare lacks %q:\n%s", want, out)
		}
	}

	if _, err := run(t, cli("sandbox", "destroy", "ab-fast")...); exitCode(err) != 1 || !strings.Contains(err.Error(), "steward experiment destroy ab") {
		t.Fatalf("destroying one part: %v (exit %d)", err, exitCode(err))
	}
	if out := mustRun(t, cli("experiment", "destroy", "ab")...); !strings.Contains(out, "ab-fast") || !strings.Contains(out, "ab-slow") {
		t.Fatalf("destroy: %s", out)
	}
	if _, err := run(t, cli("experiment", "status", "ab")...); exitCode(err) != 1 {
		t.Fatalf("status after destroy: %v", err)
	}

	// A part that cannot be set up fails the experiment: exit 1 with the
	// reason; the other part is removed; status shows it failed.
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	_ = os.WriteFile(bad, []byte(`
name = "bad"
sandbox "ok" {
  tree {
    child "e" { behavior = "echo" }
  }
}
sandbox "tight" {
  limits { max_processes = 1 }
  tree {
    child "e" { behavior = "echo" }
  }
}
`), 0o600)
	out, err := run(t, cli("experiment", "create", bad)...)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "experiment bad (exp-") || !strings.Contains(err.Error(), "failed") || !strings.Contains(err.Error(), "tight") {
		t.Fatalf("create of a failing experiment: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	st = jsonOf(t, mustRun(t, cli("experiment", "status", "bad", "-o", "json")...))
	if st["status"] != "failed" || len(st["sandboxes"].([]any)) != 0 || !strings.Contains(st["reason"].(string), "tight") {
		t.Fatalf("status of the failed experiment: %v", st)
	}
	if out, err := run(t, cli("experiment", "watch", "bad")...); exitCode(err) != 1 || !strings.Contains(out, "failed") {
		t.Fatalf("watch of a failed experiment: %v (exit %d)\n%s", err, exitCode(err), out)
	}

	// --no-wait returns at once; watch follows it to running.
	nowait := mustRun(t, cli("experiment", "create", example, "--no-wait", "-o", "json")...)
	eid := jsonOf(t, nowait)["id"].(string)
	if out := mustRun(t, cli("experiment", "watch", eid, "-o", "json")...); !strings.Contains(out, `"status":"running"`) {
		t.Fatalf("watch -o json: %s", out)
	}
	mustRun(t, cli("experiment", "destroy", eid)...)

	// --wait-timeout reached: exit 1 saying so, with -o json the record as
	// last seen; the experiment goes on.
	out, err = run(t, cli("experiment", "create", example, "--wait-timeout", "1ns", "-o", "json")...)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "--wait-timeout 1ns reached: experiment ab (exp-") {
		t.Fatalf("create --wait-timeout 1ns: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	if st := jsonOf(t, out); st["status"] != "pending" {
		t.Fatalf("create --wait-timeout 1ns -o json: %v", st)
	}
	mustRun(t, cli("experiment", "destroy", "ab")...)
}
