package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// complete runs cobra's hidden __complete command as a shell script does
// and returns the candidates (without descriptions) and the directive.
func complete(t *testing.T, args ...string) (names, lines []string, directive string) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"__complete"}, args...))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("__complete %q: %v\n%s", args, err, errOut.String())
	}
	all := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(all) == 0 || !strings.HasPrefix(all[len(all)-1], ":") {
		t.Fatalf("__complete %q: no directive line:\n%s", args, out.String())
	}
	lines = all[:len(all)-1]
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "\t")
		names = append(names, name)
	}
	if strings.Contains(errOut.String(), "rror") && !strings.Contains(errOut.String(), "Completion ended with directive") {
		t.Fatalf("__complete %q wrote an error: %s", args, errOut.String())
	}
	return names, lines, all[len(all)-1]
}

const noFileComp = ":4" // cobra.ShellCompDirectiveNoFileComp

func TestCompletionAgainstACluster(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		ccfg, scfg := coordination.DefaultConfig(), snapshot.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg, Snapshot: &scfg}
	}))
	addr := c.Node(0).GRPCAddr()
	dir := t.TempDir()
	mustRun(t, "--addr", addr, "sup", "apply", writeFile(t, dir, "t.json",
		`{"name":"tally","node":"n2","children":[{"id":"count","behavior":"counter"}]}`))
	mustRun(t, "--addr", addr, "sup", "apply", writeFile(t, dir, "u.json",
		`{"name":"other","node":"n3","children":[{"id":"e","behavior":"echo"}]}`))
	testkit.Eventually(t, 15*time.Second, func() error {
		_, err := run(t, "--addr", addr, "proc", "state", "tree:tally/count")
		return err
	}, "tally running")
	var plan map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--addr", addr, "apply", "--wait", "-o", "json", writeFile(t, dir, "p.json",
		`{"operations":[{"id":"a","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc"}}]}`))), &plan); err != nil {
		t.Fatal(err)
	}
	planID := plan["id"].(string)
	snapID := snapID(t, mustRun(t, "--addr", addr, "snapshot", "capture", "-o", "json"))

	// Tree names, with where they run; filtered by what is typed; nothing
	// past the last argument.
	names, lines, dir2 := complete(t, "--addr", addr, "sup", "tree", "")
	if strings.Join(names, ",") != "other,tally" || dir2 != noFileComp || !strings.HasPrefix(lines[1], "tally\ton n2") {
		t.Fatalf("sup tree: %q %s", lines, dir2)
	}
	if names, _, _ := complete(t, "--addr", addr, "sup", "child", "terminate", "ta"); strings.Join(names, ",") != "tally" {
		t.Fatalf("sup child terminate ta: %q", names)
	}
	if names, _, d := complete(t, "--addr", addr, "sup", "tree", "tally", ""); len(names) != 0 || d != noFileComp {
		t.Fatalf("sup tree tally <TAB>: %q %s", names, d)
	}
	if names, _, _ := complete(t, "--addr", addr, "sup", "strategy", "tally", "one"); strings.Join(names, ",") != "one_for_all,one_for_one" {
		t.Fatalf("sup strategy tally one: %q", names)
	}

	// Node names, for --node, --nodes (after a comma) and a node argument.
	if names, _, d := complete(t, "--addr", addr, "sup", "list", "--node", ""); strings.Join(names, ",") != "n1,n2,n3" || d != noFileComp {
		t.Fatalf("sup list --node: %q %s", names, d)
	}
	if names, _, _ := complete(t, "--addr", addr, "snapshot", "capture", "--nodes", "n1,n"); fmt.Sprint(names) != "[n1,n2 n1,n3]" {
		t.Fatalf("snapshot capture --nodes n1,n: %q", names)
	}
	if names, _, _ := complete(t, "--addr", addr, "raft", "remove-peer", "n3"); strings.Join(names, ",") != "n3" {
		t.Fatalf("raft remove-peer n3: %q", names)
	}

	// Plan ids: every plan for watch and status, only running ones for
	// cancel; snapshot ids.
	if names, _, d := complete(t, "--addr", addr, "ops", "watch", ""); strings.Join(names, ",") != planID || d != noFileComp {
		t.Fatalf("ops watch: %q %s, want %s", names, d, planID)
	}
	if names, _, _ := complete(t, "--addr", addr, "ops", "cancel", ""); len(names) != 0 {
		t.Fatalf("ops cancel offers finished plans: %q", names)
	}
	if names, _, _ := complete(t, "--addr", addr, "snapshot", "restore", ""); strings.Join(names, ",") != snapID {
		t.Fatalf("snapshot restore: %q, want %s", names, snapID)
	}
	if names, _, _ := complete(t, "--addr", addr, "ops", "list", "-o", ""); strings.Join(names, ",") != "table,json" {
		t.Fatalf("ops list -o: %q", names)
	}

	// kv keys, by prefix.
	mustRun(t, "--addr", addr, "kv", "put", "app/a", "1")
	mustRun(t, "--addr", addr, "kv", "put", "app/b", "2")
	mustRun(t, "--addr", addr, "kv", "put", "other", "3")
	testkit.Eventually(t, 10*time.Second, func() error { // read from the agent's replica
		if names, _, _ := complete(t, "--addr", addr, "kv", "get", "app/"); strings.Join(names, ",") != "app/a,app/b" {
			return fmt.Errorf("kv get app/<TAB>: %q", names)
		}
		return nil
	}, "kv keys completed")

	// An agent without the service, or none at all: no candidates, no
	// error, no file names.
	if names, _, d := complete(t, "--addr", addr, "deploy", "watch", ""); len(names) != 0 || d != noFileComp {
		t.Fatalf("deploy watch against an agent without deployments: %q %s", names, d)
	}
	if names, _, d := complete(t, "--addr", "127.0.0.1:1", "sup", "tree", ""); len(names) != 0 || d != noFileComp {
		t.Fatalf("unreachable agent: %q %s", names, d)
	}
	// STEWARD_ADDR is read as by every command.
	t.Setenv("STEWARD_ADDR", c.Node(2).GRPCAddr())
	if names, _, _ := complete(t, "sup", "delete", "o"); strings.Join(names, ",") != "other" {
		t.Fatalf("sup delete o via STEWARD_ADDR: %q", names)
	}
}

// Every command argCompletions names exists, and the scripts of cobra's
// completion command are written for each shell.
func TestCompletionCommands(t *testing.T) {
	root := newRootCmd()
	for path, ls := range argCompletions {
		c, _, err := root.Find(strings.Fields(path))
		if err != nil || c.CommandPath() != "steward "+path {
			t.Errorf("argCompletions names %q, not a command (%v)", path, err)
			continue
		}
		if c.ValidArgsFunction == nil {
			t.Errorf("steward %s has no argument completion", path)
		}
		if len(ls) == 0 {
			t.Errorf("steward %s: no lister", path)
		}
	}
	for _, sh := range []struct{ shell, want string }{
		{"bash", "__start_steward"}, {"zsh", "#compdef steward"}, {"fish", "complete -c steward"}, {"powershell", "Register-ArgumentCompleter"},
	} {
		out := completionScript(t, sh.shell)
		if !strings.Contains(out, sh.want) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s lacks %q or __complete:\n%.300s", sh.shell, sh.want, out)
		}
	}
	// A file argument keeps file completion.
	names, _, d := complete(t, "--addr", "127.0.0.1:1", "snapshot", "export", "snap-x", "")
	if len(names) != 0 || d != ":0" {
		t.Fatalf("snapshot export ID <TAB>: %q %s, want file completion", names, d)
	}
}

// completionScript runs `steward completion SHELL`. Cobra's completion
// command writes to the standard output as it was when the command tree
// was built (not to SetOut), so the script is read from a file standing
// in for it; no test of this package runs in parallel.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "script"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout := os.Stdout
	os.Stdout = f
	_, err = run(t, "completion", shell)
	os.Stdout = stdout
	if err != nil {
		t.Fatalf("completion %s: %v", shell, err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
