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

func TestParseMetricsPicksNamedSamples(t *testing.T) {
	text := `# HELP steward_raft_heartbeat_timeouts_total Followers ...
# TYPE steward_raft_heartbeat_timeouts_total counter
steward_raft_heartbeat_timeouts_total 3
steward_raft_state_transitions_total{state="candidate"} 4
steward_raft_state_transitions_total{state="leader"} 1
other_total 9
`
	m, err := ParseMetrics(strings.NewReader(text), "steward_raft_heartbeat_timeouts_total", `steward_raft_state_transitions_total{state="candidate"}`, "absent_total")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["steward_raft_heartbeat_timeouts_total"] != 3 || m[`steward_raft_state_transitions_total{state="candidate"}`] != 4 {
		t.Fatalf("samples %v", m)
	}
	if _, err := ParseMetrics(strings.NewReader("x_total pony\n"), "x_total"); err == nil || !strings.Contains(err.Error(), "x_total") {
		t.Fatalf("a bad value: %v", err)
	}
}

func TestCheckLogStore(t *testing.T) {
	for _, ok := range []string{"", "wal", "boltdb"} {
		if err := CheckLogStore(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if err := CheckLogStore("rocksdb"); err == nil || !strings.Contains(err.Error(), "rocksdb") || !strings.Contains(err.Error(), "wal") {
		t.Fatalf("rocksdb: %v", err)
	}
}

// TestStartStewardPassesFlags starts a "cluster" of a script that records
// its arguments instead of running an agent: the harness must give every
// agent --raft-log-store, its own --http-addr and the extra flags.
func TestStartStewardPassesFlags(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-steward")
	script := "#!" + sh + "\nprintf '%s\\n' \"$@\" > \"" + dir + "/args.$$.tmp\" && mv \"" + dir + "/args.$$.tmp\" \"" + dir + "/args.$$\"\nexec sleep 60\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := StartSteward(context.Background(), StewardOptions{Bin: bin, Dir: dir, LogStore: "rocksdb"}); err == nil {
		t.Fatal("an unknown log store was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan error, 1)
	go func() {
		s, err := StartSteward(ctx, StewardOptions{Bin: bin, Dir: filepath.Join(dir, "c"), LogStore: "wal", Args: []string{"--log-json"}})
		if s != nil {
			s.Close()
		}
		started <- err
	}()
	// Wait for the three agents' argument files, then stop the wait for
	// a healthy cluster (there is none).
	var files []string
	deadline := time.Now().Add(30 * time.Second)
	for len(files) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the agents did not start: %v", files)
		}
		all, _ := filepath.Glob(filepath.Join(dir, "args.[0-9]*"))
		files = files[:0]
		for _, f := range all {
			if !strings.HasSuffix(f, ".tmp") {
				files = append(files, f)
			}
		}
		select {
		case err := <-started:
			t.Fatalf("StartSteward returned early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-started; err == nil {
		t.Fatal("StartSteward succeeded without agents")
	}
	https := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimSpace(string(b)), "\n")
		got := strings.Join(args, " ")
		if !strings.Contains(got, "--raft-log-store wal") || !strings.HasSuffix(got, "--log-json") {
			t.Fatalf("agent args %q lack --raft-log-store wal or --log-json", got)
		}
		for i, a := range args {
			if a == "--http-addr" && i+1 < len(args) {
				https[args[i+1]] = true
			}
		}
	}
	if len(https) != 3 {
		t.Fatalf("http addresses %v: each agent needs its own", https)
	}
	if got := StewardArgs(StewardOptions{}); len(got) != 0 {
		t.Fatalf("default options add flags %v; the agent's default log store takes none", got)
	}
}
