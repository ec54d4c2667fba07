package state

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"google.golang.org/protobuf/proto"
)

// ACL tables (package acl): policies by name, tokens by accessor (and by
// the SHA-256 of their secret), and the one bootstrap row. The leader
// parses rules, checks names and limits (the limits travel in the
// command) and makes IDs and secrets; Apply checks only what no version
// changes: required fields, one bootstrap, a token's policies exist, a
// policy in use is not deleted, a token's secret never changes.

const (
	tableACLPolicies  = "acl_policies"
	tableACLTokens    = "acl_tokens"
	tableACLBootstrap = "acl_bootstrap"

	aclBootstrapID = "bootstrap"
)

// ErrACLBootstrapped: ACL_BOOTSTRAP after the cluster's ACLs were
// bootstrapped; it succeeds once.
var ErrACLBootstrapped = errors.New("ACLs already bootstrapped")

func init() {
	registerTable(tableDef{
		tag: 20,
		schema: &memdb.TableSchema{
			Name: tableACLPolicies,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ACLPolicy) },
	})
	registerTable(tableDef{
		tag: 21,
		schema: &memdb.TableSchema{
			Name: tableACLTokens,
			Indexes: map[string]*memdb.IndexSchema{
				"id":     {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "AccessorId"}},
				"secret": {Name: "secret", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "SecretHash"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ACLToken) },
	})
	registerTable(tableDef{
		tag: 22,
		schema: &memdb.TableSchema{
			Name: tableACLBootstrap,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Id"}},
			},
		},
		newRecord: func() proto.Message { return new(pb.ACLBootstrapRecord) },
	})
}

func checkACLToken(t *pb.ACLToken) error {
	switch {
	case t == nil:
		return fmt.Errorf("%w: the command has no token", ErrInvalidRecord)
	case t.AccessorId == "":
		return fmt.Errorf("%w: a token needs an accessor id", ErrInvalidRecord)
	case len(t.SecretHash) != 64:
		return fmt.Errorf("%w: token %s: the secret hash is %d characters, a hex SHA-256 is 64", ErrInvalidRecord, t.AccessorId, len(t.SecretHash))
	}
	return nil
}

// ACLBootstrap stores the management token, once: a second bootstrap is
// refused with ErrACLBootstrapped, whatever became of the first token.
func (s *Store) ACLBootstrap(idx uint64, at int64, c *pb.ACLBootstrapCommand) (*pb.ACLToken, error) {
	if err := checkACLToken(c.Token); err != nil {
		return nil, err
	}
	var out *pb.ACLToken
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableACLBootstrap, "id", aclBootstrapID)
		if err != nil {
			return err
		}
		if raw != nil {
			b := raw.(*pb.ACLBootstrapRecord)
			return fmt.Errorf("%w: at index %d (token %s); ask the holder of a management token", ErrACLBootstrapped, b.CreateIndex, b.AccessorId)
		}
		if err := tokenFree(txn, c.Token); err != nil {
			return err
		}
		tok := proto.Clone(c.Token).(*pb.ACLToken)
		tok.Management, tok.Policies = true, nil
		tok.CreateTimeUnixNano, tok.CreateIndex, tok.ModifyIndex = at, idx, idx
		if err := txn.Insert(tableACLTokens, tok); err != nil {
			return err
		}
		if err := txn.Insert(tableACLBootstrap, &pb.ACLBootstrapRecord{Id: aclBootstrapID, AccessorId: tok.AccessorId, CreateIndex: idx, CreatedAtUnixNano: at}); err != nil {
			return err
		}
		out = tok
		if err := bumpIndex(txn, tableACLTokens, idx); err != nil {
			return err
		}
		return bumpIndex(txn, tableACLBootstrap, idx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tokenFree refuses a new token whose accessor or secret is taken.
func tokenFree(txn *memdb.Txn, t *pb.ACLToken) error {
	if raw, err := txn.First(tableACLTokens, "id", t.AccessorId); err != nil {
		return err
	} else if raw != nil {
		return fmt.Errorf("%w: a token with accessor %s exists", ErrInvalidRecord, t.AccessorId)
	}
	if raw, err := txn.First(tableACLTokens, "secret", t.SecretHash); err != nil {
		return err
	} else if raw != nil {
		return fmt.Errorf("%w: another token has this secret", ErrInvalidRecord)
	}
	return nil
}

// ACLBootstrapped reports whether ACL_BOOTSTRAP was applied.
func (s *Store) ACLBootstrapped() (bool, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableACLBootstrap, "id", aclBootstrapID)
	return raw != nil, err
}

// ACLPolicyUpsert creates or replaces a policy; a new one beyond the
// command's limit is refused.
func (s *Store) ACLPolicyUpsert(idx uint64, c *pb.ACLPolicyUpsertCommand) (*pb.ACLPolicy, error) {
	p := c.Policy
	if p == nil || p.Name == "" {
		return nil, fmt.Errorf("%w: a policy needs a name", ErrInvalidRecord)
	}
	var out *pb.ACLPolicy
	err := s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableACLPolicies, "id", p.Name)
		if err != nil {
			return err
		}
		rec := proto.Clone(p).(*pb.ACLPolicy)
		rec.CreateIndex, rec.ModifyIndex = idx, idx
		if raw != nil {
			rec.CreateIndex = raw.(*pb.ACLPolicy).CreateIndex
		} else {
			n, err := count(txn, tableACLPolicies)
			if err != nil {
				return err
			}
			if n >= int(c.MaxPolicies) {
				return fmt.Errorf("%w: %d ACL policies exist, the limit is %d", ErrLimit, n, c.MaxPolicies)
			}
		}
		if err := txn.Insert(tableACLPolicies, rec); err != nil {
			return err
		}
		out = rec
		return bumpIndex(txn, tableACLPolicies, idx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ACLPolicyDelete deletes a policy no token names; one in use is refused
// with ErrInUse naming (some of) the tokens.
func (s *Store) ACLPolicyDelete(idx uint64, c *pb.ACLPolicyDeleteCommand) error {
	return s.write(func(txn *memdb.Txn) error {
		raw, err := txn.First(tableACLPolicies, "id", c.Name)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w: no ACL policy is named %q", ErrNotFound, c.Name)
		}
		toks, err := aclTokens(txn)
		if err != nil {
			return err
		}
		var users []string
		for _, t := range toks {
			for _, name := range t.Policies {
				if name == c.Name {
					users = append(users, t.AccessorId)
					break
				}
			}
		}
		if len(users) > 0 {
			more := ""
			if len(users) > 5 {
				more = fmt.Sprintf(" and %d more", len(users)-5)
				users = users[:5]
			}
			return fmt.Errorf("%w: ACL policy %q is used by token %s%s; delete those tokens first", ErrInUse, c.Name, strings.Join(users, ", "), more)
		}
		if err := txn.Delete(tableACLPolicies, raw); err != nil {
			return err
		}
		return bumpIndex(txn, tableACLPolicies, idx)
	})
}

// ACLTokenUpsert creates a token or replaces one's description, policies
// and expiration (its secret never changes; a management token is made by
// ACLBootstrap only). Every policy it names must exist.
func (s *Store) ACLTokenUpsert(idx uint64, at int64, c *pb.ACLTokenUpsertCommand) (*pb.ACLToken, error) {
	if err := checkACLToken(c.Token); err != nil {
		return nil, err
	}
	t := c.Token
	if t.Management {
		return nil, fmt.Errorf("%w: token %s: only the bootstrap makes a management token", ErrInvalidRecord, t.AccessorId)
	}
	var out *pb.ACLToken
	err := s.write(func(txn *memdb.Txn) error {
		for _, name := range t.Policies {
			raw, err := txn.First(tableACLPolicies, "id", name)
			if err != nil {
				return err
			}
			if raw == nil {
				return fmt.Errorf("%w: token %s names ACL policy %q, which does not exist", ErrNotFound, t.AccessorId, name)
			}
		}
		rec := proto.Clone(t).(*pb.ACLToken)
		rec.CreateTimeUnixNano, rec.CreateIndex, rec.ModifyIndex = at, idx, idx
		raw, err := txn.First(tableACLTokens, "id", t.AccessorId)
		if err != nil {
			return err
		}
		if raw != nil {
			old := raw.(*pb.ACLToken)
			if old.SecretHash != t.SecretHash {
				return fmt.Errorf("%w: token %s: a token's secret cannot change", ErrInvalidRecord, t.AccessorId)
			}
			if old.Management {
				return fmt.Errorf("%w: token %s is the management token; it cannot be changed", ErrInvalidRecord, t.AccessorId)
			}
			rec.CreateTimeUnixNano, rec.CreateIndex = old.CreateTimeUnixNano, old.CreateIndex
		} else {
			if err := tokenFree(txn, t); err != nil {
				return err
			}
			n, err := count(txn, tableACLTokens)
			if err != nil {
				return err
			}
			if n >= int(c.MaxTokens) {
				return fmt.Errorf("%w: %d ACL tokens exist, the limit is %d", ErrLimit, n, c.MaxTokens)
			}
		}
		if err := txn.Insert(tableACLTokens, rec); err != nil {
			return err
		}
		out = rec
		return bumpIndex(txn, tableACLTokens, idx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ACLTokenDelete revokes a token (the management token too: there is no
// second bootstrap, so keep another token with acl = "write").
func (s *Store) ACLTokenDelete(idx uint64, c *pb.ACLTokenDeleteCommand) error {
	return s.write(func(txn *memdb.Txn) error {
		return deleteByID(txn, tableACLTokens, c.AccessorId, idx, fmt.Errorf("%w: no ACL token has accessor %q", ErrNotFound, c.AccessorId))
	})
}

func count(txn *memdb.Txn, table string) (int, error) {
	it, err := txn.Get(table, "id")
	if err != nil {
		return 0, err
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n, nil
}

func aclTokens(txn *memdb.Txn) ([]*pb.ACLToken, error) {
	it, err := txn.Get(tableACLTokens, "id")
	if err != nil {
		return nil, err
	}
	var out []*pb.ACLToken
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ACLToken))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccessorId < out[j].AccessorId })
	return out, nil
}

// ACLPolicy returns a policy by name, or nil.
func (s *Store) ACLPolicy(name string) (*pb.ACLPolicy, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableACLPolicies, "id", name)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.ACLPolicy), nil
}

// ACLPolicies lists the policies by name, and the table's index.
func (s *Store) ACLPolicies() (uint64, []*pb.ACLPolicy, error) {
	txn := s.read()
	defer txn.Abort()
	it, err := txn.Get(tableACLPolicies, "id")
	if err != nil {
		return 0, nil, err
	}
	var out []*pb.ACLPolicy
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*pb.ACLPolicy))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return maxIndex(txn, tableACLPolicies), out, nil
}

// ACLTokens lists the tokens by accessor, and the table's index.
func (s *Store) ACLTokens() (uint64, []*pb.ACLToken, error) {
	txn := s.read()
	defer txn.Abort()
	out, err := aclTokens(txn)
	return maxIndex(txn, tableACLTokens), out, err
}

// ACLToken returns a token by accessor, or nil.
func (s *Store) ACLToken(accessor string) (*pb.ACLToken, error) {
	txn := s.read()
	defer txn.Abort()
	raw, err := txn.First(tableACLTokens, "id", accessor)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*pb.ACLToken), nil
}

// ACLTokenBySecretHash returns the token whose secret hashes (hex SHA-256)
// to hash, or nil.
func (s *Store) ACLTokenBySecretHash(hash string) (*pb.ACLToken, error) {
	return s.ACLTokenBySecretHashWatch(nil, hash)
}

// ACLTokenBySecretHashWatch is ACLTokenBySecretHash adding to ws (when not
// nil) what fires once the answer may change.
func (s *Store) ACLTokenBySecretHashWatch(ws memdb.WatchSet, hash string) (*pb.ACLToken, error) {
	txn := s.read()
	defer txn.Abort()
	ch, raw, err := txn.FirstWatch(tableACLTokens, "secret", hash)
	if err != nil {
		return nil, err
	}
	if ws != nil {
		ws.Add(ch)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*pb.ACLToken), nil
}
