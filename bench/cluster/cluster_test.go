package cluster

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRaftBlockIsSortedHCL(t *testing.T) {
	got := RaftBlock(map[string]string{"max_append_entries": "256", "commit_timeout": `"5ms"`})
	want := "raft {\n  commit_timeout = \"5ms\"\n  max_append_entries = 256\n}\n"
	if got != want {
		t.Fatalf("RaftBlock =\n%s\nwant\n%s", got, want)
	}
}

func TestConnsFor(t *testing.T) {
	for _, tc := range []struct{ clients, conns, want int }{{16, 0, 16}, {16, 4, 4}, {4, 16, 4}, {1, 0, 1}} {
		if got := connsFor(tc.clients, tc.conns); got != tc.want {
			t.Errorf("connsFor(%d, %d) = %d, want %d", tc.clients, tc.conns, got, tc.want)
		}
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
}

func TestProcStartKillRestartAndUsage(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	p := NewProc("sleeper", sleep, []string{"60"}, filepath.Join(dir, "sleeper.log"))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	if !p.Running() || p.Pid() == 0 {
		t.Fatal("not running after Start")
	}
	if err := p.Start(); err == nil {
		t.Fatal("a second Start of a running process was accepted")
	}
	u := ProcUsage([]int{os.Getpid(), p.Pid(), 0})
	if u.CPU < 0 || u.WriteBytes < 0 {
		t.Fatalf("usage %+v", u)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	done, _ := p.Exited()
	select {
	case <-done:
	default:
		t.Fatal("Kill returned before the process was gone")
	}
	if p.Running() || p.Pid() != 0 {
		t.Fatal("still running after Kill")
	}
	if err := p.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	p.Stop(5 * time.Second)
	if p.Running() {
		t.Fatal("still running after Stop")
	}
}

func TestProcLogTail(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "x.log")
	if err := os.WriteFile(log, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := NewProc("x", "/nonexistent", nil, log)
	if got := p.LogTail(2); got != "c\nd" {
		t.Fatalf("LogTail = %q", got)
	}
	if err := p.Start(); err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Fatalf("start of a missing binary: %v", err)
	}
}

func TestPollNamesWhatItAwaited(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := poll(ctx, "the thing", func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "the thing") || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("poll error %v", err)
	}
	n := 0
	if err := poll(context.Background(), "x", func(context.Context) error {
		n++
		if n < 3 {
			return errors.New("again")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("poll: %v after %d calls", err, n)
	}
}
