package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// Limits of the module store that no version changes. The limits a leader
// may change (the largest module, the total, the history kept) travel in
// the commands.
const (
	// MaxModuleChunkBytes is the largest chunk of a module binary (bytes):
	// a binary travels through Raft in entries of at most this size.
	MaxModuleChunkBytes = 256 << 10
	// MaxModuleChunks bounds the chunks of one version (1 GiB of chunks at
	// most; a leader's per-module limit is far below).
	MaxModuleChunks = 4096
)

// ErrInUse: the record is in use (an active module version) and cannot be
// removed.
var ErrInUse = errors.New("in use")

const (
	tableModules      = "modules"
	tableModuleChunks = "module_chunks"
	tableModuleActive = "module_active"
)

func init() {
	registerTable(tableDef{
		tag: 12,
		schema: &memdb.TableSchema{
			Name: tableModuleChunks,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Sha256"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ModuleChunk) },
	})
	registerTable(tableDef{
		tag: 13,
		schema: &memdb.TableSchema{
			Name: tableModules,
			Indexes: map[string]*memdb.IndexSchema{
				"id":   {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
				"name": {Name: "name", Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ModuleVersion) },
	})
	registerTable(tableDef{
		tag: 14,
		schema: &memdb.TableSchema{
			Name: tableModuleActive,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ModuleActive) },
	})
}

// ModuleID is a version's record id, "name@version".
func ModuleID(name, version string) string { return name + "@" + version }

// ModulePutChunk stores one chunk of a module binary, keyed by its SHA-256;
// a chunk already stored is a no-op (chunks are shared between versions).
// The data must match its checksum, and the chunks stored must stay within
// the command's total.
func (s *Store) ModulePutChunk(idx uint64, at int64, c *pb.ModulePutChunkCommand) error {
	if len(c.Data) == 0 || len(c.Data) > MaxModuleChunkBytes {
		return fmt.Errorf("%w: module chunk of %d bytes (1..%d allowed)", ErrLimit, len(c.Data), MaxModuleChunkBytes)
	}
	sum := sha256.Sum256(c.Data)
	if !bytes.Equal(sum[:], c.Sha256) {
		return fmt.Errorf("%w: module chunk does not match its SHA-256", ErrInvalidRecord)
	}
	key := hex.EncodeToString(sum[:])
	return s.write(func(txn *memdb.Txn) error {
		if raw, err := txn.First(tableModuleChunks, "id", key); err != nil {
			return err
		} else if raw != nil {
			return nil
		}
		total, err := chunkBytes(txn)
		if err != nil {
			return err
		}
		if total+uint64(len(c.Data)) > c.MaxTotalBytes {
			return fmt.Errorf("%w: stored modules would take %d bytes, the limit is %d", ErrLimit, total+uint64(len(c.Data)), c.MaxTotalBytes)
		}
		if err := txn.Insert(tableModuleChunks, &pb.ModuleChunk{Sha256: key, Data: c.Data, StagedAtUnixNano: at}); err != nil {
			return err
		}
		return bumpIndex(txn, tableModuleChunks, idx)
	})
}

func chunkBytes(txn *memdb.Txn) (uint64, error) {
	it, err := txn.Get(tableModuleChunks, "id")
	if err != nil {
		return 0, err
	}
	var n uint64
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n += uint64(len(raw.(*pb.ModuleChunk).Data))
	}
	return n, nil
}

// ModuleCommit records a module version whose chunks are stored: every
// chunk present, their concatenation of the version's size and SHA-256,
// within the command's per-module limit. The same bytes committed again
// under the same version change nothing (Unchanged); other bytes under a
// stored version are refused. Then the oldest versions of the name beyond
// the history limit are evicted, except the active one, those the command
// protects (pinned by a spec) and those a checkpoint names, and chunks no version refers to are
// dropped once older than the grace period.
func (s *Store) ModuleCommit(idx uint64, at int64, c *pb.ModuleCommitCommand) (*pb.ModuleCommitResult, error) {
	v := c.Version
	if v == nil || v.Name == "" || v.Version == "" {
		return nil, fmt.Errorf("%w: a module version needs a name and a version", ErrInvalidRecord)
	}
	if len(v.Chunks) == 0 || len(v.Chunks) > MaxModuleChunks {
		return nil, fmt.Errorf("%w: module %s@%s has %d chunks (1..%d allowed)", ErrLimit, v.Name, v.Version, len(v.Chunks), MaxModuleChunks)
	}
	if v.Size > c.MaxModuleBytes {
		return nil, fmt.Errorf("%w: module %s@%s is %d bytes, the limit is %d", ErrLimit, v.Name, v.Version, v.Size, c.MaxModuleBytes)
	}
	rec := proto.Clone(v).(*pb.ModuleVersion)
	rec.Id = ModuleID(v.Name, v.Version)
	var res *pb.ModuleCommitResult
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableModules, "id", rec.Id)
		if err != nil {
			return err
		}
		if raw != nil {
			old := raw.(*pb.ModuleVersion)
			if old.Sha256 != rec.Sha256 {
				return fmt.Errorf("%w: module %s is stored with other bytes (sha256 %s); push a new version", ErrInvalidRecord, rec.Id, old.Sha256)
			}
			res = &pb.ModuleCommitResult{Version: old, Unchanged: true}
			return nil
		}
		h := sha256.New()
		var size uint64
		for _, key := range rec.Chunks {
			raw, err := txn.First(tableModuleChunks, "id", key)
			if err != nil {
				return err
			}
			if raw == nil {
				return fmt.Errorf("%w: chunk %s of module %s is not stored", ErrNotFound, key, rec.Id)
			}
			data := raw.(*pb.ModuleChunk).Data
			h.Write(data)
			size += uint64(len(data))
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != rec.Sha256 || size != rec.Size {
			return fmt.Errorf("%w: the chunks of module %s make %d bytes with sha256 %s, the version says %d bytes, sha256 %s", ErrInvalidRecord, rec.Id, size, got, rec.Size, rec.Sha256)
		}
		versions, err := moduleVersions(txn, rec.Name)
		if err != nil {
			return err
		}
		active, err := txn.First(tableModuleActive, "id", rec.Name)
		if err != nil {
			return err
		}
		// Every check passed: the writes start here.
		rec.CreateIndex, rec.ModifyIndex = idx, idx
		if err := txn.Insert(tableModules, rec); err != nil {
			return err
		}
		res = &pb.ModuleCommitResult{Version: rec}
		activeVersion := ""
		if active != nil {
			activeVersion = active.(*pb.ModuleActive).Version
		} else if c.ActivateIfNone {
			activeVersion = rec.Version
			if err := txn.Insert(tableModuleActive, &pb.ModuleActive{Name: rec.Name, Version: rec.Version,
				UpdatedAtUnixNano: at, CreateIndex: idx, ModifyIndex: idx}); err != nil {
				return err
			}
			if err := bumpIndex(txn, tableModuleActive, idx); err != nil {
				return err
			}
		}
		if c.HistoryLimit > 0 {
			excess := len(versions) + 1 - int(c.HistoryLimit)
			ckpt, err := checkpointPins(txn, rec.Name)
			if err != nil {
				return err
			}
			for _, old := range versions { // oldest first
				if excess <= 0 {
					break
				}
				if old.Version == activeVersion || slices.Contains(c.Protected, old.Version) || len(ckpt[old.Version]) > 0 {
					continue
				}
				if err := txn.Delete(tableModules, old); err != nil {
					return err
				}
				res.Evicted = append(res.Evicted, old.Id)
				excess--
			}
		}
		if err := gcChunks(txn, idx, at, c.GcGraceNanos); err != nil {
			return err
		}
		return bumpIndex(txn, tableModules, idx)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ModuleDelete removes a stored version; the active version and one a
// checkpoint names are refused (the leader refuses one a spec pins before
// proposing).
func (s *Store) ModuleDelete(idx uint64, at int64, c *pb.ModuleDeleteCommand) error {
	id := ModuleID(c.Name, c.Version)
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableModules, "id", id)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: module %s", ErrNotFound, id)
		}
		if a, err := txn.First(tableModuleActive, "id", c.Name); err != nil {
			return err
		} else if a != nil && a.(*pb.ModuleActive).Version == c.Version {
			return fmt.Errorf("%w: module %s is the active version of %s", ErrInUse, id, c.Name)
		}
		if pins, err := checkpointPins(txn, c.Name); err != nil {
			return err
		} else if ids := pins[c.Version]; len(ids) > 0 {
			return pinnedByCheckpoints(id, ids)
		}
		if err := txn.Delete(tableModules, raw); err != nil {
			return err
		}
		if err := gcChunks(txn, idx, at, c.GcGraceNanos); err != nil {
			return err
		}
		return bumpIndex(txn, tableModules, idx)
	})
}

// ModuleActivate makes a stored version the active one of its name.
func (s *Store) ModuleActivate(idx uint64, at int64, c *pb.ModuleActivateCommand) error {
	id := ModuleID(c.Name, c.Version)
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableModules, "id", id)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: module %s", ErrNotFound, id)
		}
		rec := &pb.ModuleActive{Name: c.Name, Version: c.Version, UpdatedAtUnixNano: at, CreateIndex: idx, ModifyIndex: idx}
		if old, err := txn.First(tableModuleActive, "id", c.Name); err != nil {
			return err
		} else if old != nil {
			rec.CreateIndex = old.(*pb.ModuleActive).CreateIndex
		}
		if err := txn.Insert(tableModuleActive, rec); err != nil {
			return err
		}
		return bumpIndex(txn, tableModuleActive, idx)
	})
}

// gcChunks drops the chunks no version refers to that were staged more
// than grace before at (grace 0: none). Chunks of a push still under way
// are younger than the grace period.
func gcChunks(txn *memdb.Txn, idx uint64, at, grace int64) error {
	if grace <= 0 {
		return nil
	}
	used := map[string]bool{}
	it, err := txn.Get(tableModules, "id")
	if err != nil {
		return err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		for _, k := range raw.(*pb.ModuleVersion).Chunks {
			used[k] = true
		}
	}
	cit, err := txn.Get(tableModuleChunks, "id")
	if err != nil {
		return err
	}
	var drop []*pb.ModuleChunk
	for raw := cit.Next(); raw != nil; raw = cit.Next() {
		c := raw.(*pb.ModuleChunk)
		if !used[c.Sha256] && c.StagedAtUnixNano < at-grace {
			drop = append(drop, c)
		}
	}
	for _, c := range drop {
		if err := txn.Delete(tableModuleChunks, c); err != nil {
			return err
		}
	}
	if len(drop) > 0 {
		return bumpIndex(txn, tableModuleChunks, idx)
	}
	return nil
}

func moduleVersions(txn *memdb.Txn, name string) ([]*pb.ModuleVersion, error) {
	it, err := txn.Get(tableModules, "name", name)
	if err != nil {
		return nil, err
	}
	var out []*pb.ModuleVersion
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ModuleVersion))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex < out[j].CreateIndex })
	return out, nil
}

// ModuleVersions lists a name's stored versions, oldest first, and the
// modules table's index.
func (s *Store) ModuleVersions(ws memdb.WatchSet, name string) (uint64, []*pb.ModuleVersion, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableModules, "name", name)
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	out, err := moduleVersions(txn, name)
	return maxIndex(txn, tableModules, tableModuleActive), out, err
}

// AllModuleVersions lists every stored version, by name then oldest first.
func (s *Store) AllModuleVersions(ws memdb.WatchSet) (uint64, []*pb.ModuleVersion, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableModules, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.ModuleVersion
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ModuleVersion))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].CreateIndex < out[j].CreateIndex
	})
	return maxIndex(txn, tableModules, tableModuleActive), out, nil
}

// ModuleVersion returns one stored version, or nil.
func (s *Store) ModuleVersion(name, version string) (*pb.ModuleVersion, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableModules, "id", ModuleID(name, version))
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.ModuleVersion), nil
}

// ModuleActive returns a module's active version record, or nil.
func (s *Store) ModuleActive(name string) (*pb.ModuleActive, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableModuleActive, "id", name)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.ModuleActive), nil
}

// ModuleActives returns every module's active version record, by name,
// watching the table: what a node converges its processes to.
func (s *Store) ModuleActives(ws memdb.WatchSet) ([]*pb.ModuleActive, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableModuleActive, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.ModuleActive
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ModuleActive))
	}
	return out, nil
}

// ModuleChunkStored reports whether a chunk (hex SHA-256) is stored.
func (s *Store) ModuleChunkStored(key string) (bool, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableModuleChunks, "id", key)
	return raw != nil, err
}

// ModuleStoredBytes is what every stored chunk takes (bytes).
func (s *Store) ModuleStoredBytes() (uint64, error) {
	txn := s.read()
	defer txn.Abort()
	return chunkBytes(txn)
}

// ModuleData reassembles a stored version's binary and checks it against
// its SHA-256.
func (s *Store) ModuleData(v *pb.ModuleVersion) ([]byte, error) {
	txn := s.read()
	defer txn.Abort()
	var buf bytes.Buffer
	for _, key := range v.Chunks {
		raw, err := txn.First(tableModuleChunks, "id", key)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			return nil, fmt.Errorf("%w: chunk %s of module %s", ErrNotFound, key, v.Id)
		}
		buf.Write(raw.(*pb.ModuleChunk).Data)
	}
	sum := sha256.Sum256(buf.Bytes())
	if hex.EncodeToString(sum[:]) != v.Sha256 {
		return nil, fmt.Errorf("%w: module %s does not match its sha256", ErrInvalidRecord, v.Id)
	}
	return buf.Bytes(), nil
}
