package node_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/node"
	"github.com/steward/steward/testkit"
)

// logCapture keeps a node's JSON log lines and sends them to t.Log as well.
type logCapture struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	tlog  hclog.Logger
	lines []map[string]any
}

// captureLogs returns a JSON logger at DEBUG whose lines are kept.
func captureLogs(t *testing.T, name string) (hclog.Logger, *logCapture) {
	c := &logCapture{tlog: testkit.Logger(t, name)}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Debug, JSONFormat: true, Output: c}), c
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	for {
		line, err := c.buf.ReadBytes('\n')
		if err != nil {
			c.buf.Write(line) // an incomplete line: wait for its end
			break
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			m = map[string]any{"@level": "error", "@message": "not JSON: " + string(line)}
		}
		c.lines = append(c.lines, m)
		c.tlog.Info(strings.TrimSpace(string(line)))
	}
	return len(p), nil
}

// since returns the lines logged from mark on (a count from len).
func (c *logCapture) since(mark int) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.lines[mark:]...)
}

func (c *logCapture) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// Raft's log values read in JSON as in the text format: the *raft.Raft of
// "entering leader state" and the raft.Server of the replication lines
// were {} and a JSON object.
func TestRaftJSONLogValuesAreText(t *testing.T) {
	l1, logs1 := captureLogs(t, "n1")
	cfg1 := testkit.FastConfig("n1", filepath.Join(t.TempDir(), "n1"))
	cfg1.BootstrapExpect = 1
	cfg1.Logger = l1
	n1, err := node.New(cfg1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n1.Shutdown() })
	if _, err := n1.WaitForLeader(testkit.Ctx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	l2, logs2 := captureLogs(t, "n2")
	cfg2 := testkit.FastConfig("n2", filepath.Join(t.TempDir(), "n2"))
	cfg2.Join = []string{n1.GossipAddr()}
	cfg2.Logger = l2
	n2, err := node.New(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n2.Shutdown() })
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := peersString(raftPeers(t, n1)); got != "n1=voter,n2=voter" {
			return fmt.Errorf("peers %s", got)
		}
		return nil
	}, "n2 to become a voter")
	if err := n2.Leave(testkit.Ctx(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	<-n2.ShutdownCh()
	_ = n1.Shutdown()

	seen := map[string]bool{}
	for _, line := range append(logs1.since(0), logs2.since(0)...) {
		msg, _ := line["@message"].(string)
		seen[msg] = true
		for k, v := range line {
			switch v.(type) {
			case map[string]any, []any:
				if s, ok := v.([]any); ok && !hasObject(s) {
					continue
				}
				t.Errorf("%q: %s is %v", msg, k, v)
			}
		}
		if msg == "updating configuration" {
			if c, ok := line["command"].(string); !ok || (c != "AddVoter" && c != "RemoveServer") {
				t.Errorf("%q: command = %#v, want AddVoter or RemoveServer", msg, line["command"])
			}
		}
		for _, k := range []string{"leader", "follower", "node", "peer"} {
			if v, ok := line[k]; ok && line["@module"] != nil && strings.HasPrefix(line["@module"].(string), "raft") {
				if s, ok := v.(string); !ok || s == "" || s == "{}" {
					t.Errorf("%q: %s = %#v, want text", msg, k, v)
				}
			}
		}
	}
	for _, msg := range []string{"entering leader state", "entering follower state", "added peer, starting replication", "updating configuration"} {
		if !seen[msg] {
			t.Errorf("no %q line; the test no longer covers it", msg)
		}
	}
}

func hasObject(s []any) bool {
	for _, v := range s {
		if _, ok := v.(map[string]any); ok {
			return true
		}
	}
	return false
}

// A dev node stopped cleanly, with a graceful leave (the agent's way on
// SIGINT) or at once, logs nothing at WARN or above from the moment it is
// ready, and never that a write "may or may not have been applied": the
// leader loop's last proposal used to meet Raft shutting down.
func TestDevCleanShutdownLogsNoWarning(t *testing.T) {
	for _, how := range []string{"leave", "shutdown"} {
		for i := 0; i < 3; i++ {
			t.Run(fmt.Sprintf("%s/%d", how, i), func(t *testing.T) {
				logger, logs := captureLogs(t, "dev")
				cfg := testkit.FastConfig("", "")
				cfg.Dev = true
				cfg.Logger = logger
				n, err := node.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = n.Shutdown() })
				testkit.Eventually(t, 10*time.Second, func() error {
					if n.Status().ClusterId == "" {
						return errors.New("cluster id not fixed yet")
					}
					return nil
				}, "the dev node to be ready")
				mark := logs.len()
				if how == "leave" {
					if err := n.Leave(testkit.Ctx(t, 10*time.Second)); err != nil {
						t.Fatal(err)
					}
					<-n.ShutdownCh()
				}
				_ = n.Shutdown()
				for j, line := range logs.since(0) {
					msg, _ := line["@message"].(string)
					errText, _ := line["error"].(string)
					if strings.Contains(msg+errText, "may or may not") {
						t.Errorf("logged: %v", line)
					}
					if lv := line["@level"]; j >= mark && (lv == "warn" || lv == "error") {
						t.Errorf("logged at %s while stopping: %v", lv, line)
					}
				}
			})
		}
	}
}
