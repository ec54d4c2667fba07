package state

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"google.golang.org/protobuf/proto"
)

const tableTrees = "trees"

func init() {
	registerTable(tableDef{
		tag: 5,
		schema: &memdb.TableSchema{
			Name: tableTrees,
			Indexes: map[string]*memdb.IndexSchema{
				"id":   {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
				"node": {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.TreeRecord) },
	})
}

// DecodeTree decodes and structurally validates a committed spec. Behavior
// names are not checked here: which behaviors exist is the leader's check
// at submission, and a replica must not refuse what another accepted.
func DecodeTree(rec *pb.TreeRecord) (*spec.Tree, error) {
	t, err := spec.Parse(rec.SpecJson, "spec.json")
	if err != nil {
		return nil, fmt.Errorf("%w: tree %q: %v", ErrInvalidRecord, rec.Name, err)
	}
	return t, nil
}

// TreeApply records a tree's desired state. The spec must be the canonical
// JSON of a valid, normalized tree named like the record.
func (s *Store) TreeApply(idx uint64, rec *pb.TreeRecord, cas *uint64) (*pb.TreeRecord, error) {
	if rec == nil || rec.Name == "" {
		return nil, fmt.Errorf("%w: tree has no name", ErrInvalidRecord)
	}
	if rec.Node == "" || rec.Node == "auto" {
		return nil, fmt.Errorf("%w: tree %q is not placed on a node", ErrInvalidRecord, rec.Name)
	}
	t, err := DecodeTree(rec)
	if err != nil {
		return nil, err
	}
	if t.Name != rec.Name {
		return nil, fmt.Errorf("%w: record %q holds the spec of tree %q", ErrInvalidRecord, rec.Name, t.Name)
	}
	if err := spec.Validate(t, spec.ValidateOptions{}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	var out *pb.TreeRecord
	err = s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableTrees, "id", rec.Name)
		if err != nil {
			return err
		}
		var old *pb.TreeRecord
		if raw != nil {
			old = raw.(*pb.TreeRecord)
		}
		if cas != nil {
			var cur uint64
			if old != nil {
				cur = old.ModifyIndex
			}
			if cur != *cas {
				if *cas == 0 {
					return fmt.Errorf("%w: tree %q already exists (modify index %d)", ErrCASConflict, rec.Name, cur)
				}
				return fmt.Errorf("%w: tree %q is at modify index %d, not %d", ErrCASConflict, rec.Name, cur, *cas)
			}
		}
		n := proto.Clone(rec).(*pb.TreeRecord)
		n.CreateIndex, n.ModifyIndex = idx, idx
		if old != nil {
			n.CreateIndex = old.CreateIndex
			if old.Node == n.Node && bytes.Equal(old.SpecJson, n.SpecJson) && old.AutoPlaced == n.AutoPlaced {
				// Nothing changed: keep the version, so reconcilers do no work.
				out = old
				return nil
			}
		}
		if err := txn.Insert(tableTrees, n); err != nil {
			return err
		}
		out = n
		return bumpIndex(txn, tableTrees, idx)
	})
	return out, err
}

// TreeDelete removes a tree's desired state.
func (s *Store) TreeDelete(idx uint64, name string) error {
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableTrees, "id", name)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: tree %q", ErrNotFound, name)
		}
		if err := txn.Delete(tableTrees, raw); err != nil {
			return err
		}
		return bumpIndex(txn, tableTrees, idx)
	})
}

// Tree returns one tree, or nil.
func (s *Store) Tree(name string) (*pb.TreeRecord, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableTrees, "id", name)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.TreeRecord), nil
}

// Trees returns every tree (node == "") or the trees of one node, by name.
func (s *Store) Trees(ws memdb.WatchSet, node string) (uint64, []*pb.TreeRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableTrees)
	var it memdb.ResultIterator
	var err error
	if node == "" {
		it, err = txn.Get(tableTrees, "id")
	} else {
		it, err = txn.Get(tableTrees, "node", node)
	}
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.TreeRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.TreeRecord))
	}
	return idx, out, nil
}
