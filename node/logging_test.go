package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// jsonLines is a JSON hclog logger's output, one decoded map per line.
type jsonLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.buf.Write(p)
}

func (j *jsonLines) lines(t *testing.T) []map[string]any {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(j.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func jsonLogger(level hclog.Level) (hclog.Logger, *jsonLines) {
	out := &jsonLines{}
	return hclog.New(&hclog.LoggerOptions{Name: "gossip", Level: level, JSONFormat: true, Output: out}), out
}

// memberlist's lines reach hclog at the level of their tag (INFO without
// one), without the tag, the "memberlist: " prefix or a date and time of
// their own.
func TestLevelWriterLevels(t *testing.T) {
	for _, tc := range []struct {
		line, level string
	}{
		{"[TRACE] memberlist: m", "trace"},
		{"[DEBUG] memberlist: m", "debug"},
		{"[INFO] memberlist: m", "info"},
		{"[WARN] memberlist: m", "warn"},
		{"[ERR] memberlist: m", "error"},
		{"[ERROR] memberlist: m", "error"},
		{"memberlist: m", "info"},
		{"m", "info"},
	} {
		for _, flags := range []int{0, log.LstdFlags, log.LstdFlags | log.Lmicroseconds} {
			logger, out := jsonLogger(hclog.Trace)
			log.New(newLevelWriter(logger, "memberlist: "), "", flags).Print(tc.line)
			lines := out.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%q (flags %d): %d lines: %v", tc.line, flags, len(lines), lines)
			}
			if got := lines[0]["@level"]; got != tc.level {
				t.Errorf("%q (flags %d): level %v, want %s", tc.line, flags, got, tc.level)
			}
			if got := lines[0]["@message"]; got != "m" {
				t.Errorf("%q (flags %d): message %q, want \"m\"", tc.line, flags, got)
			}
		}
	}
}

// The agent's log level filters memberlist's lines: its debug lines are
// hidden at INFO and its errors shown at WARN (they all came at INFO).
func TestLevelWriterFilters(t *testing.T) {
	logger, out := jsonLogger(hclog.Warn)
	l := log.New(newLevelWriter(logger, "memberlist: "), "", 0)
	l.Print("[DEBUG] memberlist: Stream connection from=127.0.0.1:50000")
	l.Print("[INFO] memberlist: Marking n2 as failed, suspect timeout reached (0 peer confirmations)")
	l.Print("[ERR] memberlist: Failed fallback TCP ping: timeout 1s")
	lines := out.lines(t)
	if len(lines) != 1 || lines[0]["@level"] != "error" || lines[0]["@message"] != "Failed fallback TCP ping: timeout 1s" {
		t.Fatalf("at WARN: %v", lines)
	}
}

// A memberlist line telling that this node suspects a member still marks
// it suspect, and still reaches the log.
func TestMemberlistLoggerSuspect(t *testing.T) {
	members := newMemberTable(nil)
	members.set("n2", "127.0.0.1:7501", &nodeMeta{}, StatusAlive)
	logger, out := jsonLogger(hclog.Info)
	newMemberlistLogger(logger, members).Printf("[INFO] memberlist: Suspect n2 has failed, no acks received")
	if m, _ := members.get("n2"); m.Status != StatusSuspect {
		t.Fatalf("n2 is %s, want %s", m.Status, StatusSuspect)
	}
	lines := out.lines(t)
	if len(lines) != 1 || lines[0]["@message"] != "Suspect n2 has failed, no acks received" {
		t.Fatalf("logged: %v", lines)
	}
}

type stringer struct{ unexported int }

func (stringer) String() string { return "as text" }

// plainArgs logs values that JSON would render as objects or as bare
// numbers in their text form, and leaves plain values alone.
func TestPlainArgs(t *testing.T) {
	logger, out := jsonLogger(hclog.Trace)
	var l hclog.Logger = plainArgs{logger}
	srv := raft.Server{Suffrage: raft.Voter, ID: "n2", Address: "127.0.0.1:7502"}
	args := []any{
		"stringer", &stringer{}, "server", srv, "command", raft.AddVoter, "time", 1500 * time.Millisecond,
		"error", errors.New("boom"), "n", 3, "s", "x", "ok", true, "list", []string{"a", "b"}, "id", raft.ServerID("n1"),
		"nil", nil, "fmt", hclog.Fmt("%d-%d", 1, 2),
	}
	want := map[string]any{
		"stringer": "as text", "server": "{Voter n2 127.0.0.1:7502}", "command": "AddVoter", "time": "1.5s",
		"error": "boom", "n": 3.0, "s": "x", "ok": true, "list": []any{"a", "b"}, "id": "n1",
		"nil": nil, "fmt": "1-2",
	}
	l.Info("m", args...)
	l.Named("sub").Warn("m", args...)
	l.With(args...).Error("m")
	l.Log(hclog.Debug, "m", args...)
	lines := out.lines(t)
	if len(lines) != 4 {
		t.Fatalf("%d lines: %v", len(lines), lines)
	}
	for _, line := range lines {
		for k, w := range want {
			got, _ := json.Marshal(line[k])
			exp, _ := json.Marshal(w)
			if !bytes.Equal(got, exp) {
				t.Errorf("%s line: %s = %s, want %s", line["@level"], k, got, exp)
			}
		}
	}
	if lines[1]["@module"] != "gossip.sub" {
		t.Errorf("Named: module %v", lines[1]["@module"])
	}
	// The caller's slice is not changed.
	if _, ok := args[1].(*stringer); !ok {
		t.Errorf("args changed: %v", args[1])
	}
}
