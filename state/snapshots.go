package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// Limits of cluster snapshots in the replicated state.
const (
	// MaxSnapshots is how many cluster snapshots are kept; capturing or
	// importing one more is refused until one is deleted.
	MaxSnapshots = 20
	// MaxSnapshotChunkBytes is the largest chunk of a part (bytes): a part
	// travels through Raft in entries of at most this size.
	MaxSnapshotChunkBytes = 256 << 10
	// MaxSnapshotPartBytes is the largest part of one node, compressed
	// (bytes).
	MaxSnapshotPartBytes = 32 << 20
	// MaxSnapshotBytes is the largest snapshot, all parts compressed (bytes).
	MaxSnapshotBytes = 128 << 20
)

// ErrLimit: a documented limit would be exceeded.
var ErrLimit = errors.New("limit exceeded")

const (
	tableSnapshots      = "snapshots"
	tableSnapshotChunks = "snapshot_chunks"
)

func init() {
	registerTable(tableDef{
		tag: 10,
		schema: &memdb.TableSchema{
			Name: tableSnapshots,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.SnapshotRecord) },
	})
	registerTable(tableDef{
		tag: 11,
		schema: &memdb.TableSchema{
			Name: tableSnapshotChunks,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.SnapshotChunk) },
	})
}

func chunkKey(id, node string, i uint32) string { return fmt.Sprintf("%s/%s/%08d", id, node, i) }

func partPrefix(id, node string) string { return id + "/" + node + "/" }

// SnapshotCapture records a capture request for the given nodes.
func (s *Store) SnapshotCapture(idx uint64, at int64, c *pb.SnapshotCaptureCommand) (*pb.SnapshotRecord, error) {
	if c.Id == "" || len(c.Nodes) == 0 {
		return nil, fmt.Errorf("%w: a capture needs an id and nodes", ErrInvalidRecord)
	}
	if c.DeadlineUnixNano <= at {
		return nil, fmt.Errorf("%w: capture %s has no deadline after its creation", ErrInvalidRecord, c.Id)
	}
	nodes := append([]string(nil), c.Nodes...)
	sort.Strings(nodes)
	rec := &pb.SnapshotRecord{Id: c.Id, Options: c.Options,
		CreatedAtUnixNano: at, DeadlineUnixNano: c.DeadlineUnixNano}
	setSnapshotStatus(rec, pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING)
	for i, n := range nodes {
		if n == "" || (i > 0 && nodes[i-1] == n) {
			return nil, fmt.Errorf("%w: capture %s: empty or repeated node %q", ErrInvalidRecord, c.Id, n)
		}
		p := &pb.SnapshotPartInfo{Node: n}
		setPartStatus(p, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING)
		rec.Parts = append(rec.Parts, p)
	}
	return rec, s.insertSnapshot(idx, rec)
}

// SnapshotImport records a snapshot read from a file; its parts arrive as
// chunks, then it takes its final status.
//
// The command gives the final status and each part's status by enum, or
// by name as before the enums. A name must be one those versions wrote
// for an import (complete or partial; a part complete, pending or
// missing), a set that no longer changes. An enum may also be a value
// this binary does not know, from a newer leader: kept as it is, the
// snapshot ends in it, and such a part awaits no chunks; only a status
// that cannot end an import (capturing, importing) or start a part
// (corrupt) is refused.
func (s *Store) SnapshotImport(idx uint64, at int64, c *pb.SnapshotImportCommand) (*pb.SnapshotRecord, error) {
	r := c.Record
	if r == nil || r.Id == "" || len(r.Parts) == 0 {
		return nil, fmt.Errorf("%w: an import needs an id and parts", ErrInvalidRecord)
	}
	final := SnapshotFinalStatusOf(r)
	switch final {
	case pb.SnapshotStatus_SNAPSHOT_STATUS_UNSPECIFIED, pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING, pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING:
		return nil, fmt.Errorf("%w: import %s: final status %q is not complete or partial", ErrInvalidRecord, r.Id, snapshotStatuses.nameOr(final, r.FinalStatus))
	}
	rec := proto.Clone(r).(*pb.SnapshotRecord)
	rec.FinalStatusCode, rec.FinalStatus = final, snapshotStatuses.nameOr(final, r.FinalStatus)
	setSnapshotStatus(rec, pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING)
	rec.DeadlineUnixNano, rec.FinishedAtUnixNano = 0, 0
	var total uint64
	for _, p := range rec.Parts {
		switch st := PartStatusOf(p); st {
		case pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_MISSING:
			setPartStatus(p, st)
			continue
		case pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING:
		case pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_UNSPECIFIED, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_CORRUPT:
			return nil, fmt.Errorf("%w: import %s: part %s is %s", ErrInvalidRecord, r.Id, p.Node, p.Status)
		default:
			continue // a newer binary's status: kept as it is, no chunks awaited
		}
		if p.Chunks == 0 || p.Chunks > MaxSnapshotPartBytes/MaxSnapshotChunkBytes || p.StoredBytes > MaxSnapshotPartBytes || len(p.Sha256) != sha256.Size {
			return nil, fmt.Errorf("%w: import %s: part %s has %d chunks, %d bytes", ErrLimit, r.Id, p.Node, p.Chunks, p.StoredBytes)
		}
		total += p.StoredBytes
		// Stored bytes count the chunks as they arrive.
		setPartStatus(p, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING)
		p.Received, p.StoredBytes = 0, 0
	}
	if total > MaxSnapshotBytes {
		return nil, fmt.Errorf("%w: import %s is %d bytes, the limit is %d", ErrLimit, r.Id, total, MaxSnapshotBytes)
	}
	return rec, s.insertSnapshot(idx, rec)
}

func (s *Store) insertSnapshot(idx uint64, rec *pb.SnapshotRecord) error {
	return s.write(func(txn *memdb.Txn) error {
		if raw, err := txn.First(tableSnapshots, "id", rec.Id); err != nil {
			return err
		} else if raw != nil {
			return fmt.Errorf("%w: snapshot %q already exists", ErrInvalidRecord, rec.Id)
		}
		it, err := txn.Get(tableSnapshots, "id")
		if err != nil {
			return err
		}
		n := 0
		for raw := it.Next(); raw != nil; raw = it.Next() {
			n++
		}
		if n >= MaxSnapshots {
			return fmt.Errorf("%w: %d snapshots are kept, the most allowed; delete one first", ErrLimit, n)
		}
		rec.CreateIndex, rec.ModifyIndex = idx, idx
		if err := txn.Insert(tableSnapshots, rec); err != nil {
			return err
		}
		return bumpIndex(txn, tableSnapshots, idx)
	})
}

// SnapshotPart stores one chunk of a node's part. When the last chunk is in,
// the part is checked against its checksum; when every part is in, the
// snapshot is complete.
func (s *Store) SnapshotPart(idx uint64, at int64, c *pb.SnapshotPartCommand) error {
	if len(c.Data) == 0 || len(c.Data) > MaxSnapshotChunkBytes {
		return fmt.Errorf("%w: chunk of %d bytes (1..%d allowed)", ErrLimit, len(c.Data), MaxSnapshotChunkBytes)
	}
	if c.Total == 0 || c.Index >= c.Total || c.Total > MaxSnapshotPartBytes/MaxSnapshotChunkBytes {
		return fmt.Errorf("%w: chunk %d of %d (at most %d chunks per part)", ErrLimit, c.Index, c.Total, MaxSnapshotPartBytes/MaxSnapshotChunkBytes)
	}
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableSnapshots, "id", c.SnapshotId)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: snapshot %q", ErrNotFound, c.SnapshotId)
		}
		rec := proto.Clone(raw.(*pb.SnapshotRecord)).(*pb.SnapshotRecord)
		if !snapshotFilling(rec) {
			return fmt.Errorf("%w: snapshot %s is %s", ErrPlanNotRunning, rec.Id, rec.Status)
		}
		var part *pb.SnapshotPartInfo
		for _, p := range rec.Parts {
			if p.Node == c.Node {
				part = p
			}
		}
		if part == nil {
			return fmt.Errorf("%w: snapshot %s has no part for node %s", ErrInvalidRecord, rec.Id, c.Node)
		}
		if PartStatusOf(part) != pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING {
			return nil // a duplicate after the part was closed
		}
		if part.Chunks != 0 && (part.Chunks != c.Total || !bytes.Equal(part.Sha256, c.Sha256)) {
			return fmt.Errorf("%w: chunk %d of %s/%s does not belong to the part being stored", ErrInvalidRecord, c.Index, rec.Id, c.Node)
		}
		if len(c.Sha256) != sha256.Size {
			return fmt.Errorf("%w: chunk without the part's checksum", ErrInvalidRecord)
		}
		key := chunkKey(rec.Id, c.Node, c.Index)
		if exists, err := txn.First(tableSnapshotChunks, "id", key); err != nil {
			return err
		} else if exists != nil {
			return nil // a duplicate chunk
		}
		var stored uint64
		for _, p := range rec.Parts {
			stored += p.StoredBytes
		}
		if stored+uint64(len(c.Data)) > MaxSnapshotBytes || part.StoredBytes+uint64(len(c.Data)) > MaxSnapshotPartBytes {
			return fmt.Errorf("%w: snapshot %s would exceed %d bytes (or %d for one node)", ErrLimit, rec.Id, MaxSnapshotBytes, MaxSnapshotPartBytes)
		}
		if err := txn.Insert(tableSnapshotChunks, &pb.SnapshotChunk{SnapshotId: rec.Id, Node: c.Node, Index: c.Index, Data: c.Data, Key: key}); err != nil {
			return err
		}
		part.Chunks, part.Sha256 = c.Total, c.Sha256
		part.Received++
		part.StoredBytes += uint64(len(c.Data))
		part.RawBytes, part.Processes, part.Trees, part.CapturedAtUnixNano = c.RawBytes, c.Processes, c.Trees, c.CapturedAtUnixNano
		if part.Received == part.Chunks {
			data, err := readPart(txn, rec.Id, c.Node)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			if bytes.Equal(sum[:], part.Sha256) {
				setPartStatus(part, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE)
			} else {
				setPartStatus(part, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_CORRUPT)
			}
		}
		settleSnapshot(rec, at)
		rec.ModifyIndex = idx
		if err := txn.Insert(tableSnapshots, rec); err != nil {
			return err
		}
		return bumpIndex(txn, tableSnapshots, idx)
	})
}

// snapshotFilling reports whether a snapshot's parts are still arriving:
// it is capturing or importing.
func snapshotFilling(rec *pb.SnapshotRecord) bool {
	switch SnapshotStatusOf(rec) {
	case pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING, pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING:
		return true
	}
	return false
}

// settleSnapshot finishes a snapshot whose parts are all in.
func settleSnapshot(rec *pb.SnapshotRecord, at int64) {
	for _, p := range rec.Parts {
		if PartStatusOf(p) == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING {
			return
		}
	}
	rec.FinishedAtUnixNano = at
	switch {
	case SnapshotStatusOf(rec) == pb.SnapshotStatus_SNAPSHOT_STATUS_IMPORTING:
		final := SnapshotFinalStatusOf(rec)
		rec.StatusCode, rec.Status = final, snapshotStatuses.nameOr(final, rec.FinalStatus)
	default:
		status := pb.SnapshotStatus_SNAPSHOT_STATUS_COMPLETE
		for _, p := range rec.Parts {
			if PartStatusOf(p) != pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_COMPLETE {
				status = pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL
			}
		}
		setSnapshotStatus(rec, status)
	}
}

// SnapshotFinish closes a capture whose deadline passed (at the entry's
// time): parts not in are missing, and the snapshot is partial.
func (s *Store) SnapshotFinish(idx uint64, at int64, c *pb.SnapshotFinishCommand) error {
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableSnapshots, "id", c.SnapshotId)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: snapshot %q", ErrNotFound, c.SnapshotId)
		}
		rec := proto.Clone(raw.(*pb.SnapshotRecord)).(*pb.SnapshotRecord)
		if SnapshotStatusOf(rec) != pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING {
			return fmt.Errorf("%w: snapshot %s is %s", ErrPlanNotRunning, rec.Id, rec.Status)
		}
		if at < rec.DeadlineUnixNano {
			return fmt.Errorf("%w: snapshot %s captures until its deadline", ErrNotExpired, rec.Id)
		}
		for _, p := range rec.Parts {
			if PartStatusOf(p) == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_PENDING {
				setPartStatus(p, pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_MISSING)
				// Drop the chunks a node managed to send: the part is unusable.
				if err := deleteChunks(txn, partPrefix(rec.Id, p.Node)); err != nil {
					return err
				}
				p.Received, p.StoredBytes = 0, 0
			}
		}
		settleSnapshot(rec, at)
		rec.ModifyIndex = idx
		if err := txn.Insert(tableSnapshots, rec); err != nil {
			return err
		}
		return bumpIndex(txn, tableSnapshots, idx)
	})
}

// SnapshotDelete removes a snapshot and its chunks.
func (s *Store) SnapshotDelete(idx uint64, id string) error {
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableSnapshots, "id", id)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: snapshot %q", ErrNotFound, id)
		}
		if err := txn.Delete(tableSnapshots, raw); err != nil {
			return err
		}
		if err := deleteChunks(txn, id+"/"); err != nil {
			return err
		}
		return bumpIndex(txn, tableSnapshots, idx)
	})
}

func deleteChunks(txn *memdb.Txn, prefix string) error {
	_, err := txn.DeletePrefix(tableSnapshotChunks, "id_prefix", prefix)
	return err
}

func readPart(txn *memdb.Txn, id, node string) ([]byte, error) {
	it, err := txn.Get(tableSnapshotChunks, "id_prefix", partPrefix(id, node))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for raw := it.Next(); raw != nil; raw = it.Next() {
		buf.Write(raw.(*pb.SnapshotChunk).Data)
	}
	return buf.Bytes(), nil
}

// SnapshotRecord returns one snapshot, or nil.
func (s *Store) SnapshotRecord(ws memdb.WatchSet, id string) (*pb.SnapshotRecord, error) {
	txn := s.read()
	defer txn.Abort()
	ch, raw, err := txn.FirstWatch(tableSnapshots, "id", id)
	if err != nil {
		return nil, err
	}
	ws.Add(ch)
	if raw == nil {
		return nil, nil
	}
	return raw.(*pb.SnapshotRecord), nil
}

// Snapshots lists every snapshot, oldest first.
func (s *Store) Snapshots(ws memdb.WatchSet) (uint64, []*pb.SnapshotRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableSnapshots)
	it, err := txn.Get(tableSnapshots, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.SnapshotRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.SnapshotRecord))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex < out[j].CreateIndex })
	return idx, out, nil
}

// SnapshotPartData returns a complete part's stored (compressed) bytes.
func (s *Store) SnapshotPartData(id, node string) ([]byte, error) {
	txn := s.read()
	defer txn.Abort()
	return readPart(txn, id, node)
}
