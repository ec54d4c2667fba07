package store

import (
	"fmt"
	"time"

	"github.com/steward/steward/hotcode"
)

const (
	// DefaultHistoryLimit is how many versions of a module are kept by
	// default (the oldest beyond it are evicted, except the active one and
	// those a tree spec pins).
	DefaultHistoryLimit = 10
	// DefaultMaxTotalBytes is the default limit of every stored module's
	// chunks together (256 MiB).
	DefaultMaxTotalBytes = 256 << 20
	// DefaultChunkGrace is how long a chunk no version refers to (a push
	// that did not reach its commit) is kept.
	DefaultChunkGrace = time.Hour
)

// Config configures the module store layer.
type Config struct {
	// Host configures this node's wasm host; its CacheDir, when empty, is
	// wasm-cache under the node's data dir.
	Host hotcode.Config
	// HistoryLimit is how many versions of a name are kept (count).
	HistoryLimit uint32
	// MaxTotalBytes bounds the stored modules' chunks together (bytes).
	MaxTotalBytes uint64
	// ChunkGrace is how long an unreferenced chunk is kept (duration).
	ChunkGrace time.Duration
	// LoadTimeout bounds a push's wait, on the leader, for the new version
	// to be compiled and in its catalog (duration), so that a tree naming
	// it can be applied as soon as the push returns.
	LoadTimeout time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Host: hotcode.DefaultConfig(), HistoryLimit: DefaultHistoryLimit, MaxTotalBytes: DefaultMaxTotalBytes,
		ChunkGrace: DefaultChunkGrace, LoadTimeout: 30 * time.Second}
}

// Validate checks the config; errors name the field.
func (c Config) Validate() error {
	switch {
	case c.HistoryLimit == 0:
		return fmt.Errorf("store: HistoryLimit must be at least 1")
	case c.MaxTotalBytes < hotcode.MaxModuleBytes:
		return fmt.Errorf("store: MaxTotalBytes %d is below one module's limit (%d)", c.MaxTotalBytes, hotcode.MaxModuleBytes)
	case c.ChunkGrace <= 0:
		return fmt.Errorf("store: ChunkGrace must be positive")
	case c.LoadTimeout <= 0:
		return fmt.Errorf("store: LoadTimeout must be positive")
	}
	return c.Host.Validate()
}
