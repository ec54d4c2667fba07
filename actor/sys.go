package actor

import (
	"context"
	"fmt"
	"sync/atomic"
)

// sysRequest is a system request: the closed set of control messages a
// process handles besides its behavior's messages. sysStop is urgent
// (served first, as an exit signal); the others are served in arrival
// order with user messages, and also while the process is suspended (OTP's
// sys messages). The set is sealed: only the types below implement it, and
// a handler panics on any other (a programming error, never answered).
// Suspend and Resume are not requests: they flip the record's flag
// directly (see setSuspended).
type sysRequest interface {
	request
	isSysRequest()
}

type (
	sysStop         struct{ reason Reason }
	sysGetState     struct{}
	sysReplaceState struct{ state []byte }
	// sysCodeChange moves the process onto behavior; with restore set, the
	// new instance imports state instead of converting the old one.
	sysCodeChange struct {
		behavior string
		restore  bool
		state    []byte
		// from, when set, is the behavior the process must still run when
		// it reaches the request, else the change is refused
		// (ErrCodeMoved): a change decided on a view that may be stale.
		from string
		// claim is taken (0 -> 1) by the process when it reaches the
		// request, or abandoned (0 -> 2) by the caller at the suspend
		// timeout: the change then never runs.
		claim *atomic.Int32
	}
	sysCapture struct{}
	sysHealth  struct{}
)

func (sysStop) isSysRequest()         {}
func (sysGetState) isSysRequest()     {}
func (sysReplaceState) isSysRequest() {}
func (sysCodeChange) isSysRequest()   {}
func (sysCapture) isSysRequest()      {}
func (sysHealth) isSysRequest()       {}

func (sysStop) class() envClass         { return envSys }
func (sysGetState) class() envClass     { return envSys }
func (sysReplaceState) class() envClass { return envSys }
func (sysCodeChange) class() envClass   { return envSys }
func (sysCapture) class() envClass      { return envSys }
func (sysHealth) class() envClass       { return envSys }

// sysEnvelope wraps a system request; rc is nil when no reply is wanted.
func sysEnvelope(r sysRequest, rc chan reply) envelope {
	return envelope{class: envSys, req: r, reply: rc}
}

// unknownRequest is the panic of a handler given a request outside its
// sealed set: a programming error in this package.
func unknownRequest(set string, r request) string {
	return fmt.Sprintf("actor: unknown %s %T", set, r)
}

// sysCall queues a system request and waits for its reply.
func (rt *Runtime) sysCall(ctx context.Context, p *process, req sysRequest) (reply, error) {
	if ctx.Done() == nil {
		var cancel func()
		ctx, cancel = rt.callContext(ctx)
		defer cancel()
	}
	rc := make(chan reply, 1)
	if err := p.control(sysEnvelope(req, rc)); err != nil {
		return reply{}, err
	}
	return waitReply(ctx, p, rc)
}

// waitReply waits for rc, the death of p, or the end of ctx.
func waitReply(ctx context.Context, p *process, rc chan reply) (reply, error) {
	select {
	case r := <-rc:
		return r, r.err
	case <-p.done:
		select {
		case r := <-rc:
			return r, r.err
		default:
		}
		return reply{}, fmt.Errorf("%w: %s exited before replying: %s", ErrNoProc, p.pid, p.exitReasonAfterDone())
	case <-ctx.Done():
		return reply{}, fmt.Errorf("%w: %s: %w", ErrCallTimeout, p.pid, context.Cause(ctx))
	}
}

// handleSys runs a system request in a worker's goroutine; true when the
// process exited.
func (p *process) handleSys(e envelope) bool {
	switch r := e.req.(type) {
	case sysStop:
		p.terminate(r.reason)
		return true
	case sysGetState:
		st, err := p.protected(p.beh.ExportState)
		e.reply <- reply{body: st, err: err}
	case sysReplaceState:
		_, err := p.protected(func() ([]byte, error) { return nil, p.beh.ImportState(r.state) })
		if err == nil {
			if s, ok := p.beh.(Sizer); ok {
				p.stateBytes.Store(int64(s.ApproxSize()))
			}
			p.rt.emit(EventStateReplaced, p, "", fmt.Sprintf("%d bytes", len(r.state)))
		}
		e.reply <- reply{err: err}
	case sysCodeChange:
		if r.claim != nil && !r.claim.CompareAndSwap(0, 1) {
			e.reply <- reply{err: ErrSuspendTimeout} // the caller gave up
			break
		}
		old, err := p.codeChange(r)
		e.reply <- reply{body: old, err: err}
	case sysHealth:
		var err error
		if h, ok := p.beh.(HealthChecker); ok {
			_, err = p.protected(func() ([]byte, error) { return nil, h.Health() })
		} else {
			err = ErrNotSupported
		}
		e.reply <- reply{err: err}
	case sysCapture:
		p.capturing.Store(false)
		p.captureHistory()
	default:
		panic(unknownRequest("system request", r))
	}
	return false
}

// protected runs a behavior callback outside the message loop, turning a
// panic into an error so a failing introspection does not kill the
// process.
func (p *process) protected(f func() ([]byte, error)) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", p.pid, r)
		}
	}()
	return f()
}

// codeChange moves the process onto r.behavior (a catalog name, usually
// a new version of the same module): a fresh instance built with the
// process's args receives the old version and state through CodeChange,
// or with r.restore imports r.state (a revert to a state captured before
// an upgrade, for a module that cannot convert its state down). On any
// error the process keeps running the old instance. It returns the state
// the old instance exported.
func (p *process) codeChange(r sysCodeChange) ([]byte, error) {
	// The pause: what the change costs the process between two messages
	// (build, export, convert, swap), not the time the request queued.
	began := p.rt.clock.Now()
	behavior := r.behavior
	if r.from != "" {
		p.mu.Lock()
		cur := p.behavior
		p.mu.Unlock()
		if cur != r.from {
			return nil, fmt.Errorf("%w: %s runs %s, not %s", ErrCodeMoved, p.pid, cur, r.from)
		}
	}
	nb, entry, err := p.rt.catalog.build(behavior, p.args)
	if err != nil {
		return nil, err
	}
	if n, ok := p.beh.(UpgradeNotified); ok && !r.restore {
		if _, err := p.protected(func() ([]byte, error) { return nil, n.BeforeUpgrade(entry.Version) }); err != nil {
			closeBehavior(nb)
			return nil, fmt.Errorf("code change to %s@%s refused by before_upgrade: %w", behavior, entry.Version, err)
		}
	}
	old, err := p.protected(p.beh.ExportState)
	if err != nil {
		closeBehavior(nb)
		return nil, fmt.Errorf("code change: export old state: %w", err)
	}
	p.mu.Lock()
	oldVersion, oldName := p.version, p.behavior
	p.mu.Unlock()
	convert := func() ([]byte, error) { return nil, nb.CodeChange(oldVersion, old) }
	if r.restore {
		convert = func() ([]byte, error) { return nil, nb.ImportState(r.state) }
	}
	if _, err := p.protected(convert); err != nil {
		closeBehavior(nb)
		return nil, fmt.Errorf("code change %s@%s -> %s@%s: %w", oldName, oldVersion, behavior, entry.Version, err)
	}
	closeBehavior(p.beh)
	p.beh = nb
	p.mu.Lock()
	p.behavior, p.version, p.moved = behavior, entry.Version, true
	p.mu.Unlock()
	how := ""
	if r.restore {
		how = " (captured state restored)"
	}
	pause := p.rt.clock.Now().Sub(began)
	e := p.rt.event(EventCodeChanged, p, "", fmt.Sprintf("%s@%s -> %s@%s%s", oldName, oldVersion, behavior, entry.Version, how))
	e.Duration = pause
	p.rt.events.emit(e)
	return old, nil
}

// Suspend stops a process, local or on another node, from handling user
// messages; they queue, none is lost, and order is kept. System requests
// (GetState, ReplaceState, ChangeCode, a supervisor's stop) and Kill still
// apply. Suspending a suspended process does nothing.
func (rt *Runtime) Suspend(pid PID) error { return rt.setSuspended(pid, true) }

// Resume lets a suspended process handle its queue again, in order.
func (rt *Runtime) Resume(pid PID) error { return rt.setSuspended(pid, false) }

func (rt *Runtime) setSuspended(pid PID, on bool) error {
	if pid.Node != rt.node && pid.Node != "" {
		return rt.suspendRemote(pid, on)
	}
	p, err := rt.local(pid)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errNoProc(pid)
	}
	changed := p.suspended != on
	p.suspended = on
	p.suspFlag.Store(on)
	w := !on && p.waiting && p.queueLen() > 0
	if w {
		p.waiting = false
	}
	p.mu.Unlock()
	if w {
		p.signal()
	}
	switch {
	case changed && on:
		rt.emit(EventSuspended, p, "", "")
	case changed:
		rt.emit(EventResumed, p, "", "")
	}
	return nil
}

// GetState returns a process's exported state (sys:get_state); for a
// supervisor, a JSON description of its policy and children.
func (rt *Runtime) GetState(ctx context.Context, pid PID) ([]byte, error) {
	p, err := rt.local(pid)
	if err != nil {
		return nil, err
	}
	r, err := rt.sysCall(ctx, p, sysGetState{})
	rt.stateAccess(ctx, StateGet, p, err)
	return r.body, err
}

// ReplaceState replaces a worker's state with a serialized one
// (sys:replace_state); the behavior's ImportState decides what is valid.
func (rt *Runtime) ReplaceState(ctx context.Context, pid PID, state []byte) error {
	if len(state) > rt.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: state of %d bytes, limit %d", ErrMessageTooLarge, len(state), rt.cfg.MaxMessageBytes)
	}
	p, err := rt.local(pid)
	if err != nil {
		return err
	}
	_, err = rt.sysCall(ctx, p, sysReplaceState{state: state})
	rt.stateAccess(ctx, StateReplace, p, err)
	return err
}

// ChangeCode moves a running worker onto another catalog behavior (a new
// module version) through CodeChange, keeping its PID, links, monitors,
// registered name, timers, mailbox and converted state. It returns the
// state the old instance exported just before the change (what a revert
// without a downgrade path restores). The change runs between two
// messages, as a system message: messages keep queueing meanwhile.
//
// The worker's child slot remembers the behavior: when its supervisor
// restarts the slot, it starts that behavior again (while the catalog has
// it; else the spec's behavior, or its module ref resolved afresh), so a
// process a deployment moved does not come back on the old version, nor an
// unmoved one on the new. An apply that changes the child's spec forgets it.
func (rt *Runtime) ChangeCode(ctx context.Context, pid PID, behavior string) ([]byte, error) {
	return rt.changeCode(ctx, pid, sysCodeChange{behavior: behavior})
}

// ChangeCodeFrom is ChangeCode of a process that must still run behavior
// from when it reaches the change: one that moved meanwhile (another
// change got there first) is left alone, with ErrCodeMoved. A change
// decided on a view of the process taken earlier uses it, so that a
// state is never converted twice.
func (rt *Runtime) ChangeCodeFrom(ctx context.Context, pid PID, from, behavior string) ([]byte, error) {
	if from == "" {
		return nil, fmt.Errorf("%w: ChangeCodeFrom needs the behavior the process runs", ErrBadArgs)
	}
	return rt.changeCode(ctx, pid, sysCodeChange{behavior: behavior, from: from})
}

// RestoreCode moves a running worker onto behavior with state imported
// as it is (state_import), instead of converted by CodeChange: the revert
// of an upgrade whose module declares no downgrade, to the state captured
// before it.
func (rt *Runtime) RestoreCode(ctx context.Context, pid PID, behavior string, state []byte) error {
	if len(state) > rt.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: state of %d bytes, limit %d", ErrMessageTooLarge, len(state), rt.cfg.MaxMessageBytes)
	}
	_, err := rt.changeCode(ctx, pid, sysCodeChange{behavior: behavior, restore: true, state: state})
	return err
}

// changeCode queues the change and waits for its outcome. A process that
// has not reached it within the suspend timeout (it is still handling an
// earlier message) is left alone: the request is abandoned, and the
// process skips it when it gets there.
func (rt *Runtime) changeCode(ctx context.Context, pid PID, req sysCodeChange) (_ []byte, err error) {
	p, err := rt.local(pid)
	if err != nil {
		return nil, err
	}
	op := StateCodeChange
	if req.restore {
		op = StateRestoreCode
	}
	defer func() { rt.stateAccess(ctx, op, p, err) }()
	req.claim = new(atomic.Int32)
	timeout := rt.cfg.SuspendTimeout
	if timeout <= 0 {
		timeout = DefaultSuspendTimeout
	}
	expired := make(chan struct{})
	t := rt.clock.AfterFunc(timeout, func() { close(expired) })
	defer t.Stop()
	rc := make(chan reply, 1)
	if err := p.control(sysEnvelope(req, rc)); err != nil {
		return nil, err
	}
	stop := ctx.Done()
	for {
		select {
		case r := <-rc:
			return r.body, r.err
		case <-expired:
			if req.claim.CompareAndSwap(0, 2) {
				return nil, fmt.Errorf("%w: %s did not reach one within %s; it runs its old code", ErrSuspendTimeout, pid, timeout)
			}
			expired = nil // taken in time: wait for the outcome
		case <-p.done:
			select {
			case r := <-rc:
				return r.body, r.err
			default:
			}
			return nil, fmt.Errorf("%w: %s exited before its code change: %s", ErrNoProc, pid, p.exitReasonAfterDone())
		case <-stop:
			if req.claim.CompareAndSwap(0, 2) {
				return nil, fmt.Errorf("%w: %s: %w", ErrCallTimeout, pid, context.Cause(ctx))
			}
			// Under way: its outcome is what happened to the process, so
			// it is waited for (the behavior's own deadlines bound it).
			stop = nil
		}
	}
}

// Closer is a behavior holding resources beyond the heap (a module
// instance): Close frees them when a code change replaces the behavior, or
// discards a new one whose conversion failed. Terminate is not called
// then: the process lives on.
type Closer interface {
	Close()
}

func closeBehavior(b Behavior) {
	if c, ok := b.(Closer); ok {
		c.Close()
	}
}

// UpgradeNotified is a behavior told, first, that a code change is about
// to move it (a module's optional before_upgrade export): an error refuses
// the change, and the process keeps this behavior.
type UpgradeNotified interface {
	BeforeUpgrade(toVersion string) error
}

// HealthChecker is a behavior with a health probe (a module's optional
// health export).
type HealthChecker interface {
	Health() error
}

// Probe runs a worker's health probe between two messages, as a system
// message; ErrNotSupported when its behavior has none (and for a
// supervisor).
func (rt *Runtime) Probe(ctx context.Context, pid PID) error {
	p, err := rt.local(pid)
	if err != nil {
		return err
	}
	_, err = rt.sysCall(ctx, p, sysHealth{})
	return err
}
