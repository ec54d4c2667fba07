package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/btree"
	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// Snapshot stream format, version 1:
//
//	magic "STWS" | version byte
//	records: tag byte | uvarint length | protobuf record
//	end: tag 0
//
// Tables are written in name order and records in id order, so two stores
// with the same content produce the same bytes.
const (
	snapshotMagic   = "STWS"
	snapshotVersion = 1
	// maxSnapshotRecord bounds one record's size when decoding, so that a
	// corrupt length cannot make restore allocate without limit (bytes).
	maxSnapshotRecord = 64 << 20
)

// Snapshot is a point-in-time view of the store, taken without blocking
// writers.
type Snapshot struct {
	txn *memdb.Txn
	kv  *kvView
}

// Snapshot captures the current state.
func (s *Store) Snapshot() *Snapshot {
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	return &Snapshot{txn: s.db.Snapshot().Txn(false), kv: s.kv.load()}
}

// Index is the highest Raft index contained in the snapshot.
func (sn *Snapshot) Index() uint64 { return maxIndex(sn.txn) }

// Persist writes the snapshot to w.
func (sn *Snapshot) Persist(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	if err := bw.WriteByte(snapshotVersion); err != nil {
		return err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	var buf []byte
	write := func(tag byte, rec proto.Message) error {
		var err error
		buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(buf[:0], rec)
		if err != nil {
			return err
		}
		if err := bw.WriteByte(tag); err != nil {
			return err
		}
		n := binary.PutUvarint(lenBuf[:], uint64(len(buf)))
		if _, err := bw.Write(lenBuf[:n]); err != nil {
			return err
		}
		_, err = bw.Write(buf)
		return err
	}
	for _, name := range tableNames() {
		def := tables[name]
		if name == tableKV {
			var werr error
			sn.kv.tree.Ascend(func(r *pb.KVRecord) bool {
				werr = write(def.tag, r)
				return werr == nil
			})
			if werr != nil {
				return fmt.Errorf("snapshot %s: %w", name, werr)
			}
			continue
		}
		it, err := sn.txn.Get(name, "id")
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", name, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if err := write(def.tag, raw.(proto.Message)); err != nil {
				return fmt.Errorf("snapshot %s: %w", name, err)
			}
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

// Release frees the snapshot.
func (sn *Snapshot) Release() { sn.txn.Abort() }

// Restore reads a snapshot stream into a new store. The caller swaps it in.
// A truncated or corrupt stream yields ErrCorruptSnapshot and no store.
func Restore(r io.Reader) (*Store, error) {
	s, err := New()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorruptSnapshot, err)
	}
	if string(head[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorruptSnapshot, head[:4])
	}
	if head[4] != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this binary reads version %d", ErrCorruptSnapshot, head[4], snapshotVersion)
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	kv := btree.NewG(kvDegree, kvLess)
	var buf []byte
	for n := 0; ; n++ {
		tag, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorruptSnapshot, n, truncated(err))
		}
		if tag == 0 {
			break
		}
		name, def, ok := tableByTag(tag)
		if !ok {
			return nil, fmt.Errorf("%w: record %d has unknown table tag %d", ErrCorruptSnapshot, n, tag)
		}
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d length: %v", ErrCorruptSnapshot, n, truncated(err))
		}
		if size > maxSnapshotRecord {
			return nil, fmt.Errorf("%w: record %d is %d bytes, over the %d limit", ErrCorruptSnapshot, n, size, maxSnapshotRecord)
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorruptSnapshot, n, truncated(err))
		}
		rec := def.newRecord()
		if err := proto.Unmarshal(buf, rec); err != nil {
			return nil, fmt.Errorf("%w: record %d (%s): %v", ErrCorruptSnapshot, n, name, err)
		}
		if name == tableKV {
			r := rec.(*pb.KVRecord)
			if r.Key == "" {
				return nil, fmt.Errorf("%w: record %d (%s): empty key", ErrCorruptSnapshot, n, name)
			}
			if _, dup := kv.ReplaceOrInsert(r); dup {
				return nil, fmt.Errorf("%w: record %d (%s): key %q twice", ErrCorruptSnapshot, n, name, r.Key)
			}
			continue
		}
		if err := txn.Insert(name, rec); err != nil {
			return nil, fmt.Errorf("%w: record %d (%s): %v", ErrCorruptSnapshot, n, name, err)
		}
	}
	idx := maxIndex(txn)
	s.kv.restored(kv, maxIndex(txn, tableKV))
	txn.Commit()
	// The commits before the snapshot are not known here: a stream that
	// resumes from before it gets a fresh view.
	s.feed = newFeed(idx)
	return s, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
