package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

func TestPlansCLI(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		ccfg := coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg}
	}))
	addr := c.Node(0).GRPCAddr()
	// Every node registered first: a registration between the dry run and
	// the apply below would (rightly) make the check index stale.
	c.Eventually(20*time.Second, func() error {
		_, nodes, err := c.Leader().State().Nodes(nil)
		if err == nil && len(nodes) < 3 {
			err = fmt.Errorf("%d nodes registered", len(nodes))
		}
		return err
	}, "every node registered")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tree := write("t.json", `{"name":"tally","node":"n2","children":[{"id":"count","behavior":"counter"}]}`)
	mustRun(t, "--addr", addr, "sup", "apply", tree)
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "state", "tree:tally/count")
		return err
	}, "tally running")

	planFile := write("p.json", `{"safety_level":"moderate","operations":[
	 {"id":"a","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc 2"}},
	 {"id":"b","type":"suspend_process","target":{"supervisor":"tally","child_id":"count"},"depends_on":["a"]}]}`)

	var dry map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "plan", planFile, "-o", "json")), &dry); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"phases", "conflicts", "estimate", "check_index", "refused"} {
		if _, ok := dry[k]; !ok {
			t.Errorf("plan -o json lacks %q", k)
		}
	}
	text := mustRun(t, "--addr", addr, "plan", planFile)
	if !strings.Contains(text, "phase 1") || !strings.Contains(text, "--check-index") {
		t.Fatalf("dry run text:\n%s", text)
	}
	idx := int64(dry["check_index"].(float64))

	var applied map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "apply", planFile, "--check-index", jsonNum(idx), "-o", "json")), &applied); err != nil {
		t.Fatal(err)
	}
	id, _ := applied["id"].(string)
	if !strings.HasPrefix(id, "plan-") {
		t.Fatalf("apply -o json: %v", applied)
	}
	// watch follows it to the end; exit code 0 means it succeeded.
	if out, err := run(t, "--addr", c.Node(2).GRPCAddr(), "ops", "watch", id); err != nil || !strings.Contains(out, "succeeded") {
		t.Fatalf("ops watch: %v\n%s", err, out)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "ops", "status", id, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st["status"] != "succeeded" {
		t.Fatalf("status: %v", st["status"])
	}
	phases, _ := st["phases"].([]any)
	if len(phases) != 2 {
		t.Fatalf("phases: %v", st["phases"])
	}
	first := phases[0].(map[string]any)
	ops := first["operations"].([]any)
	op := ops[0].(map[string]any)
	for _, k := range []string{"id", "type", "target", "node", "status"} {
		if _, ok := op[k]; !ok {
			t.Errorf("operation lacks %q: %v", k, op)
		}
	}
	if op["status"] != "succeeded" || op["node"] != "n2" {
		t.Fatalf("operation: %v", op)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "ops", "history", "-o", "json")), &hist); err != nil || len(hist) != 1 || hist[0]["id"] != id {
		t.Fatalf("history: %v %v", hist, err)
	}
	if sc, ok := st["skipped_checks"].([]any); !ok || len(sc) != 0 {
		t.Fatalf("status skipped_checks: %v", st["skipped_checks"])
	}
	// --skip-check: an unknown name is a usage error listing the valid
	// ones; a known one is planned without the check and recorded.
	if _, err := run(t, "--addr", addr, "apply", planFile, "--skip-check", "stable"); exitCode(err) != 2 ||
		!strings.Contains(err.Error(), `"stable" is not a check that can be skipped; valid: targets_alive, resources_available, parameters_valid, system_stable, external_dependencies`) {
		t.Fatalf("unknown --skip-check: %v (exit %d)", err, exitCode(err))
	}
	once := write("once.json", `{"operations":[{"id":"a","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc"}}]}`)
	if text := mustRun(t, "--addr", addr, "plan", once, "--skip-check", "system_stable"); !strings.Contains(text, "skipped checks: system_stable") ||
		strings.Contains(text, "pre:  targets_alive, resources_available, parameters_valid, system_stable") || !strings.Contains(text, "--skip-check system_stable") {
		t.Fatalf("dry run with --skip-check:\n%s", text)
	}
	var skipped map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "apply", once, "--skip-check", "system_stable", "--skip-check", "system_stable", "-o", "json")), &skipped); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(skipped["skipped_checks"]) != "[system_stable]" {
		t.Fatalf("apply --skip-check -o json: %v", skipped)
	}
	sid, _ := skipped["id"].(string)
	if out, err := run(t, "--addr", addr, "ops", "watch", sid); err != nil {
		t.Fatalf("ops watch: %v\n%s", err, out)
	}
	if text := mustRun(t, "--addr", addr, "ops", "status", sid); !strings.Contains(text, "Skipped checks: system_stable") || regexp.MustCompile(`check\s+system_stable`).MatchString(text) || !regexp.MustCompile(`check\s+operation_effect`).MatchString(text) {
		t.Fatalf("ops status of a plan skipping system_stable:\n%s", text)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "ops", "status", sid, "-o", "json")), &st); err != nil || fmt.Sprint(st["skipped_checks"]) != "[system_stable]" {
		t.Fatalf("ops status -o json: %v %v", st["skipped_checks"], err)
	}
	// A stale check index, an unknown plan, a bad file.
	if _, err := run(t, "--addr", addr, "apply", planFile, "--check-index", jsonNum(idx)); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("stale check index: %v", err)
	}
	if _, err := run(t, "--addr", addr, "ops", "status", "plan-nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown plan: %v", err)
	}
	bad := write("bad.json", `{"operations":[{"id":"a","type":"send_message","target":{"supervisor":"tally","child_id":"count"}}]}`)
	if _, err := run(t, "--addr", addr, "plan", bad); err == nil || !strings.Contains(err.Error(), "message") {
		t.Fatalf("missing parameter: %v", err)
	}
	if _, err := run(t, "--addr", addr, "ops", "cancel", id); err == nil || !strings.Contains(err.Error(), "already succeeded") {
		t.Fatalf("cancel a finished plan: %v", err)
	}
}
