package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/steward/steward/testkit"
)

// run executes the CLI in-process and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("steward %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCLIAgainstACluster(t *testing.T) {
	c := testkit.NewCluster(t, 3)
	addr := c.Followers()[0].GRPCAddr()

	mustRun(t, "--addr", addr, "kv", "put", "app/config", "v1")
	var got map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "kv", "get", "app/config", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"key", "value", "modify_index", "create_index"} {
		if _, ok := got[k]; !ok {
			t.Errorf("kv get -o json lacks %q: %v", k, got)
		}
	}
	if got["value"] != "v1" {
		t.Fatalf("value = %v", got["value"])
	}
	idx := int64(got["modify_index"].(float64))

	// CAS: a stale index is refused with a clear message and exit code 1.
	_, err := run(t, "--addr", addr, "kv", "put", "--cas", "1", "app/config", "v2")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "check-and-set conflict") {
		t.Fatalf("stale cas: %v", err)
	}
	mustRun(t, "--addr", addr, "kv", "put", "--cas", jsonNum(idx), "app/config", "v2")
	if v := mustRun(t, "--addr", addr, "kv", "get", "app/config"); v != "v2\n" {
		t.Fatalf("get = %q", v)
	}

	var st map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"leader", "term", "commit_index", "applied_index"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status -o json lacks %q", k)
		}
	}
	if st["leader"] != c.Leader().Name() {
		t.Errorf("status leader %v, want %s", st["leader"], c.Leader().Name())
	}

	var members []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "members", "-o", "json")), &members); err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 {
		t.Fatalf("members: %v", members)
	}
	roles := map[string]int{}
	for _, m := range members {
		for _, k := range []string{"name", "status", "raft_role", "gossip_addr", "grpc_addr"} {
			if _, ok := m[k]; !ok {
				t.Errorf("member lacks %q: %v", k, m)
			}
		}
		roles[m["raft_role"].(string)]++
	}
	if roles["leader"] != 1 || roles["voter"] != 2 {
		t.Errorf("roles: %v", roles)
	}

	var peers []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "raft", "peers", "-o", "json")), &peers); err != nil || len(peers) != 3 {
		t.Fatalf("raft peers: %v %v", peers, err)
	}

	_, err = run(t, "--addr", addr, "raft", "remove-peer", "ghost")
	if err == nil || !strings.Contains(err.Error(), `"ghost" is not a Raft peer`) {
		t.Fatalf("remove unknown peer: %v", err)
	}
	_, err = run(t, "--addr", addr, "kv", "get", "nope")
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing key: %v", err)
	}
	_, err = run(t, "--addr", addr, "members", "-o", "yaml")
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("bad output format: %v", err)
	}

	out := mustRun(t, "--addr", addr, "kv", "list", "app/", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("kv list: %s %v", out, err)
	}
	mustRun(t, "--addr", addr, "kv", "delete", "--prefix", "app/")
	if out := mustRun(t, "--addr", addr, "kv", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after delete: %s", out)
	}
}

func jsonNum(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestCLIUnreachableAgent(t *testing.T) {
	_, err := run(t, "--addr", "127.0.0.1:1", "--timeout", "3s", "status")
	if err == nil || !strings.Contains(err.Error(), "cannot reach a steward agent at 127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}

func TestCLIAddrFromEnvironment(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	t.Setenv("STEWARD_ADDR", c.Node(0).GRPCAddr())
	if out := mustRun(t, "status", "-o", "json"); !strings.Contains(out, `"leader": "n1"`) {
		t.Fatalf("status via STEWARD_ADDR: %s", out)
	}
}
