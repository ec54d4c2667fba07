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
		tag: 3,
		schema: &memdb.TableSchema{
			Name: tableKV,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.KVRecord) },
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
		raw, err := txn.First(tableKV, "id", key)
		if err != nil {
			return err
		}
		rec := &pb.KVRecord{Key: key, Value: append([]byte(nil), value...), CreateIndex: idx, ModifyIndex: idx}
		if raw != nil {
			rec.CreateIndex = raw.(*pb.KVRecord).CreateIndex
		}
		if cas != nil {
			var cur uint64
			if raw != nil {
				cur = raw.(*pb.KVRecord).ModifyIndex
			}
			if cur != *cas {
				return casError(key, *cas, cur)
			}
		}
		if err := txn.Insert(tableKV, rec); err != nil {
			return err
		}
		out = rec
		return bumpIndex(txn, tableKV, idx)
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
			it, err := txn.Get(tableKV, "id_prefix", key)
			if err != nil {
				return err
			}
			var doomed []interface{}
			for raw := it.Next(); raw != nil; raw = it.Next() {
				doomed = append(doomed, raw)
			}
			for _, raw := range doomed {
				if err := txn.Delete(tableKV, raw); err != nil {
					return err
				}
			}
			n = len(doomed)
		} else {
			raw, err := txn.First(tableKV, "id", key)
			if err != nil {
				return err
			}
			if cas != nil {
				var cur uint64
				if raw != nil {
					cur = raw.(*pb.KVRecord).ModifyIndex
				}
				if cur != *cas || *cas == 0 {
					return casError(key, *cas, cur)
				}
			}
			if raw != nil {
				if err := txn.Delete(tableKV, raw); err != nil {
					return err
				}
				n = 1
			}
		}
		// A delete always moves the table index, so watchers and readers see
		// that the write happened even when nothing matched.
		return bumpIndex(txn, tableKV, idx)
	})
	return n, err
}

// KVGet returns the key and the kv table's index. A missing key is
// (index, nil, nil). ws, when not nil, is added the watch channels.
func (s *Store) KVGet(ws memdb.WatchSet, key string) (uint64, *pb.KVRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableKV)
	ch, raw, err := txn.FirstWatch(tableKV, "id", key)
	if err != nil {
		return 0, nil, err
	}
	ws.Add(ch)
	if raw == nil {
		return idx, nil, nil
	}
	return idx, raw.(*pb.KVRecord), nil
}

// KVList returns every key with the given prefix, in key order.
func (s *Store) KVList(ws memdb.WatchSet, prefix string) (uint64, []*pb.KVRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableKV)
	it, err := txn.Get(tableKV, "id_prefix", prefix)
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.KVRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.KVRecord))
	}
	return idx, out, nil
}
