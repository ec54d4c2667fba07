package actor

import "fmt"

// Link links a live local process to another process, local or on
// another node (bidirectional; across nodes both nodes hold the link,
// remote.go). Linking a process to itself does nothing. A dead or unknown
// PID is an error (OTP's noproc).
func (rt *Runtime) Link(a, b PID) error {
	pa, err := rt.local(a)
	if err != nil {
		return err
	}
	return rt.link(pa, b)
}

// Unlink removes the link between a and b, if any, on both sides.
func (rt *Runtime) Unlink(a, b PID) error {
	pa, err := rt.local(a)
	if err != nil {
		return err
	}
	rt.unlink(pa, b)
	return nil
}

// Monitor makes watcher receive a KindDown message (Ref = the returned
// reference, Body = the reason) when target, local or on another node,
// exits. Monitoring a dead or unknown PID delivers DOWN with reason noproc
// at once; one on a node that cannot be reached, noconnection, as does
// the loss of the target's node later (NodeDown).
func (rt *Runtime) Monitor(watcher, target PID) (uint64, error) {
	w, err := rt.local(watcher)
	if err != nil {
		return 0, err
	}
	return rt.monitor(w, target)
}

// Demonitor removes a monitor set by watcher; an unknown ref does nothing.
func (rt *Runtime) Demonitor(watcher PID, ref uint64) error {
	w, err := rt.local(watcher)
	if err != nil {
		return err
	}
	rt.demonitor(w, ref)
	return nil
}

// lockPair locks two distinct processes in a fixed order.
func lockPair(a, b *process) {
	if a.pid.Seq < b.pid.Seq {
		a.mu.Lock()
		b.mu.Lock()
	} else {
		b.mu.Lock()
		a.mu.Lock()
	}
}

func unlockPair(a, b *process) {
	a.mu.Unlock()
	b.mu.Unlock()
}

func (rt *Runtime) link(a *process, to PID) error {
	if to.Node != rt.node {
		if a.sb != nil {
			if err := rt.gate(OpLink, a, nil, to, false); err != nil {
				return fmt.Errorf("link: %w", err)
			}
		}
		return rt.linkRemote(a, to)
	}
	b, err := rt.lookup(to)
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	if a == b {
		return nil
	}
	if sandboxed(a, b) {
		if err := rt.gate(OpLink, a, b, to, false); err != nil {
			return fmt.Errorf("link: %w", err)
		}
	}
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	lockPair(a, b)
	defer unlockPair(a, b)
	if a.closed {
		return fmt.Errorf("link: %w", errNoProc(a.pid))
	}
	if b.closed {
		return fmt.Errorf("link: %w", errNoProc(b.pid))
	}
	if a.links == nil {
		a.links = make(map[uint64]*process, 1)
	}
	if b.links == nil {
		b.links = make(map[uint64]*process, 1)
	}
	a.links[b.pid.Seq] = b
	b.links[a.pid.Seq] = a
	return nil
}

func (rt *Runtime) unlink(a *process, to PID) {
	if to.Node != rt.node {
		rt.unlinkRemote(a, to)
		return
	}
	v, ok := rt.procs.Load(to.Seq)
	if !ok {
		return
	}
	b := v.(*process)
	if a == b {
		return
	}
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	lockPair(a, b)
	delete(a.links, b.pid.Seq)
	delete(b.links, a.pid.Seq)
	unlockPair(a, b)
}

func (rt *Runtime) monitor(w *process, to PID) (uint64, error) {
	if to.Node != rt.node {
		if w.sb != nil {
			if err := rt.gate(OpMonitor, w, nil, to, false); err != nil {
				return 0, fmt.Errorf("monitor: %w", err)
			}
		}
		return rt.monitorRemote(w, to)
	}
	ref := rt.refs.Add(1)
	down := func() (uint64, error) {
		if err := w.deliver(envelope{msg: Message{Kind: KindDown, From: to, Ref: ref, Body: []byte(NoProc)}}, true); err != nil {
			return 0, err
		}
		return ref, nil
	}
	t, err := rt.lookup(to)
	if err != nil {
		return down()
	}
	if w != t && sandboxed(w, t) {
		if err := rt.gate(OpMonitor, w, t, to, false); err != nil {
			return 0, fmt.Errorf("monitor: %w", err)
		}
	}
	rt.topo.RLock()
	if w == t {
		w.mu.Lock()
	} else {
		lockPair(w, t)
	}
	unlock := func() {
		if w == t {
			w.mu.Unlock()
		} else {
			unlockPair(w, t)
		}
		rt.topo.RUnlock()
	}
	if w.closed {
		unlock()
		return 0, fmt.Errorf("monitor: %w", errNoProc(w.pid))
	}
	if t.closed {
		unlock()
		return down()
	}
	if w.monitors == nil {
		w.monitors = make(map[uint64]*process, 1)
	}
	if t.monitoredBy == nil {
		t.monitoredBy = make(map[uint64]*process, 1)
	}
	w.monitors[ref] = t
	t.monitoredBy[ref] = w
	unlock()
	return ref, nil
}

func (rt *Runtime) demonitor(w *process, ref uint64) {
	if rt.demonitorRemote(w, ref) {
		return
	}
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	w.mu.Lock()
	t := w.monitors[ref]
	delete(w.monitors, ref)
	w.mu.Unlock()
	if t != nil {
		t.mu.Lock()
		delete(t.monitoredBy, ref)
		t.mu.Unlock()
	}
}
