package spec

import "time"

// Limits. Every one is enforced by Parse or Validate; the ones marked
// "default" can be lowered or raised per call through ValidateOptions.
const (
	// MaxSpecBytes bounds a spec file given to Parse and the canonical JSON
	// encoding of a tree given to Validate (bytes).
	MaxSpecBytes = 1 << 20

	// DefaultMaxDepth is how deep supervisors may nest: the root's children
	// are at depth 1, their children at depth 2, and so on. A child deeper
	// than this is refused (levels).
	DefaultMaxDepth = 10
	// DefaultMaxChildren bounds the children of one supervisor (count).
	DefaultMaxChildren = 256
	// DefaultMaxTotalChildren bounds the children of a whole tree, summed
	// over every supervisor in it (count).
	DefaultMaxTotalChildren = 4096
	// DefaultMaxShutdown bounds a child's shutdown timeout (infinity is
	// always accepted).
	DefaultMaxShutdown = 10 * time.Minute

	// MaxIntensityRestarts is the largest max_restarts accepted (count).
	MaxIntensityRestarts = 1000
	// MaxIntensitySeconds is the largest max_seconds accepted (seconds).
	// The smallest is 1.
	MaxIntensitySeconds = 3600

	// MaxNameLen bounds tree names, node names and child ids (bytes).
	MaxNameLen = 63
	// MaxRegisteredNameLen bounds registered process names (bytes).
	MaxRegisteredNameLen = 128
	// MaxArgs bounds the args of one worker (count); an arg key is at most
	// MaxNameLen bytes of the child-id charset, a value at most MaxArgValueLen.
	MaxArgs = 64
	// MaxArgValueLen bounds one arg value (bytes).
	MaxArgValueLen = 4096
	// MaxBehaviorLen bounds a behavior name (bytes).
	MaxBehaviorLen = 256

	// maxNesting bounds bracket nesting in a file before it is decoded, so
	// a hostile file cannot drive the decoders into deep recursion. Far above
	// anything DefaultMaxDepth lets through.
	maxNesting = 64
)

// Defaults applied by Normalize.
const (
	// NodeAuto lets the leader place a tree on the least loaded alive node.
	NodeAuto = "auto"
	// DefaultShutdown is a worker's shutdown when none is given (OTP's
	// default for a worker is 5000 ms).
	DefaultShutdown = "5s"
	// DefaultSupervisorShutdown is a supervisor child's shutdown when none
	// is given (OTP's default for type supervisor).
	DefaultSupervisorShutdown = Infinity
	// DefaultMaxRestarts and DefaultMaxSeconds are OTP's default restart
	// intensity (supervisor module doc: intensity 1, period 5): 1 restart
	// in 5 seconds.
	DefaultMaxRestarts = 1
	DefaultMaxSeconds  = 5
)

// ValidateOptions carries what Validate needs from its caller. The zero
// value checks everything except behavior names, with the default limits.
type ValidateOptions struct {
	// KnownBehavior reports whether the runtime's catalog has a behavior of
	// this name. Nil skips the check.
	KnownBehavior func(name string) bool
	// KnownModule checks a worker's module reference (already parsed, so
	// its syntax is valid) against the module store: nil when the module,
	// or the pinned version, is stored, else an error saying what is
	// missing. Nil skips the check.
	KnownModule func(ref ModuleRef) error
	// MaxDepth, MaxChildren and MaxTotalChildren override the defaults
	// when positive (levels, count, count).
	MaxDepth         int
	MaxChildren      int
	MaxTotalChildren int
	// MaxShutdown overrides DefaultMaxShutdown when positive.
	MaxShutdown time.Duration
}

func (o ValidateOptions) withDefaults() ValidateOptions {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxChildren <= 0 {
		o.MaxChildren = DefaultMaxChildren
	}
	if o.MaxTotalChildren <= 0 {
		o.MaxTotalChildren = DefaultMaxTotalChildren
	}
	if o.MaxShutdown <= 0 {
		o.MaxShutdown = DefaultMaxShutdown
	}
	return o
}
