package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

const tableIndex = "index"

func init() {
	registerTable(tableDef{
		tag: 1,
		schema: &memdb.TableSchema{
			Name: tableIndex,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Table"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.IndexRecord) },
	})
}

// bumpIndex records that table changed at idx.
func bumpIndex(txn *memdb.Txn, table string, idx uint64) error {
	if err := txn.Insert(tableIndex, &pb.IndexRecord{Table: table, Index: idx}); err != nil {
		return fmt.Errorf("update index of %s: %w", table, err)
	}
	return nil
}

// maxIndex is the highest index among the given tables (all tables when
// none are named).
func maxIndex(txn *memdb.Txn, names ...string) uint64 {
	var max uint64
	if len(names) == 0 {
		it, err := txn.Get(tableIndex, "id")
		if err != nil {
			return 0
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if r := raw.(*pb.IndexRecord); r.Index > max {
				max = r.Index
			}
		}
		return max
	}
	for _, n := range names {
		raw, err := txn.First(tableIndex, "id", n)
		if err == nil && raw != nil {
			if r := raw.(*pb.IndexRecord); r.Index > max {
				max = r.Index
			}
		}
	}
	return max
}

// deleteByID deletes the record of table whose "id" is id and records
// that table changed at idx; missing is the error when there is none.
func deleteByID(txn *memdb.Txn, table, id string, idx uint64, missing error) error {
	raw, err := txn.First(table, "id", id)
	if err != nil {
		return err
	}
	if raw == nil {
		return missing
	}
	if err := txn.Delete(table, raw); err != nil {
		return err
	}
	return bumpIndex(txn, table, idx)
}
