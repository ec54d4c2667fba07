package acl

import (
	"errors"
	"reflect"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
)

// FuzzParsePolicy: the policy language (HCL or JSON rules, as an operator
// or an API caller sends them) never panics; a refusal wraps ErrInvalid;
// an accepted policy parses the same twice and an authorizer built from it
// answers for any resource and name.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		`kv_prefix "" { policy = "read" }`,
		"kv_prefix \"app/\" { policy = \"write\" }\nkv_prefix \"app/secret/\" { policy = \"deny\" }\nplan = \"write\"\noperator = \"read\"\nacl = \"deny\"\n",
		`tree_prefix "web" { policy = "write" }` + "\n" + `process_prefix "n1" { policy = "write" }` + "\n" + `sandbox_prefix "exp-" { policy = "write" }` + "\n" + `node_prefix "" { policy = "read" }`,
		`{"kv_prefix": {"": {"policy": "read"}, "app/": {"policy": "write"}}, "process_prefix": {"n1": {"policy": "write"}}, "operator": "read"}`,
		`kv_prefix "a" { policy = "read" }` + "\n" + `kv_prefix "a" { policy = "write" }`,
		`kv_prefix "" { policy = "admin" }`,
		`{"kv_prefix": {"": {"policy": 7}}}`,
		`{"kv_prefix": [[[[[[[[]]]]]]]]}`,
		`unknown = "read"`,
		"",
	} {
		fuzzseed.Add(f, s, "app/x")
	}
	resources := []string{ResourceKV, ResourceTree, ResourceProcess, ResourceSandbox, ResourceNode, ResourcePlan,
		ResourceSnapshot, ResourceModule, ResourceDeployment, ResourceOperator, ResourceACL}
	f.Fuzz(func(t *testing.T, rules, name string) {
		p, err := Parse(rules)
		if err != nil {
			if p != nil {
				t.Fatal("a policy and an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refused with %v, not an ErrInvalid", err)
			}
			return
		}
		again, err := Parse(rules)
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("the same rules parse twice differently: %+v / %+v (%v)", p, again, err)
		}
		for _, allow := range []bool{false, true} {
			a := NewAuthorizer([]*Policy{p}, allow)
			for _, res := range resources {
				w := a.Allowed(res, name, true)
				if w && !a.Allowed(res, name, false) {
					t.Fatalf("%s: write on %q granted without read", res, name)
				}
				_ = a.AllowedUnder(res, name, false)
			}
		}
	})
}
