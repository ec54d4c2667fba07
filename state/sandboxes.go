package state

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// Sandboxes and their creation groups (sandbox/manager). A sandbox is a
// supervision tree its node runs under a policy; it is created only as
// part of a group (an experiment, or a group of one for a sandbox created
// alone), all of whose sandboxes are committed in one entry. Each node
// reports whether the sandbox placed on it runs (SANDBOX_STATUS, about one
// placement); a pending group becomes running when every part runs and is
// failed, with every sandbox of it removed, when one part fails or the
// leader aborts it (deadline, lost node). Apply checks what no version
// changes: names, placement on a node, the spec document naming the
// sandbox, names unique among sandboxes and trees, the command's limits.
// The policy document is opaque here; nodes parse it where they act.

const (
	tableSandboxes   = "sandboxes"
	tableExperiments = "experiments"
)

// Sandbox statuses (SandboxRecord.status) and group statuses
// (ExperimentRecord.status).
const (
	SandboxPending    = "pending"
	SandboxRunning    = "running"
	SandboxFailed     = "failed"
	SandboxTerminated = "terminated"

	ExperimentPending = "pending"
	ExperimentRunning = "running"
	ExperimentFailed  = "failed"
)

// ErrSandboxState: a report or control the sandbox's or group's state does
// not allow (a stale status report, an abort of a running group).
var ErrSandboxState = errors.New("not possible in the sandbox's state")

func init() {
	domainErrors = append(domainErrors, &ErrSandboxState)
	registerTable(tableDef{
		tag: 18,
		schema: &memdb.TableSchema{
			Name: tableSandboxes,
			Indexes: map[string]*memdb.IndexSchema{
				"id":         {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
				"node":       {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node"}},
				"experiment": {Name: "experiment", Indexer: &memdb.StringFieldIndex{Field: "Experiment"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.SandboxRecord) },
	})
	registerTable(tableDef{
		tag: 19,
		schema: &memdb.TableSchema{
			Name: tableExperiments,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ExperimentRecord) },
	})
}

// ExperimentCreate commits a group and its sandboxes, all or none.
func (s *Store) ExperimentCreate(idx uint64, at int64, c *pb.ExperimentCreateCommand) (*pb.ExperimentRecord, error) {
	if c.Experiment == nil || c.Experiment.Id == "" {
		return nil, fmt.Errorf("%w: an experiment needs an id", ErrInvalidRecord)
	}
	if len(c.Sandboxes) == 0 {
		return nil, fmt.Errorf("%w: experiment %s has no sandbox", ErrInvalidRecord, c.Experiment.Id)
	}
	if standalone(c.Experiment) && len(c.Sandboxes) != 1 {
		return nil, fmt.Errorf("%w: a standalone group has one sandbox, not %d", ErrInvalidRecord, len(c.Sandboxes))
	}
	exp := proto.Clone(c.Experiment).(*pb.ExperimentRecord)
	exp.Parts = nil
	var recs []*pb.SandboxRecord
	seen := map[string]bool{}
	perNode := map[string]int{}
	for i, in := range c.Sandboxes {
		if in == nil || in.Name == "" {
			return nil, fmt.Errorf("%w: experiment %s: sandbox %d has no name", ErrInvalidRecord, exp.Id, i)
		}
		if seen[in.Name] {
			return nil, fmt.Errorf("%w: experiment %s names sandbox %q twice", ErrInvalidRecord, exp.Id, in.Name)
		}
		seen[in.Name] = true
		if in.Node == "" || in.Node == "auto" {
			return nil, fmt.Errorf("%w: sandbox %q is not placed on a node", ErrInvalidRecord, in.Name)
		}
		name, err := specName(in.SpecJson)
		if err != nil {
			return nil, fmt.Errorf("%w: sandbox %q: the spec is not a JSON object with a name: %v", ErrInvalidRecord, in.Name, err)
		}
		if name != in.Name {
			return nil, fmt.Errorf("%w: sandbox %q holds the spec of tree %q", ErrInvalidRecord, in.Name, name)
		}
		if len(in.PolicyJson) == 0 {
			return nil, fmt.Errorf("%w: sandbox %q has no policy", ErrInvalidRecord, in.Name)
		}
		r := proto.Clone(in).(*pb.SandboxRecord)
		r.Experiment = exp.Id
		r.Status, r.Reason, r.StatusIndex, r.StatusAtUnixNano = SandboxPending, "", 0, 0
		r.PlacedIndex, r.CreateIndex, r.ModifyIndex, r.CreatedAtUnixNano = idx, idx, idx, at
		recs = append(recs, r)
		perNode[r.Node]++
		exp.Parts = append(exp.Parts, &pb.ExperimentPart{Sandbox: r.Name, Node: r.Node, Status: SandboxPending})
	}
	exp.Status, exp.Reason, exp.EndedAtUnixNano = ExperimentPending, "", 0
	exp.CreatedAtUnixNano, exp.CreateIndex, exp.ModifyIndex = at, idx, idx
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableExperiments, "id", exp.Id)
		if err != nil {
			return err
		}
		if raw != nil {
			return fmt.Errorf("%w: experiment %s exists", ErrInvalidRecord, exp.Id)
		}
		all, err := experiments(txn)
		if err != nil {
			return err
		}
		for _, old := range all {
			if exp.Name != "" && !old.Standalone && old.Status != ExperimentFailed && (old.Name == exp.Name || old.Id == exp.Name) {
				return fmt.Errorf("%w: experiment %s is already named %q", ErrInvalidRecord, old.Id, exp.Name)
			}
		}
		total := 0
		it, err := txn.Get(tableSandboxes, "id")
		if err != nil {
			return err
		}
		existing := map[string]int{}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			total++
			existing[raw.(*pb.SandboxRecord).Node]++
		}
		if c.MaxSandboxes > 0 && total+len(recs) > int(c.MaxSandboxes) {
			return fmt.Errorf("%w: %d sandboxes exist, %d more would pass the limit of %d", ErrLimit, total, len(recs), c.MaxSandboxes)
		}
		nodes := make([]string, 0, len(perNode))
		for n := range perNode {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		for _, n := range nodes {
			if c.MaxSandboxesPerNode > 0 && existing[n]+perNode[n] > int(c.MaxSandboxesPerNode) {
				return fmt.Errorf("%w: node %s runs %d sandboxes, %d more would pass the limit of %d per node", ErrLimit, n, existing[n], perNode[n], c.MaxSandboxesPerNode)
			}
		}
		for _, r := range recs {
			for _, table := range []string{tableSandboxes, tableTrees} {
				raw, err := txn.First(table, "id", r.Name)
				if err != nil {
					return err
				}
				if raw != nil {
					what := "a sandbox"
					if table == tableTrees {
						what = "a tree"
					}
					return fmt.Errorf("%w: %s named %q exists", ErrInvalidRecord, what, r.Name)
				}
			}
		}
		for _, r := range recs {
			if err := txn.Insert(tableSandboxes, r); err != nil {
				return err
			}
		}
		if err := txn.Insert(tableExperiments, exp); err != nil {
			return err
		}
		if err := pruneFailedGroups(txn, all, c.MaxFailedKept); err != nil {
			return err
		}
		if err := bumpIndex(txn, tableSandboxes, idx); err != nil {
			return err
		}
		return bumpIndex(txn, tableExperiments, idx)
	})
	if err != nil {
		return nil, err
	}
	return exp, nil
}

// standalone reports whether a group is one sandbox created on its own.
func standalone(e *pb.ExperimentRecord) bool { return e != nil && e.Standalone }

// pruneFailedGroups deletes the oldest failed groups past keep (0: keep
// all). all is the list before the new group was inserted.
func pruneFailedGroups(txn *memdb.Txn, all []*pb.ExperimentRecord, keep uint32) error {
	if keep == 0 {
		return nil
	}
	var failed []*pb.ExperimentRecord
	for _, e := range all {
		if e.Status == ExperimentFailed {
			failed = append(failed, e)
		}
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].ModifyIndex < failed[j].ModifyIndex })
	for len(failed) > int(keep) {
		if err := txn.Delete(tableExperiments, failed[0]); err != nil {
			return err
		}
		failed = failed[1:]
	}
	return nil
}

func experiments(txn *memdb.Txn) ([]*pb.ExperimentRecord, error) {
	it, err := txn.Get(tableExperiments, "id")
	if err != nil {
		return nil, err
	}
	var out []*pb.ExperimentRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ExperimentRecord))
	}
	return out, nil
}

// SandboxStatus records a node's report on its sandbox's placement. A
// failed part of a pending group fails the group and removes its
// sandboxes; the last part to run makes the group running.
func (s *Store) SandboxStatus(idx uint64, at int64, c *pb.SandboxStatusCommand) (*pb.SandboxRecord, error) {
	switch c.Status {
	case SandboxRunning, SandboxFailed, SandboxTerminated:
	default:
		return nil, fmt.Errorf("%w: sandbox %q: status %q is not running, failed or terminated", ErrInvalidRecord, c.Name, c.Status)
	}
	var out *pb.SandboxRecord
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableSandboxes, "id", c.Name)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: sandbox %q", ErrNotFound, c.Name)
		}
		old := raw.(*pb.SandboxRecord)
		if old.Node != c.Node || old.PlacedIndex != c.PlacedIndex {
			return fmt.Errorf("%w: sandbox %q: a report from %s about placement %d, the sandbox is placed on %s at %d",
				ErrSandboxState, c.Name, c.Node, c.PlacedIndex, old.Node, old.PlacedIndex)
		}
		if old.Status == c.Status && old.StatusIndex == c.PlacedIndex && old.Reason == c.Reason {
			out = old
			return nil
		}
		r := proto.Clone(old).(*pb.SandboxRecord)
		r.Status, r.Reason, r.StatusIndex, r.StatusAtUnixNano, r.ModifyIndex = c.Status, c.Reason, c.PlacedIndex, at, idx
		out = r
		exp, err := experiment(txn, r.Experiment)
		if err != nil {
			return err
		}
		if exp != nil && exp.Status == ExperimentPending && c.Status != SandboxRunning {
			// A part failed before all were up: the group fails whole.
			return failGroup(txn, idx, at, exp, fmt.Sprintf("sandbox %s on node %s %s: %s", r.Name, r.Node, c.Status, c.Reason), r)
		}
		if err := txn.Insert(tableSandboxes, r); err != nil {
			return err
		}
		if err := updatePart(txn, idx, exp, r); err != nil {
			return err
		}
		return bumpIndex(txn, tableSandboxes, idx)
	})
	return out, err
}

// updatePart records r's node and status as its part of group exp (nil:
// none); the last part to run makes a pending group running.
func updatePart(txn *memdb.Txn, idx uint64, exp *pb.ExperimentRecord, r *pb.SandboxRecord) error {
	if exp == nil {
		return nil
	}
	e := proto.Clone(exp).(*pb.ExperimentRecord)
	running := true
	for _, p := range e.Parts {
		if p.Sandbox == r.Name {
			p.Node, p.Status, p.Reason = r.Node, r.Status, r.Reason
		}
		if p.Status != SandboxRunning {
			running = false
		}
	}
	if e.Status == ExperimentPending && running {
		e.Status = ExperimentRunning
	}
	e.ModifyIndex = idx
	if err := txn.Insert(tableExperiments, e); err != nil {
		return err
	}
	return bumpIndex(txn, tableExperiments, idx)
}

func experiment(txn *memdb.Txn, id string) (*pb.ExperimentRecord, error) {
	if id == "" {
		return nil, nil
	}
	raw, err := txn.First(tableExperiments, "id", id)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.ExperimentRecord), nil
}

// failGroup removes every sandbox of a group and marks it failed with
// reason; last is the part whose report failed it (nil: an abort).
func failGroup(txn *memdb.Txn, idx uint64, at int64, exp *pb.ExperimentRecord, reason string, last *pb.SandboxRecord) error {
	e := proto.Clone(exp).(*pb.ExperimentRecord)
	if _, err := deleteGroupSandboxes(txn, e.Id); err != nil {
		return err
	}
	for _, p := range e.Parts {
		if last != nil && p.Sandbox == last.Name {
			p.Node, p.Status, p.Reason = last.Node, last.Status, last.Reason
		} else if p.Status != SandboxFailed {
			p.Status = "removed"
		}
	}
	e.Status, e.Reason, e.EndedAtUnixNano, e.ModifyIndex = ExperimentFailed, reason, at, idx
	if err := txn.Insert(tableExperiments, e); err != nil {
		return err
	}
	if err := bumpIndex(txn, tableExperiments, idx); err != nil {
		return err
	}
	return bumpIndex(txn, tableSandboxes, idx)
}

// deleteGroupSandboxes deletes every sandbox of group id and returns their
// names, in name order.
func deleteGroupSandboxes(txn *memdb.Txn, id string) ([]string, error) {
	it, err := txn.Get(tableSandboxes, "experiment", id)
	if err != nil {
		return nil, err
	}
	var doomed []*pb.SandboxRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		doomed = append(doomed, raw.(*pb.SandboxRecord))
	}
	names := make([]string, 0, len(doomed))
	for _, r := range doomed {
		names = append(names, r.Name)
		if err := txn.Delete(tableSandboxes, r); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// SandboxPlace moves a sandbox to another node: a new placement, pending
// until that node reports.
func (s *Store) SandboxPlace(idx uint64, c *pb.SandboxPlaceCommand) (*pb.SandboxRecord, error) {
	if c.Node == "" || c.Node == "auto" {
		return nil, fmt.Errorf("%w: sandbox %q is not placed on a node", ErrInvalidRecord, c.Name)
	}
	var out *pb.SandboxRecord
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableSandboxes, "id", c.Name)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: sandbox %q", ErrNotFound, c.Name)
		}
		old := raw.(*pb.SandboxRecord)
		if old.ModifyIndex != c.Cas {
			return fmt.Errorf("%w: sandbox %q is at modify index %d, not %d", ErrCASConflict, c.Name, old.ModifyIndex, c.Cas)
		}
		r := proto.Clone(old).(*pb.SandboxRecord)
		r.Node, r.PlacedIndex, r.ModifyIndex = c.Node, idx, idx
		r.Status, r.Reason = SandboxPending, ""
		if err := txn.Insert(tableSandboxes, r); err != nil {
			return err
		}
		out = r
		exp, err := experiment(txn, r.Experiment)
		if err != nil {
			return err
		}
		if err := updatePart(txn, idx, exp, r); err != nil {
			return err
		}
		return bumpIndex(txn, tableSandboxes, idx)
	})
	return out, err
}

// ExperimentAbort fails a pending group and removes its sandboxes.
func (s *Store) ExperimentAbort(idx uint64, at int64, c *pb.ExperimentAbortCommand) (*pb.ExperimentRecord, error) {
	var out *pb.ExperimentRecord
	err := s.write(func(txn *memdb.Txn) error {
		exp, err := experiment(txn, c.Id)
		if err != nil {
			return err
		}
		if exp == nil {
			return fmt.Errorf("%w: experiment %s", ErrNotFound, c.Id)
		}
		if exp.Status != ExperimentPending {
			return fmt.Errorf("%w: experiment %s is %s, only a pending one is aborted", ErrSandboxState, c.Id, exp.Status)
		}
		if err := failGroup(txn, idx, at, exp, c.Reason, nil); err != nil {
			return err
		}
		out, err = experiment(txn, c.Id)
		return err
	})
	return out, err
}

// ExperimentDelete removes a group and every sandbox of it; it returns
// the removed sandboxes' names.
func (s *Store) ExperimentDelete(idx uint64, c *pb.ExperimentDeleteCommand) ([]string, error) {
	var removed []string
	err := s.write(func(txn *memdb.Txn) error {
		exp, err := experiment(txn, c.Id)
		if err != nil {
			return err
		}
		if exp == nil {
			return fmt.Errorf("%w: experiment %s", ErrNotFound, c.Id)
		}
		if removed, err = deleteGroupSandboxes(txn, exp.Id); err != nil {
			return err
		}
		if err := txn.Delete(tableExperiments, exp); err != nil {
			return err
		}
		if err := bumpIndex(txn, tableSandboxes, idx); err != nil {
			return err
		}
		return bumpIndex(txn, tableExperiments, idx)
	})
	return removed, err
}

// Sandbox returns one sandbox, or nil.
func (s *Store) Sandbox(name string) (*pb.SandboxRecord, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableSandboxes, "id", name)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.SandboxRecord), nil
}

// Sandboxes returns every sandbox (node == "") or those of one node, by
// name, with the table's index.
func (s *Store) Sandboxes(ws memdb.WatchSet, node string) (uint64, []*pb.SandboxRecord, error) {
	txn := s.read()
	defer txn.Abort()
	idx := maxIndex(txn, tableSandboxes)
	var it memdb.ResultIterator
	var err error
	if node == "" {
		it, err = txn.Get(tableSandboxes, "id")
	} else {
		it, err = txn.Get(tableSandboxes, "node", node)
	}
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	var out []*pb.SandboxRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.SandboxRecord))
	}
	return idx, out, nil
}

// Experiment returns one group by id, or by name (among those not
// standalone), or nil.
func (s *Store) Experiment(ws memdb.WatchSet, idOrName string) (*pb.ExperimentRecord, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableExperiments, "id")
	if err != nil {
		return nil, err
	}
	ws.Add(it.WatchCh())
	var byName *pb.ExperimentRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*pb.ExperimentRecord)
		if e.Id == idOrName {
			return e, nil
		}
		if e.Name == idOrName && !e.Standalone && (byName == nil || e.CreateIndex > byName.CreateIndex) {
			byName = e
		}
	}
	return byName, nil
}

// Experiments returns every group, oldest first, with the table's index.
func (s *Store) Experiments(ws memdb.WatchSet) (uint64, []*pb.ExperimentRecord, error) {
	txn := s.read()
	defer txn.Abort()
	all, err := experiments(txn)
	if err != nil {
		return 0, nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreateIndex < all[j].CreateIndex })
	it, err := txn.Get(tableExperiments, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	return maxIndex(txn, tableExperiments), all, nil
}
