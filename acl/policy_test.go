package acl

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHCLAndJSONAgree(t *testing.T) {
	h, err := Parse(`
kv_prefix "" { policy = "read" }
kv_prefix "app/" { policy = "write" }
process_prefix "n1" { policy = "write" }
operator = "read"
acl = "deny"
`)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse(`{"kv_prefix": {"": {"policy": "read"}, "app/": {"policy": "write"}},
		"process_prefix": {"n1": {"policy": "write"}}, "operator": "read", "acl": "deny"}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Policy{h, j} {
		kv := p.Prefixes[ResourceKV]
		if len(kv) != 2 || kv[0] != (PrefixRule{"", AccessRead}) || kv[1] != (PrefixRule{"app/", AccessWrite}) {
			t.Errorf("kv rules = %v", kv)
		}
		if pr := p.Prefixes[ResourceProcess]; len(pr) != 1 || pr[0] != (PrefixRule{"n1", AccessWrite}) {
			t.Errorf("process rules = %v", pr)
		}
		if p.Scalars[ResourceOperator] != AccessRead || p.Scalars[ResourceACL] != AccessDeny {
			t.Errorf("scalars = %v", p.Scalars)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	cases := []struct{ rules, want string }{
		{`kv_prefix "a" { policy = "admin" }`, `kv_prefix["a"].policy: "admin" is not a policy; use read, write or deny`},
		{`key_prefix "a" { policy = "read" }`, `key_prefix`},
		{"kv_prefix \"a\" {\n policy = \"read\"\n extra = 1\n}", `kv_prefix["a"]: rules.hcl:3,2-7: Unsupported argument`},
		{`kv_prefix "a" { }`, `kv_prefix["a"]`},
		{`kv_prefix "a" { policy = "read" }
kv_prefix "a" { policy = "write" }`, `kv_prefix["a"].policy: prefix "a" is given twice`},
		{`operator = "sudo"`, `operator: "sudo" is not a policy`},
		{`{"kv_prefix": {"a": {"policy": "read", "x": 1}}}`, `kv_prefix["a"].x`},
		{`{"kv_prefix": {"a": {}}}`, `kv_prefix["a"].policy: required`},
		{`{"nodes": "read"}`, `nodes`},
		{`{"plan": 3}`, `plan`},
		{`kv_prefix "a" {`, `invalid acl input`},
		{strings.Repeat(" ", MaxRulesBytes+1), `limit is 65536`},
	}
	for _, tc := range cases {
		_, err := Parse(tc.rules)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v; want an ErrInvalid naming %q", tc.rules, err, tc.want)
		}
	}
}

func TestValidatePolicyName(t *testing.T) {
	for _, ok := range []string{"a", "kv-read", "ops_1.2"} {
		if err := ValidatePolicyName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a b", "a/b", strings.Repeat("a", MaxNameLen+1)} {
		if err := ValidatePolicyName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}

func mustParse(t *testing.T, rules string) *Policy {
	t.Helper()
	p, err := Parse(rules)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthorizer(t *testing.T) {
	a := NewAuthorizer([]*Policy{
		mustParse(t, `kv_prefix "" { policy = "read" }
kv_prefix "app/" { policy = "write" }
kv_prefix "app/secret/" { policy = "deny" }
process_prefix "n1" { policy = "write" }
plan = "read"`),
		mustParse(t, `kv_prefix "app/" { policy = "deny" }
kv_prefix "other/" { policy = "write" }
plan = "write"
snapshot = "write"
module = "deny"`),
		mustParse(t, `module = "write"`),
	}, false)
	cases := []struct {
		res, name string
		write     bool
		want      bool
	}{
		{ResourceKV, "x", false, true},
		{ResourceKV, "x", true, false},
		{ResourceKV, "app/x", false, false}, // equal prefix "app/": deny wins over write
		{ResourceKV, "other/x", true, true},
		{ResourceKV, "app/secret/k", false, false},
		{ResourceProcess, "n1", true, true},
		{ResourceProcess, "n10", true, true}, // a prefix
		{ResourceProcess, "n2", false, false},
		{ResourcePlan, "", true, true}, // write over read
		{ResourceSnapshot, "", false, true},
		{ResourceModule, "", false, false}, // deny wins
		{ResourceOperator, "", false, false},
		{ResourceACL, "", false, false},
		{ResourceNone, "", true, true},
	}
	for _, tc := range cases {
		if got := a.Allowed(tc.res, tc.name, tc.write); got != tc.want {
			t.Errorf("Allowed(%s, %q, write=%v) = %v, want %v", tc.res, tc.name, tc.write, got, tc.want)
		}
	}
	if a.AllowedUnder(ResourceKV, "", false) {
		t.Error("a read of every key allowed though app/ is denied")
	}
	if !a.AllowedUnder(ResourceKV, "other/", true) {
		t.Error("write under other/ refused")
	}
}

func TestAuthorizerDefaults(t *testing.T) {
	allow := NewAuthorizer([]*Policy{mustParse(t, `kv_prefix "secret/" { policy = "deny" }`)}, true)
	if !allow.Allowed(ResourceKV, "x", true) || allow.Allowed(ResourceKV, "secret/x", false) {
		t.Error("default allow: no rule must allow, deny must deny")
	}
	if allow.Allowed(ResourceACL, "", false) {
		t.Error("default allow granted acl")
	}
	deny := NewAuthorizer(nil, false)
	for _, res := range []string{ResourceKV, ResourceTree, ResourceProcess, ResourcePlan, ResourceOperator, ResourceACL} {
		if deny.Allowed(res, "x", false) {
			t.Errorf("default deny allowed %s read", res)
		}
	}
	m := ManagementAuthorizer()
	if !m.Allowed(ResourceACL, "", true) || !m.AllowedUnder(ResourceKV, "", true) {
		t.Error("management refused")
	}
}
