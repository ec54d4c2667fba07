package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/testkit"
)

// freePorts are the agent flags that put every listener on a free port.
var freePorts = []string{"--bind-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}

// runDevAgent runs `steward agent args...` in-process until it has printed
// its dev-mode start-up line, stops it as a signal would, and returns what
// it printed.
func runDevAgent(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := startCmd(ctx, out, append([]string{"agent"}, args...)...)
	testkit.Eventually(t, 20*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("agent stopped: %v\n%s", err, out)
		default:
		}
		if !strings.Contains(out.String(), "dev mode:") {
			return errors.New("no dev-mode line yet")
		}
		return nil
	}, "the agent's start-up lines")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop\n%s", out)
	}
	return out.String()
}

func devLine(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  dev mode:") {
			return l
		}
	}
	t.Fatalf("no dev-mode line in:\n%s", out)
	return ""
}

func dirWithFile(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	file = filepath.Join(dir, "keep.txt")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func fileSurvives(t *testing.T, file string) {
	t.Helper()
	if b, err := os.ReadFile(file); err != nil || string(b) != "mine" {
		t.Fatalf("%s after the agent stopped: %q, %v", file, b, err)
	}
}

// `agent --dev` says in its start-up line whether its data dir is kept
// (given with --data-dir or in the config file) or removed on exit, and
// does as it says, also when its start-up fails.
func TestAgentDevDataDir(t *testing.T) {
	t.Run("given with --data-dir", func(t *testing.T) {
		dir, file := dirWithFile(t)
		out := runDevAgent(t, append([]string{"--dev", "--data-dir", dir}, freePorts...)...)
		want := fmt.Sprintf("  dev mode: single node, data kept in %s (given with --data-dir); try `steward status`", dir)
		if got := devLine(t, out); got != want {
			t.Fatalf("start-up line\n got %q\nwant %q", got, want)
		}
		fileSurvives(t, file)
	})
	t.Run("given in the config file", func(t *testing.T) {
		dir, file := dirWithFile(t)
		conf := filepath.Join(t.TempDir(), "agent.conf")
		src := fmt.Sprintf("dev = true\ndata_dir = %q\nbind_addr = \"127.0.0.1:0\"\n", dir)
		if err := os.WriteFile(conf, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		out := runDevAgent(t, "--config", conf, "--raft-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
		want := fmt.Sprintf("  dev mode: single node, data kept in %s (given in %s); try `steward status`", dir, conf)
		if got := devLine(t, out); got != want {
			t.Fatalf("start-up line\n got %q\nwant %q", got, want)
		}
		fileSurvives(t, file)
	})
	t.Run("given, start-up fails", func(t *testing.T) {
		dir, file := dirWithFile(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		_, err = run(t, "agent", "--dev", "--data-dir", dir, "--bind-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--grpc-addr", l.Addr().String())
		if err == nil || !strings.Contains(err.Error(), "grpc-addr") {
			t.Fatalf("err = %v", err)
		}
		fileSurvives(t, file)
	})
	t.Run("temporary", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		out := runDevAgent(t, append([]string{"--dev"}, freePorts...)...)
		if got, want := devLine(t, out), "  dev mode: single node, data is removed on exit; try `steward status`"; got != want {
			t.Fatalf("start-up line\n got %q\nwant %q", got, want)
		}
		m := regexp.MustCompile(`(?m)^  data:   (\S+)$`).FindStringSubmatch(out)
		if m == nil || filepath.Dir(m[1]) != tmp {
			t.Fatalf("data line: %v, want a dir under %s\n%s", m, tmp, out)
		}
		if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
			t.Fatalf("left in %s: %v %v", tmp, left, err)
		}
	})
}
