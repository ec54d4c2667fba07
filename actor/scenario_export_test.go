package actor

// Quiescent reports whether nothing is in flight: every process in the
// table has started, is idle (nothing taken, nothing queued) and is not
// being stopped, and no tree still owes the exit hook of a dead root. It
// holds the topology lock, so no exit is half done while it looks: once
// it reports true, every event that what has happened so far causes has
// been emitted, until something new is sent, killed or timed out.
func Quiescent(rt *Runtime) bool {
	rt.topo.Lock()
	quiet := true
	rt.procs.Range(func(_, v any) bool {
		p := v.(*process)
		p.mu.Lock()
		idle := !p.busy && p.queueLen() == 0 && p.sys.n == 0 && p.urgent.n == 0
		p.mu.Unlock()
		quiet = idle && !p.stopping.Load() && procState(p.state.Load()) == stRunning
		return quiet
	})
	rt.topo.Unlock()
	if !quiet {
		return false
	}
	rt.treesRW.RLock()
	defer rt.treesRW.RUnlock()
	for _, t := range rt.trees {
		t.mu.Lock()
		owed := t.failOwed || t.started && !t.stopping && t.status == TreeRunning && t.root != nil && !t.root.isAlive()
		t.mu.Unlock()
		if owed {
			return false
		}
	}
	return true
}
