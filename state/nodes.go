package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

const tableNodes = "nodes"

func init() {
	registerTable(tableDef{
		tag: 4,
		schema: &memdb.TableSchema{
			Name: tableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.NodeRecord) },
	})
}

// NodeUpsert records a node. The create index and joined time of an existing
// record are kept.
//
// The status comes as an enum, or by name as before the enums. A name
// must be one those versions wrote (alive, left or failed), a set that no
// longer changes; an enum value this binary does not know, from a newer
// leader, is kept as it is (the node is then not alive here).
func (s *Store) NodeUpsert(idx uint64, n *pb.NodeRecord) error {
	if n == nil || n.Name == "" {
		return fmt.Errorf("%w: node has no name", ErrInvalidRecord)
	}
	status := NodeStatusOf(n)
	if status == pb.NodeStatus_NODE_STATUS_UNSPECIFIED {
		return fmt.Errorf("%w: node %q has status %q, want alive, left or failed", ErrInvalidRecord, n.Name, n.Status)
	}
	return s.write(func(txn *memdb.Txn) error {
		rec := proto.Clone(n).(*pb.NodeRecord)
		rec.StatusCode, rec.Status = status, nodeStatuses.nameOr(status, n.Status)
		rec.CreateIndex, rec.ModifyIndex = idx, idx
		raw, err := txn.First(tableNodes, "id", n.Name)
		if err != nil {
			return err
		}
		if raw != nil {
			old := raw.(*pb.NodeRecord)
			rec.CreateIndex = old.CreateIndex
			if old.JoinedAtUnixNano != 0 && NodeStatusOf(old) == pb.NodeStatus_NODE_STATUS_ALIVE {
				rec.JoinedAtUnixNano = old.JoinedAtUnixNano
			}
		}
		if err := txn.Insert(tableNodes, rec); err != nil {
			return err
		}
		return bumpIndex(txn, tableNodes, idx)
	})
}

// NodeDelete removes a node from the registry.
func (s *Store) NodeDelete(idx uint64, name string) error {
	return s.write(func(txn *memdb.Txn) error {
		return deleteByID(txn, tableNodes, name, idx, fmt.Errorf("%w: node %q", ErrNotFound, name))
	})
}

// Node returns one node, or nil.
func (s *Store) Node(name string) (*pb.NodeRecord, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableNodes, "id", name)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.NodeRecord), nil
}

// Nodes returns every node in name order.
func (s *Store) Nodes(ws memdb.WatchSet) (uint64, []*pb.NodeRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableNodes)
	it, err := txn.Get(tableNodes, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.NodeRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.NodeRecord))
	}
	return idx, out, nil
}
