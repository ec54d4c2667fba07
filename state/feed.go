package state

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// MaxFeedCommits is how many recent commits a store keeps, by default, for
// the streams that deliver client agents their work (count): a client that
// reconnects within them resumes where it stopped; one further behind gets
// a fresh view instead. MaxFeedBytes bounds the records those commits hold
// besides (the encoded size of the records they made; what they hold is at
// most about twice that): a commit that leaves a record behind (a deleted
// module's binary) keeps it alive until dropped.
const (
	MaxFeedCommits = 4096
	MaxFeedBytes   = 64 << 20
)

// Change is one record's change in a commit: Before is nil for a record
// inserted, After nil for one deleted.
type Change struct {
	Table         string
	Before, After proto.Message
}

// Commit is the changes one write transaction made to the store (one Raft
// entry, or a batch of them), with the highest index it applied.
type Commit struct {
	Index   uint64
	Changes []Change
}

// feed keeps the store's recent commits, in order, for Since.
type feed struct {
	mu sync.Mutex
	// floor: changes at or below it may be missing from commits (the
	// commits before it were dropped, or the store was restored at it).
	floor   uint64
	commits []Commit
	// sizes[i] is the encoded size of the records commits[i] made (each
	// one's new version, a deleted one's last); bytes their sum. An old
	// version a commit still holds was counted with the commit that made
	// it, which may have been dropped since: what the feed holds is about
	// bytes, at most twice it.
	sizes []int
	bytes int
	// limit is the most commits kept (KeepCommits).
	limit int
	// wake is closed, and replaced, at every commit that may concern a
	// client agent: one with changes (the key/value table is kept outside
	// go-memdb and its writes, which reach no client, are not in the
	// feed, so a kv load wakes no stream).
	wake chan struct{}
}

func newFeed(floor uint64) *feed {
	return &feed{floor: floor, limit: MaxFeedCommits, wake: make(chan struct{})}
}

// KeepCommits sets how many recent commits the store keeps for resuming
// streams (n <= 0: MaxFeedCommits); fewer are dropped at the next commit.
func (s *Store) KeepCommits(n int) {
	if n <= 0 {
		n = MaxFeedCommits
	}
	s.feed.mu.Lock()
	s.feed.limit = n
	s.feed.mu.Unlock()
}

// cachedSize sizes records reusing the sizes protobuf caches in the
// messages it sized before: a plan update shares every stage it did not
// change with the version before (machine.own), so sizing it walks only
// the stages it copied. This holds because a stored record is never
// changed in place (verifyPlanCopies checks it for plans) and a copy
// (proto.Clone) starts without a cached size (TestClonedStageIsSizedAfresh).
var cachedSize = proto.MarshalOptions{UseCachedSize: true}

// publish records the changes of a committed transaction.
func (f *feed) publish(changes memdb.Changes) {
	c := Commit{}
	size := 0
	for _, ch := range changes {
		if ch.Table == tableIndex {
			if r, ok := ch.After.(*pb.IndexRecord); ok && r.Index > c.Index {
				c.Index = r.Index
			}
			continue
		}
		before, _ := ch.Before.(proto.Message)
		after, _ := ch.After.(proto.Message)
		c.Changes = append(c.Changes, Change{Table: ch.Table, Before: before, After: after})
		// A record counts once, with the commit that made it: its new
		// version, or the last one of a record deleted. The old version
		// of an updated record was the new one of an earlier commit.
		// (Sizing both versions of a plan of 100 stages at every step
		// was 55 % of the state machine's cost of a step command.)
		if after != nil {
			size += cachedSize.Size(after)
		} else if before != nil {
			size += cachedSize.Size(before)
		}
	}
	if c.Index == 0 {
		return // every write bumps its table's index; a commit without one changed nothing
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.commits); n > 0 && c.Index <= f.commits[n-1].Index {
		// Cannot happen while only the FSM writes, in log order; a stream
		// is safer told to start afresh than handed commits out of order.
		f.floor, f.commits, f.sizes, f.bytes = c.Index, nil, nil, 0
	}
	f.commits = append(f.commits, c)
	f.sizes = append(f.sizes, size)
	f.bytes += size
	// Drop the oldest commits past the count, then while over the bytes
	// (the newest always stays).
	drop := 0
	for drop < len(f.commits)-1 && (len(f.commits)-drop > f.limit || f.bytes > MaxFeedBytes) {
		f.bytes -= f.sizes[drop]
		drop++
	}
	if drop > 0 {
		// Resliced, not copied (a full feed drops one commit per write):
		// the dropped entries are cleared so that they hold no records,
		// and append moves the rest to a new array now and then.
		f.floor = f.commits[drop-1].Index
		clear(f.commits[:drop])
		f.commits, f.sizes = f.commits[drop:], f.sizes[drop:]
	}
	if len(c.Changes) > 0 {
		close(f.wake)
		f.wake = make(chan struct{})
	}
}

// Since returns the commits after index after, in order, and a channel
// closed at the next commit that may concern a client agent (one that
// changes more than the key/value table). ok is false when some of those
// changes are no longer held (after is below what the store keeps, or the
// store was restored since): the caller needs a fresh view (View) instead.
func (s *Store) Since(after uint64) (commits []Commit, wake <-chan struct{}, ok bool) {
	f := s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if after < f.floor {
		return nil, f.wake, false
	}
	i := len(f.commits)
	for i > 0 && f.commits[i-1].Index > after {
		i--
	}
	return append([]Commit(nil), f.commits[i:]...), f.wake, true
}

// Concerns reports whether a record of table concerns the node named node,
// that is, whether a client agent of that name receives it. Records that
// name the node they run on (trees, sandboxes, a node's snapshot chunks)
// go to that node only; the replicated key/value table goes to none
// (clients read it from a server); every other table holds cluster-wide
// records that each node's executors read whole (plans with every node's
// steps and the barrier between phases, snapshots and their parts'
// statuses, modules and their binaries, deployments, checkpoints,
// experiments, thresholds, the node registry, trusted keys, the cluster
// id, the ACL policies and tokens a client checks callers with), and goes
// to every client.
func Concerns(node, table string, rec proto.Message) bool {
	switch table {
	case tableKV, tableIndex:
		return false
	case tableTrees:
		r, ok := rec.(*pb.TreeRecord)
		return ok && r.Node == node
	case tableSandboxes:
		r, ok := rec.(*pb.SandboxRecord)
		return ok && r.Node == node
	case tableSnapshotChunks:
		r, ok := rec.(*pb.SnapshotChunk)
		return ok && r.Node == node
	}
	_, known := tables[table]
	return known
}

// ChangesFor encodes the changes of commits that concern node, in order:
// a record that stops concerning it (a tree moved to another node) is sent
// as deleted.
func ChangesFor(node string, commits []Commit) ([]*pb.RecordChange, error) {
	var out []*pb.RecordChange
	for _, c := range commits {
		for _, ch := range c.Changes {
			rc, err := changeFor(node, ch)
			if err != nil {
				return nil, err
			}
			if rc != nil {
				out = append(out, rc)
			}
		}
	}
	return out, nil
}

func changeFor(node string, ch Change) (*pb.RecordChange, error) {
	def := tables[ch.Table]
	var rec proto.Message
	del := false
	switch {
	case ch.After != nil && Concerns(node, ch.Table, ch.After):
		rec = ch.After
	case ch.Before != nil && Concerns(node, ch.Table, ch.Before):
		rec, del = ch.Before, true
	default:
		return nil, nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode %s record: %w", ch.Table, err)
	}
	return &pb.RecordChange{Tag: uint32(def.tag), Record: b, Delete: del}, nil
}

// View is the records of the store that concern node, and the index they
// are current at: a fresh view for a client agent.
func (s *Store) View(node string) (uint64, []*pb.RecordChange, error) {
	txn := s.db.Snapshot().Txn(false)
	idx := maxIndex(txn)
	var out []*pb.RecordChange
	for _, name := range tableNames() {
		if name == tableKV || name == tableIndex {
			continue
		}
		it, err := txn.Get(name, "id")
		if err != nil {
			return 0, nil, fmt.Errorf("view %s: %w", name, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			rc, err := changeFor(node, Change{Table: name, After: raw.(proto.Message)})
			if err != nil {
				return 0, nil, err
			}
			if rc != nil {
				out = append(out, rc)
			}
		}
	}
	return idx, out, nil
}

// feedTable is the index-table row a client agent's store keeps its
// progress in: the last index it applied from its server, which may be
// past the last change it received (commits that did not concern it).
const feedTable = "_stream"

// ApplyRemote applies, on a client agent's store, the changes a server
// sent for the commits up to index, in one transaction: every table
// changed, and the store's progress, move to index. Changes at or below
// the store's progress are refused (they were applied already).
func (s *Store) ApplyRemote(index uint64, changes []*pb.RecordChange) error {
	return s.write(func(txn *memdb.Txn) error {
		if cur := maxIndex(txn); index < cur || (index == cur && len(changes) > 0) {
			return fmt.Errorf("%w: changes at index %d, the store is at %d", ErrInvalidRecord, index, cur)
		} else if index == cur {
			return nil // a heartbeat: nothing to write
		}
		touched := map[string]bool{}
		for i, c := range changes {
			name, def, ok := tableByTag(byte(c.Tag))
			if !ok || c.Tag > 255 || name == tableIndex {
				return fmt.Errorf("%w: change %d: unknown table tag %d", ErrInvalidRecord, i, c.Tag)
			}
			if def.external {
				return fmt.Errorf("%w: change %d: %s records are not sent to client agents", ErrInvalidRecord, i, name)
			}
			rec := def.newRecord()
			if err := proto.Unmarshal(c.Record, rec); err != nil {
				return fmt.Errorf("%w: change %d: %s record: %v", ErrInvalidRecord, i, name, err)
			}
			if c.Delete {
				if err := txn.Delete(name, rec); err != nil && err != memdb.ErrNotFound {
					return fmt.Errorf("change %d: delete from %s: %w", i, name, err)
				}
			} else if err := txn.Insert(name, rec); err != nil {
				return fmt.Errorf("change %d: insert into %s: %w", i, name, err)
			}
			touched[name] = true
		}
		for name := range touched {
			if err := bumpIndex(txn, name, index); err != nil {
				return err
			}
		}
		return bumpIndex(txn, feedTable, index)
	})
}

// NewView returns a store holding a fresh view (View) at index, for a
// client agent that starts, or starts over.
func NewView(index uint64, changes []*pb.RecordChange) (*Store, error) {
	s, err := New()
	if err != nil {
		return nil, err
	}
	if err := s.ApplyRemote(index, changes); err != nil {
		return nil, err
	}
	return s, nil
}
