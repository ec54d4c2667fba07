package fsm

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

// Config configures an FSM.
type Config struct {
	Logger hclog.Logger
	// OnHalt is called once, from the apply goroutine, when the FSM meets a
	// command type it does not know. The agent shuts down with that error.
	OnHalt func(error)
	// KeepCommits is how many recent commits the store keeps for the work
	// streams of client agents (0: state.MaxFeedCommits).
	KeepCommits int
	// OnApply, if set, is told of every command applied: its type's name,
	// how long its handler took and whether it was refused (a malformed
	// payload or a domain rule). It observes only: the time is measured
	// around the handler and never reaches the result, so Apply stays
	// deterministic. It runs on the apply goroutine and must be quick.
	OnApply func(command string, d time.Duration, refused bool)
}

// FSM implements raft.FSM over a state.Store.
type FSM struct {
	logger  hclog.Logger
	onHalt  func(error)
	onApply func(command string, d time.Duration, refused bool)

	mu    sync.RWMutex // guards store and haltErr
	store *state.Store
	keep  int
	// haltErr is set once an unknown command was met; from then on nothing
	// is applied and no snapshot is taken, so the divergent state is never
	// persisted and a restarted (upgraded) binary replays the entry.
	haltErr error
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns an FSM with an empty store.
func New(cfg Config) (*FSM, error) {
	s, err := state.New()
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	s.KeepCommits(cfg.KeepCommits)
	return &FSM{logger: logger.Named("fsm"), onHalt: cfg.OnHalt, onApply: cfg.OnApply, store: s, keep: cfg.KeepCommits}, nil
}

// State returns the current store. After a restore it is a different store:
// callers hold it only for one read.
func (f *FSM) State() *state.Store {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.store
}

// Halted returns the fatal error that stopped the FSM, or nil.
func (f *FSM) Halted() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.haltErr
}

// ApplyBatch applies a batch of committed entries in one store transaction
// (one commit and one round of watch notifications for the batch). The
// outcome is the same as applying them one by one: a refused command
// changes nothing even inside the batch (see state.Store.write), and a
// batch in which a write failed otherwise is discarded and applied again
// one entry at a time.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	st := f.State()
	st.BeginBatch()
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = f.Apply(l)
		}
	}
	if st.EndBatch() {
		return out
	}
	f.logger.Warn("a write failed inside a batch; applying its entries one by one", "first", logs[0].Index, "last", logs[len(logs)-1].Index)
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = f.Apply(l)
		}
	}
	return out
}

// Apply applies one committed log entry.
func (f *FSM) Apply(l *raft.Log) interface{} {
	if err := f.Halted(); err != nil {
		return &Result{Index: l.Index, Err: err}
	}
	var e pb.LogEntry
	if err := proto.Unmarshal(l.Data, &e); err != nil {
		f.logger.Warn("malformed log entry", "index", l.Index, "error", err)
		return &Result{Index: l.Index, Err: fmt.Errorf("%w: entry %d: %v", ErrMalformedCommand, l.Index, err)}
	}
	def, ok := commands[e.Type]
	if !ok {
		if e.IgnoreIfUnknown {
			f.logger.Warn("ignoring unknown command flagged ignorable", "index", l.Index, "type", int32(e.Type))
			return &Result{Index: l.Index}
		}
		return f.halt(l.Index, e.Type)
	}
	var start time.Time
	if f.onApply != nil {
		start = time.Now()
	}
	payload := def.newPayload()
	if err := proto.Unmarshal(e.Payload, payload); err != nil {
		f.logger.Warn("malformed command payload", "index", l.Index, "type", def.name, "error", err)
		f.observe(def.name, start, true)
		return &Result{Index: l.Index, Err: fmt.Errorf("%w: %s at %d: %v", ErrMalformedCommand, def.name, l.Index, err)}
	}
	value, err := def.apply(f.State(), l.Index, &e, payload)
	f.observe(def.name, start, err != nil)
	return &Result{Index: l.Index, Value: value, Err: err}
}

// observe reports one apply to OnApply, timed from start.
func (f *FSM) observe(command string, start time.Time, refused bool) {
	if f.onApply != nil {
		f.onApply(command, time.Since(start), refused)
	}
}

func (f *FSM) halt(idx uint64, t pb.CommandType) *Result {
	err := fmt.Errorf("%w: log entry %d has command type %d, which this binary does not know; upgrade this node to a steward version that does",
		ErrUnknownCommand, idx, int32(t))
	f.mu.Lock()
	first := f.haltErr == nil
	if first {
		f.haltErr = err
	}
	f.mu.Unlock()
	if first {
		f.logger.Error("halting the apply loop", "error", err)
		if f.onHalt != nil {
			f.onHalt(err)
		}
	}
	return &Result{Index: idx, Err: err}
}

// Snapshot captures the store for Raft. It never blocks Apply.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.haltErr != nil {
		return nil, fmt.Errorf("%w: no snapshot while halted: %v", ErrHalted, f.haltErr)
	}
	return &snapshot{snap: f.store.Snapshot()}, nil
}

// Restore replaces the store with the content of a Raft snapshot. The new
// store is built aside and swapped in under the lock; the old one is
// abandoned so its watchers wake up.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := state.Restore(rc)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.KeepCommits(f.keep)
	f.mu.Lock()
	old := f.store
	f.store = s
	f.mu.Unlock()
	old.Abandon()
	return nil
}

type snapshot struct {
	snap *state.Snapshot
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.Persist(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.snap.Release() }
