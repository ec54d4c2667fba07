package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/testkit"
)

// A client agent started with `steward agent --client` joins a server,
// streams its work from it, and says so: `status` shows its mode, its
// stream server and that the stream is up, and `members` shows each
// member's mode, in text and JSON.
func TestClientAgentStatusAndMembers(t *testing.T) {
	c := testkit.NewCluster(t, 1)
	srv := c.WaitForLeader()

	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := startCmd(ctx, out, append([]string{"agent", "--client", "--name", "c1", "--data-dir", t.TempDir(),
		"--join", srv.GossipAddr(), "--log-level", "warn"}, freePorts...)...)
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("client agent: %v\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the client agent did not stop\n%s", out)
		}
	}()
	grpcLine := regexp.MustCompile(`(?m)^  grpc:   (\S+)$`)
	var addr string
	testkit.Eventually(t, 20*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("client agent stopped: %v\n%s", err, out)
		default:
		}
		m := grpcLine.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("no grpc line yet")
		}
		addr = m[1]
		return nil
	}, "the client agent's start-up lines")
	for _, want := range []string{"  mode:   client\n", "  raft:   none (a client agent runs no Raft)\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start-up lines lack %q:\n%s", want, out)
		}
	}

	testkit.Eventually(t, 20*time.Second, func() error {
		st := decodeJSON[statusJSON](t, mustRun(t, "--addr", addr, "status", "-o", "json"))
		if st.Mode != "client" || st.StreamServer != srv.Name() || !st.StreamConnected {
			return fmt.Errorf("client status: mode %q, stream server %q, connected %v", st.Mode, st.StreamServer, st.StreamConnected)
		}
		return nil
	}, "the client streaming from the server")
	hasKeys(t, "client status", decodeJSON[map[string]any](t, mustRun(t, "--addr", addr, "status", "-o", "json")),
		"mode", "stream_server", "stream_connected", "leader", "applied_index")
	text := mustRun(t, "--addr", addr, "status")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Mode:\s+client$`),
		regexp.MustCompile(`(?m)^Stream server:\s+` + srv.Name() + `$`),
		regexp.MustCompile(`(?m)^Stream connected:\s+true$`),
		regexp.MustCompile(`(?m)^Leader:\s+` + srv.Name() + `$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("client status lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Term:") {
		t.Errorf("client status shows Raft rows:\n%s", text)
	}

	st := decodeJSON[statusJSON](t, mustRun(t, "--addr", srv.GRPCAddr(), "status", "-o", "json"))
	if st.Mode != "server" || st.StreamServer != "" || st.StreamConnected {
		t.Errorf("server status: mode %q, stream server %q, connected %v", st.Mode, st.StreamServer, st.StreamConnected)
	}
	if text := mustRun(t, "--addr", srv.GRPCAddr(), "status"); !regexp.MustCompile(`(?m)^Mode:\s+server$`).MatchString(text) || strings.Contains(text, "Stream") {
		t.Errorf("server status:\n%s", text)
	}

	testkit.Eventually(t, 20*time.Second, func() error {
		modes := map[string]string{}
		for _, m := range decodeJSON[[]memberJSON](t, mustRun(t, "--addr", srv.GRPCAddr(), "members", "-o", "json")) {
			modes[m.Name] = m.Mode
		}
		if want := map[string]string{srv.Name(): "server", "c1": "client"}; fmt.Sprint(modes) != fmt.Sprint(want) {
			return fmt.Errorf("member modes %v, want %v", modes, want)
		}
		return nil
	}, "both members with their modes")
	for _, m := range decodeJSON[[]map[string]any](t, mustRun(t, "--addr", addr, "members", "-o", "json")) {
		hasKeys(t, "member", m, "name", "status", "mode", "raft_role", "gossip_addr", "grpc_addr")
	}
	text = mustRun(t, "--addr", addr, "members")
	if !regexp.MustCompile(`(?m)^NAME\s+STATUS\s+MODE\s+RAFT\s`).MatchString(text) ||
		!regexp.MustCompile(`(?m)^c1\s+alive\s+client\s`).MatchString(text) ||
		!regexp.MustCompile(`(?m)^`+srv.Name()+`\s+alive\s+server\s`).MatchString(text) {
		t.Errorf("members:\n%s", text)
	}
}
