package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// TestSupChildCLI drives the direct child API (sup child start, terminate,
// restart, delete; which-children, count-children, get-childspec) on a
// 3-node cluster, through a node that does not run the trees.
func TestSupChildCLI(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		ccfg := coordination.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg}
	}))
	addr := c.Node(0).GRPCAddr()
	cli := func(args ...string) string {
		t.Helper()
		return mustRun(t, append([]string{"--addr", addr}, args...)...)
	}
	fails := func(code int, text string, args ...string) {
		t.Helper()
		out, err := run(t, append([]string{"--addr", addr}, args...)...)
		if err == nil || exitCode(err) != code || !strings.Contains(err.Error(), text) {
			t.Errorf("steward %s: got %v (exit %d), want exit %d with %q\n%s", strings.Join(args, " "), err, exitCode(err), code, text, out)
		}
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cli("sup", "apply", "../../examples/web.hcl", "--node", "n2")
	cli("sup", "apply", "../../examples/pool.hcl", "--node", "n3")
	testkit.Eventually(t, 20*time.Second, func() error {
		for _, tree := range []string{"web", "pool"} {
			v := decodeJSON[treeViewJSON](t, cli("sup", "tree", tree, "-o", "json"))
			if v.Status != "running" {
				return fmt.Errorf("%s: %s", tree, v.Status)
			}
		}
		return nil
	}, "web and pool running")

	// which-children: OTP's order, the child started last first.
	kids := decodeJSON[[]map[string]any](t, cli("sup", "which-children", "web", "-o", "json"))
	var ids []string
	for _, k := range kids {
		hasKeys(t, "which-children item", k, "id", "pid", "type", "behavior", "module", "restart", "state", "restarts", "dynamic")
		ids = append(ids, k["id"].(string))
	}
	if want := []string{"clock", "backend", "echo", "sessions", "hits"}; !slices.Equal(ids, want) {
		t.Fatalf("which-children web: %v, want %v", ids, want)
	}
	if out := cli("sup", "which-children", "web/backend"); !strings.Contains(out, "requests") || !strings.Contains(out, "transient") {
		t.Fatalf("which-children web/backend:\n%s", out)
	}
	counts := decodeJSON[map[string]any](t, cli("sup", "count-children", "web", "-o", "json"))
	hasKeys(t, "count-children", counts, "tree", "path", "node", "specs", "active", "supervisors", "workers")
	if counts["specs"] != float64(5) || counts["active"] != float64(5) || counts["supervisors"] != float64(1) || counts["workers"] != float64(4) || counts["node"] != "n2" {
		t.Fatalf("count-children web: %v", counts)
	}
	cs := decodeJSON[map[string]any](t, cli("sup", "get-childspec", "web", "echo", "-o", "json"))
	hasKeys(t, "get-childspec", cs, "tree", "path", "node", "id", "spec")
	if sp := cs["spec"].(map[string]any); sp["behavior"] != "echo" || sp["id"] != "echo" {
		t.Fatalf("get-childspec web echo: %v", cs)
	}

	// start: a new child from an HCL spec, then one from JSON with the id
	// given on the command line.
	hclSpec := write("extra.hcl", `child "extra" {
  behavior = "counter"
  restart  = "transient"
}`)
	out := cli("sup", "child", "start", "web", "extra", "--spec", hclSpec)
	if !strings.Contains(out, "plan ") || !strings.Contains(out, "succeeded") || !strings.Contains(out, "Child extra of web started on n2: pid n2/") {
		t.Fatalf("child start:\n%s", out)
	}
	started := decodeJSON[map[string]any](t, cli("sup", "child", "start", "web/backend", "more", "--spec", write("more.json", `{"behavior":"kv"}`), "-o", "json"))
	hasKeys(t, "child start -o json", started, "plan_id", "status", "reason", "operation", "tree", "path", "child_id", "node", "pid")
	if started["status"] != "succeeded" || started["operation"] != "start_child" || started["path"] != "backend" || started["child_id"] != "more" || !strings.HasPrefix(started["pid"].(string), "n2/") {
		t.Fatalf("child start -o json: %v", started)
	}
	kids = decodeJSON[[]map[string]any](t, cli("sup", "which-children", "web", "-o", "json"))
	if kids[0]["id"] != "extra" || kids[0]["state"] != "running" {
		t.Fatalf("the started child is not first: %v", kids)
	}
	if sp := decodeJSON[map[string]any](t, cli("sup", "get-childspec", "web/backend", "more", "-o", "json"))["spec"].(map[string]any); sp["behavior"] != "kv" {
		t.Fatalf("get-childspec of a started child: %v", sp)
	}
	fails(1, "already has a child", "sup", "child", "start", "web", "--spec", hclSpec)
	// A plan that fails: the child's init fails; exit 1 with the reason.
	fails(1, "child failed to start", "sup", "child", "start", "web", "bad", "--spec", write("bad.json", `{"behavior":"crasher","args":{"crash_in_init":"true"}}`))

	// restart of a running child is refused, as OTP's {error, running}.
	fails(1, "is running", "sup", "child", "restart", "web", "extra")
	// terminate keeps the spec; restart brings it back.
	term := decodeJSON[map[string]any](t, cli("sup", "child", "terminate", "web", "extra", "-o", "json"))
	if term["status"] != "succeeded" || term["operation"] != "terminate_child" {
		t.Fatalf("child terminate: %v", term)
	}
	counts = decodeJSON[map[string]any](t, cli("sup", "count-children", "web", "-o", "json"))
	if counts["specs"] != float64(6) || counts["active"] != float64(5) {
		t.Fatalf("count-children after terminate: %v", counts)
	}
	if out := cli("sup", "which-children", "web"); !strings.Contains(out, "terminated") {
		t.Fatalf("which-children after terminate:\n%s", out)
	}
	if out := cli("sup", "child", "restart", "web", "extra"); !strings.Contains(out, "Child extra of web restarted on n2: pid n2/") {
		t.Fatalf("child restart:\n%s", out)
	}

	// delete: of a running child refused (OTP's {error, running}), of an
	// unknown one too (not_found); of a terminated one, its spec goes.
	if !slices.Contains(plan.OpTypes, deleteChild) {
		t.Fatalf("plan has no %s operation type", deleteChild)
	}
	fails(1, "running", "sup", "child", "delete", "web", "hits")
	fails(1, "extra", "sup", "child", "delete", "web", "extra")
	cli("sup", "child", "terminate", "web", "extra")
	del := decodeJSON[map[string]any](t, cli("sup", "child", "delete", "web", "extra", "-o", "json"))
	if del["status"] != "succeeded" || del["operation"] != "delete_child" || del["child_id"] != "extra" || del["node"] != "n2" {
		t.Fatalf("child delete -o json: %v", del)
	}
	fails(1, "not found", "sup", "get-childspec", "web", "extra")
	fails(1, "nosuch", "sup", "child", "delete", "web", "nosuch")
	counts = decodeJSON[map[string]any](t, cli("sup", "count-children", "web", "-o", "json"))
	if counts["specs"] != float64(5) || counts["active"] != float64(5) {
		t.Fatalf("count-children after delete: %v", counts)
	}
	// A terminated child of a nested supervisor, deleted with the text
	// output.
	cli("sup", "child", "terminate", "web/backend", "more")
	if out := cli("sup", "child", "delete", "web/backend", "more"); !strings.Contains(out, "Child more of web/backend deleted on n2") {
		t.Fatalf("child delete:\n%s", out)
	}
	// Not for simple_one_for_one: terminate removes an instance.
	fails(1, "simple_one_for_one", "sup", "child", "delete", "pool", "worker")

	// simple_one_for_one: start instances with args, terminate one by pid.
	inst := decodeJSON[map[string]any](t, cli("sup", "child", "start", "pool", "--args", "prefix=a: ", "-o", "json"))
	if inst["status"] != "succeeded" || !strings.HasPrefix(inst["pid"].(string), "n3/") {
		t.Fatalf("start an instance: %v", inst)
	}
	cli("sup", "child", "start", "pool", "--args", "prefix=b: ")
	kids = decodeJSON[[]map[string]any](t, cli("sup", "which-children", "pool", "-o", "json"))
	if len(kids) != 2 || kids[0]["id"] != "worker-2" || kids[1]["pid"] != inst["pid"] || kids[1]["dynamic"] != true {
		t.Fatalf("which-children pool: %v", kids)
	}
	if sp := decodeJSON[map[string]any](t, cli("sup", "get-childspec", "pool", inst["pid"].(string), "-o", "json"))["spec"].(map[string]any); sp["args"].(map[string]any)["prefix"] != "a: " {
		t.Fatalf("get-childspec of an instance: %v", sp)
	}
	cli("sup", "child", "terminate", "pool", inst["pid"].(string))
	kids = decodeJSON[[]map[string]any](t, cli("sup", "which-children", "pool", "-o", "json"))
	if len(kids) != 1 || kids[0]["id"] != "worker-2" {
		t.Fatalf("which-children pool after terminate: %v", kids)
	}

	// Refusals: unknown tree, unknown child, unknown nested supervisor.
	fails(1, "not found", "sup", "which-children", "nosuch")
	fails(1, "not found", "sup", "count-children", "web/nosuch")
	fails(1, "not found", "sup", "get-childspec", "web", "nosuch")
	fails(1, "nosuch", "sup", "child", "terminate", "web", "nosuch")
	fails(1, "nosuch", "sup", "child", "restart", "web", "nosuch")
	fails(1, "nosuch", "sup", "child", "terminate", "nosuch", "x")

	// Usage errors, found before anything is sent.
	fails(2, "want TREE", "sup", "which-children", "web/")
	fails(2, "want TREE", "sup", "child", "terminate", "/x", "y")
	fails(2, "accepts 2 arg", "sup", "child", "restart", "web")
	fails(2, "needs --spec", "sup", "child", "start", "web", "extra")
	fails(2, "give --spec FILE", "sup", "child", "start", "pool")
	fails(2, "cannot be combined", "sup", "child", "start", "web", "--spec", hclSpec, "--args", "a=b")
	fails(2, "differs", "sup", "child", "start", "web", "other", "--spec", hclSpec)
	fails(2, "--output", "sup", "count-children", "web", "-o", "yaml")
}
