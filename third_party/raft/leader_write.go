// Copyright (c) HashiCorp, Inc.
// SPDX-License-Identifier: MPL-2.0

// steward's patch: the leader writes its own log off the leader loop, in
// parallel with replicating it (Raft thesis, section 10.2.1). See STEWARD.md.

package raft

import (
	"sync"
	"time"

	"github.com/hashicorp/go-metrics/compat"
)

// leaderLogWriter writes a leader's batches to its own log store, in order, on
// a goroutine of its own, so that the leader loop goes on dispatching,
// replicating and committing while the disk syncs. When a write returns, the
// leader counts itself in the commitment up to the batch's last index; until
// then only the followers' stored copies count, so an entry commits once a
// majority of voters hold it on disk, with the leader or without it. The
// leader's state machine may therefore apply an entry before the leader's own
// log holds it; takeSnapshot waits for the log (awaitLogStored) so that no
// snapshot is ever ahead of the log store.
//
// Batches queued while a write runs are written together in the next one.
type leaderLogWriter struct {
	r          *Raft
	commitment *commitment
	in         chan leaderWrite
	done       chan struct{}

	// failed carries the first failed write's error to the leader loop.
	failed chan error

	mu sync.Mutex
	// err is the first failed write's error; nothing is written after it.
	err error
	// storedIndex and storedTerm are the last entry the log store holds.
	storedIndex, storedTerm uint64
}

// leaderWrite is a batch to write, or, with flushed set, a request to be told
// when every batch before it has been written or has failed.
type leaderWrite struct {
	logs    []*Log
	flushed chan struct{}
}

// leaderWriteQueue is how many batches may wait for the writer before
// dispatchLogs blocks the leader loop.
const leaderWriteQueue = 256

func newLeaderLogWriter(r *Raft, c *commitment) *leaderLogWriter {
	idx, term := r.getLastLog()
	return &leaderLogWriter{
		r:           r,
		commitment:  c,
		in:          make(chan leaderWrite, leaderWriteQueue),
		done:        make(chan struct{}),
		failed:      make(chan error, 1),
		storedIndex: idx,
		storedTerm:  term,
	}
}

// write queues a batch; called by the leader loop only.
func (w *leaderLogWriter) write(logs []*Log) {
	w.in <- leaderWrite{logs: logs}
}

// flush returns once every batch queued before it has been written or has
// failed; called by the leader loop only.
func (w *leaderLogWriter) flush() {
	ch := make(chan struct{})
	w.in <- leaderWrite{flushed: ch}
	<-ch
}

// stop writes what is queued, ends the writer and, if a write failed, sets the
// last log index back to the last entry stored; called once, by the leader
// loop as it steps down.
func (w *leaderLogWriter) stop() {
	close(w.in)
	<-w.done
	w.r.pending.reset()
	if idx, term, err := w.state(); err != nil {
		w.r.setLastLog(idx, term)
	}
}

// stepDownOnFailure answers the futures of entries the log store does not
// hold with the store's error and steps down. Followers may hold those
// entries already, so whether they commit under a later leader is not known:
// the error is indeterminate, as ErrLeadershipLost is. Stepping down keeps
// other entries from being written at the same indexes in this term.
func (w *leaderLogWriter) stepDownOnFailure(err error) {
	r := w.r
	r.logger.Error("failed to commit logs", "error", err)
	stored, _, _ := w.state()
	for e := r.leaderState.inflight.Front(); e != nil; e = e.Next() {
		if f := e.Value.(*logFuture); f.log.Index > stored {
			f.respond(err)
		}
	}
	r.setState(Follower)
}

// state is the last entry stored and the failed write's error, if any.
func (w *leaderLogWriter) state() (index, term uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.storedIndex, w.storedTerm, w.err
}

func (w *leaderLogWriter) run() {
	defer close(w.done)
	for {
		req, ok := <-w.in
		if !ok {
			return
		}
		var batch []*Log
		var flushed chan struct{}
		// Take everything queued, up to and including a flush request.
	gather:
		for {
			if req.flushed != nil {
				flushed = req.flushed
				break
			}
			batch = append(batch, req.logs...)
			select {
			case req, ok = <-w.in:
				if !ok {
					break gather
				}
			default:
				break gather
			}
		}
		if len(batch) > 0 {
			w.store(batch)
		}
		if flushed != nil {
			close(flushed)
		}
		if !ok {
			return
		}
	}
}

func (w *leaderLogWriter) store(batch []*Log) {
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	if failed {
		return
	}
	start := time.Now()
	err := w.r.logs.StoreLogs(batch)
	metrics.MeasureSince([]string{"raft", "leader", "dispatchLog"}, start)
	if err != nil {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		w.failed <- err // buffered for the one failure
		return
	}
	last := batch[len(batch)-1]
	w.mu.Lock()
	w.storedIndex, w.storedTerm = last.Index, last.Term
	w.mu.Unlock()
	w.r.pending.trim(last.Index)
	w.commitment.match(w.r.localID, last.Index)
}

// pendingLogs holds the entries a leader has dispatched and not yet stored in
// its own log (see leaderLogWriter), for the replicators to send meanwhile,
// and tells waiters when the log store has taken more entries.
type pendingLogs struct {
	mu     sync.RWMutex
	logs   []*Log        // consecutive indexes, oldest first
	stored chan struct{} // closed and replaced when the log store grows
}

func (p *pendingLogs) add(logs []*Log) {
	p.mu.Lock()
	p.logs = append(p.logs, logs...)
	p.mu.Unlock()
}

// trim drops the entries up to index, which the log store now holds, and
// wakes the waiters of storedCh.
func (p *pendingLogs) trim(index uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.logs) > 0 && p.logs[0].Index <= index {
		p.logs[0] = nil
		p.logs = p.logs[1:]
	}
	if len(p.logs) == 0 {
		p.logs = nil
	}
	p.notifyLocked()
}

func (p *pendingLogs) reset() {
	p.mu.Lock()
	p.logs = nil
	p.notifyLocked()
	p.mu.Unlock()
}

// storedNotify wakes the waiters of storedCh; for writes of the log store made
// outside the leader's writer.
func (p *pendingLogs) storedNotify() {
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
}

func (p *pendingLogs) notifyLocked() {
	if p.stored != nil {
		close(p.stored)
		p.stored = nil
	}
}

// storedCh is closed the next time the log store takes entries.
func (p *pendingLogs) storedCh() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stored == nil {
		p.stored = make(chan struct{})
	}
	return p.stored
}

// get copies the pending entry at index into out and reports whether it was
// there.
func (p *pendingLogs) get(index uint64, out *Log) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.logs) == 0 {
		return false
	}
	first := p.logs[0].Index
	if index < first || index-first >= uint64(len(p.logs)) {
		return false
	}
	*out = *p.logs[index-first]
	return true
}

// awaitLogStored returns once the log store holds index, or a snapshot
// covers it: a leader's state machine may have applied entries its own log
// does not hold yet, and a snapshot must never be ahead of the log it
// compacts.
func (r *Raft) awaitLogStored(index uint64) error {
	for {
		ch := r.pending.storedCh()
		last, err := r.logs.LastIndex()
		if err != nil {
			return err
		}
		if snap, _ := r.getLastSnapshot(); last >= index || snap >= index {
			return nil
		}
		select {
		case <-ch:
		case <-r.shutdownCh:
			return ErrRaftShutdown
		}
	}
}
