package sandbox

import (
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/spec"
)

// Defaults, the seed's where it has one.
const (
	DefaultIsolation       = actor.IsolationModerate
	DefaultResponse        = actor.ResponseKill
	DefaultMonitorInterval = 5000 * time.Millisecond
	DefaultMaxMemoryBytes  = 100 << 20 // 100 MiB
	DefaultMaxProcesses    = 50
	DefaultCPUPercent      = 25 // of one core
	DefaultMaxFileHandles  = 20
	DefaultHistorySamples  = actor.DefaultSandboxHistorySamples // 100
)

// Bounds of the limits.
const (
	MaxPolicyBytes       = 64 << 10
	MinMonitorInterval   = 100 * time.Millisecond
	MaxMonitorInterval   = time.Hour
	MaxMemoryBytes       = 64 << 30 // 64 GiB
	MaxProcesses         = actor.DefaultMaxProcesses
	MinMessageDeadline   = time.Millisecond
	MaxMessageDeadline   = 10 * time.Minute
	MaxMessagesPerSecond = 1_000_000
	MaxMailbox           = actor.DefaultMailboxLimit
	MaxFileHandles       = 1024
	MaxAllowEntries      = 256
)

// Policy is a sandbox's policy as written (after defaults).
type Policy struct {
	// Name is the sandbox's (and its tree's) name; optional here.
	Name      string          `json:"name,omitempty"`
	Isolation actor.Isolation `json:"isolation"`
	// Response is applied to strict boundary violations and to the
	// memory budget (see actor.Response).
	Response actor.Response `json:"response"`
	// MonitorInterval is the window of the moderate thresholds and of
	// usage sampling.
	MonitorInterval time.Duration `json:"monitor_interval"`
	Trace           Trace         `json:"trace"`
	Limits          Limits        `json:"limits"`
	Allow           Allow         `json:"allow"`
}

// Trace says what the sandbox's tracing records.
type Trace struct {
	Messages bool `json:"messages"`
	States   bool `json:"states"`
	// HistorySamples is how many states the state history keeps per
	// process, 1 .. 10000.
	HistorySamples int `json:"history_samples"`
}

// Limits are the sandbox's resource limits; 0 is "none" for those marked
// optional.
type Limits struct {
	// MaxMemoryBytes: sum of the processes' state sizes (bytes).
	MaxMemoryBytes int64 `json:"max_memory_bytes"`
	// MaxProcesses: live processes, supervisors included.
	MaxProcesses int `json:"max_processes"`
	// CPUPercent: percent of one core. Not enforced on native behaviors
	// (docs/SANDBOXES.md).
	CPUPercent int `json:"cpu_percent"`
	// MessageDeadline: one callback's time (optional).
	MessageDeadline time.Duration `json:"message_deadline,omitempty"`
	// MaxMessagesPerSecond: messages with an end in the sandbox per
	// second (optional).
	MaxMessagesPerSecond int `json:"max_messages_per_second,omitempty"`
	// MaxMailbox: queued messages per process (optional: the node's
	// mailbox limit).
	MaxMailbox int `json:"max_mailbox,omitempty"`
	// MaxFileHandles: open files of a WASI module's process, 1 .. 1024
	// (at most its manifest's own limit). A sandbox whose modules must
	// open no file runs them without WASI (strict and moderate refuse
	// it). Not applicable to native behaviors (docs/SANDBOXES.md).
	MaxFileHandles int `json:"max_file_handles"`
}

// Allow lists what outside the sandbox counts as inside.
type Allow struct {
	Names []string `json:"names,omitempty"`
	Trees []string `json:"trees,omitempty"`
}

// Defaults is the policy of an empty file.
func Defaults() Policy {
	return Policy{
		Isolation:       DefaultIsolation,
		Response:        DefaultResponse,
		MonitorInterval: DefaultMonitorInterval,
		Trace:           Trace{Messages: true, States: true, HistorySamples: DefaultHistorySamples},
		Limits: Limits{
			MaxMemoryBytes: DefaultMaxMemoryBytes,
			MaxProcesses:   DefaultMaxProcesses,
			CPUPercent:     DefaultCPUPercent,
			MaxFileHandles: DefaultMaxFileHandles,
		},
	}
}

// Validate checks every field; the error is a *fielderr.Error wrapping
// ErrInvalid that lists each problem at its field path.
func (p Policy) Validate() error {
	var ps fielderr.List
	bad := func(path, format string, args ...any) { ps.Add(ErrInvalid, path, format, args...) }
	if p.Name != "" && !spec.ValidName(p.Name) {
		bad("name", "%q must be 1-%d letters, digits, '_', '-' or '.', starting with a letter or digit", p.Name, spec.MaxNameLen)
	}
	switch p.Isolation {
	case actor.IsolationStrict, actor.IsolationModerate, actor.IsolationPermissive:
	default:
		bad("isolation", "%q is not strict, moderate or permissive", p.Isolation)
	}
	switch p.Response {
	case actor.ResponseKill, actor.ResponseTerminate, actor.ResponseLog:
	default:
		bad("response", "%q is not kill_process, terminate_sandbox or log", p.Response)
	}
	if p.MonitorInterval < MinMonitorInterval || p.MonitorInterval > MaxMonitorInterval {
		bad("monitor_interval", "%s is outside [%s, %s]", p.MonitorInterval, MinMonitorInterval, MaxMonitorInterval)
	}
	l := p.Limits
	between := func(path string, v, lo, hi int64) {
		if v < lo || v > hi {
			bad(path, "%d is outside [%d, %d]", v, lo, hi)
		}
	}
	between("limits.max_memory_bytes", l.MaxMemoryBytes, 1, MaxMemoryBytes)
	between("limits.max_processes", int64(l.MaxProcesses), 1, MaxProcesses)
	between("limits.cpu_percent", int64(l.CPUPercent), 1, 100)
	between("limits.max_messages_per_second", int64(l.MaxMessagesPerSecond), 0, MaxMessagesPerSecond)
	between("limits.max_mailbox", int64(l.MaxMailbox), 0, MaxMailbox)
	between("limits.max_file_handles", int64(l.MaxFileHandles), 1, MaxFileHandles)
	between("trace.history_samples", int64(p.Trace.HistorySamples), 1, actor.MaxSandboxHistorySamples)
	if d := l.MessageDeadline; d != 0 && (d < MinMessageDeadline || d > MaxMessageDeadline) {
		bad("limits.message_deadline", "%s is outside [%s, %s] (omit it for none)", d, MinMessageDeadline, MaxMessageDeadline)
	}
	if len(p.Allow.Names) > MaxAllowEntries {
		bad("allow.names", "%d entries, more than %d", len(p.Allow.Names), MaxAllowEntries)
	}
	if len(p.Allow.Trees) > MaxAllowEntries {
		bad("allow.trees", "%d entries, more than %d", len(p.Allow.Trees), MaxAllowEntries)
	}
	for i, n := range p.Allow.Names {
		if !spec.ValidRegisteredName(n) {
			bad(fielderr.Index("allow.names", i), "%q is not a valid registered name", n)
		}
	}
	for i, n := range p.Allow.Trees {
		if !spec.ValidName(n) {
			bad(fielderr.Index("allow.trees", i), "%q is not a valid tree name", n)
		}
	}
	return ps.Err(ErrInvalid)
}

// Actor is the policy the runtime enforces (actor.Runtime.ApplySandbox).
// Trace is not part of it: tracing is set with the runtime's tracing
// API. MaxFileHandles is for the WASI modules the hot-code host runs.
func (p Policy) Actor() actor.SandboxPolicy {
	return actor.SandboxPolicy{
		Isolation:            p.Isolation,
		AllowNames:           append([]string(nil), p.Allow.Names...),
		AllowTrees:           append([]string(nil), p.Allow.Trees...),
		MaxProcesses:         p.Limits.MaxProcesses,
		MaxMailbox:           p.Limits.MaxMailbox,
		MaxMessagesPerSecond: p.Limits.MaxMessagesPerSecond,
		MessageDeadline:      p.Limits.MessageDeadline,
		MaxMemoryBytes:       p.Limits.MaxMemoryBytes,
		CPUPercent:           p.Limits.CPUPercent,
		MaxFileHandles:       p.Limits.MaxFileHandles,
		HistorySamples:       p.Trace.HistorySamples,
		MonitorInterval:      p.MonitorInterval,
		Response:             p.Response,
	}
}
