package state

import (
	"fmt"
	"slices"
	"sync"

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

// batchBumps holds, for the write transaction of each store's batch in
// progress (Store.BeginBatch), the highest index each table was bumped
// to in it: *memdb.Txn -> map[table]index. EndBatch writes them, one
// index-table insert per table and batch instead of one per entry (the
// bump was 12 % of BenchmarkApplyBatchKVPut). This holds only because
// no write reads the index table inside a batch (maxIndex is read in
// read transactions; ApplyRemote, which reads it while writing, runs on
// a client agent's store, never in a batch): a batch's final state is
// that of its entries applied one by one, whatever its boundaries,
// which differ from node to node (TestApplyBatchMatchesSequential,
// TestGoldenInBatches).
var batchBumps sync.Map

// bumpIndex records that table changed at idx.
func bumpIndex(txn *memdb.Txn, table string, idx uint64) error {
	if p, ok := batchBumps.Load(txn); ok {
		if m := p.(map[string]uint64); idx > m[table] {
			m[table] = idx
		}
		return nil
	}
	if err := txn.Insert(tableIndex, &pb.IndexRecord{Table: table, Index: idx}); err != nil {
		return fmt.Errorf("update index of %s: %w", table, err)
	}
	return nil
}

// flushBumps writes the index bumps batchBumps holds for txn, in table
// order, and forgets them.
func flushBumps(txn *memdb.Txn) error {
	p, ok := batchBumps.LoadAndDelete(txn)
	if !ok {
		return nil
	}
	m := p.(map[string]uint64)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := txn.Insert(tableIndex, &pb.IndexRecord{Table: n, Index: m[n]}); err != nil {
			return fmt.Errorf("update index of %s: %w", n, err)
		}
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
