package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// tableMeta holds a single row: the cluster's identity.
const tableMeta = "meta"

func init() {
	registerTable(tableDef{
		tag: 2,
		schema: &memdb.TableSchema{
			Name: tableMeta,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ClusterId"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ClusterMeta) },
	})
}

// ClusterInit fixes the cluster's identity. It is idempotent: a second init
// with the same id is accepted, one with another id is refused.
func (s *Store) ClusterInit(idx uint64, id string, at int64) error {
	if id == "" {
		return fmt.Errorf("%w: cluster id is empty", ErrInvalidRecord)
	}
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableMeta, "id")
		if err != nil {
			return err
		}
		if raw != nil {
			if cur := raw.(*pb.ClusterMeta).ClusterId; cur != id {
				return fmt.Errorf("%w: cluster id is already %q, not %q", ErrInvalidRecord, cur, id)
			}
			return nil
		}
		if err := txn.Insert(tableMeta, &pb.ClusterMeta{ClusterId: id, CreateIndex: idx, CreatedAtUnixNano: at}); err != nil {
			return err
		}
		return bumpIndex(txn, tableMeta, idx)
	})
}

// ClusterID returns the cluster's identity, or "" before the first leader
// fixed it.
func (s *Store) ClusterID() string {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableMeta, "id")
	if err != nil || raw == nil {
		return ""
	}
	return raw.(*pb.ClusterMeta).ClusterId
}

// ClusterIDWatch is ClusterID that also adds a watch on the meta table to ws.
func (s *Store) ClusterIDWatch(ws memdb.WatchSet) string {
	txn := s.read()
	defer txn.Abort()
	ch, raw, err := txn.FirstWatch(tableMeta, "id")
	ws.Add(ch)
	if err != nil || raw == nil {
		return ""
	}
	return raw.(*pb.ClusterMeta).ClusterId
}

// Relabel gives a store that no Raft log feeds — a backup decoded on the
// leader before it is restored — another cluster id, keeping the rest of
// the identity record. It must never be called on the FSM's own store: the
// replicated identity changes only through ClusterInit.
func (s *Store) Relabel(id string) error {
	if id == "" {
		return fmt.Errorf("%w: cluster id is empty", ErrInvalidRecord)
	}
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableMeta, "id")
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: the store has no cluster id to relabel", ErrInvalidRecord)
		}
		rec := proto.Clone(raw.(*pb.ClusterMeta)).(*pb.ClusterMeta)
		if err := txn.Delete(tableMeta, raw); err != nil {
			return err
		}
		rec.ClusterId = id
		return txn.Insert(tableMeta, rec)
	})
}
