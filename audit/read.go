package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Filter selects the entries Read answers.
type Filter struct {
	// Since keeps entries at or after it (zero: all).
	Since time.Time
	// Method keeps entries whose method contains it ("": all).
	Method string
	// Limit keeps the newest this many of the matching entries; 0 is
	// DefaultReadLimit, at most MaxReadLimit.
	Limit int
}

// Result is what Read found.
type Result struct {
	// Entries, oldest first.
	Entries []*Entry
	// Malformed counts the lines skipped: not JSON, not an entry (no time
	// or method), or longer than MaxLineBytes.
	Malformed int
	// Truncated counts the matching entries older than the newest Limit.
	Truncated int
	// Files are the files read, oldest first.
	Files []string
}

// Read reads the log at path and its rotated files (path.N, the oldest,
// down to path.1, then path) and answers the entries that match f, the
// newest f.Limit of them, oldest first. Files that do not exist are
// skipped; a line that does not parse is counted, not fatal.
func Read(path string, f Filter) (*Result, error) {
	switch {
	case f.Limit == 0:
		f.Limit = DefaultReadLimit
	case f.Limit < 0 || f.Limit > MaxReadLimit:
		return nil, fmt.Errorf("limit: %d: want 1..%d", f.Limit, MaxReadLimit)
	}
	files := []string{}
	for k := MaxRotateMaxFiles; k >= 1; k-- {
		if _, err := os.Stat(rotated(path, k)); err == nil {
			files = append(files, rotated(path, k))
		}
	}
	files = append(files, path)
	res := &Result{}
	ring := make([]*Entry, 0, f.Limit)
	next := 0 // where the next entry goes once ring is full
	for _, file := range files {
		fh, err := os.Open(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, file)
		r := bufio.NewReaderSize(fh, 64<<10)
		for {
			line, long, err := readLine(r)
			if len(line) > 0 || long {
				e, ok := parseLine(line, long)
				switch {
				case !ok:
					res.Malformed++
				case !f.Since.IsZero() && e.Time.Before(f.Since):
				case f.Method != "" && !strings.Contains(e.Method, f.Method):
				case len(ring) < f.Limit:
					ring = append(ring, e)
				default:
					ring[next] = e
					next = (next + 1) % f.Limit
					res.Truncated++
				}
			}
			if err != nil {
				break
			}
		}
		fh.Close()
	}
	res.Entries = append(ring[next:], ring[:next]...)
	return res, nil
}

// readLine reads one line without its newline; long says it was longer
// than MaxLineBytes (its bytes are dropped). err is set at the end of
// the file.
func readLine(r *bufio.Reader) (line []byte, long bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !long {
			if len(line)+len(chunk) > MaxLineBytes+1 {
				long, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), long, err
	}
}

func parseLine(line []byte, long bool) (*Entry, bool) {
	if long {
		return nil, false
	}
	var e Entry
	if err := json.Unmarshal(line, &e); err != nil || e.Time.IsZero() || e.Method == "" {
		return nil, false
	}
	return &e, true
}
