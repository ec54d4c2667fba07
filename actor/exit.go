package actor

import "fmt"

// exitItem is a process to take down and why.
type exitItem struct {
	p      *process
	reason Reason
}

// exitProc takes p down with reason and propagates exit signals along
// links, iteratively (a long chain of links does not grow the stack). It
// may be called from any goroutine, for a process that is exiting by
// itself or being killed; it reports whether this call took p down.
func (rt *Runtime) exitProc(p *process, reason Reason) bool {
	if reason == Kill {
		reason = Killed
	}
	work := []exitItem{{p, reason}}
	first := true
	did := false
	for len(work) > 0 {
		it := work[len(work)-1]
		work = work[:len(work)-1]
		ok := rt.exitOne(it.p, it.reason, &work)
		if first {
			did, first = ok, false
		}
	}
	return did
}

// signalAction is what an exit signal does to a linked process.
type signalAction uint8

const (
	sigIgnore signalAction = iota
	sigMessage
	sigStop
	sigDie
)

// exitAction decides, OTP-style, the effect of an exit signal with reason
// from `from` on a live process l (whose lock the caller holds).
func exitAction(l *process, from PID, reason Reason) signalAction {
	switch {
	case reason == Kill:
		return sigDie
	case l.parent == from && !from.IsZero():
		// A supervisor's exit stops its children. A child that traps
		// exits (every supervisor, and workers that asked) stops
		// gracefully, running Terminate, as gen_server does when its
		// parent exits; the others die at once.
		if l.trap.Load() {
			return sigStop
		}
		if reason == Normal {
			return sigIgnore
		}
		return sigDie
	case l.trap.Load():
		return sigMessage
	case reason == Normal:
		return sigIgnore
	default:
		return sigDie
	}
}

// apply carries out an exit-signal action on l, whose lock the caller
// holds; it reports whether l must be signalled after unlocking.
func (rt *Runtime) applySignal(l *process, from PID, reason Reason, act signalAction, work *[]exitItem) bool {
	switch act {
	case sigMessage:
		return l.deliverLocked(envelope{msg: Message{Kind: KindExit, From: from, Body: []byte(reason)}})
	case sigStop:
		if l.stopping.Swap(true) {
			return false
		}
		return l.pushUrgent(sysEnvelope(sysStop{reason: reason}, nil))
	case sigDie:
		if reason == Kill {
			reason = Killed
		}
		l.stopping.Store(true) // doomed: Validate must not expect it to stay
		*work = append(*work, exitItem{l, reason})
	}
	return false
}

// exitOne takes one process down: it stops accepting messages, leaves the
// process table, its name and its tree, removes its links and monitors on
// both sides, delivers DOWN messages, and queues or delivers the exit
// signals of its links. All of it under the topology read lock, so
// Validate never sees half of it.
func (rt *Runtime) exitOne(p *process, reason Reason, work *[]exitItem) bool {
	rt.topo.RLock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		rt.topo.RUnlock()
		return false
	}
	p.closed = true
	p.state.Store(int32(stDead))
	p.exitReason = reason
	links, monitors, monitoredBy := p.links, p.monitors, p.monitoredBy
	p.links, p.monitors, p.monitoredBy = nil, nil, nil
	remote := remoteExitSignals(p, reason)
	// The batch is left alone: the goroutine may be reading it; it goes
	// with the process record.
	p.user.reset()
	p.sys.reset()
	p.urgent.reset()
	p.queued.Store(0)
	name := p.name
	wake := p.waiting
	p.waiting = false
	p.mu.Unlock()
	if wake {
		p.signal()
	}

	rt.procs.Delete(p.pid.Seq)
	rt.count.Add(-1)
	if name != "" {
		rt.names.release(name, p)
	}
	if p.tree != nil {
		p.tree.remove(p)
	}
	if p.sb != nil {
		p.sb.left(p)
	}
	// First undo the links and monitors on both sides, then announce the
	// exit, then deliver its consequences (DOWN, EXIT, stops): whoever sees
	// the event finds the process gone, and sees it before any effect.
	for ref, t := range monitors {
		t.mu.Lock()
		delete(t.monitoredBy, ref)
		t.mu.Unlock()
	}
	for ref, w := range monitoredBy {
		w.mu.Lock()
		delete(w.monitors, ref)
		w.mu.Unlock()
	}
	for _, l := range links {
		l.mu.Lock()
		delete(l.links, p.pid.Seq)
		l.mu.Unlock()
	}
	rt.emit(EventExited, p, reason, "")
	for ref, w := range monitoredBy {
		w.mu.Lock()
		wk := w.deliverLocked(envelope{msg: Message{Kind: KindDown, From: p.pid, Ref: ref, Body: []byte(reason)}})
		w.mu.Unlock()
		if wk {
			w.signal()
		}
	}
	for _, l := range links {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			continue
		}
		wk := rt.applySignal(l, p.pid, reason, exitAction(l, p.pid, reason), work)
		l.mu.Unlock()
		if wk {
			l.signal()
		}
	}
	close(p.done)
	rt.topo.RUnlock()
	rt.sendSignals(remote)

	if p.onExit != nil {
		p.onExit(reason)
	}
	return true
}

// Kill takes a local process down at once with reason (default "killed"),
// whether or not it traps exits: Terminate does not run, linked processes
// receive the exit signal, monitors receive DOWN. This is the operator's
// kill_process; use Exit for OTP's exit/2.
func (rt *Runtime) Kill(pid PID, reason Reason) error {
	p, err := rt.local(pid)
	if err != nil {
		return err
	}
	if reason == "" || reason == Kill {
		reason = Killed
	}
	rt.emit(EventKilled, p, reason, "")
	if !rt.exitProc(p, reason) {
		return errNoProc(pid)
	}
	return nil
}

// Exit sends an exit signal to a local process from outside any process,
// as OTP's exit/2: Kill kills it even if it traps exits; otherwise a
// trapping process receives a KindExit message with a zero From, a normal
// reason is ignored, and any other reason kills it with that reason.
func (rt *Runtime) Exit(pid PID, reason Reason) error {
	p, err := rt.local(pid)
	if err != nil {
		return err
	}
	if reason == "" {
		return fmt.Errorf("%w: empty exit reason", ErrBadArgs)
	}
	if !rt.signalExit(p, PID{}, reason, nil) {
		return errNoProc(pid)
	}
	return nil
}

// signalExit delivers an exit signal with reason from `from` (the zero
// PID: from outside any process) to p, unless p is dead or admit, called
// under p's lock, refuses it, and carries out the deaths it causes. It
// reports whether the signal was delivered.
func (rt *Runtime) signalExit(p *process, from PID, reason Reason, admit func() bool) bool {
	var work []exitItem
	rt.topo.RLock()
	p.mu.Lock()
	ok := (admit == nil || admit()) && !p.closed
	wk := false
	if ok {
		wk = rt.applySignal(p, from, reason, exitAction(p, from, reason), &work)
	}
	p.mu.Unlock()
	rt.topo.RUnlock()
	if wk {
		p.signal()
	}
	for _, it := range work {
		rt.exitProc(it.p, it.reason)
	}
	return ok
}
