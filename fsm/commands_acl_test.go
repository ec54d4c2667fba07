package fsm

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

func aclHash(b byte) string { return strings.Repeat(string("0123456789abcdef"[b%16]), 64) }

func aclToken(accessor string, b byte, policies ...string) *pb.ACLToken {
	return &pb.ACLToken{AccessorId: accessor, SecretHash: aclHash(b), Description: "t " + accessor, Policies: policies}
}

// goldenACL adds the ACL commands (issue 12): a bootstrap and the second
// one refused, a policy, a token naming it, a policy in use not deleted,
// the refusals no version changes, a revoke.
func goldenACL(g *goldenLog, invalid, notFound string) {
	const ok = outcomeOK
	boot := &pb.ACLBootstrapCommand{Token: &pb.ACLToken{AccessorId: "00000000-0000-4000-8000-000000000001", SecretHash: aclHash(1), Description: "bootstrap"}}
	g.add("acl bootstrap", ok, pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, boot)
	again := &pb.ACLBootstrapCommand{Token: &pb.ACLToken{AccessorId: "00000000-0000-4000-8000-000000000002", SecretHash: aclHash(2)}}
	g.add("acl bootstrap a second time", "state.ErrACLBootstrapped", pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, again)
	pol := &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "kv-read", Description: "read kv", Rules: `kv_prefix "" { policy = "read" }`}, MaxPolicies: 1000}
	g.add("acl policy upsert kv-read", ok, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, pol)
	g.add("acl policy upsert of a policy without a name", invalid, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{}, MaxPolicies: 1000})
	g.add("acl policy upsert beyond the limit", "state.ErrLimit", pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT,
		&pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "ops", Rules: `operator = "write"`}, MaxPolicies: 1})
	g.add("acl policy upsert ops", ok, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT,
		&pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "ops", Rules: `operator = "write"`}, MaxPolicies: 1000})
	tok := &pb.ACLTokenUpsertCommand{Token: aclToken("00000000-0000-4000-8000-000000000003", 3, "kv-read"), MaxTokens: 10000}
	g.add("acl token upsert with kv-read", ok, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, tok)
	g.add("acl token upsert naming a policy that does not exist", notFound, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		&pb.ACLTokenUpsertCommand{Token: aclToken("00000000-0000-4000-8000-000000000004", 4, "nope"), MaxTokens: 10000})
	g.add("acl token upsert with a short secret hash", invalid, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		&pb.ACLTokenUpsertCommand{Token: &pb.ACLToken{AccessorId: "x", SecretHash: "ab"}, MaxTokens: 10000})
	g.add("acl token upsert reusing a secret", invalid, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		&pb.ACLTokenUpsertCommand{Token: aclToken("00000000-0000-4000-8000-000000000005", 3), MaxTokens: 10000})
	g.add("acl token upsert of a management token", invalid, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		&pb.ACLTokenUpsertCommand{Token: &pb.ACLToken{AccessorId: "00000000-0000-4000-8000-000000000006", SecretHash: aclHash(6), Management: true}, MaxTokens: 10000})
	g.add("acl policy delete of a policy in use", "state.ErrInUse", pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE, &pb.ACLPolicyDeleteCommand{Name: "kv-read"})
	g.add("acl policy delete ops", ok, pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE, &pb.ACLPolicyDeleteCommand{Name: "ops"})
	g.add("acl policy delete of an unknown policy", notFound, pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE, &pb.ACLPolicyDeleteCommand{Name: "ops"})
	g.add("acl token upsert: the token's description changes", ok, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		&pb.ACLTokenUpsertCommand{Token: &pb.ACLToken{AccessorId: "00000000-0000-4000-8000-000000000003", SecretHash: aclHash(3), Description: "readers", Policies: []string{"kv-read"}}, MaxTokens: 10000})
	g.add("acl token upsert: second token", ok, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT,
		&pb.ACLTokenUpsertCommand{Token: aclToken("00000000-0000-4000-8000-000000000007", 7, "kv-read"), MaxTokens: 10000})
	g.add("acl token delete", ok, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_DELETE, &pb.ACLTokenDeleteCommand{AccessorId: "00000000-0000-4000-8000-000000000007"})
	g.add("acl token delete of an unknown token", notFound, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_DELETE, &pb.ACLTokenDeleteCommand{AccessorId: "00000000-0000-4000-8000-000000000007"})
}

// ACL commands through Apply: malformed payloads and refused records give
// the same error on two replicas, without a panic or a state change;
// bootstrap succeeds once; the tables survive a snapshot and restore.
func TestApplyACL(t *testing.T) {
	f, g := newFSM(t, nil), newFSM(t, nil)
	both := func(idx uint64, data []byte) (*Result, *Result) { return apply(f, idx, data), apply(g, idx, data) }
	boot := entry(t, pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, &pb.ACLBootstrapCommand{Token: &pb.ACLToken{AccessorId: "a1", SecretHash: aclHash(1), Policies: []string{"ignored"}}})
	r, _ := both(1, boot)
	tok, ok := r.Value.(*pb.ACLToken)
	if r.Err != nil || !ok || !tok.Management || len(tok.Policies) != 0 || tok.CreateIndex != 1 || tok.CreateTimeUnixNano != 100e9 {
		t.Fatalf("bootstrap: %+v %#v", r, r.Value)
	}
	bad := []struct {
		data []byte
		want error
		text string
	}{
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, &pb.ACLBootstrapCommand{Token: &pb.ACLToken{AccessorId: "a2", SecretHash: aclHash(2)}}), state.ErrACLBootstrapped, "at index 1 (token a1)"},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, Payload: []byte{0x0a, 0xff}}), ErrMalformedCommand, ""},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, Payload: []byte{0xff}}), ErrMalformedCommand, ""},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, Payload: []byte{0x0a, 0x03, 0x0a}}), ErrMalformedCommand, ""},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_ACL_TOKEN_DELETE, Payload: []byte{0x0a, 0x05}}), ErrMalformedCommand, ""},
		{mustMarshal(t, &pb.LogEntry{Type: pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE, Payload: []byte{0x12}}), ErrMalformedCommand, ""},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_BOOTSTRAP, &pb.ACLBootstrapCommand{}), state.ErrInvalidRecord, "no token"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, &pb.ACLPolicyUpsertCommand{}), state.ErrInvalidRecord, "needs a name"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "p"}}), state.ErrLimit, "the limit is 0"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{}), state.ErrInvalidRecord, "no token"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{Token: &pb.ACLToken{SecretHash: aclHash(5)}, MaxTokens: 9}), state.ErrInvalidRecord, "accessor"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{Token: aclToken("a1", 5), MaxTokens: 9}), state.ErrInvalidRecord, "secret cannot change"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{Token: aclToken("a1", 1), MaxTokens: 9}), state.ErrInvalidRecord, "management token"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{Token: aclToken("a3", 3), MaxTokens: 1}), state.ErrLimit, "the limit is 1"},
		{entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_DELETE, &pb.ACLTokenDeleteCommand{AccessorId: "zz"}), state.ErrNotFound, `"zz"`},
	}
	for i, b := range bad {
		ra, rb := both(uint64(i+2), b.data)
		if !errors.Is(ra.Err, b.want) || !strings.Contains(ra.Err.Error(), b.text) {
			t.Errorf("input %d: %v, want %v naming %q", i, ra.Err, b.want, b.text)
		}
		if rb.Err == nil || ra.Err.Error() != rb.Err.Error() {
			t.Errorf("input %d: replicas disagree: %v vs %v", i, ra.Err, rb.Err)
		}
	}
	if f.State().LatestIndex() != 1 || f.Halted() != nil || g.Halted() != nil {
		t.Fatalf("refused commands changed the state (index %d) or halted (%v)", f.State().LatestIndex(), f.Halted())
	}
	idx := uint64(len(bad) + 2)
	if r, _ := both(idx, entry(t, pb.CommandType_COMMAND_TYPE_ACL_POLICY_UPSERT, &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "p", Rules: `plan = "read"`}, MaxPolicies: 5})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r, _ := both(idx+1, entry(t, pb.CommandType_COMMAND_TYPE_ACL_TOKEN_UPSERT, &pb.ACLTokenUpsertCommand{Token: aclToken("a3", 3, "p"), MaxTokens: 5})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r, _ := both(idx+2, entry(t, pb.CommandType_COMMAND_TYPE_ACL_POLICY_DELETE, &pb.ACLPolicyDeleteCommand{Name: "p"})); !errors.Is(r.Err, state.ErrInUse) || !strings.Contains(r.Err.Error(), "used by token a3") {
		t.Fatalf("delete of a policy in use: %v", r.Err)
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	h := newFSM(t, nil)
	if err := h.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	got, err := h.State().ACLTokenBySecretHash(aclHash(3))
	if err != nil || got == nil || got.AccessorId != "a3" || len(got.Policies) != 1 {
		t.Fatalf("restored token by secret: %v %v", got, err)
	}
	if done, _ := h.State().ACLBootstrapped(); !done {
		t.Fatal("restored state forgot the bootstrap")
	}
	if r := apply(h, idx+3, boot); !errors.Is(r.Err, state.ErrACLBootstrapped) {
		t.Fatalf("bootstrap after restore: %v", r.Err)
	}
}
