package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/health"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// healthCluster is a 3-node cluster running the supervision and health
// layers, sampling every 100 ms; sups maps node names to their layers.
func healthCluster(t *testing.T) (*testkit.Cluster, func(name string) *supervision.Layer) {
	t.Helper()
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		scfg := supervision.DefaultConfig()
		scfg.ResyncInterval = time.Hour // what the test breaks stays broken
		hcfg := health.DefaultConfig()
		hcfg.SampleInterval = 100 * time.Millisecond
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: scfg, Health: &hcfg}
	}))
	return c, func(name string) *supervision.Layer {
		if s := c.Stack(name); s != nil {
			return s.Supervision
		}
		return nil
	}
}

func TestValidateAndThresholdsCLI(t *testing.T) {
	c, sup := healthCluster(t)
	addr1, addr2 := c.Node(0).GRPCAddr(), c.Node(1).GRPCAddr()
	cli := func(args ...string) string {
		t.Helper()
		return mustRun(t, append([]string{"--addr", addr1}, args...)...)
	}
	fails := func(code int, text string, args ...string) string {
		t.Helper()
		out, err := run(t, append([]string{"--addr", addr1}, args...)...)
		if err == nil || exitCode(err) != code || !strings.Contains(err.Error(), text) {
			t.Errorf("steward %s: got %v (exit %d), want exit %d with %q\n%s", strings.Join(args, " "), err, exitCode(err), code, text, out)
		}
		return out
	}

	// Thresholds: the defaults, bad input refused, a partial set.
	th := decodeJSON[map[string]any](t, cli("thresholds", "get", "-o", "json"))
	hasKeys(t, "thresholds get", th, "max_memory_bytes", "max_process_count", "max_message_queue_length", "max_cpu_percent", "is_default", "modify_index")
	if th["is_default"] != true || th["max_memory_bytes"] != float64(1_000_000_000) || th["max_process_count"] != float64(10_000) ||
		th["max_message_queue_length"] != float64(1_000) || th["max_cpu_percent"] != float64(80) {
		t.Fatalf("defaults: %v", th)
	}
	fails(1, "max_cpu_percent", "thresholds", "set", "--max-cpu-percent", "150")
	fails(1, "max_memory_bytes", "thresholds", "set", "--max-memory-bytes", "-1")
	fails(2, "nothing to set", "thresholds", "set")
	if th := decodeJSON[map[string]any](t, cli("thresholds", "get", "-o", "json")); th["is_default"] != true {
		t.Fatalf("a refused set committed: %v", th)
	}
	// CPU off: a loaded test machine must not raise violations of its own.
	set := decodeJSON[map[string]any](t, cli("thresholds", "set", "--max-cpu-percent", "0", "--max-process-count", "5", "-o", "json"))
	if set["max_process_count"] != float64(5) || set["max_cpu_percent"] != float64(0) || set["max_memory_bytes"] != float64(1_000_000_000) || set["is_default"] != false {
		t.Fatalf("set: %v", set)
	}
	fails(1, "check-and-set conflict", "thresholds", "set", "--max-queue-length", "10", "--cas", "1")
	if out := cli("thresholds", "get"); !strings.Contains(out, "max_cpu_percent           off") || !strings.Contains(out, "max_process_count         5") {
		t.Fatalf("thresholds get:\n%s", out)
	}

	// The web example on n2: 9 processes, over the limit of 5.
	ap := decodeJSON[map[string]any](t, cli("sup", "apply", "../../examples/web.hcl", "--node", "n2", "-o", "json"))
	idx := uint64(ap["modify_index"].(float64))
	testkit.Eventually(t, 15*time.Second, func() error {
		if l := sup("n2"); l == nil || l.AppliedIndex("web") != idx {
			return fmt.Errorf("web not applied on n2")
		}
		return nil
	}, "web applied")

	v := decodeJSON[validateJSON](t, cli("validate", "-o", "json"))
	if !v.Consistent || len(v.Nodes) != 3 || len(v.Violations) != 0 {
		t.Fatalf("validate a clean cluster: %+v", v)
	}
	raw := decodeJSON[map[string]any](t, cli("validate", "-o", "json"))
	hasKeys(t, "validate", raw, "consistent", "violations", "nodes")
	hasKeys(t, "validate node", raw["nodes"].([]any)[0].(map[string]any), "node", "checked", "violations")
	if out := cli("validate"); !strings.Contains(out, "Consistent: 3 nodes, 9 processes checked.") {
		t.Fatalf("validate:\n%s", out)
	}

	// The violation shows in n2's status and, through gossip, in n1's members.
	testkit.Eventually(t, 15*time.Second, func() error {
		st := decodeJSON[statusJSON](t, mustRun(t, "--addr", addr2, "status", "-o", "json"))
		if len(st.Violations) != 1 || st.Violations[0].Metric != "process_count" || st.Violations[0].Value != 9 || st.Violations[0].Limit != 5 || st.Violations[0].Since == "" {
			return fmt.Errorf("n2 status violations: %+v", st.Violations)
		}
		for _, m := range decodeJSON[[]memberJSON](t, cli("members", "-o", "json")) {
			want := 0
			if m.Name == "n2" {
				want = 1
			}
			if len(m.Violations) != want {
				return fmt.Errorf("member %s: violations %v", m.Name, m.Violations)
			}
		}
		return nil
	}, "the process_count violation in status and members")
	if out := cli("members"); !strings.Contains(out, "VIOLATIONS") || !strings.Contains(out, "process_count") {
		t.Fatalf("members:\n%s", out)
	}
	st1 := decodeJSON[map[string]any](t, cli("status", "-o", "json"))
	if vs, ok := st1["violations"].([]any); !ok || len(vs) != 0 {
		t.Fatalf("n1 status violations: %v", st1["violations"])
	}

	// Back within the limit (9 is under 10): cleared everywhere.
	cli("thresholds", "set", "--max-process-count", "10")
	testkit.Eventually(t, 15*time.Second, func() error {
		if st := decodeJSON[statusJSON](t, mustRun(t, "--addr", addr2, "status", "-o", "json")); len(st.Violations) != 0 {
			return fmt.Errorf("n2 still has %v", st.Violations)
		}
		return nil
	}, "violation cleared")

	// Broken behind the reconciler's back: validate says so, exit code 1.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sup("n2").Runtime().StopTree(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	out := fails(1, "not consistent: 1 violation on n2", "validate", "--settle", "200ms", "-o", "json")
	bad := decodeJSON[validateJSON](t, out)
	if bad.Consistent || len(bad.Violations) != 1 || bad.Violations[0] != (validateViolationJSON{Node: "n2", Kind: "tree_missing", Subject: "tree:web",
		Detail: fmt.Sprintf("committed for this node at index %d, not running", idx)}) {
		t.Fatalf("validate a broken cluster: %+v", bad)
	}
	if out := fails(1, "not consistent", "validate", "--nodes", "n2", "--settle", "200ms"); !strings.Contains(out, "tree_missing") || strings.Contains(out, "n1 ") {
		t.Fatalf("validate --nodes n2:\n%s", out)
	}
}
