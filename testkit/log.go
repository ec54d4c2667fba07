package testkit

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// logWriter sends logs to t.Log, so they show only when a test fails, and
// drops them once the test has finished (background goroutines of a
// stopped node may still write a line).
type logWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) finish() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// Logger returns an hclog logger writing to t.Log until the test ends.
// STEWARD_TEST_LOG sets the level (default debug).
func Logger(t testing.TB, name string) hclog.Logger {
	w := &logWriter{t: t}
	t.Cleanup(w.finish)
	level := hclog.LevelFromString(os.Getenv("STEWARD_TEST_LOG"))
	if level == hclog.NoLevel {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: w, Level: level})
}
