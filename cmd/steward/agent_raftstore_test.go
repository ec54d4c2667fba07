package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --raft-log-store takes boltdb or wal (unset by default: the data dir's
// store, wal for a new one), over the file's raft_log_store; anything
// else is a usage error (exit 2) naming the flag and the two values, in
// the file one naming the key.
func TestAgentRaftLogStore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(file, []byte("raft_log_store = \"wal\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--raft-log-store", "wal"}, "wal"},
		{[]string{"--config", file}, "wal"},
		{[]string{"--config", file, "--raft-log-store", "boltdb"}, "boltdb"},
	} {
		s, err := parseAgentFlags(t, append([]string{"--data-dir", dir, "--name", "a"}, tc.args...)...)
		if err != nil || s.node.RaftLogStore != tc.want {
			t.Errorf("%v: raft log store %q %v, want %q", tc.args, s.node.RaftLogStore, err, tc.want)
		}
	}
	out, err := run(t, "agent", "--raft-log-store", "sqlite", "--data-dir", dir)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `"sqlite" is not a Raft log store; use "boltdb" or "wal"`) || !strings.Contains(err.Error(), "--raft-log-store") {
		t.Errorf("bad --raft-log-store: exit %d: %v\n%s", exitCode(err), err, out)
	}
	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("raft_log_store = \"bolt\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseAgentFlags(t, "--config", bad, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), `raft_log_store: "bolt" is not a Raft log store; use "boltdb" or "wal"`) {
		t.Errorf("bad raft_log_store in the file: %v", err)
	}
}
