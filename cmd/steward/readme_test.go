package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asBinaryEnv makes the test binary act as the steward binary, so tests
// that run steward as a program (the README walkthrough) need no second
// build.
const asBinaryEnv = "STEWARD_TEST_AS_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(asBinaryEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readmeBlock is one ```sh block of the README.
type readmeBlock struct {
	line int    // of the opening fence, 1-based
	skip string // why the walkthrough does not run it ("" runs it)
	body string
}

// skipMarker, on the line before a block's fence, keeps the walkthrough
// from running it and says why (a block for a 3-node cluster, a command
// that follows until Ctrl-C, a tool that is not steward's).
var skipMarker = regexp.MustCompile(`^<!-- readme-test: skip \((.+)\) -->$`)

func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		prev   string
		body   strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && line == "```sh":
			cur = &readmeBlock{line: n}
			if m := skipMarker.FindStringSubmatch(prev); m != nil {
				cur.skip = m[1]
			}
			body.Reset()
		case cur != nil && line == "```":
			cur.body = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: unterminated ```sh block", cur.line)
	}
	return blocks
}

// The README's shell blocks run in order, as written, against a dev agent,
// as a new user would run them after `make dev`: every command must
// succeed. Blocks marked with a skip comment say why they are not run here.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent and runs the whole walkthrough")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	blocks := readmeBlocks(t, filepath.Join("..", "..", "README.md"))
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	ran := 0
	for _, b := range blocks {
		if b.skip != "" {
			continue
		}
		ran++
		fmt.Fprintf(&script, "echo '>>> README.md:%d' >&2\n%s", b.line, b.body)
	}
	if ran < 10 {
		t.Fatalf("only %d of the README's %d shell blocks run", ran, len(blocks))
	}

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A working directory laid out like the repository: bin/steward (this
	// test binary, acting as steward) and the examples.
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(work, "bin", "steward")); err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(examples, filepath.Join(work, "examples")); err != nil {
		t.Fatal(err)
	}

	addr := startDevAgent(t, self)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = work
	// A binary built with -race sleeps atexit_sleep_ms (1 s by default)
	// before it exits; the walkthrough runs it once per command.
	cmd.Env = append(os.Environ(), asBinaryEnv+"=1", "STEWARD_ADDR="+addr,
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README walkthrough failed: %v\n%s", err, tail(out.String(), 60))
	}
	t.Logf("%d blocks ran:\n%s", ran, tail(out.String(), 20))
}

// startDevAgent runs `steward agent --dev` on free loopback ports and
// returns its gRPC address once it is ready; it is stopped (SIGTERM, as a
// user's Ctrl-C) when the test ends.
func startDevAgent(t *testing.T, self string) string {
	t.Helper()
	agent := exec.Command(self, "agent", "--dev", "--bind-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
	agent.Env = append(os.Environ(), asBinaryEnv+"=1")
	stdout, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	agent.Stderr = &logs
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addrCh := make(chan string, 1)
	var startup bytes.Buffer
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stdout, &startup))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "grpc:" {
				addrCh <- f[1]
			}
		}
		exited <- agent.Wait()
	}()
	t.Cleanup(func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = agent.Process.Kill()
			<-exited
		}
	})
	select {
	case addr := <-addrCh:
		return addr
	case err := <-exited:
		t.Fatalf("the dev agent exited: %v\n%s%s", err, startup.String(), logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the dev agent printed no gRPC address within 60s\n%s", logs.String())
	}
	return ""
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = append([]string{"..."}, parts[len(parts)-lines:]...)
	}
	return strings.Join(parts, "\n")
}
