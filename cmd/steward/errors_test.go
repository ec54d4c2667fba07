package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// runIn is run with stdin as standard input.
func runIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// An address that is not host:port is refused before dialling, as a usage
// error naming where it came from (gRPC would take "127.0.0.1" for port
// 443, and say of ":::" only "produced zero addresses").
func TestBadAddressIsAUsageError(t *testing.T) {
	for _, addr := range []string{":::", "127.0.0.1", "127.0.0.1:", ":7403", "localhost:0", "localhost:99999", "localhost:http"} {
		_, err := run(t, "--addr", addr, "status")
		want := fmt.Sprintf("--addr %q: not host:port (e.g. 127.0.0.1:7403)", addr)
		if exitCode(err) != 2 || err.Error() != want {
			t.Errorf("--addr %q: exit %d: %v; want %q", addr, exitCode(err), err, want)
		}
	}
	t.Setenv("STEWARD_ADDR", "nohost")
	if _, err := run(t, "kv", "get", "k"); exitCode(err) != 2 || err.Error() != `STEWARD_ADDR "nohost": not host:port (e.g. 127.0.0.1:7403)` {
		t.Errorf("bad STEWARD_ADDR: exit %d: %v", exitCode(err), err)
	}
}

// What a command would send over a limit of the agent is refused before
// anything is sent (no agent listens at noAgent), with the input's name,
// its size and the limit; a kv key that breaks the agent's rules likewise,
// as a usage error.
func TestInputsCheckedBeforeSending(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// Sparse: the size is what counts, not the bytes on disk.
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	value := file("value", 600000)
	spec := file("spec.json", 2000000)
	plan := file("plan.json", 1<<20+1)
	snap := file("snap", snapshot.MaxFileBytes+1)
	backup := file("backup", maxBackupFile+1)
	msg := file("msg", 1<<20+1)
	big := strings.Repeat("x", 2<<20)
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"kv", "put", "k", "@" + value}, 1, "kv put: value file " + value + " is 600000 bytes; the limit is 524288 (512 KiB)"},
		{"", []string{"kv", "put", "k", strings.Repeat("v", 600000)}, 1, "kv put: value is 600000 bytes; the limit is 524288 (512 KiB)"},
		{big, []string{"kv", "put", "k", "-"}, 1, "kv put: value on standard input is larger than the limit of 524288 bytes (512 KiB)"},
		{"", []string{"kv", "put", "bad\xff\xfekey", "v"}, 2, `kv put: key "bad\xff\xfekey" is not valid UTF-8`},
		{"", []string{"kv", "get", "\xff" + strings.Repeat("k", 40)}, 2, `kv get: key "\xffkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"... is not valid UTF-8`},
		{"", []string{"kv", "get", strings.Repeat("k", 1100)}, 2, "kv get: key is 1100 bytes; the limit is 1024 (1 KiB)"},
		{"", []string{"kv", "delete", "/abs"}, 2, `kv delete: invalid key: key "/abs" starts with '/'`},
		{"", []string{"kv", "list", "app\xff"}, 2, `kv list: prefix "app\xff" is not valid UTF-8`},
		{"", []string{"sup", "apply", spec}, 1, "sup apply: spec file " + spec + " is 2000000 bytes; the limit is 1048576 (1 MiB)"},
		{big, []string{"sup", "apply", "-"}, 1, "sup apply: spec on standard input is larger than the limit of 1048576 bytes (1 MiB)"},
		{"", []string{"plan", plan}, 1, "plan: plan file " + plan + " is 1048577 bytes; the limit is 1048576 (1 MiB)"},
		{big, []string{"apply", "-"}, 1, "apply: plan on standard input is larger than the limit of 1048576 bytes (1 MiB)"},
		{"", []string{"snapshot", "import", snap}, 1, fmt.Sprintf("snapshot import: snapshot file %s is %d bytes; the limit is %d (129 MiB)", snap, snapshot.MaxFileBytes+1, snapshot.MaxFileBytes)},
		{"", []string{"operator", "restore", backup}, 1, fmt.Sprintf("operator restore: backup file %s is %d bytes; the limit is %d (1.0 GiB)", backup, maxBackupFile+1, maxBackupFile)},
		{"", []string{"proc", "send", "tree:t/c", "@" + msg}, 1, "proc send: message file " + msg + " is 1048577 bytes; the limit is 1048576 (1 MiB)"},
		{big, []string{"proc", "send", "tree:t/c", "-"}, 1, "proc send: message on standard input is larger than the limit of 1048576 bytes (1 MiB)"},
		{"", []string{"sup", "apply", filepath.Join(dir, "none.hcl")}, 1, "sup apply: spec file: open " + filepath.Join(dir, "none.hcl") + ": no such file"},
	} {
		t.Run(tc.args[0]+" "+filepath.Base(tc.args[1]), func(t *testing.T) {
			_, err := runIn(t, tc.stdin, append(append([]string{}, noAgent...), tc.args...)...)
			if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d: %v\nwant exit %d: %s", exitCode(err), err, tc.code, tc.want)
			}
		})
	}
}

// Against one node running every layer: a lookup of something missing
// exits 1 with a message naming it (sup tree printed an "absent" tree and
// exited 0); a name that is not UTF-8 gets steward's message, not gRPC's
// marshalling error; kv list escapes control characters in keys as in
// values.
func TestMissingThingsAndKeysOnOneNode(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(func(string) stack.Config {
		ccfg, scfg := coordination.DefaultConfig(), snapshot.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg, Snapshot: &scfg}
	}))
	addr := c.Node(0).GRPCAddr()

	t.Run("lookups", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"sup", "tree", "NOSUCH"}, 1, `not found: no tree "NOSUCH" is committed, nor running on n1`},
			{[]string{"sup", "tree", "NOSUCH", "-o", "json"}, 1, `no tree "NOSUCH"`},
			{[]string{"proc", "info", "NOSUCH"}, 2, "a registered name needs --node NODE"},
			{[]string{"proc", "info", "NOSUCH", "--node", "n1"}, 1, `name not registered: "NOSUCH"`},
			{[]string{"proc", "info", "tree:NOSUCH"}, 1, `tree not found: "NOSUCH"`},
			// n1 runs its first creation: its pids lie above 1000000000.
			{[]string{"proc", "info", "n1/1999999999"}, 1, "n1/1999999999 was never spawned"},
			{[]string{"proc", "info", "n1/99999"}, 1, "n1/99999 is from an earlier run of node \"n1\""},
			{[]string{"ops", "status", "NOSUCH"}, 1, `not found: plan "NOSUCH"`},
			{[]string{"snapshot", "inspect", "NOSUCH"}, 1, `not found: snapshot "NOSUCH"`},
			{[]string{"kv", "get", "NOSUCH"}, 1, `not found: no key exists at "NOSUCH"`},
			{[]string{"kv", "get", "NOSUCH", "-o", "json"}, 1, `not found: no key exists at "NOSUCH"`},
			{[]string{"sup", "tree", "bad\xffname"}, 1, "an argument or flag value is not valid UTF-8"},
		} {
			out, err := run(t, append([]string{"--addr", addr}, tc.args...)...)
			if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("steward %s: exit %d: %v\n%s\nwant exit %d: %s", strings.Join(tc.args, " "), exitCode(err), err, out, tc.code, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), "marshaling") {
				t.Errorf("steward %s: gRPC's words: %v", strings.Join(tc.args, " "), err)
			}
		}
	})

	t.Run("kv list escapes keys", func(t *testing.T) {
		keys := []string{"esc/new\nline", "esc/tab\there", "esc/\x1b[31mred", "esc/plain key"}
		for _, k := range keys {
			mustRun(t, "--addr", addr, "kv", "put", k, "v\x07al\nue")
		}
		out := mustRun(t, "--addr", addr, "kv", "list", "esc/")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 1+len(keys) {
			t.Fatalf("%d lines for %d keys:\n%s", len(lines), len(keys), out)
		}
		for _, want := range []string{`esc/new\nline `, `esc/tab\there `, `esc/\x1b[31mred `, "esc/plain key ", `v\aal\nue`} {
			if !strings.Contains(out, want) {
				t.Errorf("table lacks %q:\n%s", want, out)
			}
		}
		if strings.ContainsAny(out, "\t\x1b\x07") {
			t.Errorf("raw control characters in the table:\n%q", out)
		}
		var items []kvJSON
		if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "kv", "list", "esc/", "-o", "json")), &items); err != nil || len(items) != len(keys) {
			t.Fatalf("kv list -o json: %v %v", items, err)
		}
		got := map[string]bool{}
		for _, it := range items {
			got[it.Key] = true
		}
		for _, k := range keys {
			if !got[k] {
				t.Errorf("-o json lacks the exact key %q: %v", k, items)
			}
		}
	})
}
