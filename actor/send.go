package actor

import (
	"context"
	"fmt"
	"sync"
)

// Send delivers msg to a process, local or remote, as a plain message
// (msg.Kind KindInfo, the zero value) or a cast (KindCast); msg.From is
// whatever the caller sets (zero for an operator).
//
// As in OTP, sending to a dead or never-spawned local PID is not an error:
// the message is dropped (and counted in Stats.DroppedSends). Use
// SendChecked where that must be reported. A full mailbox
// (ErrMailboxFull) and an oversized body (ErrMessageTooLarge) are always
// errors.
func (rt *Runtime) Send(to PID, msg Message) error {
	if msg.Kind != KindInfo && msg.Kind != KindCast {
		return fmt.Errorf("%w: Send takes info or cast, got %s", ErrBadKind, msg.Kind)
	}
	return rt.send(nil, to, msg, false)
}

// Cast is Send with msg.Kind set to KindCast.
func (rt *Runtime) Cast(to PID, msg Message) error {
	msg.Kind = KindCast
	return rt.send(nil, to, msg, false)
}

// SendChecked is Send that reports a dead (ErrNoProc) or never-spawned
// (ErrUnknownPID) target; it is what the operator's send_message uses.
func (rt *Runtime) SendChecked(to PID, msg Message) error {
	if msg.Kind != KindInfo && msg.Kind != KindCast {
		return fmt.Errorf("%w: SendChecked takes info or cast, got %s", ErrBadKind, msg.Kind)
	}
	return rt.send(nil, to, msg, true)
}

// SendName delivers msg to the live process registered under name; an
// unregistered name is an error (ErrNameNotFound), as in OTP.
func (rt *Runtime) SendName(name string, msg Message) error {
	pid, ok := rt.WhereIs(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNameNotFound, name)
	}
	return rt.SendChecked(pid, msg)
}

func (rt *Runtime) send(from *process, to PID, m Message, checked bool) error {
	if len(m.Body) > rt.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(m.Body), rt.cfg.MaxMessageBytes)
	}
	if to.Node != rt.node {
		if from != nil && from.sb != nil {
			if err := rt.gate(opFor(m.Kind), from, nil, to, true); err != nil {
				return err
			}
		}
		return rt.route(from, to, m, checked)
	}
	v, ok := rt.procs.Load(to.Seq)
	if !ok {
		if checked {
			return rt.missing(to)
		}
		rt.dropped.Add(1)
		return nil
	}
	target := v.(*process)
	if sandboxed(from, target) {
		if err := rt.gate(opFor(m.Kind), from, target, to, true); err != nil {
			return err
		}
	}
	// Counted before delivery, so whoever sees the message sees the count.
	if from != nil {
		from.out.Add(1)
	}
	if err := target.deliver(envelope{msg: m}, false); err != nil {
		if from != nil {
			from.out.Add(^uint64(0))
		}
		if target.sb != nil && target.isAlive() {
			target.sb.mailboxFull(target)
		}
		if !checked && !target.isAlive() {
			rt.dropped.Add(1)
			return nil
		}
		return err
	}
	rt.traced(from, m.From, target, to)
	return nil
}

// traced records a delivered message in the flow graphs that want it.
func (rt *Runtime) traced(from *process, fromPID PID, target *process, to PID) {
	if from != nil {
		if from.tree != nil {
			if f := from.tree.flow.Load(); f != nil {
				f.record(fromPID, to, rt.clock.Now())
			}
		}
	}
	if target != nil && target.tree != nil && (from == nil || from.tree != target.tree) {
		if f := target.tree.flow.Load(); f != nil {
			f.record(fromPID, to, rt.clock.Now())
		}
	}
	if (from != nil && from.sbp != nil) || (target != nil && target.sbp != nil) {
		rt.sandboxTraced(from, fromPID, target, to)
	}
}

func (rt *Runtime) route(from *process, to PID, m Message, checked bool) error {
	if to.Node == "" {
		return fmt.Errorf("%w: %q has no node", ErrUnknownPID, to.String())
	}
	if rt.router == nil {
		return fmt.Errorf("%w: %s (no router configured)", ErrNoRoute, to)
	}
	ctx, cancel := rt.callContext(context.Background())
	defer cancel()
	var err error
	if cr, ok := rt.router.(CheckedRouter); ok && checked {
		err = cr.RouteChecked(ctx, to, m)
	} else {
		err = rt.router.Route(ctx, to, m)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	if from != nil {
		from.out.Add(1)
	}
	rt.traced(from, m.From, nil, to)
	return nil
}

// Call sends msg as a call to a process, local or remote, and waits for the
// reply. ctx bounds the wait; without a deadline Config.DefaultCallTimeout
// applies. Errors: ErrUnknownPID or ErrNoProc for a target that never
// existed or is dead (or dies before replying), ErrCallTimeout, ErrRefused
// when the behavior refused the request, ErrMailboxFull,
// ErrMessageTooLarge, ErrNoRoute.
func (rt *Runtime) Call(ctx context.Context, to PID, msg Message) ([]byte, error) {
	msg.Kind = KindCall
	return rt.call(ctx, nil, to, msg)
}

var replyPool = sync.Pool{New: func() any { return make(chan reply, 1) }}

func (rt *Runtime) call(ctx context.Context, from *process, to PID, m Message) ([]byte, error) {
	if len(m.Body) > rt.cfg.MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(m.Body), rt.cfg.MaxMessageBytes)
	}
	if ctx.Done() == nil {
		var cancel func()
		ctx, cancel = rt.callContext(ctx)
		defer cancel()
	}
	if to.Node != rt.node {
		if to.Node == "" {
			return nil, fmt.Errorf("%w: %q has no node", ErrUnknownPID, to.String())
		}
		if from != nil && from.sb != nil {
			if err := rt.gate(OpCall, from, nil, to, true); err != nil {
				return nil, err
			}
		}
		cr, ok := rt.router.(CallRouter)
		if !ok {
			return nil, fmt.Errorf("%w: %s (no router able to call)", ErrNoRoute, to)
		}
		if from != nil {
			from.out.Add(1)
		}
		rt.traced(from, m.From, nil, to)
		body, err := cr.RouteCall(ctx, to, m)
		if err != nil {
			return nil, fmt.Errorf("call %s: %w", to, err)
		}
		return body, nil
	}
	target, err := rt.lookup(to)
	if err != nil {
		return nil, err
	}
	if target == from {
		return nil, fmt.Errorf("%w: %s", ErrCallSelf, to)
	}
	if sandboxed(from, target) {
		if err := rt.gate(OpCall, from, target, to, true); err != nil {
			return nil, err
		}
	}
	rc := replyPool.Get().(chan reply)
	if from != nil {
		from.out.Add(1)
	}
	if err := target.deliver(envelope{msg: m, reply: rc}, false); err != nil {
		if from != nil {
			from.out.Add(^uint64(0))
		}
		if target.sb != nil && target.isAlive() {
			target.sb.mailboxFull(target)
		}
		replyPool.Put(rc)
		return nil, err
	}
	rt.traced(from, m.From, target, to)
	var self <-chan struct{}
	if from != nil {
		self = from.done
	}
	select {
	case r := <-rc:
		replyPool.Put(rc)
		return r.body, r.err
	case <-target.done:
		select {
		case r := <-rc:
			replyPool.Put(rc)
			return r.body, r.err
		default:
		}
		return nil, fmt.Errorf("%w: %s exited before replying: %s", ErrNoProc, to, target.exitReasonAfterDone())
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrCallTimeout, to, context.Cause(ctx))
	case <-self:
		return nil, fmt.Errorf("%w: caller %s exited during the call", ErrNoProc, from.pid)
	}
}

// callContext bounds ctx by Config.DefaultCallTimeout on the runtime's
// clock when it has no deadline of its own.
func (rt *Runtime) callContext(ctx context.Context) (context.Context, func()) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	c, cancel := context.WithCancelCause(ctx)
	t := rt.clock.AfterFunc(rt.cfg.DefaultCallTimeout, func() { cancel(context.DeadlineExceeded) })
	return c, func() {
		t.Stop()
		cancel(nil)
	}
}
