package audit

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Defaults and limits.
const (
	// DefaultRotateBytes is the size (bytes) past which the log is rotated.
	DefaultRotateBytes = 64 << 20
	// DefaultRotateMaxFiles is how many rotated files are kept.
	DefaultRotateMaxFiles = 10
	// MinRotateBytes is the smallest rotate_bytes accepted (bytes): an
	// entry is about 300 bytes.
	MinRotateBytes = 4 << 10
	// MaxRotateMaxFiles is the most rotated files rotate_max_files keeps.
	MaxRotateMaxFiles = 1000
	// DefaultReadLimit and MaxReadLimit bound the entries one Read answers.
	DefaultReadLimit = 100
	MaxReadLimit     = 5000
	// MaxLineBytes is the longest line Read parses; a longer one is
	// malformed (an entry is far shorter: target values are cut at
	// MaxTargetBytes).
	MaxLineBytes = 64 << 10
	// MaxTargetBytes is the most bytes of one target value written.
	MaxTargetBytes = 256
)

// Config is the audit block of the agent's configuration.
type Config struct {
	// Enabled turns the audit log on (--audit, audit { enabled }).
	Enabled bool
	// Path is the log file; "" is <data_dir>/audit/audit.log (DefaultPath).
	// Rotated files are Path.1 (the newest) to Path.<RotateMaxFiles>.
	Path string
	// RotateBytes is the size (bytes) past which the file is rotated; 0 is
	// DefaultRotateBytes.
	RotateBytes int64
	// RotateMaxFiles is how many rotated files are kept beside the current
	// one; 0 is DefaultRotateMaxFiles.
	RotateMaxFiles int
}

// DefaultPath is the log file under a data dir.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, "audit", "audit.log") }

// withDefaults fills the zero fields.
func (c Config) withDefaults(dataDir string) Config {
	if c.Path == "" {
		c.Path = DefaultPath(dataDir)
	}
	if c.RotateBytes == 0 {
		c.RotateBytes = DefaultRotateBytes
	}
	if c.RotateMaxFiles == 0 {
		c.RotateMaxFiles = DefaultRotateMaxFiles
	}
	return c
}

// Validate checks the fields, naming the one at fault as the config file
// does.
func (c Config) Validate() error {
	var errs []error
	if c.RotateBytes != 0 && c.RotateBytes < MinRotateBytes {
		errs = append(errs, fmt.Errorf("audit.rotate_bytes: %d is below the minimum of %d bytes", c.RotateBytes, MinRotateBytes))
	}
	if c.RotateMaxFiles < 0 || c.RotateMaxFiles > MaxRotateMaxFiles {
		errs = append(errs, fmt.Errorf("audit.rotate_max_files: %d: want 1..%d (0 for the default, %d)", c.RotateMaxFiles, MaxRotateMaxFiles, DefaultRotateMaxFiles))
	}
	return errors.Join(errs...)
}
