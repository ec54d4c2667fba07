package state

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// The trusted module signing keys: ed25519 public keys, by name. The
// leader checks the name's form and the number of keys (its limit travels
// in the command); Apply checks what no version changes: a name, a key of
// ed25519's size, one key per name and one name per key.

const tableModuleTrust = "module_trust"

func init() {
	registerTable(tableDef{
		tag: 15,
		schema: &memdb.TableSchema{
			Name: tableModuleTrust,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ModuleTrustedKey) },
	})
}

// ModuleTrustAdd trusts a signing key and returns the stored record. The
// same name with the same key again changes nothing (the record stored
// before is returned); another key under a trusted name, a key already
// trusted under another name, or a key beyond the command's limit is
// refused.
func (s *Store) ModuleTrustAdd(idx uint64, at int64, c *pb.ModuleTrustAddCommand) (*pb.ModuleTrustedKey, error) {
	k := c.Key
	if k == nil || k.Name == "" {
		return nil, fmt.Errorf("%w: a trusted key needs a name", ErrInvalidRecord)
	}
	if len(k.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: trusted key %q is %d bytes, an ed25519 public key is %d", ErrInvalidRecord, k.Name, len(k.PublicKey), ed25519.PublicKeySize)
	}
	var out *pb.ModuleTrustedKey
	err := s.write(func(txn *memdb.Txn) error {
		keys, err := trustedKeys(txn)
		if err != nil {
			return err
		}
		for _, old := range keys {
			switch {
			case old.Name == k.Name && bytes.Equal(old.PublicKey, k.PublicKey):
				out = old
				return nil
			case old.Name == k.Name:
				return fmt.Errorf("%w: a trusted key named %q has another public key; remove it first", ErrInvalidRecord, k.Name)
			case bytes.Equal(old.PublicKey, k.PublicKey):
				return fmt.Errorf("%w: this public key is already trusted as %q", ErrInvalidRecord, old.Name)
			}
		}
		if uint32(len(keys)) >= c.MaxKeys {
			return fmt.Errorf("%w: %d signing keys are trusted, the limit is %d", ErrLimit, len(keys), c.MaxKeys)
		}
		rec := &pb.ModuleTrustedKey{Name: k.Name, PublicKey: bytes.Clone(k.PublicKey), AddedBy: k.AddedBy,
			AddedAtUnixNano: at, CreateIndex: idx, ModifyIndex: idx}
		if err := txn.Insert(tableModuleTrust, rec); err != nil {
			return err
		}
		out = rec
		return bumpIndex(txn, tableModuleTrust, idx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ModuleTrustRemove stops trusting a key.
func (s *Store) ModuleTrustRemove(idx uint64, c *pb.ModuleTrustRemoveCommand) error {
	return s.write(func(txn *memdb.Txn) error {
		return deleteByID(txn, tableModuleTrust, c.Name, idx, fmt.Errorf("%w: no trusted key is named %q", ErrNotFound, c.Name))
	})
}

func trustedKeys(txn *memdb.Txn) ([]*pb.ModuleTrustedKey, error) {
	it, err := txn.Get(tableModuleTrust, "id")
	if err != nil {
		return nil, err
	}
	var out []*pb.ModuleTrustedKey
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ModuleTrustedKey))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ModuleTrustedKeys lists the trusted signing keys by name, and the
// table's index.
func (s *Store) ModuleTrustedKeys(ws memdb.WatchSet) (uint64, []*pb.ModuleTrustedKey, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableModuleTrust, "id")
	if err != nil {
		return 0, nil, err
	}
	ws.Add(it.WatchCh())
	out, err := trustedKeys(txn)
	return maxIndex(txn, tableModuleTrust), out, err
}
