//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/steward/steward/testkit"
)

// pty is a pseudo-terminal: what the CLI writes to tty is read from the
// master side into out.
type pty struct {
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// openPTY opens a pseudo-terminal of cols columns, read until the test
// ends (a terminal's buffer is small: an unread one would block the
// writer).
func openPTY(t *testing.T, cols uint16) *pty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: 24}); err != nil {
		t.Fatal(err)
	}
	p := &pty{tty: tty, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		tty.Close()
		master.Close()
		<-p.done
	})
	return p
}

// String is what was read so far; the terminal turns "\n" into "\r\n".
func (p *pty) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r\n", "\n")
}

// waitFor waits until the output holds want.
func (p *pty) waitFor(t *testing.T, want string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if !strings.Contains(p.String(), want) {
			return fmt.Errorf("no %q yet", want)
		}
		return nil
	}, "terminal output")
}

// On a real (pseudo-)terminal the display is on, as wide as the terminal,
// in color unless NO_COLOR is set.
func TestProgressDisplayDetectsATerminal(t *testing.T) {
	p := openPTY(t, 72)
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "") // empty is unset, as no-color.org says
	d := newProgressDisplay(p.tty)
	if !d.tty || d.width != 72 || !d.color {
		t.Fatalf("on a terminal: tty %t, width %d, color %t", d.tty, d.width, d.color)
	}
	t.Setenv("NO_COLOR", "1")
	if d := newProgressDisplay(p.tty); !d.tty || d.color {
		t.Fatalf("NO_COLOR=1: tty %t, color %t", d.tty, d.color)
	}
	t.Setenv("NO_COLOR", "") // empty is unset, as no-color.org says
	t.Setenv("TERM", "dumb")
	if d := newProgressDisplay(p.tty); !d.tty || d.color {
		t.Fatalf("TERM=dumb: tty %t, color %t", d.tty, d.color)
	}
	d.Update(progressFrame{Title: "t", Rows: []progressRow{{Label: "phase 0", Done: 1, Total: 2, State: "running"}}})
	p.waitFor(t, "phase 0 [")
	// Resized: the next frame takes the new width.
	if err := unix.IoctlSetWinsize(int(p.tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 40, Row: 24}); err != nil {
		t.Fatal(err)
	}
	d.Update(progressFrame{Title: "t", Rows: []progressRow{{Label: "phase 0", Done: 2, Total: 2, State: "done"}}})
	if d.width != 40 {
		t.Fatalf("width %d after a resize to 40", d.width)
	}
	// 39 columns: 23 fixed and 12 for the state leave 4, so the bar takes
	// its least, 8.
	p.waitFor(t, "phase 0 [########] 2/2")
}

// apply --wait and ops watch on a terminal draw the display (bars, cursor
// moves, no per-node lines) and end with the final line; the same
// commands piped print the plain lines (TestApplyWait). The second phase
// kills a child that takes a second to start again, so the plan is still
// running when the display first draws it and the display redraws in
// place.
func TestApplyWaitOnATerminal(t *testing.T) {
	c := testkit.NewCluster(t, 1, testkit.WithStack(coordStack))
	addr := c.Node(0).GRPCAddr()
	dir := t.TempDir()
	mustRun(t, "--addr", addr, "sup", "apply", writeFile(t, dir, "t.json",
		`{"name":"tally","node":"n1","children":[{"id":"count","behavior":"counter"},{"id":"slow","behavior":"slow_start","args":{"start_ms":"1000"}}]}`))
	testkit.Eventually(t, 15*time.Second, func() error {
		for _, child := range []string{"count", "slow"} {
			if _, err := run(t, "--addr", addr, "proc", "state", "tree:tally/"+child); err != nil {
				return err
			}
		}
		return nil
	}, "tally running")
	inc := writeFile(t, dir, "inc.json", `{"operations":[
	 {"id":"a","type":"send_message","target":{"supervisor":"tally","child_id":"count"},"params":{"message":"inc 2"}},
	 {"id":"b","type":"kill_process","target":{"supervisor":"tally","child_id":"slow"},"depends_on":["a"]}]}`)

	t.Setenv("NO_COLOR", "1")
	p := openPTY(t, 70)
	cmd := newRootCmd()
	cmd.SetOut(p.tty)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--addr", addr, "apply", inc, "--wait"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("apply --wait on a terminal: %v\n%s", err, p.String())
	}
	p.waitFor(t, " succeeded after ")
	out := p.String()
	bar := "[" + strings.Repeat("#", 34) + "]" // 70 columns: 69, less 23 fixed and 12 for the state
	for _, want := range []string{"committed at index", "\rphase 0 " + bar + " 1/1 ", "\rphase 1 " + bar + " 1/1 ", "succeeded\x1b[K\n", "\x1b[3A\r"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "phase 0 on n1") || strings.Contains(out, "\x1b[32m") || strings.Contains(out, "\x1b[33m") {
		t.Errorf("plain lines, or colors despite NO_COLOR, on a terminal:\n%q", out)
	}
	for _, line := range strings.Split(out, "\n") {
		for _, part := range strings.Split(line, "\r") {
			if n := len([]rune(strings.TrimSuffix(part, "\x1b[K"))); n > 69 {
				t.Errorf("a line of %d columns on a 70-column terminal: %q", n, part)
			}
		}
	}
}
