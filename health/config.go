package health

import (
	"fmt"
	"time"
)

// Config configures the layer.
type Config struct {
	// SampleInterval is how often a node samples its resource use.
	SampleInterval time.Duration
	// Settle is how long a node waits, by default, for its runtime to
	// settle before it reports what validation still finds wrong.
	Settle time.Duration
	// NodeTimeout bounds one node's answer to Validate, beyond its settle
	// time; a node that does not answer in time is node_unreachable.
	NodeTimeout time.Duration
	// MaxSettle bounds the settle time a request may ask for.
	MaxSettle time.Duration

	// Sampler measures the node; nil: the system sampler (Go memory
	// statistics, the runtime's processes, /proc/self/stat).
	Sampler Sampler
	// Ticks, when set, replaces the SampleInterval ticker: the monitor
	// samples once per value received. Tests feed it.
	Ticks <-chan time.Time
	// Now is the clock of samples and violations (default time.Now).
	Now func() time.Time
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		SampleInterval: 5 * time.Second,
		Settle:         2 * time.Second,
		NodeTimeout:    5 * time.Second,
		MaxSettle:      time.Minute,
	}
}

// Validate checks the configuration; errors name the field.
func (c Config) Validate() error {
	switch {
	case c.SampleInterval <= 0 && c.Ticks == nil:
		return fmt.Errorf("health: SampleInterval: %s must be positive", c.SampleInterval)
	case c.Settle < 0:
		return fmt.Errorf("health: Settle: %s is negative", c.Settle)
	case c.NodeTimeout <= 0:
		return fmt.Errorf("health: NodeTimeout: %s must be positive", c.NodeTimeout)
	case c.MaxSettle < c.Settle:
		return fmt.Errorf("health: MaxSettle: %s is below Settle (%s)", c.MaxSettle, c.Settle)
	}
	return nil
}
