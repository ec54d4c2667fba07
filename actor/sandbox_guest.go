package actor

import (
	"context"
	"errors"
	"fmt"
)

// OpExit is an exit signal a sandboxed behavior sends to another process
// through SandboxGuest.Exit (the hot-code host's exit(pid) host function).
const OpExit BoundaryOp = "exit"

// ErrSandboxMemory means a reservation from a sandbox's memory budget
// (SandboxGuest.ReserveMemory) was refused: the sandbox's memory would go
// past max_memory_bytes. Nothing was taken.
var ErrSandboxMemory = errors.New("sandbox memory budget exhausted")

// SandboxGuest is the sandbox of one process as that process's behavior
// sees it: the hot-code host (wasm modules) uses it to apply the limits it
// enforces inside the guest, before the fact: the page cap and memory
// budget (ReserveMemory, ReleaseMemory), the message deadline, WASI, file
// handles, and the boundary on the host functions that act through the
// runtime rather than through Proc (Spawn, Exit).
//
// It is obtained in a callback with SandboxOf and may be kept for the life
// of the behavior. Its methods are safe for concurrent use.
type SandboxGuest struct {
	sb *sandboxState
	p  *process
	// raised is the monitoring window (+1) in which a refused reservation
	// last raised a violation: one per guest and interval.
	raised int64
}

// SandboxOf returns the sandbox of the process a callback's Proc belongs
// to, or nil when it is not in a sandbox (or p is not a runtime process).
func SandboxOf(p Proc) *SandboxGuest {
	q, ok := p.(*process)
	if !ok || q == nil || q.sb == nil {
		return nil
	}
	return &SandboxGuest{sb: q.sb, p: q}
}

// Name is the sandbox's name (its tree's).
func (g *SandboxGuest) Name() string { return g.sb.tree.name }

// PID is the process the guest belongs to.
func (g *SandboxGuest) PID() PID { return g.p.pid }

// Done is closed when the process has exited (a guest still running for
// it may be stopped: nothing it does reaches anyone any more).
func (g *SandboxGuest) Done() <-chan struct{} { return g.p.done }

// Policy is the policy in effect now (it may be updated while the
// sandbox runs).
func (g *SandboxGuest) Policy() SandboxPolicy { return g.sb.policy().SandboxPolicy }

// ReserveMemory takes n bytes (n > 0) of the sandbox's max_memory_bytes
// budget for the process before it uses them: the bytes count in the
// process's memory at once (SandboxStatus.MemoryBytes) and in the budget
// every other reservation and every native process's reported size is
// checked against. When the sandbox's memory plus n would go past the
// budget, nothing is taken, the error wraps ErrSandboxMemory, and a
// max_memory_bytes violation is recorded (response log: the limit held;
// once per guest and monitoring interval). A process that has exited
// gets ErrNoProc.
//
// The process's reported state size (Sizer), taken after each message,
// replaces what it reserved: a behavior that reserves must report the
// bytes it holds reserved as its size.
func (g *SandboxGuest) ReserveMemory(n int64) error {
	if n <= 0 {
		return nil
	}
	sb := g.sb
	c := sb.policy()
	sb.mu.Lock()
	e := sb.per[g.p.pid.Seq]
	if e == nil {
		sb.mu.Unlock()
		return errNoProc(g.p.pid)
	}
	total := sb.mem + n
	if c.MaxMemoryBytes == 0 || total <= c.MaxMemoryBytes {
		e.mem += n
		sb.mem = total
		sb.mu.Unlock()
		return nil
	}
	w := int64(sb.rt.clock.Now().Sub(sb.epoch)/c.MonitorInterval) + 1
	raise := g.raised != w
	g.raised = w
	sb.mu.Unlock()
	if raise {
		sb.violate(g.p, SandboxViolation{Kind: ViolationMemory, Limit: c.MaxMemoryBytes, Value: total, Response: ResponseLog})
	}
	return fmt.Errorf("%w: sandbox %q: %s asks %d bytes, %d in use, budget %d (max_memory_bytes)",
		ErrSandboxMemory, sb.tree.name, g.p.pid, n, total-n, c.MaxMemoryBytes)
}

// ReleaseMemory gives back n bytes ReserveMemory took (never more than
// the process holds; nothing once the process has exited, whose memory the
// sandbox has already released).
func (g *SandboxGuest) ReleaseMemory(n int64) {
	if n <= 0 {
		return
	}
	sb := g.sb
	sb.mu.Lock()
	if e := sb.per[g.p.pid.Seq]; e != nil {
		n = min(n, e.mem)
		e.mem -= n
		sb.mem -= n
	}
	sb.mu.Unlock()
}

// Inside reports whether pid counts as inside the sandbox (its tree, an
// allowed tree, an allowed name); remote and unknown PIDs are outside.
func (g *SandboxGuest) Inside(pid PID) bool {
	if pid.Node != g.sb.rt.node {
		return false
	}
	q, err := g.sb.rt.lookup(pid)
	return err == nil && g.sb.inside(q)
}

// Exit sends an exit signal with reason from the process to another one
// (Runtime.Exit), through the sandbox's boundary: a target outside the
// sandbox is a crossing (op "exit") attributed to the process, refused
// with ErrBoundary at strict (with the policy's response), recorded at
// moderate and permissive.
func (g *SandboxGuest) Exit(to PID, reason Reason) error {
	rt := g.sb.rt
	q, err := rt.local(to)
	if err != nil {
		return err
	}
	if !g.sb.inside(q) {
		if err := g.sb.cross(OpExit, g.p, q, to, "", false); err != nil {
			return err
		}
	}
	return rt.Exit(to, reason)
}

// Spawn starts a standalone process for the guest (Runtime.Spawn). The new
// process is outside the sandbox, so the spawn is a crossing (op
// "spawn") attributed to the process: refused with ErrBoundary at strict
// (with the policy's response), recorded at moderate and permissive (where
// it counts against the outside-links threshold). With o.Link set to the
// process itself, the runtime's spawn-with-link check applies instead.
func (g *SandboxGuest) Spawn(ctx context.Context, o SpawnOptions) (PID, error) {
	if o.Link.IsZero() || o.Link != g.p.pid {
		if err := g.sb.cross(OpSpawn, g.p, nil, PID{}, "", false); err != nil {
			return PID{}, err
		}
	}
	return g.sb.rt.Spawn(ctx, o)
}
