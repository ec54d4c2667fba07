package state

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// Checkpoints: the active versions of a set of modules at one committed
// point, and optionally the exported states of the workers running them
// (hotcode/checkpoint). The leader gathers the record and carries its
// limits (how many checkpoints, how many state bytes) in the command;
// Apply checks what no version changes: an id, unique id and name, each
// named version stored, each process with a pid of a named module, the
// sizes within the command's limits. A checkpoint pins the versions it
// names: ModuleCommit does not evict them and ModuleDelete refuses them
// while it exists.

const tableCheckpoints = "checkpoints"

func init() {
	registerTable(tableDef{
		tag: 17,
		schema: &memdb.TableSchema{
			Name: tableCheckpoints,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.CheckpointRecord) },
	})
}

// CheckpointCreate stores a checkpoint and returns the stored record (its
// modules sorted by name, its processes by node and pid, state_bytes
// counted here).
func (s *Store) CheckpointCreate(idx uint64, at int64, c *pb.CheckpointCreateCommand) (*pb.CheckpointRecord, error) {
	if c.Checkpoint == nil || c.Checkpoint.Id == "" {
		return nil, fmt.Errorf("%w: a checkpoint needs an id", ErrInvalidRecord)
	}
	rec := proto.Clone(c.Checkpoint).(*pb.CheckpointRecord)
	if len(rec.Modules) == 0 {
		return nil, fmt.Errorf("%w: checkpoint %s names no module", ErrInvalidRecord, rec.Id)
	}
	sort.Slice(rec.Modules, func(i, j int) bool { return rec.Modules[i].Name < rec.Modules[j].Name })
	names := map[string]bool{}
	for i, m := range rec.Modules {
		if m == nil || m.Name == "" || m.Version == "" {
			return nil, fmt.Errorf("%w: checkpoint %s: module %d needs a name and a version", ErrInvalidRecord, rec.Id, i)
		}
		if names[m.Name] {
			return nil, fmt.Errorf("%w: checkpoint %s names module %s twice", ErrInvalidRecord, rec.Id, m.Name)
		}
		names[m.Name] = true
	}
	if len(rec.Processes) > 0 && !rec.WithState {
		return nil, fmt.Errorf("%w: checkpoint %s has processes but no states", ErrInvalidRecord, rec.Id)
	}
	sort.Slice(rec.Processes, func(i, j int) bool {
		a, b := rec.Processes[i], rec.Processes[j]
		if a.GetNode() != b.GetNode() {
			return a.GetNode() < b.GetNode()
		}
		return a.GetPid() < b.GetPid()
	})
	var total uint64
	for i, p := range rec.Processes {
		if p == nil || p.Pid == "" || p.Node == "" {
			return nil, fmt.Errorf("%w: checkpoint %s: process %d needs a pid and a node", ErrInvalidRecord, rec.Id, i)
		}
		if i > 0 && rec.Processes[i-1].Pid == p.Pid {
			return nil, fmt.Errorf("%w: checkpoint %s lists process %s twice", ErrInvalidRecord, rec.Id, p.Pid)
		}
		if !names[p.Module] {
			return nil, fmt.Errorf("%w: checkpoint %s: process %s runs module %q, which the checkpoint does not name", ErrInvalidRecord, rec.Id, p.Pid, p.Module)
		}
		n := uint64(len(p.State))
		if n > c.MaxProcessStateBytes {
			return nil, fmt.Errorf("%w: checkpoint %s: the state of %s is %d bytes, the limit is %d per process", ErrLimit, rec.Id, p.Pid, n, c.MaxProcessStateBytes)
		}
		p.StateBytes = n
		total += n
	}
	if total > c.MaxStateBytes {
		return nil, fmt.Errorf("%w: checkpoint %s: the states take %d bytes, the limit is %d per checkpoint", ErrLimit, rec.Id, total, c.MaxStateBytes)
	}
	rec.StateBytes = total
	rec.CreatedAtUnixNano, rec.CreateIndex, rec.ModifyIndex = at, idx, idx
	err := s.write(func(txn *memdb.Txn) error {
		all, err := checkpoints(txn)
		if err != nil {
			return err
		}
		for _, old := range all {
			if old.Id == rec.Id {
				return fmt.Errorf("%w: checkpoint %s exists", ErrInvalidRecord, rec.Id)
			}
			if rec.Name != "" && (old.Name == rec.Name || old.Id == rec.Name) {
				return fmt.Errorf("%w: checkpoint %s is already named %q", ErrInvalidRecord, old.Id, rec.Name)
			}
		}
		if uint32(len(all)) >= c.MaxCheckpoints {
			return fmt.Errorf("%w: %d checkpoints are kept, the limit is %d; delete one first", ErrLimit, len(all), c.MaxCheckpoints)
		}
		for _, m := range rec.Modules {
			raw, err := txn.First(tableModules, "id", ModuleID(m.Name, m.Version))
			if err != nil {
				return err
			}
			if raw == nil {
				return fmt.Errorf("%w: checkpoint %s: module %s is not stored", ErrNotFound, rec.Id, ModuleID(m.Name, m.Version))
			}
			m.Sha256 = raw.(*pb.ModuleVersion).Sha256
		}
		if err := txn.Insert(tableCheckpoints, rec); err != nil {
			return err
		}
		return bumpIndex(txn, tableCheckpoints, idx)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// CheckpointDelete removes a checkpoint (by id), unpinning its versions.
func (s *Store) CheckpointDelete(idx uint64, c *pb.CheckpointDeleteCommand) error {
	return s.write(func(txn *memdb.Txn) error {
		return deleteByID(txn, tableCheckpoints, c.Id, idx, fmt.Errorf("%w: no checkpoint %q", ErrNotFound, c.Id))
	})
}

func checkpoints(txn *memdb.Txn) ([]*pb.CheckpointRecord, error) {
	it, err := txn.Get(tableCheckpoints, "id")
	if err != nil {
		return nil, err
	}
	var out []*pb.CheckpointRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.CheckpointRecord))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateIndex != out[j].CreateIndex {
			return out[i].CreateIndex < out[j].CreateIndex
		}
		return out[i].Id < out[j].Id
	})
	return out, nil
}

// Checkpoints lists the checkpoints, oldest first, and the table's index.
// The records are the store's: callers must not change them.
func (s *Store) Checkpoints(ws memdb.WatchSet) (uint64, []*pb.CheckpointRecord, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableCheckpoints, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	out, err := checkpoints(txn)
	return maxIndex(txn, tableCheckpoints), out, err
}

// Checkpoint returns the checkpoint with this id, or else this name, or
// nil.
func (s *Store) Checkpoint(idOrName string) (*pb.CheckpointRecord, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableCheckpoints, "id", idOrName)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		return raw.(*pb.CheckpointRecord), nil
	}
	all, err := checkpoints(txn)
	if err != nil || idOrName == "" {
		return nil, err
	}
	for _, c := range all {
		if c.Name == idOrName {
			return c, nil
		}
	}
	return nil, nil
}

// checkpointPins maps each version of module a checkpoint names to the
// checkpoints, oldest first.
func checkpointPins(txn *memdb.Txn, module string) (map[string][]string, error) {
	all, err := checkpoints(txn)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, c := range all {
		for _, m := range c.Modules {
			if m.Name == module {
				out[m.Version] = append(out[m.Version], c.Id)
			}
		}
	}
	return out, nil
}

// CheckpointPins maps each version of module a checkpoint names to the
// checkpoints naming it, oldest first.
func (s *Store) CheckpointPins(module string) (map[string][]string, error) {
	txn := s.read()
	defer txn.Abort()
	return checkpointPins(txn, module)
}

func pinnedByCheckpoints(id string, ids []string) error {
	return fmt.Errorf("%w: module %s is in use: checkpoint %s names it (delete the checkpoint first)", ErrInUse, id, strings.Join(ids, ", checkpoint "))
}
