package actor

import (
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/steward/steward/spec"
)

// Limits and defaults. The bounds are deliberately generous for real use
// and tight enough that a typo ("max_restarts = 1000000") is refused.
const (
	// DefaultMailboxLimit is the default Config.MailboxLimit (messages).
	DefaultMailboxLimit = 10_000
	// DefaultMaxMessageBytes is the default Config.MaxMessageBytes (1 MiB,
	// a quarter of gRPC's default frame so a routed message always fits).
	DefaultMaxMessageBytes = 1 << 20
	// DefaultMaxProcesses is the default Config.MaxProcesses.
	DefaultMaxProcesses = 100_000
	// DefaultMaxChildren is the default Config.MaxChildren (children): far
	// more than a spec lists (spec.DefaultMaxChildren is 256) and than
	// start_child adds by hand.
	DefaultMaxChildren = 1_000
	// DefaultMaxDynamicChildren is the default Config.MaxDynamicChildren
	// (instances): a simple_one_for_one supervisor is a pool, one instance
	// per connection or job, so it holds up to 100 times a static
	// supervisor; MaxProcesses bounds the node as a whole.
	DefaultMaxDynamicChildren = 100_000
	// DefaultMaxDepth is the default Config.MaxDepth: the root's children
	// are at depth 1 (spec.DefaultMaxDepth).
	DefaultMaxDepth = spec.DefaultMaxDepth
	// DefaultCallTimeout is the default Config.DefaultCallTimeout (OTP's
	// gen_server:call default).
	DefaultCallTimeout = 5 * time.Second
	// DefaultSuspendTimeout is how long a code change waits for its
	// process to reach a safe point (OTP's sys default).
	DefaultSuspendTimeout = 5 * time.Second
	// DefaultEventBuffer is the default Config.EventBuffer (events).
	DefaultEventBuffer = 4096
	// DefaultHistoryEntries is the default Config.HistoryEntries (states
	// per process).
	DefaultHistoryEntries = 32
	// DefaultHistoryInterval is the default Config.HistoryInterval.
	DefaultHistoryInterval = time.Second
	// DefaultMaxFlowEdges is the default Config.MaxFlowEdges (edges per
	// tree).
	DefaultMaxFlowEdges = 10_000

	// The spec package's rules apply unchanged (the leader validates
	// with the same function before committing): intensity bounds,
	// shutdown bound, defaults.

	// MaxRestartsLimit is the largest accepted max_restarts.
	MaxRestartsLimit = spec.MaxIntensityRestarts
	// MaxSecondsLimit is the largest accepted max_seconds; the smallest is 1.
	MaxSecondsLimit = spec.MaxIntensitySeconds
	// MaxShutdownTimeout is the largest accepted shutdown duration.
	MaxShutdownTimeout = spec.DefaultMaxShutdown
	// DefaultShutdown is a worker's shutdown timeout when its spec leaves
	// it empty (spec.DefaultShutdown); a supervisor child's is
	// InfiniteShutdown (spec.DefaultSupervisorShutdown).
	DefaultShutdown = 5 * time.Second
	// InfiniteShutdown is shutdown "infinity": the child is asked to stop
	// and waited for with no timeout (a timer that never falls due: the
	// longest duration, some 292 years).
	InfiniteShutdown = time.Duration(math.MaxInt64)
	// DefaultMaxRestarts and DefaultMaxSeconds are the intensity used when
	// a spec leaves both at zero; a zero MaxSeconds alone becomes
	// DefaultMaxSeconds (spec.Normalize).
	DefaultMaxRestarts = spec.DefaultMaxRestarts
	DefaultMaxSeconds  = spec.DefaultMaxSeconds

	// CreationSpan is how many PID sequence numbers one run of a node
	// has to itself (Config.Creation): a run of creation c hands out
	// c*CreationSpan+1, c*CreationSpan+2, ..., so "n2/3000000012" is the
	// 12th PID of n2's run 3. A run that hands out more than CreationSpan
	// PIDs (a billion spawns without a restart) runs into the next
	// creation's range, and the next run could then reuse its last PIDs.
	CreationSpan = 1_000_000_000
	// MaxCreation is the largest Config.Creation (its range must fit in
	// a uint64).
	MaxCreation = math.MaxUint64/CreationSpan - 1
)

// Config configures one node's Runtime. Start from DefaultConfig.
type Config struct {
	// NodeName is the node part of every PID spawned here. Required.
	NodeName string
	// Logger receives the runtime's logs; nil means hclog.NewNullLogger().
	Logger hclog.Logger
	// Clock is the source of time; nil means SystemClock().
	Clock Clock
	// Router carries sends and calls to PIDs of other nodes; nil means
	// such sends fail with ErrNoRoute.
	Router Router
	// Catalog resolves behavior names; nil means an empty catalog (only
	// SpawnOptions.Impl can then start workers). The node passes
	// behaviors.NewCatalog().
	Catalog *Catalog
	// Creation numbers this run of the node, as Erlang's creation in
	// every pid: the runtime's first PID seq is Creation*CreationSpan+1,
	// so a node that starts each run with a larger Creation never hands
	// out a PID an earlier run handed out, and a PID of an earlier run
	// (a seq at or below Creation*CreationSpan) answers ErrNoProc saying
	// the node restarted since. Agents keep the counter in their data dir
	// (node.NextCreation). 0, the default, starts at seq 1: for runtimes
	// whose PIDs do not outlive them (unit tests). At most MaxCreation.
	Creation uint64

	// MailboxLimit is the most messages a mailbox holds (messages); sends
	// past it fail with ErrMailboxFull. EXIT and DOWN messages are never
	// refused.
	MailboxLimit int
	// MaxMessageBytes is the largest accepted message body (bytes).
	MaxMessageBytes int
	// MaxProcesses is the most live processes on the node, supervisors
	// included (processes).
	MaxProcesses int
	// MaxChildren is the most children one supervisor holds: the children
	// of a spec and those start_child adds (children). OTP has no cap.
	MaxChildren int
	// MaxDynamicChildren is the most instances one simple_one_for_one
	// supervisor holds (instances); StartDynamicChild past it fails with
	// ErrTooManyChildren. OTP has no cap.
	MaxDynamicChildren int
	// MaxDepth is the deepest a child may sit below its tree's root; the
	// root's children are at depth 1 (levels).
	MaxDepth int
	// DefaultCallTimeout bounds a Call whose context has no deadline
	// (duration).
	DefaultCallTimeout time.Duration
	// SuspendTimeout bounds how long ChangeCode and RestoreCode wait for
	// the process to take the change between two messages; a process busy
	// longer is left as it is and the change fails (0:
	// DefaultSuspendTimeout).
	SuspendTimeout time.Duration

	// EventBuffer is the size of the recent-events ring (events).
	EventBuffer int
	// HistoryEntries is how many distinct states are kept per process when
	// state history is on for its tree (entries).
	HistoryEntries int
	// HistoryInterval is the default capture interval for state history
	// (duration).
	HistoryInterval time.Duration
	// MaxFlowEdges bounds the message-flow graph of one tree (edges); new
	// edges past it are counted as dropped.
	MaxFlowEdges int
}

// DefaultConfig returns a Config with every limit at its default; set
// NodeName (and usually Logger, Router, Catalog) before New.
func DefaultConfig() Config {
	return Config{
		MailboxLimit:       DefaultMailboxLimit,
		MaxMessageBytes:    DefaultMaxMessageBytes,
		MaxProcesses:       DefaultMaxProcesses,
		MaxChildren:        DefaultMaxChildren,
		MaxDynamicChildren: DefaultMaxDynamicChildren,
		MaxDepth:           DefaultMaxDepth,
		DefaultCallTimeout: DefaultCallTimeout,
		SuspendTimeout:     DefaultSuspendTimeout,
		EventBuffer:        DefaultEventBuffer,
		HistoryEntries:     DefaultHistoryEntries,
		HistoryInterval:    DefaultHistoryInterval,
		MaxFlowEdges:       DefaultMaxFlowEdges,
	}
}

// Validate reports the first bad field by name.
func (c Config) Validate() error {
	if !spec.ValidName(c.NodeName) {
		return fmt.Errorf("%w: NodeName %q: must be 1-%d letters, digits, '_', '-' or '.', starting with a letter or digit", ErrBadConfig, c.NodeName, spec.MaxNameLen)
	}
	pos := []struct {
		name string
		v    int64
	}{
		{"MailboxLimit", int64(c.MailboxLimit)},
		{"MaxMessageBytes", int64(c.MaxMessageBytes)},
		{"MaxProcesses", int64(c.MaxProcesses)},
		{"MaxChildren", int64(c.MaxChildren)},
		{"MaxDynamicChildren", int64(c.MaxDynamicChildren)},
		{"MaxDepth", int64(c.MaxDepth)},
		{"DefaultCallTimeout", int64(c.DefaultCallTimeout)},
		{"EventBuffer", int64(c.EventBuffer)},
		{"HistoryEntries", int64(c.HistoryEntries)},
		{"HistoryInterval", int64(c.HistoryInterval)},
		{"MaxFlowEdges", int64(c.MaxFlowEdges)},
	}
	for _, f := range pos {
		if f.v <= 0 {
			return fmt.Errorf("%w: %s must be positive, got %d", ErrBadConfig, f.name, f.v)
		}
	}
	if c.Creation > MaxCreation {
		return fmt.Errorf("%w: Creation %d: at most %d (its PIDs start at Creation*%d+1, which must fit in 64 bits)", ErrBadConfig, c.Creation, uint64(MaxCreation), CreationSpan)
	}
	return nil
}
