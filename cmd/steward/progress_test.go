package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/steward/steward/coordination"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
)

// fakeTerminal is a display drawing as on a terminal of width columns, with
// the clock at now.
func fakeTerminal(w io.Writer, width int, now time.Time) *progressDisplay {
	return &progressDisplay{w: w, tty: true, width: width, now: func() time.Time { return now }}
}

func TestProgressDisplayRedrawsOnATerminal(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	d := fakeTerminal(&buf, 60, t0.Add(4200*time.Millisecond))
	plainCalled := false
	d.Update(progressFrame{
		Title: "plan plan-1 running",
		Rows: []progressRow{
			{Label: "phase 1", Done: 1, Total: 2, State: "running", Started: t0},
			{Label: "phase 2", Done: 0, Total: 3, State: "pending"},
		},
		Plain: func(io.Writer) { plainCalled = true },
	})
	if plainCalled {
		t.Fatal("a terminal got the plain lines")
	}
	// Width 60: lines of at most 59 columns. "phase 1 [" + bar + "] 1/2    4.2s running":
	// 23 fixed columns and 12 kept for the state leave a 24-column bar, half
	// of it filled.
	row1 := "phase 1 [" + strings.Repeat("#", 12) + strings.Repeat("-", 12) + "] 1/2    4.2s running"
	row2 := "phase 2 [" + strings.Repeat("-", 24) + "] 0/3         pending"
	want := "\rplan plan-1 running\x1b[K\n\r" + row1 + "\x1b[K\n\r" + row2 + "\x1b[K\n"
	if got := buf.String(); got != want {
		t.Fatalf("first frame:\n got %q\nwant %q", got, want)
	}
	if n := utf8.RuneCountInString(row1); n > 59 {
		t.Fatalf("row is %d columns, more than 59", n)
	}

	// The next frame goes back up the 3 lines drawn and rewrites them; the
	// finished phase shows its own elapsed time, not the clock's.
	buf.Reset()
	d.Update(progressFrame{
		Title: "plan plan-1 running",
		Rows: []progressRow{
			{Label: "phase 1", Done: 2, Total: 2, State: "succeeded", Started: t0, Ended: t0.Add(1500 * time.Millisecond)},
			{Label: "phase 2", Done: 1, Total: 3, State: "running", Started: t0.Add(2 * time.Second)},
		},
	})
	got := buf.String()
	if !strings.HasPrefix(got, "\x1b[3A\r") {
		t.Fatalf("second frame does not redraw in place: %q", got)
	}
	row1 = "phase 1 [" + strings.Repeat("#", 24) + "] 2/2    1.5s succeeded"
	if !strings.Contains(got, "\r"+row1+"\x1b[K\n") {
		t.Fatalf("second frame lacks %q:\n%q", row1, got)
	}
	if !strings.Contains(got, "] 1/3    2.2s running\x1b[K\n") {
		t.Fatalf("second frame's running phase:\n%q", got)
	}

	// A shorter frame blanks the lines the longer one left.
	buf.Reset()
	d.Update(progressFrame{Title: "plan plan-1 succeeded"})
	if got := buf.String(); got != "\x1b[3A\rplan plan-1 succeeded\x1b[K\n\r\x1b[K\n\r\x1b[K\n" {
		t.Fatalf("shorter frame: %q", got)
	}
}

// Rows line up: labels and counts are padded to the widest of the frame,
// and every bar has the same width whatever the state's length.
func TestProgressDisplayAlignsRows(t *testing.T) {
	var buf bytes.Buffer
	d := fakeTerminal(&buf, 80, time.Now())
	d.Update(progressFrame{Title: "t", Rows: []progressRow{
		{Label: "phase 0", Done: 10, Total: 10, State: "succeeded"},
		{Label: "rollback 0", Done: 1, Total: 10, State: "running"},
	}})
	lines := strings.Split(buf.String(), "\n")
	// 80 columns: 10 + 1 + 2 + 1 + 5 + 1 + 7 + 1 = 28 fixed and 12 for the
	// state leave a 39-column bar.
	want0 := "\rphase 0    [" + strings.Repeat("#", 39) + "] 10/10         succeeded\x1b[K"
	want1 := "\rrollback 0 [" + strings.Repeat("#", 3) + strings.Repeat("-", 36) + "]  1/10         running\x1b[K"
	if lines[1] != want0 || lines[2] != want1 {
		t.Fatalf("rows:\n%q\n%q\nwant\n%q\n%q", lines[1], lines[2], want0, want1)
	}
}

func TestProgressDisplayFitsANarrowTerminal(t *testing.T) {
	var buf bytes.Buffer
	d := fakeTerminal(&buf, 30, time.Now())
	d.Update(progressFrame{
		Title: "deployment deploy-0123456789abcdef running: moved 3/10 — batch 2 of 5",
		Rows:  []progressRow{{Label: "a label far longer than twenty runes", Done: 3, Total: 10, State: "started (2 failed) and more words"}},
	})
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		line = strings.TrimSuffix(strings.TrimPrefix(line, "\r"), "\x1b[K")
		if n := utf8.RuneCountInString(line); n > 29 {
			t.Errorf("line of %d columns on a 30-column terminal: %q", n, line)
		}
	}
	if !strings.Contains(buf.String(), "…") {
		t.Errorf("nothing was cut: %q", buf.String())
	}
}

func TestProgressDisplayColorsStatesUnlessNoColor(t *testing.T) {
	var buf bytes.Buffer
	d := fakeTerminal(&buf, 80, time.Now())
	d.color = true
	d.Update(progressFrame{Title: "t", Rows: []progressRow{{Label: "phase 1", Done: 1, Total: 1, State: "failed"}}})
	if !strings.Contains(buf.String(), "\x1b[31mfailed\x1b[0m") {
		t.Fatalf("a failed state is not red: %q", buf.String())
	}
	t.Setenv("NO_COLOR", "1")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d := newProgressDisplay(f); d.tty || d.color {
		t.Fatalf("a regular file is drawn as a terminal (tty %t, color %t)", d.tty, d.color)
	}
}

// Anything but a terminal gets each frame's plain lines, exactly, and no
// escape sequence: what scripts and tests read.
func TestProgressDisplayPlainForANonTerminal(t *testing.T) {
	var buf bytes.Buffer
	d := newProgressDisplay(&buf)
	if d.tty {
		t.Fatal("a buffer is taken for a terminal")
	}
	d.tick(time.Millisecond) // no ticking without a terminal
	for i := 1; i <= 3; i++ {
		i := i
		d.Update(progressFrame{Title: "ignored", Rows: []progressRow{{Label: "phase 1", Done: i, Total: 3, State: "running"}},
			Plain: func(w io.Writer) { fmt.Fprintf(w, "line %d\n", i) }})
	}
	d.Close()
	if got := buf.String(); got != "line 1\nline 2\nline 3\n" {
		t.Fatalf("plain output: %q", got)
	}
}

// The ticker redraws the last frame while nothing changes, and Close
// stops it: nothing is written after.
func TestProgressDisplayTicks(t *testing.T) {
	var mu lockedBuffer // the ticker writes from its goroutine
	d := fakeTerminal(&mu, 80, time.Now())
	d.Update(progressFrame{Title: "t", Rows: []progressRow{{Label: "phase 1", Total: 1, State: "running", Started: time.Now()}}})
	d.tick(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := poll.Until(ctx, clock.System(), poll.Every(time.Millisecond), func() (bool, error) {
		return strings.Count(mu.String(), "\x1b[2A") >= 2, nil
	}); err != nil {
		t.Fatalf("no redraw by the ticker: %v: %q", err, mu.String())
	}
	d.Close()
	n := len(mu.String())
	d.Close() // twice is harmless
	if len(mu.String()) != n {
		t.Fatal("written after Close")
	}
}

// lockedBuffer is a buffer the ticker's goroutine and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPlanFrameRows(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Second)
	v := coordination.View{ID: "plan-x", Status: "rolling_back", SafetyLevel: "moderate", Operations: 3,
		Phases: []coordination.StageView{
			{Phase: 1, Status: "succeeded", StartedAt: &t0, FinishedAt: &t1, Operations: []coordination.OpView{{ID: "a", Status: "succeeded"}, {ID: "b", Status: "succeeded"}}},
			{Phase: 2, Status: "failed", StartedAt: &t1, Operations: []coordination.OpView{{ID: "c", Status: "failed"}}},
		},
		Rollback: []coordination.StageView{{Phase: 1, Status: "running", Operations: []coordination.OpView{{ID: "a", Status: "pending"}, {ID: "b", Status: "succeeded"}}}},
	}
	f := planFrame(v, map[string]string{})
	want := []progressRow{
		{Label: "phase 1", Done: 2, Total: 2, State: "succeeded", Started: t0, Ended: t1},
		{Label: "phase 2", Done: 1, Total: 1, State: "failed", Started: t1},
		{Label: "rollback 1", Done: 1, Total: 2, State: "running"},
	}
	if fmt.Sprint(f.Rows) != fmt.Sprint(want) {
		t.Fatalf("rows:\n got %v\nwant %v", f.Rows, want)
	}
	if f.Title != "plan plan-x rolling_back (moderate, 3 operations)" {
		t.Fatalf("title %q", f.Title)
	}
	var plain bytes.Buffer
	f.Plain(&plain)
	if !strings.Contains(plain.String(), "phase 2: failed") || !strings.Contains(plain.String(), "rollback of phase 1: running") {
		t.Fatalf("plain lines:\n%s", plain.String())
	}
}

func TestDeployFrameRows(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := newBatchClock(func() time.Time { return now })
	j := deploymentJSON{ID: "deploy-1", Status: "running", Targets: 3, Progress: []progressJSON{
		{Node: "n1", Phase: 0, Stage: "phase-0", Done: 1, Total: 1, Status: "succeeded"},
		{Node: "n1", Phase: 1, Stage: "phase-1", Done: 1, Failed: 0, Total: 1, Status: "started"},
		{Node: "n2", Phase: 1, Stage: "phase-1", Done: 0, Failed: 1, Total: 1, Status: "failed"},
	}}
	batches := []*pb.DeployBatch{{Phase: 0, Canary: true, Pids: []string{"n1/1"}}, {Phase: 1, Pids: []string{"n1/2", "n2/1"}},
		{Phase: 2, Pids: []string{"n1/3", "n1/4", "n2/2", "n2/3"}}}
	f := deployFrame(j, batches, clock, nil)
	want := []progressRow{
		{Label: "canary 0", Done: 1, Total: 1, State: "succeeded", Started: now, Ended: now},
		{Label: "batch 1", Done: 2, Total: 2, State: "failed (1 failed)", Started: now, Ended: now},
		{Label: "batch 2", Done: 0, Total: 4, State: "pending"},
	}
	if fmt.Sprint(f.Rows) != fmt.Sprint(want) {
		t.Fatalf("rows:\n got %v\nwant %v", f.Rows, want)
	}
	// A revert adds rows, last batch first, and a batch's start stays
	// when it was first seen.
	later := now.Add(time.Minute)
	clock.now = func() time.Time { return later }
	j.Progress = append(j.Progress, progressJSON{Node: "n1", Phase: 1, Stage: "rollback-1", Done: 1, Total: 2, Status: "started"},
		progressJSON{Node: "n1", Phase: 0, Stage: "rollback-0", Total: 1, Status: "pending"})
	f = deployFrame(j, batches, clock, nil)
	if len(f.Rows) != 5 || f.Rows[3].Label != "revert 1" || f.Rows[3].State != "started" || f.Rows[3].Done != 1 || f.Rows[3].Total != 2 ||
		!f.Rows[3].Started.Equal(later) || !f.Rows[3].Ended.IsZero() || f.Rows[4].Label != "revert 0" || f.Rows[4].State != "pending" || !f.Rows[0].Started.Equal(now) {
		t.Fatalf("rows with a revert: %v", f.Rows)
	}
}

func TestExperimentFrameRows(t *testing.T) {
	created := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := created.Add(3 * time.Second)
	clock := newBatchClock(func() time.Time { return now })
	e := &pb.ExperimentRecord{Id: "exp-1", Name: "ab", Status: "pending", CreatedAtUnixNano: created.UnixNano(), Parts: []*pb.ExperimentPart{
		{Sandbox: "ab-fast", Node: "n1", Status: "running"},
		{Sandbox: "ab-slow", Node: "n2", Status: "pending"},
	}}
	f := experimentFrame(e, clock, nil)
	want := []progressRow{
		{Label: "ab-fast on n1", Done: 1, Total: 1, State: "running", Started: created, Ended: now},
		{Label: "ab-slow on n2", Done: 0, Total: 1, State: "pending", Started: created},
	}
	if f.Title != "experiment ab (exp-1) pending" || fmt.Sprint(f.Rows) != fmt.Sprint(want) {
		t.Fatalf("frame: %q\n got %v\nwant %v", f.Title, f.Rows, want)
	}
}
