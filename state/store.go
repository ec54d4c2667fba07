package state

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/internal/clock"
)

// Store is the replicated state of one node. It is safe for concurrent use:
// one writer (the FSM) and any number of readers.
type Store struct {
	db *memdb.MemDB
	// kv is the key/value table, kept outside db (kvtable.go). A write
	// transaction commits it first, then db, both under commitMu, which
	// Snapshot read-locks so that it sees the two at one point.
	kv       *kvTable
	commitMu sync.RWMutex

	// abandonCh is closed when the store is replaced by a restore, waking
	// every blocked watcher so it re-reads from the new store.
	abandonMu sync.Mutex
	abandonCh chan struct{}

	// batch, while not nil, is the write transaction that every write joins
	// (the FSM applies a batch of entries in one transaction); only the FSM
	// goroutine writes, so it needs no lock. batchBroken is set when a write
	// failed in a way that may have left part of it in the transaction.
	batch       *memdb.Txn
	batchBroken bool

	// feed keeps the recent commits for the streams of client agents.
	feed *feed

	// results caches, by plan id and create index, the shapes derived
	// from the results of plans committed before PLAN_CREATE carried one
	// (see shapeOf).
	results sync.Map
}

// New returns an empty store.
func New() (*Store, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("state: schema: %w", err)
	}
	return &Store{db: db, kv: newKVTable(), abandonCh: make(chan struct{}), feed: newFeed(0)}, nil
}

// AbandonCh is closed when this store has been replaced by a restored one.
func (s *Store) AbandonCh() <-chan struct{} {
	s.abandonMu.Lock()
	defer s.abandonMu.Unlock()
	return s.abandonCh
}

// Abandon marks the store as replaced.
func (s *Store) Abandon() {
	s.abandonMu.Lock()
	defer s.abandonMu.Unlock()
	select {
	case <-s.abandonCh:
	default:
		close(s.abandonCh)
	}
}

// LatestIndex is the highest Raft index that changed any table.
func (s *Store) LatestIndex() uint64 {
	txn := s.db.Txn(false)
	defer txn.Abort()
	return maxIndex(txn)
}

// WaitIndex waits until the store has applied Raft index idx
// (LatestIndex at least idx), or ctx ends: what a node that committed a
// change through the leader waits for before reading it from its own
// replica, which may lag (a follower, a client agent). It also returns,
// with nil, when the store is abandoned (replaced by a restore): the
// caller reads the node's new store and waits again.
func (s *Store) WaitIndex(ctx context.Context, idx uint64) error {
	for {
		txn := s.db.Txn(false)
		it, err := txn.Get(tableIndex, "id")
		if err != nil {
			txn.Abort()
			return err
		}
		ws := memdb.NewWatchSet()
		ws.Add(it.WatchCh())
		cur := maxIndex(txn)
		txn.Abort()
		if cur >= idx {
			return nil
		}
		select {
		case <-s.AbandonCh():
			return nil
		default:
		}
		if err := s.WaitChange(ctx, ws, time.Time{}); err != nil {
			return err
		}
	}
}

// TableIndex is the highest Raft index that changed any of the named tables.
func (s *Store) TableIndex(names ...string) uint64 {
	txn := s.db.Txn(false)
	defer txn.Abort()
	return maxIndex(txn, names...)
}

// write runs fn in a write transaction and commits it when fn succeeds.
// During a batch, fn joins the batch's transaction instead.
//
// Every write method keeps one rule: it returns a domain error (one of this
// package's sentinels) only before its first change to the transaction, so
// that a refused command leaves nothing behind even inside a batch. Any
// other error marks the batch broken; the FSM then applies the batch's
// entries one transaction each.
func (s *Store) write(fn func(txn *memdb.Txn) error) error {
	if s.batch != nil {
		err := fn(s.batch)
		if err != nil && !IsDomainError(err) {
			s.batchBroken = true
		}
		return err
	}
	txn := s.db.Txn(true)
	txn.TrackChanges()
	defer txn.Abort()
	if err := fn(txn); err != nil {
		s.kv.abort()
		return err
	}
	s.commit(txn)
	return nil
}

// commit commits a write transaction: the kv table's part, then txn's,
// then its changes go to the feed.
func (s *Store) commit(txn *memdb.Txn) {
	s.commitMu.Lock()
	s.kv.commit()
	txn.Commit()
	s.commitMu.Unlock()
	s.feed.publish(txn.Changes())
}

// read returns a read transaction; the caller aborts it.
func (s *Store) read() *memdb.Txn { return s.db.Txn(false) }

// BeginBatch makes the following writes share one transaction, until
// EndBatch. Only the FSM calls it, from its apply goroutine.
func (s *Store) BeginBatch() {
	s.batch, s.batchBroken = s.db.Txn(true), false
	s.batch.TrackChanges()
	batchBumps.Store(s.batch, map[string]uint64{})
}

// EndBatch commits the batch's writes, or, when a write failed in a way
// that may have left part of itself behind, discards them all and returns
// false: the caller then applies the entries one by one.
func (s *Store) EndBatch() bool {
	txn, broken := s.batch, s.batchBroken
	s.batch, s.batchBroken = nil, false
	if txn == nil {
		return true
	}
	if broken {
		batchBumps.Delete(txn)
		txn.Abort()
		s.kv.abort()
		return false
	}
	if err := flushBumps(txn); err != nil {
		txn.Abort()
		s.kv.abort()
		return false
	}
	s.commit(txn)
	return true
}

// WaitChange blocks until one of the watches in ws fires, the store is
// replaced by a restore (readers must then re-read from the new one), the
// time until passes (zero: no deadline), or ctx ends; it returns ctx's
// error in the last case. It is the wait of every loop that acts on the
// replicated state.
func (s *Store) WaitChange(ctx context.Context, ws memdb.WatchSet, until time.Time) error {
	return s.WaitChangeClock(ctx, clock.System(), ws, until)
}

// WaitChangeClock is WaitChange with until a time of c: the wait of a loop
// whose timing a test drives with a manual clock.
func (s *Store) WaitChangeClock(ctx context.Context, c clock.Clock, ws memdb.WatchSet, until time.Time) error {
	var timer <-chan time.Time
	if !until.IsZero() {
		t := c.NewTimer(until.Sub(c.Now()))
		defer t.Stop()
		timer = t.C()
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	select {
	case <-ws.WatchCh(wctx):
	case <-s.AbandonCh():
	case <-timer:
	case <-ctx.Done():
	}
	return ctx.Err()
}
