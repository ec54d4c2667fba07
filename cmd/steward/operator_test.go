package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/backup"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

func TestOperatorBackupRestoreCLI(t *testing.T) {
	c := testkit.NewCluster(t, 3, testkit.WithStack(func(string) stack.Config {
		bcfg := backup.DefaultConfig()
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Backup: &bcfg}
	}))
	addr := c.Followers()[0].GRPCAddr()
	cli := func(args ...string) string {
		t.Helper()
		return mustRun(t, append([]string{"--addr", addr}, args...)...)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "state.backup")

	cli("kv", "put", "app/color", "blue")
	saved := decodeJSON[map[string]any](t, cli("operator", "backup", file, "-o", "json"))
	hasKeys(t, "operator backup", saved, "file", "format_version", "cluster_id", "raft_index", "raft_term", "created_at", "size", "sha256", "node")
	if saved["cluster_id"] != c.Leader().Status().ClusterId || saved["node"] != c.Leader().Name() || saved["format_version"] != float64(1) {
		t.Fatalf("backup: %v", saved)
	}
	inspected := decodeJSON[map[string]any](t, mustRun(t, "operator", "inspect", file, "-o", "json"))
	if inspected["sha256"] != saved["sha256"] || inspected["raft_index"] != saved["raft_index"] {
		t.Fatalf("inspect: %v, backup: %v", inspected, saved)
	}
	if out := mustRun(t, "operator", "inspect", file); !strings.Contains(out, "SHA-256:") || !strings.Contains(out, "Raft index/term:") {
		t.Fatalf("inspect:\n%s", out)
	}

	cli("kv", "put", "app/color", "red")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), raw...)
	corrupt[len(corrupt)-5] ^= 0x10
	for name, b := range map[string][]byte{"corrupt": corrupt, "truncated": raw[:len(raw)-50]} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"corrupt": "checksum mismatch", "truncated": "truncated"}[name]
		_, err := run(t, "--addr", addr, "operator", "restore", p)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was sent") {
			t.Fatalf("restore %s: %v", name, err)
		}
		if _, err := run(t, "operator", "inspect", p); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("inspect %s: %v", name, err)
		}
	}
	if v := cli("kv", "get", "app/color"); v != "red\n" {
		t.Fatalf("a refused restore changed the state: %q", v)
	}

	restored := decodeJSON[map[string]any](t, cli("operator", "restore", file, "-o", "json"))
	if restored["restored_by"] != c.Leader().Name() || restored["index"].(float64) <= saved["raft_index"].(float64) {
		t.Fatalf("restore: %v", restored)
	}
	for _, n := range c.Live() {
		testkit.Eventually(t, 10*time.Second, func() error {
			if v := mustRun(t, "--addr", n.GRPCAddr(), "kv", "get", "--stale", "app/color"); v != "blue\n" {
				return fmt.Errorf("%s: %q", n.Name(), v)
			}
			return nil
		}, "restored on %s", n.Name())
	}
}
