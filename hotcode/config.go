package hotcode

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Limits and defaults.
const (
	// MaxModuleBytes is the largest module binary accepted (8 MiB).
	MaxModuleBytes = 8 << 20
	// DefaultMaxMemoryPages is the default page cap (256 pages of 64 KiB:
	// 16 MiB per instance).
	DefaultMaxMemoryPages = 256
	// MaxMemoryPagesLimit is the largest page cap a Config may ask (2 GiB),
	// so that no valid buffer pointer has its high bit set (docs/MODULES.md
	// "Packed results").
	MaxMemoryPagesLimit = 32768
	// DefaultMessageDeadline is the default bound on one callback's run.
	DefaultMessageDeadline = 5 * time.Second
	// DefaultMaxMessageBytes is the default bound on one buffer crossing
	// the boundary (1 MiB, the runtime's default message limit).
	DefaultMaxMessageBytes = 1 << 20
)

// Config configures a Host. Start from DefaultConfig.
type Config struct {
	// CacheDir holds wazero's compilation cache on disk (a directory,
	// created if missing); "" keeps compilations in memory only.
	CacheDir string
	// MaxMemoryPages caps every instance's memory (64 KiB pages): a module
	// whose minimum is over it does not compile, and memory.grow past it
	// fails (returns -1 to the guest).
	MaxMemoryPages uint32
	// MessageDeadline bounds each guest callback (duration, wall clock):
	// a callback still running then is stopped and the process crashes.
	MessageDeadline time.Duration
	// MaxMessageBytes bounds each buffer copied across the boundary
	// (bytes): replies, state, bodies given to host functions.
	MaxMessageBytes int
	// WASIDir is the parent of the per-process directories a module with
	// the "wasi" capability and an fs_dir gets (a directory); "" refuses
	// such modules.
	WASIDir string
	// Logger receives the host's logs and, outside a process, the guests'
	// log calls; nil means hclog.NewNullLogger().
	Logger hclog.Logger
}

// DefaultConfig returns a Config with every limit at its default.
func DefaultConfig() Config {
	return Config{
		MaxMemoryPages:  DefaultMaxMemoryPages,
		MessageDeadline: DefaultMessageDeadline,
		MaxMessageBytes: DefaultMaxMessageBytes,
	}
}

// Validate reports the first bad field by name.
func (c Config) Validate() error {
	switch {
	case c.MaxMemoryPages == 0 || c.MaxMemoryPages > MaxMemoryPagesLimit:
		return fmt.Errorf("%w: MaxMemoryPages %d: want 1..%d", ErrBadOptions, c.MaxMemoryPages, MaxMemoryPagesLimit)
	case c.MessageDeadline <= 0:
		return fmt.Errorf("%w: MessageDeadline must be positive, got %s", ErrBadOptions, c.MessageDeadline)
	case c.MaxMessageBytes <= 0:
		return fmt.Errorf("%w: MaxMessageBytes must be positive, got %d", ErrBadOptions, c.MaxMessageBytes)
	}
	return nil
}
