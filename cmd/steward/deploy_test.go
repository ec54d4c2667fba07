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

// The deploy commands against a one-node cluster: a dry run lists the
// batches; deploy -q prints the id; status -o json has snake_case keys and
// the progress; watch exits 0 once successful; a resume that the status
// does not allow exits 1; a version not stored and a selector that does
// not parse exit 1 naming what is wrong, and commit nothing; bad usage
// exits 2.
func TestDeployCLI(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		mods, coord := store.DefaultConfig(), coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(),
			Coordination: &coord, Modules: &mods, Deployments: true}
	}))
	addr := c.Node(0).GRPCAddr()
	mods := filepath.Join("..", "..", "examples", "modules")
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join(mods, "counter-v1.wasm"))
	mustRun(t, "--addr", addr, "module", "push", "counter", filepath.Join(mods, "counter-v2.wasm"))
	tree := filepath.Join(t.TempDir(), "t.hcl")
	_ = os.WriteFile(tree, []byte("tree \"tally\" {\n  node = \"n1\"\n  child \"a\" { module = \"counter\" }\n  child \"b\" { module = \"counter\" }\n}\n"), 0o600)
	mustRun(t, "--addr", addr, "sup", "apply", tree)
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "send", "tree:tally/b", "inc 3", "--kind", "call")
		return err
	}, "the counters run")
	quick := []string{"--min-healthy-time", "50ms", "--healthy-deadline", "5s", "--progress-deadline", "20s"}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "counter@9"}, `module counter@9 is not stored`},
		{[]string{"deploy", "counter@2", "--targets", "tree"}, `targets: "tree" is not key=value`},
		{[]string{"deploy", "counter@2", "--targets", "tree=nosuch"}, `--targets matches no process running module counter`},
		{[]string{"deploy", "counter@2", "--max-parallel", "0"}, `max_parallel must be at least 1`},
		{[]string{"deploy", "counter@2", "--min-healthy-time", "10s", "--healthy-deadline", "5s"}, `min_healthy_time (10s) must be less than healthy_deadline (5s)`},
	} {
		out, err := run(t, append([]string{"--addr", addr}, tt.args...)...)
		if exitCode(err) != 1 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("steward %s: %v (exit %d), want exit 1 with %q\n%s", strings.Join(tt.args, " "), err, exitCode(err), tt.want, out)
		}
	}
	if out := mustRun(t, "--addr", addr, "deploy", "history", "-o", "json"); !strings.Contains(out, `"deployments": []`) {
		t.Fatalf("refused deployments were committed: %s", out)
	}
	for _, args := range [][]string{
		{"deploy", "counter@2", "extra"},
		{"deploy", "counter@2", "--safety", "reckless", "-o", "yaml"},
		{"deploy", "status"},
		{"deploy", "watch", "a", "b"},
	} {
		if _, err := run(t, append([]string{"--addr", addr}, args...)...); exitCode(err) != 2 {
			t.Errorf("steward %s: %v (exit %d), want a usage error", strings.Join(args, " "), err, exitCode(err))
		}
	}

	dry := mustRun(t, append([]string{"--addr", addr, "deploy", "counter@2", "--dry-run", "--max-parallel", "1"}, quick...)...)
	if strings.Count(dry, "batch ") != 2 {
		t.Fatalf("dry run: %s", dry)
	}
	id := strings.TrimSpace(mustRun(t, append([]string{"--addr", addr, "deploy", "counter@2", "-q"}, quick...)...))
	if !strings.HasPrefix(id, "deploy-") {
		t.Fatalf("deploy -q printed %q", id)
	}
	mustRun(t, "--addr", addr, "deploy", "watch", id)
	var st map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "deploy", "status", id, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "module", "modules", "version", "from_versions", "status", "status_description", "safety", "revert_mode", "targets", "done", "batches", "progress", "max_parallel", "min_healthy_time", "created_at"} {
		if _, ok := st[k]; !ok {
			t.Errorf("deploy status -o json lacks %q: %v", k, st)
		}
	}
	if st["status"] != "successful" || st["done"] != float64(2) || st["targets"] != float64(2) || st["revert_mode"] != "down" {
		t.Fatalf("status: %v", st)
	}
	if got := strings.TrimSpace(mustRun(t, "--addr", addr, "proc", "send", "tree:tally/b", "get", "--kind", "call")); !strings.Contains(got, "3") {
		t.Fatalf("count after the deployment: %s", got)
	}
	if out, err := run(t, "--addr", addr, "deploy", "resume", id); exitCode(err) != 1 || !strings.Contains(err.Error(), "only a paused deployment can be resumed") {
		t.Fatalf("resume of a successful deployment: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	if out := mustRun(t, "--addr", addr, "deploy", "history"); !strings.Contains(out, id) || !strings.Contains(out, "successful") {
		t.Fatalf("history: %s", out)
	}
}
