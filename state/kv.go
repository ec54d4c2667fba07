package state

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

const tableKV = "kv"

// Limits of the operator key/value namespace.
const (
	// MaxKVKeySize is the longest key accepted (bytes).
	MaxKVKeySize = 1024
	// MaxKVValueSize is the largest value accepted (bytes), as Consul's
	// 512 KiB.
	MaxKVValueSize = 512 * 1024
)

func init() {
	registerTable(tableDef{
		tag:       3,
		schema:    &memdb.TableSchema{Name: tableKV},
		newRecord: func() proto.Message { return new(pb.KVRecord) },
		// Kept in Store.kv (kvtable.go), not in go-memdb; its records
		// travel in snapshots under tag 3 in key order, as before.
		external: true,
	})
}

// ValidateKey checks a kv key against the namespace's rules.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: key is empty", ErrInvalidKey)
	case len(key) > MaxKVKeySize:
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrInvalidKey, len(key), MaxKVKeySize)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidKey)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%w: key %q starts with '/'", ErrInvalidKey, key)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("%w: key contains a NUL byte", ErrInvalidKey)
	}
	return nil
}

// ValidateValue checks a kv value's size.
func ValidateValue(value []byte) error {
	if len(value) > MaxKVValueSize {
		return fmt.Errorf("%w: value is %d bytes, the limit is %d (512 KiB)", ErrValueTooLarge, len(value), MaxKVValueSize)
	}
	return nil
}

// KVSet writes key at idx. With cas set, the write happens only if the key's
// modify index equals *cas (0: only if the key is absent).
func (s *Store) KVSet(idx uint64, key string, value []byte, cas *uint64) (*pb.KVRecord, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ValidateValue(value); err != nil {
		return nil, err
	}
	var out *pb.KVRecord
	err := s.write(func(txn *memdb.Txn) error {
		cur := s.kv.pending(key)
		rec := &pb.KVRecord{Key: key, Value: append([]byte(nil), value...), CreateIndex: idx, ModifyIndex: idx}
		if cur != nil {
			rec.CreateIndex = cur.CreateIndex
		}
		if cas != nil {
			var at uint64
			if cur != nil {
				at = cur.ModifyIndex
			}
			if at != *cas {
				return casError(key, *cas, at)
			}
		}
		s.kv.tree().ReplaceOrInsert(rec)
		out = rec
		return s.bumpKV(txn, idx)
	})
	return out, err
}

func casError(key string, want, cur uint64) error {
	if cur == 0 {
		return fmt.Errorf("%w: key %q does not exist (cas index %d)", ErrCASConflict, key, want)
	}
	if want == 0 {
		return fmt.Errorf("%w: key %q already exists at modify index %d (cas 0 means create only)", ErrCASConflict, key, cur)
	}
	return fmt.Errorf("%w: key %q is at modify index %d, not %d", ErrCASConflict, key, cur, want)
}

// KVDelete deletes key (or every key under it when prefix is set) at idx and
// returns how many keys were deleted. With cas set, the key must exist at
// exactly that modify index.
func (s *Store) KVDelete(idx uint64, key string, cas *uint64, prefix bool) (int, error) {
	if prefix {
		if cas != nil {
			return 0, fmt.Errorf("%w: check-and-set cannot be combined with a prefix delete", ErrInvalidKey)
		}
		if key != "" {
			if err := ValidateKey(key); err != nil {
				return 0, err
			}
		}
	} else if err := ValidateKey(key); err != nil {
		return 0, err
	}
	var n int
	err := s.write(func(txn *memdb.Txn) error {
		if prefix {
			t := s.kv.tree()
			var doomed []*pb.KVRecord
			eachPrefix(t, key, func(r *pb.KVRecord) { doomed = append(doomed, r) })
			for _, r := range doomed {
				t.Delete(r)
			}
			n = len(doomed)
		} else {
			cur := s.kv.pending(key)
			if cas != nil {
				var at uint64
				if cur != nil {
					at = cur.ModifyIndex
				}
				if at != *cas || *cas == 0 {
					return casError(key, *cas, at)
				}
			}
			if cur != nil {
				s.kv.tree().Delete(cur)
				n = 1
			}
		}
		// A delete always moves the table index, so watchers and readers see
		// that the write happened even when nothing matched.
		return s.bumpKV(txn, idx)
	})
	return n, err
}

// bumpKV records that a write moved the kv table to idx: in the kv
// view's own index (what KVGet and KVList answer) and in the index table
// (what LatestIndex, TableIndex and WaitIndex read).
func (s *Store) bumpKV(txn *memdb.Txn, idx uint64) error {
	s.kv.bump(idx)
	return bumpIndex(txn, tableKV, idx)
}

// KVGet returns the key and the kv table's index, read from one committed
// view. A missing key is (index, nil, nil). ws, when not nil, is added a
// channel closed at the next commit that changes the kv table (any key:
// the table keeps one channel per commit, not one per key).
func (s *Store) KVGet(ws memdb.WatchSet, key string) (uint64, *pb.KVRecord, error) {
	v := s.kv.load()
	ws.Add(v.changed)
	return v.index, v.get(key), nil
}

// KVList returns every key with the given prefix, in key order, and the kv
// table's index, read from one committed view; ws as KVGet's.
func (s *Store) KVList(ws memdb.WatchSet, prefix string) (uint64, []*pb.KVRecord, error) {
	v := s.kv.load()
	ws.Add(v.changed)
	return v.index, v.list(prefix), nil
}
