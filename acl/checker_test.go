package acl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/metadata"
)

type fakeSource struct {
	st    *state.Store
	trees map[string]string
}

func (f fakeSource) LocalNode() string           { return "n1" }
func (f fakeSource) TreeNode(tree string) string { return f.trees[tree] }
func (f fakeSource) State() *state.Store         { return f.st }
func (f fakeSource) IsLeader() bool              { return true }

func newSource(t *testing.T) fakeSource {
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	return fakeSource{st: st, trees: map[string]string{"web": "n2"}}
}

func TestNeeds(t *testing.T) {
	src := newSource(t)
	exp := []byte(`name = "ab"
sandbox "a" {
  node = "n1"
  tree {
    child "w" { behavior = "echo" }
  }
}
sandbox "b" {
  node = "n2"
  tree {
    child "w" { behavior = "echo" }
  }
}
`)
	cases := []struct {
		method string
		req    any
		want   string
	}{
		{"/steward.v1.KV/Put", &pb.KVPutRequest{Key: "a/b"}, `[kv write on "a/b"]`},
		{"/steward.v1.KV/List", &pb.KVListRequest{Prefix: "a/"}, `[kv read on every name under "a/"]`},
		{"/steward.v1.KV/Delete", &pb.KVDeleteRequest{Key: "a/", Prefix: true}, `[kv write on every name under "a/"]`},
		{"/steward.v1.Runtime/Kill", &pb.KillRequest{Ref: &pb.ProcessRef{Pid: "n3/17"}}, `[process write on "n3"]`},
		{"/steward.v1.Runtime/Kill", &pb.KillRequest{Ref: &pb.ProcessRef{Tree: "web", Path: "a"}}, `[process write on "n2"]`},
		{"/steward.v1.Runtime/Kill", &pb.KillRequest{Ref: &pb.ProcessRef{Name: "reg"}}, `[process write on every name]`},
		{"/steward.v1.Runtime/Stats", &pb.StatsRequest{}, `[process read on "n1"]`},
		{"/steward.v1.Runtime/Events", &pb.EventsRequest{}, `[process read on every name]`},
		{"/steward.v1.Supervision/ApplyTree", &pb.ApplyTreeRequest{Spec: []byte("tree \"web\" {\n child \"a\" { behavior = \"echo\" }\n}\n"), Filename: "w.hcl"}, `[tree write on "web"]`},
		{"/steward.v1.Supervision/ApplyTree", &pb.ApplyTreeRequest{Spec: []byte("{{{")}, `[tree write on every name]`},
		{"/steward.v1.Supervision/ListTrees", &pb.ListTreesRequest{}, `[tree read on every name]`},
		{"/steward.v1.Experiments/Create", &pb.CreateExperimentRequest{File: exp, Filename: "e.hcl"}, `[sandbox write on "a" sandbox write on "b"]`},
		{"/steward.v1.Experiments/Status", &pb.GetExperimentRequest{Id: "ab"}, `[sandbox read on every name]`},
		{"/steward.v1.Snapshots/Capture", &pb.CaptureRequest{}, `[snapshot write]`},
		{"/steward.v1.Operator/Backup", &pb.BackupRequest{}, `[operator write]`},
		{"/steward.v1.Internal/Propose", &pb.ProposeRequest{}, `[]`},
		{"/steward.v1.Cluster/Status", &pb.StatusRequest{}, `[]`},
	}
	for _, tc := range cases {
		got := Needs(tc.method, tc.req, src)
		var parts []string
		for _, n := range got {
			parts = append(parts, n.String())
		}
		if s := "[" + strings.Join(parts, " ") + "]"; s != tc.want {
			t.Errorf("Needs(%s, %v) = %s, want %s", tc.method, tc.req, s, tc.want)
		}
	}
}

func secretCtx(secret string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(TokenMetadataKey, secret))
}

// Resolve: an unknown secret and an expired token are refused; a token's
// policies are re-read when they change; the anonymous policy applies to
// callers without a token; the interceptor's refusal names the permission.
func TestCheckerResolve(t *testing.T) {
	src := newSource(t)
	now := time.Unix(1000, 0)
	c, err := NewChecker(src, CheckerConfig{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	st := src.st
	if _, err := st.ACLPolicyUpsert(1, &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "p", Rules: `kv_prefix "a/" { policy = "read" }`}, MaxPolicies: 10}); err != nil {
		t.Fatal(err)
	}
	tok := &pb.ACLToken{AccessorId: "acc-1", SecretHash: HashSecret("s1"), Policies: []string{"p"}, ExpirationTimeUnixNano: time.Unix(2000, 0).UnixNano()}
	if _, err := st.ACLTokenUpsert(2, 0, &pb.ACLTokenUpsertCommand{Token: tok, MaxTokens: 10}); err != nil {
		t.Fatal(err)
	}
	id, err := c.Resolve("s1")
	if err != nil || id.Accessor != "acc-1" || !id.Authorizer.Allowed(ResourceKV, "a/x", false) || id.Authorizer.Allowed(ResourceKV, "a/x", true) {
		t.Fatalf("resolve: %+v %v", id, err)
	}
	if _, err := c.Resolve("nope"); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("unknown secret: %v", err)
	}
	// The policy changes: the next resolve sees it.
	if _, err := st.ACLPolicyUpsert(3, &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: "p", Rules: `kv_prefix "a/" { policy = "write" }`}, MaxPolicies: 10}); err != nil {
		t.Fatal(err)
	}
	if id, _ := c.Resolve("s1"); !id.Authorizer.Allowed(ResourceKV, "a/x", true) {
		t.Fatal("a changed policy was not re-read")
	}
	now = time.Unix(2000, 0)
	if _, err := c.Resolve("s1"); !errors.Is(err, ErrTokenNotFound) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	// Anonymous: nothing, until a policy named anonymous grants it.
	ctx, err := c.authorize(context.Background(), "/steward.v1.KV/Get", &pb.KVGetRequest{Key: "pub/x"}, true)
	if err == nil || !strings.Contains(err.Error(), `permission denied: kv read on "pub/x" (token anonymous)`) {
		t.Fatalf("anonymous get: %v", err)
	}
	if AccessorFromContext(ctx) != AnonymousAccessor {
		t.Fatalf("accessor of a refused anonymous call: %q", AccessorFromContext(ctx))
	}
	if _, err := st.ACLPolicyUpsert(4, &pb.ACLPolicyUpsertCommand{Policy: &pb.ACLPolicy{Name: AnonymousPolicy, Rules: `kv_prefix "pub/" { policy = "read" }`}, MaxPolicies: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.authorize(context.Background(), "/steward.v1.KV/Get", &pb.KVGetRequest{Key: "pub/x"}, true); err != nil {
		t.Fatalf("anonymous get with the anonymous policy: %v", err)
	}
	// The slot an outer interceptor reads after the call.
	slot := WithAccessorSlot(secretCtx("nope"))
	if _, err := c.authorize(slot, "/steward.v1.KV/Get", &pb.KVGetRequest{Key: "pub/x"}, true); err == nil {
		t.Fatal("an unknown token was let through")
	}
	now = time.Unix(1500, 0)
	slot = WithAccessorSlot(secretCtx("s1"))
	if _, err := c.authorize(slot, "/steward.v1.KV/Put", &pb.KVPutRequest{Key: "a/x"}, true); err != nil {
		t.Fatal(err)
	}
	if got := AccessorFromContext(slot); got != "acc-1" {
		t.Fatalf("slot holds %q", got)
	}
	if _, err := c.authorize(context.Background(), "/steward.v1.Nope/X", nil, true); err == nil || !strings.Contains(err.Error(), "not in the ACL table") {
		t.Fatalf("unknown method: %v", err)
	}
}
