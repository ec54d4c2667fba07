package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ErrUnavailable: the log failed to write an entry and has not recovered;
// writes are refused until it does (fail-closed).
var ErrUnavailable = errors.New("audit log unavailable")

// ErrDisabled: the node runs without an audit log.
var ErrDisabled = errors.New("audit log is not enabled on this node (audit { enabled = true } or --audit)")

// Stats are the log's counters since the node started.
type Stats struct {
	// Written is the entries written.
	Written uint64
	// Failures is the entries that could not be written.
	Failures uint64
	// LastError is the last write failure ("" for none).
	LastError string
	// Failed says the log is failed now (writes are refused).
	Failed bool
}

// Log is an open audit log. Safe for concurrent use.
type Log struct {
	cfg    Config
	node   string
	logger hclog.Logger

	mu     sync.Mutex
	f      *os.File // nil while failed
	size   int64
	failed error // the failure that stopped the log, nil when healthy
	closed bool
	stats  Stats
}

// Open opens (creating it and its directory, mode 0700/0600) the log of
// node under dataDir as cfg says.
func Open(cfg Config, dataDir, node string, logger hclog.Logger) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	l := &Log{cfg: cfg.withDefaults(dataDir), node: node, logger: logger.Named("audit")}
	if err := l.open(); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", l.cfg.Path, err)
	}
	return l, nil
}

// Path is the current file.
func (l *Log) Path() string { return l.cfg.Path }

// Node is the name of the node that writes the log.
func (l *Log) Node() string { return l.node }

func (l *Log) open() error {
	if err := os.MkdirAll(filepath.Dir(l.cfg.Path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Ready is nil when the log can take entries. A failed log tries to
// reopen its file first, and says why it cannot.
func (l *Log) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return fmt.Errorf("%w on node %s: the node is shutting down", ErrUnavailable, l.node)
	case l.failed == nil:
		return nil
	}
	if err := l.open(); err != nil {
		return fmt.Errorf("%w on node %s: %v (reopening %s: %v)", ErrUnavailable, l.node, l.failed, l.cfg.Path, err)
	}
	l.logger.Info("audit log writable again; writes resume", "path", l.cfg.Path, "after", l.failed)
	l.failed = nil
	return nil
}

// Append writes e as one line and fsyncs it, rotating first when the line
// would take the file past RotateBytes. A failure marks the log failed.
func (l *Log) Append(e *Entry) error {
	line, err := jsonMarshal(e)
	if err != nil {
		return l.fail(err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		l.stats.Failures++
		return fmt.Errorf("%w: the log is closed", ErrUnavailable)
	case l.failed != nil:
		l.stats.Failures++
		return fmt.Errorf("%w: %v", ErrUnavailable, l.failed)
	}
	if l.size > 0 && l.size+int64(len(line)) > l.cfg.RotateBytes {
		if err := l.rotate(); err != nil {
			return l.failLocked(fmt.Errorf("rotate: %w", err))
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		return l.failLocked(err)
	}
	l.stats.Written++
	return nil
}

func (l *Log) fail(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failLocked(err)
}

func (l *Log) failLocked(err error) error {
	l.stats.Failures++
	l.stats.LastError = err.Error()
	if l.failed == nil {
		l.logger.Error("audit log write failed; write calls are refused until it can be written again", "path", l.cfg.Path, "error", err)
	}
	l.failed = err
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// rotate renames the file to Path.1, shifting Path.k to Path.k+1 and
// dropping those past RotateMaxFiles, then opens a new file.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		l.f = nil
		return err
	}
	l.f = nil
	p := l.cfg.Path
	if err := os.Remove(rotated(p, l.cfg.RotateMaxFiles)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for k := l.cfg.RotateMaxFiles - 1; k >= 1; k-- {
		if err := os.Rename(rotated(p, k), rotated(p, k+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(p, rotated(p, 1)); err != nil {
		return err
	}
	if err := l.open(); err != nil {
		return err
	}
	// The directory entry of the new file, so that a crash keeps it.
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func rotated(path string, k int) string { return fmt.Sprintf("%s.%d", path, k) }

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Failed = l.failed != nil
	return s
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// now is the entries' clock (a test may set it).
var now = time.Now

func jsonMarshal(e *Entry) ([]byte, error) { return json.Marshal(e) }
