package acl

// Authorizer decides what one token may do: the rules of all its policies
// merged, and the default for what no rule covers.
//
// For a named resource (kv key, tree, process's node, sandbox, node) the
// rule with the longest prefix of the name wins; among rules of equal
// prefix (from different policies) deny wins, else the higher grant.
// For the other resources deny in any policy wins, else the higher grant.
// write implies read. What no rule covers gets the default policy: deny,
// or write under default_policy "allow" — except the acl resource, which
// is never granted by default.
type Authorizer struct {
	management   bool
	defaultAllow bool
	prefixes     map[string][]PrefixRule
	scalars      map[string]Access
}

// ManagementAuthorizer may do everything (the bootstrap token).
func ManagementAuthorizer() *Authorizer { return &Authorizer{management: true} }

// NewAuthorizer merges policies; defaultAllow is default_policy "allow".
func NewAuthorizer(policies []*Policy, defaultAllow bool) *Authorizer {
	a := &Authorizer{defaultAllow: defaultAllow, prefixes: map[string][]PrefixRule{}, scalars: map[string]Access{}}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for res, rs := range p.Prefixes {
			a.prefixes[res] = append(a.prefixes[res], rs...)
		}
		for res, acc := range p.Scalars {
			a.scalars[res] = merge(a.scalars[res], acc)
		}
	}
	return a
}

// merge combines two rules of equal weight: deny wins, else the higher.
func merge(a, b Access) Access {
	if a == AccessDeny || b == AccessDeny {
		return AccessDeny
	}
	return max(a, b)
}

func (a *Authorizer) fallback(resource string) Access {
	if a.defaultAllow && resource != ResourceACL {
		return AccessWrite
	}
	return AccessDeny
}

// Access is what the token holds on resource's name (name is ignored for
// resources without names).
func (a *Authorizer) Access(resource, name string) Access {
	if a.management || resource == ResourceNone {
		return AccessWrite
	}
	if _, named := prefixResources[resource]; !named {
		if acc := a.scalars[resource]; acc != AccessNone {
			return acc
		}
		return a.fallback(resource)
	}
	best, bestLen := AccessNone, -1
	for _, r := range a.prefixes[resource] {
		if len(r.Prefix) > len(name) || name[:len(r.Prefix)] != r.Prefix {
			continue
		}
		switch {
		case len(r.Prefix) > bestLen:
			best, bestLen = r.Access, len(r.Prefix)
		case len(r.Prefix) == bestLen:
			best = merge(best, r.Access)
		}
	}
	if best == AccessNone {
		return a.fallback(resource)
	}
	return best
}

// Allowed reports whether the token may read (or write) resource's name.
func (a *Authorizer) Allowed(resource, name string, write bool) bool {
	return grants(a.Access(resource, name), write)
}

// AllowedUnder reports whether the token may read (or write) every name
// that starts with prefix: what a list of prefix needs. It holds when the
// access at prefix itself grants it and no longer rule under prefix takes
// it away.
func (a *Authorizer) AllowedUnder(resource, prefix string, write bool) bool {
	if !a.Allowed(resource, prefix, write) {
		return false
	}
	if a.management {
		return true
	}
	for _, r := range a.prefixes[resource] {
		if len(r.Prefix) > len(prefix) && r.Prefix[:len(prefix)] == prefix && !a.Allowed(resource, r.Prefix, write) {
			return false
		}
	}
	return true
}

// IsManagement reports the management token's authorizer.
func (a *Authorizer) IsManagement() bool { return a.management }

func grants(acc Access, write bool) bool {
	if write {
		return acc == AccessWrite
	}
	return acc == AccessRead || acc == AccessWrite
}

// prefixResources are the resources whose rules go by name prefix.
var prefixResources = map[string]bool{
	ResourceKV: true, ResourceTree: true, ResourceProcess: true, ResourceSandbox: true, ResourceNode: true,
}
