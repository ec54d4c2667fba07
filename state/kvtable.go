package state

import (
	"strings"
	"sync/atomic"

	"github.com/google/btree"
	"github.com/steward/steward/pb"
)

// kvTable holds the key/value namespace outside go-memdb: a copy-on-write
// B-tree of records in key order. The kv table is the one every operator
// write lands in, on every node, and go-memdb's general machinery (an
// immutable radix tree copying the path of every insert, its writable-node
// LRU, reflection to read the key, change tracking for the feed, which
// never sends kv records to a client) was most of a follower's CPU per
// write (docs/PERFORMANCE.md, "CPU per write").
//
// One writer (the FSM goroutine) and any number of readers. A write
// transaction that touches kv works on a lazy clone of the last committed
// tree; committing publishes a clone of it as the readers' view (an
// atomic pointer, so readers take no lock), aborting drops it. Records are
// never changed once in a tree; a write replaces them.
type kvTable struct {
	// view is what readers see: the committed tree, the kv table's index
	// in it, and a channel closed when a newer view replaces it.
	view atomic.Pointer[kvView]
	// committed is the writer's private copy of the committed tree; work,
	// while not nil, the tree of the write transaction in progress.
	committed, work *btree.BTreeG[*pb.KVRecord]
	// index is the highest index a write in the transaction in progress
	// moved the table to (its bump; 0: none yet).
	index uint64
}

type kvView struct {
	tree    *btree.BTreeG[*pb.KVRecord]
	index   uint64
	changed chan struct{}
}

// kvDegree is the B-tree's degree: nodes of 31 to 63 records, so that a
// write copies few, small nodes.
const kvDegree = 32

func kvLess(a, b *pb.KVRecord) bool { return a.Key < b.Key }

func newKVTable() *kvTable {
	k := &kvTable{committed: btree.NewG(kvDegree, kvLess)}
	k.view.Store(&kvView{tree: k.committed.Clone(), changed: make(chan struct{})})
	return k
}

// load returns the readers' view.
func (k *kvTable) load() *kvView { return k.view.Load() }

// get returns key's record in the view, or nil.
func (v *kvView) get(key string) *pb.KVRecord {
	rec, _ := v.tree.Get(&pb.KVRecord{Key: key})
	return rec
}

// list returns the view's records under prefix, in key order.
func (v *kvView) list(prefix string) []*pb.KVRecord {
	var out []*pb.KVRecord
	eachPrefix(v.tree, prefix, func(r *pb.KVRecord) { out = append(out, r) })
	return out
}

// eachPrefix calls fn for every record of t under prefix, in key order.
func eachPrefix(t *btree.BTreeG[*pb.KVRecord], prefix string, fn func(*pb.KVRecord)) {
	t.AscendGreaterOrEqual(&pb.KVRecord{Key: prefix}, func(r *pb.KVRecord) bool {
		if !strings.HasPrefix(r.Key, prefix) {
			return false
		}
		fn(r)
		return true
	})
}

// tree returns the write transaction's tree, cloning the committed one at
// the transaction's first kv write.
func (k *kvTable) tree() *btree.BTreeG[*pb.KVRecord] {
	if k.work == nil {
		k.work = k.committed.Clone()
	}
	return k.work
}

// pending returns key's record as the transaction in progress sees it.
func (k *kvTable) pending(key string) *pb.KVRecord {
	t := k.work
	if t == nil {
		t = k.committed
	}
	rec, _ := t.Get(&pb.KVRecord{Key: key})
	return rec
}

// bump records that the transaction moved the table to idx.
func (k *kvTable) bump(idx uint64) {
	k.tree()
	if idx > k.index {
		k.index = idx
	}
}

// commit publishes the transaction's writes, if it made any.
func (k *kvTable) commit() {
	if k.work == nil {
		return
	}
	old := k.load()
	idx := max(k.index, old.index)
	k.committed, k.work, k.index = k.work, nil, 0
	k.view.Store(&kvView{tree: k.committed.Clone(), index: idx, changed: make(chan struct{})})
	close(old.changed)
}

// abort drops the transaction's writes.
func (k *kvTable) abort() { k.work, k.index = nil, 0 }

// restored makes the tree built by a snapshot's restore, at the table's
// index idx, the committed one.
func (k *kvTable) restored(t *btree.BTreeG[*pb.KVRecord], idx uint64) {
	k.committed, k.work, k.index = t, nil, 0
	k.view.Store(&kvView{tree: t.Clone(), index: idx, changed: make(chan struct{})})
}
