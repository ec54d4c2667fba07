package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/testkit"
)

// --http-addr defaults to port 7404 on the bind IP (a free port when the
// bind port is 0); the flag and the file's http_addr set it; a bad one is
// refused naming http-addr.
func TestAgentHTTPAddr(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(file, []byte("http_addr = \"127.0.0.3:9000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "0.0.0.0:7404"},
		{[]string{"--bind-addr", "10.0.0.1:7401"}, "10.0.0.1:7404"},
		{[]string{"--bind-addr", "127.0.0.1:0"}, "127.0.0.1:0"},
		{[]string{"--bind-addr", "10.0.0.1:7401", "--http-addr", "127.0.0.1:9999"}, "127.0.0.1:9999"},
		{[]string{"--config", file}, "127.0.0.3:9000"},
		{[]string{"--config", file, "--http-addr", "127.0.0.4:9001"}, "127.0.0.4:9001"},
	} {
		s, err := parseAgentFlags(t, append([]string{"--data-dir", dir}, tc.args...)...)
		if err != nil || s.node.HTTPAddr != tc.want {
			t.Errorf("%v: http addr %q %v, want %q", tc.args, s.node.HTTPAddr, err, tc.want)
		}
	}
	s, err := parseAgentFlags(t, "--http-addr", "nope", "--name", "a", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.node.Validate(); err == nil || !strings.Contains(err.Error(), "http-addr") {
		t.Fatalf("bad http-addr: %v", err)
	}
}

// A dev agent prints its HTTP address and serves health and metrics
// there, its runtime's families included.
func TestAgentServesHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := startCmd(ctx, out, append([]string{"agent", "--dev"}, freePorts...)...)
	httpLine := regexp.MustCompile(`(?m)^  http:   (\S+)$`)
	var addr string
	testkit.Eventually(t, 20*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("agent stopped: %v\n%s", err, out)
		default:
		}
		m := httpLine.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("no http line yet")
		}
		addr = m[1]
		return nil
	}, "the agent's http line")
	hc := &http.Client{Timeout: 10 * time.Second}
	getBody := func(path string) (int, string, error) {
		resp, err := hc.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		code, body, err := getBody("/v1/health/ready")
		if err != nil || code != http.StatusOK || !strings.Contains(body, `"status":"ready"`) {
			return fmt.Errorf("ready: %d %s %v", code, body, err)
		}
		return nil
	}, "ready")
	code, body, err := getBody("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	for _, want := range []string{"steward_raft_leader 1", "steward_runtime_processes ", "steward_runtime_restarts_total ", "steward_gossip_members{status=\"alive\"} 1", "steward_health_threshold_exceeded{metric=\"memory_bytes\"} 0", "steward_state_index "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop\n%s", out)
	}
}
