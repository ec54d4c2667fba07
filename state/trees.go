package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"

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

// DecodeTree decodes a committed spec for a reader that acts on it (a
// reconciler, a health check, the leader preparing a change): the spec
// package's parse of its canonical JSON, with the rules of this binary.
// TreeApply never calls it: a replica must not refuse what another
// accepted, and a node that cannot decode a committed spec reports so
// where it acts.
func DecodeTree(rec *pb.TreeRecord) (*spec.Tree, error) {
	t, err := spec.Parse(rec.SpecJson, "spec.json")
	if err != nil {
		return nil, fmt.Errorf("%w: tree %q: %v", ErrInvalidRecord, rec.Name, err)
	}
	return t, nil
}

// specName reads the "name" member of a spec document. The document is
// the spec package's canonical JSON (spec.CanonicalTree), a format of its
// own that the spec package versions; TreeApply keeps it as opaque bytes
// and reads only this member, which every version of the format has: a
// JSON object whose "name" is the tree's name. Other members, known or
// not, and their values are not looked at, so a spec from a newer leader
// with fields or values this binary does not know applies here as there.
func specName(doc []byte) (string, error) {
	// The tokens, not a decode into a map (which built every member's raw
	// value: a restore's 4,000-child specs spent 12 ms each here, on every
	// replica): the whole document is still read and checked, and it
	// reads as encoding/json's Unmarshal into a map would (duplicate
	// members, the last one winning; invalid UTF-8 replaced; a null
	// document with no members), which FuzzSpecNameAgreesWithEncodingJSON
	// checks, so that no replica refuses what another accepts.
	dec := jsontext.NewDecoder(bytes.NewReader(doc), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	tok, err := dec.ReadToken()
	if err != nil {
		return "", err
	}
	var name string
	var found bool
	var nameErr error
	switch tok.Kind() {
	case 'n':
	case '{':
		// PeekKind is 0 on a syntax error, which ReadToken then returns.
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return "", err
			}
			if k.String() != "name" {
				if err := dec.SkipValue(); err != nil {
					return "", err
				}
				continue
			}
			found = true
			switch dec.PeekKind() {
			case '"':
				v, err := dec.ReadToken()
				if err != nil {
					return "", err
				}
				name, nameErr = v.String(), nil
			case 'n':
				if _, err := dec.ReadToken(); err != nil {
					return "", err
				}
				name, nameErr = "", nil
			default:
				if err := dec.SkipValue(); err != nil {
					return "", err
				}
				nameErr = errors.New(`"name": not a string`)
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("a spec document is a JSON object, not %s", tok.Kind())
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return "", fmt.Errorf("data after the spec document: %v", err)
	}
	if !found {
		return "", errors.New(`no "name" member`)
	}
	return name, nameErr
}

// TreeApply records a tree's desired state. The leader parsed, normalized
// and validated the spec before proposing it (field sets, limits and
// behavior names are its rules, which change between versions); here only
// what no version changes is checked: the record names a tree, is placed
// on a node (not "auto", which the leader resolves), and holds a spec
// document of the same name; then the check-and-set.
func (s *Store) TreeApply(idx uint64, rec *pb.TreeRecord, cas *uint64) (*pb.TreeRecord, error) {
	if rec == nil || rec.Name == "" {
		return nil, fmt.Errorf("%w: tree has no name", ErrInvalidRecord)
	}
	if rec.Node == "" || rec.Node == "auto" {
		return nil, fmt.Errorf("%w: tree %q is not placed on a node", ErrInvalidRecord, rec.Name)
	}
	name, err := specName(rec.SpecJson)
	if err != nil {
		return nil, fmt.Errorf("%w: tree %q: the spec is not a JSON object with a name: %v", ErrInvalidRecord, rec.Name, err)
	}
	if name != rec.Name {
		return nil, fmt.Errorf("%w: record %q holds the spec of tree %q", ErrInvalidRecord, rec.Name, name)
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
		if sb, err := txn.First(tableSandboxes, "id", rec.Name); err != nil {
			return err
		} else if sb != nil {
			return fmt.Errorf("%w: %q is a sandbox; a tree cannot take its name", ErrInvalidRecord, rec.Name)
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
		return deleteByID(txn, tableTrees, name, idx, fmt.Errorf("%w: tree %q", ErrNotFound, name))
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
