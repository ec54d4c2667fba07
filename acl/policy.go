package acl

import (
	"bytes"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/hcldoc"
	"github.com/steward/steward/internal/strictjson"
)

// Limits of policies and tokens, checked by the leader before it proposes.
const (
	// MaxRulesBytes bounds a policy's rules text (bytes).
	MaxRulesBytes = 64 << 10
	// MaxRulesPerPolicy bounds the prefix rules of one policy.
	MaxRulesPerPolicy = 1000
	// MaxPolicies bounds the policies the cluster stores.
	MaxPolicies = 1000
	// MaxTokens bounds the tokens the cluster stores.
	MaxTokens = 10000
	// MaxTokenPolicies bounds the policies one token names.
	MaxTokenPolicies = 32
	// MaxDescription bounds a policy's or token's description (bytes).
	MaxDescription = 256
	// MaxNameLen bounds a policy name (bytes).
	MaxNameLen = 128
	// MaxTokenTTL bounds a token's time to live; a TTL of 0 is no
	// expiration.
	MaxTokenTTL = 10 * 365 * 24 * time.Hour

	maxNesting = 16
)

// Access is what a rule grants. The zero value is "no rule".
type Access int

const (
	AccessNone Access = iota
	AccessDeny
	AccessRead
	AccessWrite
)

func (a Access) String() string {
	switch a {
	case AccessDeny:
		return "deny"
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	}
	return "none"
}

func parseAccess(s string) (Access, bool) {
	switch s {
	case "deny":
		return AccessDeny, true
	case "read":
		return AccessRead, true
	case "write":
		return AccessWrite, true
	}
	return AccessNone, false
}

// PrefixRule grants Access on the names that start with Prefix.
type PrefixRule struct {
	Prefix string
	Access Access
}

// Policy is a parsed set of rules.
type Policy struct {
	// Prefix rules per resource (ResourceKV, ResourceTree, ResourceProcess,
	// ResourceSandbox, ResourceNode), in document order.
	Prefixes map[string][]PrefixRule
	// Rules of the resources without names (ResourcePlan, ResourceSnapshot,
	// ResourceModule, ResourceDeployment, ResourceOperator, ResourceACL).
	Scalars map[string]Access
}

// prefixBlocks maps a policy's block type to its resource.
var prefixBlocks = map[string]string{
	"kv_prefix":      ResourceKV,
	"tree_prefix":    ResourceTree,
	"process_prefix": ResourceProcess,
	"sandbox_prefix": ResourceSandbox,
	"node_prefix":    ResourceNode,
}

var prefixBlockOrder = []string{"kv_prefix", "tree_prefix", "process_prefix", "sandbox_prefix", "node_prefix"}

// scalarAttrs are the resources a policy sets as an attribute.
var scalarAttrs = []string{ResourcePlan, ResourceSnapshot, ResourceModule, ResourceDeployment, ResourceOperator, ResourceACL}

var policyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidatePolicyName checks a policy's name: 1 to MaxNameLen letters,
// digits, '_', '.', '-', starting with a letter or digit.
func ValidatePolicyName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: a policy needs a name", ErrInvalid)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: policy name is %d bytes, the limit is %d", ErrInvalid, len(name), MaxNameLen)
	}
	if !policyNameRE.MatchString(name) {
		return fmt.Errorf("%w: policy name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// Parse reads a policy's rules, HCL or JSON (a document whose first
// non-blank byte is '{' is JSON):
//
//	kv_prefix "app/" { policy = "write" }
//	kv_prefix ""     { policy = "read" }
//	process_prefix "n1" { policy = "write" }
//	operator = "read"
//
// JSON: {"kv_prefix": {"app/": {"policy": "write"}}, "operator": "read"}.
// Every problem is reported at its field path (kv_prefix["app/"].policy);
// unknown fields are refused. Errors wrap ErrInvalid.
func Parse(rules string) (*Policy, error) {
	if len(rules) > MaxRulesBytes {
		return nil, fmt.Errorf("%w: rules are %d bytes, the limit is %d", ErrInvalid, len(rules), MaxRulesBytes)
	}
	data := []byte(rules)
	var ps fielderr.List
	r := fielderr.Reporter{List: &ps, Kind: ErrInvalid}
	p := &Policy{Prefixes: map[string][]PrefixRule{}, Scalars: map[string]Access{}}
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		v, err := strictjson.Parse(data, maxNesting)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		policyFromJSON(r, p, v)
	} else {
		body, err := hcldoc.Parse(data, "rules.hcl", maxNesting)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		policyFromHCL(r, p, body)
	}
	n := 0
	for _, rs := range p.Prefixes {
		n += len(rs)
	}
	if n > MaxRulesPerPolicy {
		r.Report("", "%d prefix rules, the limit is %d", n, MaxRulesPerPolicy)
	}
	if err := ps.Err(ErrInvalid); err != nil {
		return nil, err
	}
	return p, nil
}

func policyFromHCL(r fielderr.Reporter, p *Policy, body hcl.Body) {
	sch := &hcl.BodySchema{}
	for _, a := range scalarAttrs {
		sch.Attributes = append(sch.Attributes, hcl.AttributeSchema{Name: a})
	}
	for _, b := range prefixBlockOrder {
		sch.Blocks = append(sch.Blocks, hcl.BlockHeaderSchema{Type: b, LabelNames: []string{"prefix"}})
	}
	content := hcldoc.Content(r, "", body, sch)
	for _, a := range hcldoc.Attrs(content.Attributes) {
		var s string
		hcldoc.Decode(r, a.Name, a, &s)
		setScalar(r, p, a.Name, a.Name, s)
	}
	blockSch := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "policy", Required: true}}}
	for _, b := range content.Blocks {
		path := fmt.Sprintf("%s[%q]", b.Type, b.Labels[0])
		bc := hcldoc.Content(r, path, b.Body, blockSch)
		a, ok := bc.Attributes["policy"]
		if !ok {
			continue
		}
		var s string
		hcldoc.Decode(r, path+".policy", a, &s)
		addPrefix(r, p, prefixBlocks[b.Type], b.Labels[0], path+".policy", s)
	}
}

func policyFromJSON(r fielderr.Reporter, p *Policy, v *strictjson.Value) {
	if v.Kind != strictjson.Object {
		r.Report("", "expected a JSON object, got %s", v.Kind)
		return
	}
	known := append(append([]string(nil), scalarAttrs...), prefixBlockOrder...)
	strictjson.Fields(r, v, "", known, func(key, path string, val *strictjson.Value) {
		res, isPrefix := prefixBlocks[key]
		if !isPrefix {
			setScalar(r, p, key, path, strictjson.Str(r, path, val))
			return
		}
		if val.Kind != strictjson.Object {
			r.Report(path, "expected an object of prefix to {\"policy\": ...}, got %s", val.Kind)
			return
		}
		for i, prefix := range val.Keys {
			pp := fmt.Sprintf("%s[%q]", key, prefix)
			rule := val.Vals[i]
			if rule.Kind != strictjson.Object {
				r.Report(pp, "expected an object {\"policy\": ...}, got %s", rule.Kind)
				continue
			}
			seen := false
			strictjson.Fields(r, rule, pp, []string{"policy"}, func(_, fp string, pv *strictjson.Value) {
				seen = true
				addPrefix(r, p, res, prefix, fp, strictjson.Str(r, fp, pv))
			})
			if !seen {
				r.Report(pp+".policy", "required")
			}
		}
	})
}

func setScalar(r fielderr.Reporter, p *Policy, res, path, s string) {
	a, ok := parseAccess(s)
	if !ok {
		r.Report(path, "%q is not a policy; use read, write or deny", s)
		return
	}
	p.Scalars[res] = a
}

func addPrefix(r fielderr.Reporter, p *Policy, res, prefix, path, s string) {
	a, ok := parseAccess(s)
	if !ok {
		r.Report(path, "%q is not a policy; use read, write or deny", s)
		return
	}
	for _, old := range p.Prefixes[res] {
		if old.Prefix == prefix {
			r.Report(path, "prefix %q is given twice", prefix)
			return
		}
	}
	p.Prefixes[res] = append(p.Prefixes[res], PrefixRule{Prefix: prefix, Access: a})
}
