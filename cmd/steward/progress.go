package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// progressRow is one redrawn line of a live display: a phase of a plan, a
// batch of a deployment.
type progressRow struct {
	// Label names the row ("phase 1", "canary 0").
	Label string
	// Done of Total units (operations, processes) have finished.
	Done, Total int
	// State is the row's status word ("pending", "running", "succeeded").
	State string
	// Started and Ended bound the row's elapsed time; a zero Started shows
	// no time, a zero Ended counts to now.
	Started, Ended time.Time
}

// progressFrame is one state of what a watch command follows.
type progressFrame struct {
	// Title is the first line: what is followed and its status.
	Title string
	Rows  []progressRow
	// Plain writes the frame as the lines a non-terminal gets (the output
	// scripts and tests read, unchanged from before the display existed).
	Plain func(io.Writer)
}

// progressDisplay draws progress frames. On a terminal it redraws one line
// per row in place, each with a bar, done/total, the elapsed time and the
// state, fitted to the terminal's width; anywhere else (a pipe, a file, a
// buffer) it writes each frame's plain lines and no escape sequence.
type progressDisplay struct {
	w     io.Writer
	tty   bool
	width int                // columns, on a terminal
	size  func() (int, bool) // the terminal's columns now (nil: width stays)
	color bool               // ANSI colors for the state words (NO_COLOR unset, TERM not dumb)
	now   func() time.Time

	mu    sync.Mutex
	last  *progressFrame
	drawn int // lines drawn by the previous frame
	stop  chan struct{}
	done  chan struct{}
}

// defaultWidth is the width used when a terminal does not report its own.
const defaultWidth = 80

// newProgressDisplay draws on w: redrawn bars when w is a terminal, plain
// lines otherwise.
func newProgressDisplay(w io.Writer) *progressDisplay {
	d := &progressDisplay{w: w, now: time.Now}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return d
	}
	d.tty = true
	d.width = defaultWidth
	fd := int(f.Fd())
	d.size = func() (int, bool) {
		cols, _, err := term.GetSize(fd)
		return cols, err == nil && cols > 0
	}
	if cols, ok := d.size(); ok {
		d.width = cols
	}
	d.color = os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return d
}

// tick redraws the last frame every interval (on a terminal only), so the
// elapsed times move while nothing else does. Close stops it.
func (d *progressDisplay) tick(interval time.Duration) {
	if !d.tty || interval <= 0 || d.stop != nil {
		return
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(d.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				d.mu.Lock()
				if d.last != nil {
					d.draw(*d.last)
				}
				d.mu.Unlock()
			}
		}
	}()
}

// Update shows f: redrawn in place on a terminal, its plain lines
// elsewhere.
func (d *progressDisplay) Update(f progressFrame) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.tty {
		if f.Plain != nil {
			f.Plain(d.w)
		}
		return
	}
	d.last = &f
	d.draw(f)
}

// Close stops the ticking; the last frame stays on the screen and what is
// written next starts on the line below it.
func (d *progressDisplay) Close() {
	if d.stop != nil {
		close(d.stop)
		<-d.done
		d.stop = nil
	}
}

// draw writes f over the previous frame: the cursor goes up as many lines
// as were drawn, and each line is rewritten and cleared to its end. Lines
// are cut to the width less one column, so none wraps (a wrapped line
// would break the count); the width is read again for each frame.
func (d *progressDisplay) draw(f progressFrame) {
	if d.size != nil { // the terminal may have been resized
		if cols, ok := d.size(); ok {
			d.width = cols
		}
	}
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	lines := []string{fit(f.Title, d.width-1)}
	// The rows' columns line up: labels and counts padded to the widest.
	labelW, countW := 0, 0
	for _, r := range f.Rows {
		labelW = max(labelW, utf8.RuneCountInString(fit(r.Label, maxLabel)))
		countW = max(countW, len(rowCount(r)))
	}
	for _, r := range f.Rows {
		lines = append(lines, d.rowLine(r, labelW, countW))
	}
	for len(lines) < d.drawn { // a frame shorter than the last: blank the rest
		lines = append(lines, "")
	}
	for _, l := range lines {
		b.WriteString("\r")
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	d.drawn = len(lines)
	_, _ = io.WriteString(d.w, b.String())
}

// maxLabel is the most runes of a row's label shown; stateRoom the
// columns a row keeps for its state when the terminal is narrow.
const (
	maxLabel  = 20
	stateRoom = 12
)

func rowCount(r progressRow) string { return fmt.Sprintf("%d/%d", r.Done, r.Total) }

// rowLine is "LABEL [####------] DONE/TOTAL ELAPSED STATE", the label
// padded to labelW and the count to countW, the bar as wide as the
// terminal leaves room for beside stateRoom columns of state (8 to 40
// columns), the state cut to what is left.
func (d *progressDisplay) rowLine(r progressRow, labelW, countW int) string {
	elapsed := ""
	if !r.Started.IsZero() {
		end := r.Ended
		if end.IsZero() {
			end = d.now()
		}
		elapsed = fmtElapsed(end.Sub(r.Started))
	}
	// label, space, [bar], space, count, space, elapsed, space, state.
	fixed := labelW + 1 + 2 + 1 + countW + 1 + 7 + 1
	barW := min(max(d.width-1-fixed-stateRoom, 8), 40)
	filled := 0
	if r.Total > 0 {
		filled = barW * min(r.Done, r.Total) / r.Total
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", barW-filled)
	head := fmt.Sprintf("%-*s [%s] %*s %7s ", labelW, fit(r.Label, maxLabel), bar, countW, rowCount(r), elapsed)
	room := d.width - 1 - utf8.RuneCountInString(head)
	if room <= 0 {
		return fit(head, d.width-1)
	}
	state := fit(r.State, room)
	if d.color {
		state = colorState(r.State, state)
	}
	return head + state
}

// colorState wraps text in the color of the state it shows.
func colorState(st, text string) string {
	code := ""
	switch st {
	case "succeeded", "successful", "done", "complete":
		code = "32" // green
	case "failed", "reverted", "cancelled", "rolled_back", "lost":
		code = "31" // red
	case "running", "started", "rolling_back", "reverting", "awaiting_promotion", "paused":
		code = "33" // yellow
	}
	if code == "" || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// fmtElapsed is a duration to tenths of a second below a minute, then to
// seconds ("4.2s", "3m07s").
func fmtElapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// fit cuts s to at most n runes (ending in "…" when cut) and makes it safe
// for a terminal line (see cell).
func fit(s string, n int) string {
	s = cell(s, 0)
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
