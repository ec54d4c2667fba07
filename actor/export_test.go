package actor

// Test-only hooks that break the runtime's invariants on purpose, so the
// tests can see Validate catch each one. They take the locks the runtime
// would, but do only half of what it would do.

func mustLocal(rt *Runtime, pid PID) *process {
	p, err := rt.lookup(pid)
	if err != nil {
		panic(err)
	}
	return p
}

// BreakLinkOneSided forgets b in a's links, leaving a in b's.
func BreakLinkOneSided(rt *Runtime, a, b PID) {
	pa, pb := mustLocal(rt, a), mustLocal(rt, b)
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	pa.mu.Lock()
	delete(pa.links, pb.pid.Seq)
	pa.mu.Unlock()
}

// BreakMonitorOneSided forgets a monitor on the target's side only.
func BreakMonitorOneSided(rt *Runtime, watcher PID, ref uint64) {
	w := mustLocal(rt, watcher)
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	w.mu.Lock()
	t := w.monitors[ref]
	w.mu.Unlock()
	t.mu.Lock()
	delete(t.monitoredBy, ref)
	t.mu.Unlock()
}

// StaleName points name at a process record that is dead.
func StaleName(rt *Runtime, name string, pid PID) {
	ghost := &process{pid: pid, closed: true, name: name}
	ghost.state.Store(int32(stDead))
	rt.names.mu.Lock()
	rt.names.m[name] = ghost
	rt.names.mu.Unlock()
}

// MarkDeadInPlace flags a process dead without taking it down.
func MarkDeadInPlace(rt *Runtime, pid PID) {
	p := mustLocal(rt, pid)
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// ForgetChild makes a supervisor's published view lose a child whose
// process keeps running.
func ForgetChild(rt *Runtime, sup PID, id string) {
	s := mustLocal(rt, sup).sup
	old := s.snap.Load()
	next := *old
	next.children = childSnaps{}
	for _, c := range old.children.all() {
		if c.spec.id != id {
			if next.children.n%snapChunk == 0 {
				next.children.chunks = append(next.children.chunks, new([snapChunk]childSnap))
			}
			next.children.chunks[next.children.n/snapChunk][next.children.n%snapChunk] = c
			next.children.n++
		}
	}
	s.snap.Store(&next)
}

// DetachFromTree removes a process from its tree's member set.
func DetachFromTree(rt *Runtime, pid PID) {
	p := mustLocal(rt, pid)
	p.tree.mu.Lock()
	delete(p.tree.procs, p.pid.Seq)
	p.tree.mu.Unlock()
}

// SettleWaiters is how many Validate calls wait for a supervisor to settle.
func SettleWaiters(rt *Runtime) int { return int(rt.settle.waiters.Load()) }

// SysQueueLen is the number of queued system requests of a process.
func SysQueueLen(rt *Runtime, pid PID) int {
	p := mustLocal(rt, pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sys.n
}

// StopRequested reports whether a process was asked to stop (a sysStop
// is queued or being served), so a test can order a stop before a
// supervisor's next message.
func StopRequested(rt *Runtime, pid PID) bool { return mustLocal(rt, pid).stopping.Load() }
