package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// supCluster is a 3-node cluster running the supervision layer, tuned to
// react fast.
func supCluster(t *testing.T) *testkit.Cluster {
	t.Helper()
	return testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		cfg := supervision.DefaultConfig()
		cfg.ResyncInterval = 200 * time.Millisecond
		cfg.RestartBackoffMin = 50 * time.Millisecond
		cfg.RestartBackoffMax = time.Second
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: cfg}
	}))
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startCmd runs the CLI in the background until ctx ends; the returned
// channel yields its error.
func startCmd(ctx context.Context, out *syncBuffer, args ...string) <-chan error {
	cmd := newRootCmd()
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	return done
}

func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return v
}

func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

func TestSupervisionCLI(t *testing.T) {
	c := supCluster(t)
	addr1, addr3 := c.Node(0).GRPCAddr(), c.Node(2).GRPCAddr()
	cli := func(args ...string) string {
		t.Helper()
		return mustRun(t, append([]string{"--addr", addr1}, args...)...)
	}
	cli3 := func(args ...string) string {
		t.Helper()
		return mustRun(t, append([]string{"--addr", addr3}, args...)...)
	}
	fails := func(code int, text string, args ...string) {
		t.Helper()
		out, err := run(t, append([]string{"--addr", addr1}, args...)...)
		if err == nil || exitCode(err) != code || !strings.Contains(err.Error(), text) {
			t.Errorf("steward %s: got %v (exit %d), want exit %d with %q\n%s", strings.Join(args, " "), err, exitCode(err), code, text, out)
		}
	}

	// Apply the web example on n2 through n1.
	ap := decodeJSON[map[string]any](t, cli("sup", "apply", "../../examples/web.hcl", "--node", "n2", "-o", "json"))
	hasKeys(t, "sup apply", ap, "name", "node", "modify_index", "unchanged")
	if ap["name"] != "web" || ap["node"] != "n2" || ap["unchanged"] != false {
		t.Fatalf("apply: %v", ap)
	}
	again := decodeJSON[map[string]any](t, cli("sup", "apply", "../../examples/web.json", "--node", "n2", "-o", "json"))
	if again["unchanged"] != true || again["modify_index"] != ap["modify_index"] {
		t.Fatalf("the same tree in JSON: %v", again)
	}
	if out := cli("sup", "apply", "../../examples/pool.hcl", "--dry-run"); !strings.Contains(out, "Dry run: tree pool is valid") {
		t.Fatalf("dry run: %s", out)
	}

	// sup list, live.
	testkit.Eventually(t, 15*time.Second, func() error {
		list := decodeJSON[[]map[string]any](t, cli3("sup", "list", "-o", "json"))
		if len(list) != 1 {
			return fmt.Errorf("trees: %v", list)
		}
		hasKeys(t, "sup list item", list[0], "name", "node", "strategy", "children", "status", "root_pid", "processes", "modify_index", "applied_index")
		if list[0]["status"] != "running" || list[0]["processes"] != float64(9) || list[0]["children"] != float64(5) {
			return fmt.Errorf("web: %v", list[0])
		}
		return nil
	}, "web running")

	// sup tree: drawn, and nested in JSON.
	if out := cli("sup", "tree", "web"); !strings.Contains(out, "├── backend") || !strings.Contains(out, "│   └── requests") || !strings.Contains(out, "└── clock") {
		t.Fatalf("sup tree:\n%s", out)
	}
	view := decodeJSON[treeViewJSON](t, cli("sup", "tree", "web", "-o", "json"))
	if view.Node != "n2" || view.Root == nil || len(view.Root.Children) != 5 || len(view.Root.Children[3].Children) != 3 || view.Root.Children[3].Strategy != "rest_for_one" {
		t.Fatalf("sup tree -o json: %+v", view)
	}

	// proc list: the tree's processes, and the fan-out through n3.
	procs := decodeJSON[[]map[string]any](t, cli3("proc", "list", "--sup", "web", "-o", "json"))
	if len(procs) != 9 {
		t.Fatalf("proc list --sup web: %d items", len(procs))
	}
	for _, p := range procs {
		hasKeys(t, "proc list item", p, "pid", "node", "supervisor", "child_id", "behavior", "status", "restarts",
			"queue_len", "messages_in", "messages_out", "memory_bytes")
		if p["supervisor"] != "web" || p["node"] != "n2" {
			t.Fatalf("proc: %v", p)
		}
	}
	if all := decodeJSON[[]map[string]any](t, cli3("proc", "list", "-o", "json")); len(all) != 9 {
		t.Fatalf("proc list (every node): %d items", len(all))
	}

	// Send, call, read state.
	cli("proc", "send", "tree:web/sessions", "put user42 alice", "--kind", "cast")
	if out := cli3("proc", "send", "web/sessions", "get user42", "--kind", "call"); out != "alice\n" {
		t.Fatalf("call: %q", out)
	}
	if out := cli("proc", "state", "sessions", "--node", "n2"); !strings.Contains(out, "\"user42\": \"alice\"") {
		t.Fatalf("state (pretty): %s", out)
	}
	st := decodeJSON[map[string]any](t, cli("proc", "state", "tree:web/sessions", "-o", "json"))
	if st["state"].(map[string]any)["data"].(map[string]any)["user42"] != "alice" {
		t.Fatalf("state -o json: %v", st)
	}

	// Suspend and resume.
	cli("proc", "suspend", "tree:web/echo")
	if info := decodeJSON[map[string]any](t, cli3("proc", "info", "tree:web/echo", "-o", "json")); info["status"] != "suspended" {
		t.Fatalf("suspended: %v", info)
	}
	cli("proc", "resume", "tree:web/echo")
	if out := cli("proc", "send", "tree:web/echo", "hi", "--kind", "call"); out != "echo: hi\n" {
		t.Fatalf("echo after resume: %q", out)
	}

	// Kill a child while following events: the restart shows up.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var evOut syncBuffer
	done := startCmd(ctx, &evOut, "--addr", addr3, "events", "-f", "--tree", "web", "--type", "restarted", "-o", "json")
	before := decodeJSON[map[string]any](t, cli("proc", "info", "tree:web/backend/cache", "-o", "json"))
	// The follower may not be subscribed yet; kill until a restart shows.
	testkit.Eventually(t, 10*time.Second, func() error {
		for _, line := range strings.Split(strings.TrimSpace(evOut.String()), "\n") {
			if strings.Contains(line, `"child_id":"backend/cache"`) {
				return nil
			}
		}
		if _, err := run(t, "--addr", addr1, "proc", "kill", "tree:web/backend/cache"); err != nil {
			return err
		}
		return fmt.Errorf("no restart of backend/cache yet: %s", evOut.String())
	}, "restart event")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("events -f ended with %v", err)
	}
	var restart map[string]any
	for _, line := range strings.Split(strings.TrimSpace(evOut.String()), "\n") {
		e := decodeJSON[map[string]any](t, line)
		hasKeys(t, "event", e, "seq", "time", "node", "type", "pid", "tree", "child_id", "reason", "detail")
		if e["child_id"] == "backend/cache" {
			restart = e
		}
	}
	if restart["type"] != "restarted" || restart["node"] != "n2" || restart["reason"] != "killed" || restart["pid"] == before["pid"] {
		t.Fatalf("restart event: %v (was %v)", restart, before["pid"])
	}
	if out := cli("events", "--tree", "web", "--last", "3"); strings.Count(out, "\n") != 3 {
		t.Fatalf("events --last 3:\n%s", out)
	}

	// Tracing: the clock casts to hits every second.
	cli("trace", "flow", "enable", "web", "--history", "--interval", "50ms")
	testkit.Eventually(t, 10*time.Second, func() error {
		f := decodeJSON[flowJSON](t, cli3("trace", "flow", "show", "web", "-o", "json"))
		for _, e := range f.Edges {
			if e.FromChild == "clock" && e.ToChild == "hits" && e.Count >= 1 && e.First != "" {
				return nil
			}
		}
		return fmt.Errorf("no clock -> hits edge: %+v", f)
	}, "flow edge")
	if out := cli("trace", "flow", "show", "web"); !strings.Contains(out, "(clock)  ->") {
		t.Fatalf("flow show:\n%s", out)
	}
	h := decodeJSON[map[string]any](t, cli("trace", "history", "tree:web/hits", "-o", "json"))
	hasKeys(t, "trace history", h, "pid", "samples")
	cli("trace", "flow", "disable", "web")

	// Strategy change commits a spec; restart of a nested supervisor.
	if out := cli("sup", "strategy", "web", "one_for_all", "--max-restarts", "10", "--max-seconds", "30"); !strings.Contains(out, "set to one_for_all") {
		t.Fatalf("strategy: %s", out)
	}
	if out := cli("sup", "restart", "web", "--path", "backend"); !strings.Contains(out, "supervisor web/backend restarted") {
		t.Fatalf("restart: %s", out)
	}

	// Errors: clear messages, exit 1 for the cluster's refusals, 2 for usage.
	fails(1, "n2/1999999999 was never spawned", "proc", "info", "n2/1999999999") // n2 runs creation 1
	fails(1, "tree not found", "proc", "info", "tree:nope/x")
	fails(1, "child not found", "proc", "kill", "tree:web/nope")
	fails(1, "not a supervisor", "sup", "restart", "web", "--path", "hits")
	fails(1, "max_seconds: 0 is out of range", "sup", "strategy", "web", "one_for_all", "--max-seconds", "0")
	fails(2, "needs --node", "proc", "info", "name:hits")
	fails(2, "bad target", "proc", "info", "tree:web/a b")
	fails(2, "--kind \"shout\"", "proc", "send", "tree:web/hits", "x", "--kind", "shout")
	fails(1, "no such file", "sup", "apply", "/nonexistent/web.hcl")
	fails(1, "unknown call", "proc", "send", "tree:web/hits", "explode", "--kind", "call")

	cli("sup", "delete", "web")
	if out := cli("sup", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after delete: %s", out)
	}
}
