package actor

import (
	"bytes"
	"fmt"
	"time"
)

// maxDeadHistories is how many exited processes of a tree keep their state
// history (the most recent exits).
const maxDeadHistories = 64

// Tracing switches a tree's observation on or off.
type Tracing struct {
	// Flow records who sends to whom (FlowGraph).
	Flow bool `json:"flow"`
	// History captures each worker's exported state every HistoryInterval,
	// keeping the last Config.HistoryEntries distinct states.
	History bool `json:"history"`
	// HistoryInterval is the capture interval; zero means
	// Config.HistoryInterval.
	HistoryInterval time.Duration `json:"history_interval,omitempty"`
}

type historyConfig struct {
	interval time.Duration
	entries  int
}

// StateSample is one captured state.
type StateSample struct {
	Time  time.Time `json:"time"`
	State []byte    `json:"state"`
}

// historyRing keeps the last N distinct states of one process.
type historyRing struct {
	samples []StateSample
}

func (h *historyRing) add(s StateSample, max int) bool {
	if n := len(h.samples); n > 0 && bytes.Equal(h.samples[n-1].State, s.State) {
		return false
	}
	if len(h.samples) == max {
		copy(h.samples, h.samples[1:])
		h.samples = h.samples[:max-1]
	}
	h.samples = append(h.samples, s)
	return true
}

// SetTracing turns flow tracking and state history on or off for a tree.
// Turning flow off discards the graph; turning history off keeps what was
// captured until the tree stops.
func (rt *Runtime) SetTracing(tree string, tr Tracing) error {
	t := rt.tree(tree)
	if t == nil {
		return fmt.Errorf("%w: %q", ErrTreeNotFound, tree)
	}
	if tr.HistoryInterval < 0 {
		return fmt.Errorf("%w: negative history interval", ErrBadArgs)
	}
	rt.setTracing(t, tr)
	rt.emitTree(EventTracingChanged, tree, PID{}, "", fmt.Sprintf("flow=%t history=%t", tr.Flow, tr.History))
	return nil
}

func (rt *Runtime) setTracing(t *treeState, tr Tracing) {
	switch {
	case tr.Flow && t.flow.Load() == nil:
		t.flow.Store(rt.newTreeFlow(t))
	case !tr.Flow:
		t.flow.Store(nil)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.histTimer != nil {
		t.histTimer.Stop()
		t.histTimer = nil
	}
	if !tr.History {
		t.history.Store(nil)
		return
	}
	iv := tr.HistoryInterval
	if iv == 0 {
		iv = rt.cfg.HistoryInterval
	}
	cfg := &historyConfig{interval: iv, entries: rt.historyEntries(t)}
	t.history.Store(cfg)
	t.histTimer = rt.clock.AfterFunc(iv, func() { t.captureTick(cfg) })
}

// tracing reports the tree's current settings.
func (t *treeState) tracing() Tracing {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tracingLocked()
}

func (t *treeState) tracingLocked() Tracing {
	tr := Tracing{Flow: t.flow.Load() != nil}
	if h := t.history.Load(); h != nil {
		tr.History, tr.HistoryInterval = true, h.interval
	}
	return tr
}

// captureTick asks every worker of the tree to capture its state, then
// re-arms, as long as cfg is still the tree's history setting.
func (t *treeState) captureTick(cfg *historyConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.history.Load() != cfg || t.stopping {
		return
	}
	for _, p := range t.procs {
		if p.sup != nil || p.capturing.Swap(true) {
			continue
		}
		if p.control(sysEnvelope(sysCapture{}, nil)) != nil {
			p.capturing.Store(false)
		}
	}
	t.histTimer = t.rt.clock.AfterFunc(cfg.interval, func() { t.captureTick(cfg) })
}

// captureHistory runs in the process's goroutine.
func (p *process) captureHistory() {
	t := p.tree
	if t == nil {
		return
	}
	cfg := t.history.Load()
	if cfg == nil {
		return
	}
	st, err := p.protected(p.beh.ExportState)
	if err != nil {
		p.rt.log.Debug("state capture failed", "pid", p.pid.String(), "error", err)
		return
	}
	now := p.rt.clock.Now()
	t.mu.Lock()
	h := t.hist[p.pid.Seq]
	if h == nil {
		h = &historyRing{}
		t.hist[p.pid.Seq] = h
	}
	h.add(StateSample{Time: now, State: st}, cfg.entries)
	t.mu.Unlock()
}

// History returns the captured states of a process of a traced tree,
// oldest first. Exited processes keep theirs while they are among the
// tree's last maxDeadHistories exits.
func (rt *Runtime) History(pid PID) ([]StateSample, error) {
	if pid.Node != rt.node {
		return nil, fmt.Errorf("%w: history of %s", ErrRemoteUnsupported, pid)
	}
	rt.treesRW.RLock()
	trees := make([]*treeState, 0, len(rt.trees))
	for _, t := range rt.trees {
		trees = append(trees, t)
	}
	rt.treesRW.RUnlock()
	for _, t := range trees {
		t.mu.Lock()
		h := t.hist[pid.Seq]
		var out []StateSample
		if h != nil {
			out = append(out, h.samples...)
		}
		t.mu.Unlock()
		if h != nil {
			return out, nil
		}
	}
	if _, err := rt.lookup(pid); err != nil {
		return nil, err
	}
	return nil, nil
}
