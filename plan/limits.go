package plan

import "time"

// Limits, enforced by Parse and Validate.
const (
	// MaxPlanBytes bounds a plan file (bytes).
	MaxPlanBytes = 1 << 20
	// MaxOperations bounds the operations of a plan (count).
	MaxOperations = 1000
	// MaxTimeout bounds a plan's timeout.
	MaxTimeout = 24 * time.Hour
	// MaxMessageBytes bounds a send_message payload (bytes).
	MaxMessageBytes = 64 << 10
	// MaxReasonLen bounds a kill_process reason (bytes).
	MaxReasonLen = 256
	// MaxStateBytes bounds replace_state's state (bytes).
	MaxStateBytes = 256 << 10
	// maxNesting bounds bracket nesting in a file before decoding.
	maxNesting = 64
)

// Defaults applied by Validate.
const (
	DefaultSafetyLevel = Moderate
	DefaultTimeout     = 30 * time.Second
	// DefaultReason is kill_process's exit reason when none is given; like
	// OTP's kill it cannot be trapped.
	DefaultReason = "kill"
)

// Impact weights, in abstract units, used by the moderate safety level to
// size phases and by the high-impact conflict. An operation's impact is its
// type's base weight plus one unit per started ImpactPerAffected processes
// in its affected set (so 1-10 affected add 1, 11-20 add 2, ...).
var impactBase = map[OpType]int{
	SendMessage:              1,
	SuspendProcess:           1,
	ResumeProcess:            1,
	KillProcess:              2,
	TerminateChild:           2,
	StartChild:               2,
	RestartChild:             2,
	DeleteChild:              1,
	ChangeSupervisorStrategy: 3,
	RestartSupervisor:        5,
	ReplaceState:             1,
	RegisterName:             1,
	Spawn:                    2,
	UpgradeCode:              1,
	RevertCode:               1,
	ImportStates:             1,
}

const (
	// ImpactPerAffected: affected processes per extra impact unit.
	ImpactPerAffected = 10
	// ImpactBudget is the most impact one moderate phase may carry; an
	// operation heavier than that alone gets a phase of its own.
	ImpactBudget = 10
	// HighImpact is the impact from which an operation counts as high
	// impact (every restart_supervisor; others with many affected).
	HighImpact = 5
	// MaxHighImpactPerPhase: more high-impact operations than this in one
	// phase is a (warning) conflict; moderate never packs more.
	MaxHighImpactPerPhase = 3
)

// Stability thresholds evaluated by system_stable (per node).
const (
	// StableMaxQueueLength: the longest single mailbox allowed (messages).
	StableMaxQueueLength = 1000
	// StableMaxRecentRestarts: restarts decided within StabilityPeriod
	// allowed on a node (count).
	StableMaxRecentRestarts = 10
	// StabilityPeriod is the span RecentRestarts covers.
	StabilityPeriod = 60 * time.Second
)

// Duration estimates (milliseconds) per operation type, before the
// affected processes' share; see Estimate.
var estimateMS = map[OpType]int64{
	SendMessage:              10,
	SuspendProcess:           50,
	ResumeProcess:            50,
	KillProcess:              100,
	ChangeSupervisorStrategy: 200,
	TerminateChild:           500,
	StartChild:               1000,
	RestartChild:             1000,
	DeleteChild:              50,
	RestartSupervisor:        5000,
	ReplaceState:             50,
	RegisterName:             10,
	Spawn:                    1000,
	ImportStates:             50,
}

const (
	// EstimatePerAffectedMS is added per affected process (ms).
	EstimatePerAffectedMS = 5
	// EstimatePreCheckMS and EstimatePostCheckMS are per check (ms).
	EstimatePreCheckMS  = 20
	EstimatePostCheckMS = 50
	// EstimateCaptureMS is per process captured by capture_state (ms).
	EstimateCaptureMS = 10
	// EstimateBarrierMS is the commit barrier between phases (ms).
	EstimateBarrierMS = 100
)
