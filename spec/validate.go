package spec

import (
	"fmt"
	"strings"
	"time"
)

// Validate checks a tree against every rule in the package documentation
// and returns nil or an *Error (wrapping ErrInvalid) listing each problem
// with its field path. Empty fields are read as the defaults Normalize would
// put there, so Validate accepts a tree whether or not it was normalized;
// problems quote the values as written. t itself is not modified.
func Validate(t *Tree, opts ValidateOptions) error {
	var ps problems
	if t == nil {
		ps.add(ErrRequired, "", "no tree")
		return ps.err(ErrInvalid)
	}
	n := t
	v := validator{opts: opts.withDefaults(), ps: &ps, names: map[string]string{}}

	if n.Name == "" {
		ps.add(ErrRequired, "name", "required")
	} else if !validName(n.Name, MaxNameLen) {
		ps.add(ErrBadName, "name", "%q %s", n.Name, nameRule)
	}
	if n.Node != "" && n.Node != NodeAuto && !validName(n.Node, MaxNameLen) {
		ps.add(ErrBadName, "node", "%q is not %q and %s", n.Node, NodeAuto, nameRule)
	}
	v.supervisor("", &n.SupervisorSpec, 0)
	if v.total > v.opts.MaxTotalChildren {
		ps.add(ErrLimit, "children", "the tree has %d children in all, more than the limit of %d", v.total, v.opts.MaxTotalChildren)
	}
	if size := len(CanonicalTree(n)); size > MaxSpecBytes {
		ps.add(ErrLimit, "", "the tree encodes to %d bytes, more than the limit of %d", size, MaxSpecBytes)
	}
	return ps.err(ErrInvalid)
}

// ValidateChild checks one child spec, and its subtree, as Validate checks
// the children of a tree; paths are relative to the child ("restart",
// "children[0].behavior"). It is what a start_child operation uses.
func ValidateChild(c ChildSpec, opts ValidateOptions) error {
	var ps problems
	n := c
	v := validator{opts: opts.withDefaults(), ps: &ps, names: map[string]string{}}
	v.child("", &n, 1, false)
	if v.total+1 > v.opts.MaxTotalChildren {
		ps.add(ErrLimit, "children", "the child has %d descendants, more than the limit of %d", v.total, v.opts.MaxTotalChildren)
	}
	if size := len(Canonical(n)); size > MaxSpecBytes {
		ps.add(ErrLimit, "", "the child encodes to %d bytes, more than the limit of %d", size, MaxSpecBytes)
	}
	return ps.err(ErrInvalid)
}

type validator struct {
	opts  ValidateOptions
	ps    *problems
	total int
	// names maps a registered name to the path that registered it first.
	names map[string]string
}

var (
	strategies = []string{string(OneForOne), string(OneForAll), string(RestForOne), string(SimpleOneForOne)}
	restarts   = []string{string(Permanent), string(Transient), string(Temporary)}
	types      = []string{string(Worker), string(Supervisor)}
)

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func notOneOf(v string, allowed []string) string {
	return fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

// supervisor checks the fields shared by the root and supervisor children.
// depth is the depth of the supervisor itself (0 for the root).
func (v *validator) supervisor(path string, s *SupervisorSpec, depth int) {
	ps := v.ps
	eff := *s
	eff.Children = nil
	normalizeSupervisor(&eff)
	if !oneOf(string(eff.Strategy), strategies) {
		ps.add(ErrBadValue, joinPath(path, "strategy"), "%s", notOneOf(string(s.Strategy), strategies))
	}
	if eff.MaxRestarts < 0 || eff.MaxRestarts > MaxIntensityRestarts {
		ps.add(ErrBadValue, joinPath(path, "max_restarts"), "%d is out of range 0..%d", s.MaxRestarts, MaxIntensityRestarts)
	}
	if eff.MaxSeconds < 1 || eff.MaxSeconds > MaxIntensitySeconds {
		ps.add(ErrBadValue, joinPath(path, "max_seconds"), "%d is out of range 1..%d", s.MaxSeconds, MaxIntensitySeconds)
	}
	if len(s.Children) > v.opts.MaxChildren {
		ps.add(ErrLimit, joinPath(path, "children"), "%d children, more than the limit of %d", len(s.Children), v.opts.MaxChildren)
	}
	if eff.Strategy == SimpleOneForOne && len(s.Children) != 1 {
		ps.add(ErrBadValue, joinPath(path, "children"), "simple_one_for_one needs exactly one child template, got %d", len(s.Children))
	}
	if depth+1 > v.opts.MaxDepth && len(s.Children) > 0 {
		ps.add(ErrLimit, joinPath(path, "children"), "nesting depth %d is more than the limit of %d", depth+1, v.opts.MaxDepth)
		v.total += len(s.Children)
		return
	}
	seen := make(map[string]int, len(s.Children))
	for i := range s.Children {
		c := &s.Children[i]
		cp := indexPath(path, "children", i)
		if c.ID != "" {
			if first, dup := seen[c.ID]; dup {
				ps.add(ErrDuplicate, joinPath(cp, "id"), "duplicate id %q (also %s)", c.ID, indexPath(path, "children", first))
			} else {
				seen[c.ID] = i
			}
		}
		v.total++
		v.child(cp, c, depth+1, eff.Strategy == SimpleOneForOne)
	}
}

// child checks one child at the given depth (1 for the root's children).
func (v *validator) child(path string, c *ChildSpec, depth int, template bool) {
	ps := v.ps
	if c.ID == "" {
		ps.add(ErrRequired, joinPath(path, "id"), "required")
	} else if !validName(c.ID, MaxNameLen) {
		ps.add(ErrBadName, joinPath(path, "id"), "%q %s", c.ID, nameRule)
	}
	typ := c.Type
	if typ == "" {
		typ = Worker
	}
	if !oneOf(string(typ), types) {
		ps.add(ErrBadValue, joinPath(path, "type"), "%s", notOneOf(string(c.Type), types))
	}
	if c.Restart != "" && !oneOf(string(c.Restart), restarts) {
		ps.add(ErrBadValue, joinPath(path, "restart"), "%s", notOneOf(string(c.Restart), restarts))
	}
	if c.Shutdown != "" {
		v.shutdown(joinPath(path, "shutdown"), c.Shutdown)
	}

	switch typ {
	case Worker:
		v.worker(path, c, template)
	case Supervisor:
		if c.Behavior != "" {
			ps.add(ErrFieldMix, joinPath(path, "behavior"), "a supervisor has no behavior")
		}
		if len(c.Args) > 0 {
			ps.add(ErrFieldMix, joinPath(path, "args"), "a supervisor has no args")
		}
		if c.Name != "" {
			ps.add(ErrFieldMix, joinPath(path, "name"), "a supervisor cannot register a name")
		}
		v.supervisor(path, &c.SupervisorSpec, depth)
	}
}

func (v *validator) worker(path string, c *ChildSpec, template bool) {
	ps := v.ps
	switch {
	case c.Behavior == "":
		ps.add(ErrRequired, joinPath(path, "behavior"), "required for a worker")
	case len(c.Behavior) > MaxBehaviorLen || strings.ContainsAny(c.Behavior, " \t\r\n"):
		ps.add(ErrBadName, joinPath(path, "behavior"), "%q is not a behavior name (no blanks, at most %d bytes)", c.Behavior, MaxBehaviorLen)
	case v.opts.KnownBehavior != nil && !v.opts.KnownBehavior(c.Behavior):
		ps.add(ErrUnknownBehavior, joinPath(path, "behavior"), "unknown behavior %q", c.Behavior)
	}
	if len(c.Args) > MaxArgs {
		ps.add(ErrLimit, joinPath(path, "args"), "%d args, more than the limit of %d", len(c.Args), MaxArgs)
	}
	for _, k := range sortedKeys(c.Args) {
		if !validName(k, MaxNameLen) {
			ps.add(ErrBadName, joinPath(path, "args"), "key %q %s", k, nameRule)
		}
		if len(c.Args[k]) > MaxArgValueLen {
			ps.add(ErrLimit, joinPath(path, "args"), "value of %q is %d bytes, more than the limit of %d", k, len(c.Args[k]), MaxArgValueLen)
		}
	}
	if c.Name != "" {
		switch {
		case !validRegisteredName(c.Name):
			ps.add(ErrBadName, joinPath(path, "name"), "%q %s", c.Name, registeredNameRule)
		case template:
			ps.add(ErrBadValue, joinPath(path, "name"), "a simple_one_for_one template cannot register a name: every instance would claim it")
		default:
			if first, dup := v.names[c.Name]; dup {
				ps.add(ErrDuplicate, joinPath(path, "name"), "%q is already registered by %s", c.Name, first)
			} else {
				v.names[c.Name] = joinPath(path, "name")
			}
		}
	}
	if c.Strategy != "" {
		ps.add(ErrFieldMix, joinPath(path, "strategy"), "a worker has no strategy")
	}
	if c.MaxRestarts != 0 {
		ps.add(ErrFieldMix, joinPath(path, "max_restarts"), "a worker has no restart intensity")
	}
	if c.MaxSeconds != 0 {
		ps.add(ErrFieldMix, joinPath(path, "max_seconds"), "a worker has no restart intensity")
	}
	if len(c.Children) > 0 {
		ps.add(ErrFieldMix, joinPath(path, "children"), "a worker has no children")
	}
}

func (v *validator) shutdown(path, s string) {
	if s == BrutalKill {
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > v.opts.MaxShutdown {
		v.ps.add(ErrBadValue, path, "%q is neither %q nor a duration in (0, %s]", s, BrutalKill, v.opts.MaxShutdown)
	}
}
