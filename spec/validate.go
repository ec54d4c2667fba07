package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/steward/steward/internal/fielderr"
)

// Validate checks a tree against every rule in the package documentation
// and returns nil or an *Error (wrapping ErrInvalid) listing each problem
// with its field path. Empty fields are read as the defaults Normalize would
// put there, so Validate accepts a tree whether or not it was normalized;
// problems quote the values as written. t itself is not modified.
func Validate(t *Tree, opts ValidateOptions) error {
	_, err := ValidateCanonical(t, opts)
	return err
}

// ValidateCanonical is Validate, returning, for a valid tree, its
// canonical JSON (CanonicalTree), which Validate encodes to check the
// size limit: a caller that commits the tree encodes it once.
func ValidateCanonical(t *Tree, opts ValidateOptions) ([]byte, error) {
	var ps fielderr.List
	if t == nil {
		ps.Add(ErrRequired, "", "no tree")
		return nil, ps.Err(ErrInvalid)
	}
	n := t
	v := validator{opts: opts.withDefaults(), ps: &ps, names: map[string]string{}}

	if n.Name == "" {
		ps.Add(ErrRequired, "name", "required")
	} else if !ValidName(n.Name) {
		ps.Add(ErrBadName, "name", "%q %s", n.Name, nameRule)
	}
	if n.Node != "" && n.Node != NodeAuto && !ValidName(n.Node) {
		ps.Add(ErrBadName, "node", "%q is not %q and %s", n.Node, NodeAuto, nameRule)
	}
	v.supervisor("", &n.SupervisorSpec, 0)
	if v.total > v.opts.MaxTotalChildren {
		ps.Add(ErrLimit, "children", "the tree has %d children in all, more than the limit of %d", v.total, v.opts.MaxTotalChildren)
	}
	canon := CanonicalTree(n)
	if size := len(canon); size > MaxSpecBytes {
		ps.Add(ErrLimit, "", "the tree encodes to %d bytes, more than the limit of %d", size, MaxSpecBytes)
	}
	if err := ps.Err(ErrInvalid); err != nil {
		return nil, err
	}
	return canon, nil
}

// ValidateChild checks one child spec, and its subtree, as Validate checks
// the children of a tree; paths are relative to the child ("restart",
// "children[0].behavior"). It is what a start_child operation uses. A
// significant child is checked against its restart type only: whether its
// supervisor's auto_shutdown allows it is for the runtime to tell, which
// knows the supervisor.
func ValidateChild(c ChildSpec, opts ValidateOptions) error {
	var ps fielderr.List
	n := c
	v := validator{opts: opts.withDefaults(), ps: &ps, names: map[string]string{}}
	v.child("", &n, 1, false, "")
	if v.total+1 > v.opts.MaxTotalChildren {
		ps.Add(ErrLimit, "children", "the child has %d descendants, more than the limit of %d", v.total, v.opts.MaxTotalChildren)
	}
	if size := len(Canonical(n)); size > MaxSpecBytes {
		ps.Add(ErrLimit, "", "the child encodes to %d bytes, more than the limit of %d", size, MaxSpecBytes)
	}
	return ps.Err(ErrInvalid)
}

type validator struct {
	opts  ValidateOptions
	ps    *fielderr.List
	total int
	// names maps a registered name to the path that registered it first.
	names map[string]string
}

var (
	strategies = []string{string(OneForOne), string(OneForAll), string(RestForOne), string(SimpleOneForOne)}
	restarts   = []string{string(Permanent), string(Transient), string(Temporary)}
	types      = []string{string(Worker), string(Supervisor)}
	autos      = []string{string(Never), string(AnySignificant), string(AllSignificant)}
)

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
	if !slices.Contains(strategies, string(eff.Strategy)) {
		ps.Add(ErrBadValue, fielderr.Join(path, "strategy"), "%s", notOneOf(string(s.Strategy), strategies))
	}
	if eff.MaxRestarts < 0 || eff.MaxRestarts > MaxIntensityRestarts {
		ps.Add(ErrBadValue, fielderr.Join(path, "max_restarts"), "%d is out of range 0..%d", s.MaxRestarts, MaxIntensityRestarts)
	}
	if eff.MaxSeconds < 1 || eff.MaxSeconds > MaxIntensitySeconds {
		ps.Add(ErrBadValue, fielderr.Join(path, "max_seconds"), "%d is out of range 1..%d", s.MaxSeconds, MaxIntensitySeconds)
	}
	auto := s.AutoShutdown
	if auto == "" {
		auto = Never
	}
	switch {
	case !slices.Contains(autos, string(auto)):
		ps.Add(ErrBadValue, fielderr.Join(path, "auto_shutdown"), "%s", notOneOf(string(s.AutoShutdown), autos))
		auto = "" // unknown: do not judge the children's significant flags by it
	case auto != Never && eff.Strategy == SimpleOneForOne:
		// OTP 27 refuses it (supervisor:check_flags, bad_combination).
		ps.Add(ErrBadValue, fielderr.Join(path, "auto_shutdown"), "%q is not allowed with simple_one_for_one (only never)", auto)
		auto = ""
	}
	if len(s.Children) > v.opts.MaxChildren {
		ps.Add(ErrLimit, fielderr.Join(path, "children"), "%d children, more than the limit of %d", len(s.Children), v.opts.MaxChildren)
	}
	if eff.Strategy == SimpleOneForOne && len(s.Children) != 1 {
		ps.Add(ErrBadValue, fielderr.Join(path, "children"), "simple_one_for_one needs exactly one child template, got %d", len(s.Children))
	}
	if depth+1 > v.opts.MaxDepth && len(s.Children) > 0 {
		ps.Add(ErrLimit, fielderr.Join(path, "children"), "nesting depth %d is more than the limit of %d", depth+1, v.opts.MaxDepth)
		v.total += len(s.Children)
		return
	}
	seen := make(map[string]int, len(s.Children))
	for i := range s.Children {
		c := &s.Children[i]
		cp := fielderr.Index(fielderr.Join(path, "children"), i)
		if c.ID != "" {
			if first, dup := seen[c.ID]; dup {
				ps.Add(ErrDuplicate, fielderr.Join(cp, "id"), "duplicate id %q (also %s)", c.ID, fielderr.Index(fielderr.Join(path, "children"), first))
			} else {
				seen[c.ID] = i
			}
		}
		v.total++
		v.child(cp, c, depth+1, eff.Strategy == SimpleOneForOne, auto)
	}
}

// child checks one child at the given depth (1 for the root's children).
// auto is its supervisor's auto_shutdown, "" when unknown (ValidateChild,
// or a supervisor whose own value is refused).
func (v *validator) child(path string, c *ChildSpec, depth int, template bool, auto AutoShutdown) {
	ps := v.ps
	if c.ID == "" {
		ps.Add(ErrRequired, fielderr.Join(path, "id"), "required")
	} else if !ValidName(c.ID) {
		ps.Add(ErrBadName, fielderr.Join(path, "id"), "%q %s", c.ID, nameRule)
	}
	typ := c.Type
	if typ == "" {
		typ = Worker
	}
	if !slices.Contains(types, string(typ)) {
		ps.Add(ErrBadValue, fielderr.Join(path, "type"), "%s", notOneOf(string(c.Type), types))
	}
	if c.Restart != "" && !slices.Contains(restarts, string(c.Restart)) {
		ps.Add(ErrBadValue, fielderr.Join(path, "restart"), "%s", notOneOf(string(c.Restart), restarts))
	}
	if c.Shutdown != "" {
		v.shutdown(fielderr.Join(path, "shutdown"), c.Shutdown)
	}
	if c.Significant {
		// OTP's validSignificant: bad_combination with restart permanent,
		// and with auto_shutdown never.
		switch {
		case c.Restart == "" || c.Restart == Permanent:
			ps.Add(ErrBadValue, fielderr.Join(path, "significant"), "a significant child must be transient or temporary, not permanent")
		case auto == Never:
			ps.Add(ErrBadValue, fielderr.Join(path, "significant"), "a significant child needs a supervisor whose auto_shutdown is any_significant or all_significant, not never")
		}
	}

	switch typ {
	case Worker:
		v.worker(path, c, template)
	case Supervisor:
		if c.Behavior != "" {
			ps.Add(ErrFieldMix, fielderr.Join(path, "behavior"), "a supervisor has no behavior")
		}
		if c.Module != "" {
			ps.Add(ErrFieldMix, fielderr.Join(path, "module"), "a supervisor has no module")
		}
		if len(c.Args) > 0 {
			ps.Add(ErrFieldMix, fielderr.Join(path, "args"), "a supervisor has no args")
		}
		if c.Name != "" {
			ps.Add(ErrFieldMix, fielderr.Join(path, "name"), "a supervisor cannot register a name")
		}
		v.supervisor(path, &c.SupervisorSpec, depth)
	}
}

func (v *validator) worker(path string, c *ChildSpec, template bool) {
	ps := v.ps
	switch {
	case c.Module != "":
		if c.Behavior != "" {
			ps.Add(ErrFieldMix, fielderr.Join(path, "module"), "a worker names a behavior or a module, not both (behavior %q, module %q)", c.Behavior, c.Module)
			break
		}
		ref, err := ParseModuleRef(c.Module)
		switch {
		case err != nil:
			ps.Add(ErrBadName, fielderr.Join(path, "module"), "%v", err)
		case v.opts.KnownModule != nil:
			if err := v.opts.KnownModule(ref); err != nil {
				ps.Add(ErrUnknownModule, fielderr.Join(path, "module"), "%v", err)
			}
		}
	case c.Behavior == "":
		ps.Add(ErrRequired, fielderr.Join(path, "behavior"), "a worker needs a behavior or a module")
	case len(c.Behavior) > MaxBehaviorLen || strings.ContainsAny(c.Behavior, " \t\r\n"):
		ps.Add(ErrBadName, fielderr.Join(path, "behavior"), "%q is not a behavior name (no blanks, at most %d bytes)", c.Behavior, MaxBehaviorLen)
	case v.opts.KnownBehavior != nil && !v.opts.KnownBehavior(c.Behavior):
		ps.Add(ErrUnknownBehavior, fielderr.Join(path, "behavior"), "unknown behavior %q", c.Behavior)
	}
	if len(c.Args) > MaxArgs {
		ps.Add(ErrLimit, fielderr.Join(path, "args"), "%d args, more than the limit of %d", len(c.Args), MaxArgs)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Args)) {
		if !ValidName(k) {
			ps.Add(ErrBadName, fielderr.Join(path, "args"), "key %q %s", k, nameRule)
		}
		if len(c.Args[k]) > MaxArgValueLen {
			ps.Add(ErrLimit, fielderr.Join(path, "args"), "value of %q is %d bytes, more than the limit of %d", k, len(c.Args[k]), MaxArgValueLen)
		}
	}
	if c.Name != "" {
		switch {
		case !ValidRegisteredName(c.Name):
			ps.Add(ErrBadName, fielderr.Join(path, "name"), "%q %s", c.Name, registeredNameRule)
		case template:
			ps.Add(ErrBadValue, fielderr.Join(path, "name"), "a simple_one_for_one template cannot register a name: every instance would claim it")
		default:
			if first, dup := v.names[c.Name]; dup {
				ps.Add(ErrDuplicate, fielderr.Join(path, "name"), "%q is already registered by %s", c.Name, first)
			} else {
				v.names[c.Name] = fielderr.Join(path, "name")
			}
		}
	}
	if c.Strategy != "" {
		ps.Add(ErrFieldMix, fielderr.Join(path, "strategy"), "a worker has no strategy")
	}
	if c.MaxRestarts != 0 {
		ps.Add(ErrFieldMix, fielderr.Join(path, "max_restarts"), "a worker has no restart intensity")
	}
	if c.MaxSeconds != 0 {
		ps.Add(ErrFieldMix, fielderr.Join(path, "max_seconds"), "a worker has no restart intensity")
	}
	if c.AutoShutdown != "" {
		ps.Add(ErrFieldMix, fielderr.Join(path, "auto_shutdown"), "a worker has no auto_shutdown")
	}
	if len(c.Children) > 0 {
		ps.Add(ErrFieldMix, fielderr.Join(path, "children"), "a worker has no children")
	}
}

func (v *validator) shutdown(path, s string) {
	if s == BrutalKill || s == Infinity {
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > v.opts.MaxShutdown {
		v.ps.Add(ErrBadValue, path, "%q is neither %q, %q nor a duration in [0, %s]", s, BrutalKill, Infinity, v.opts.MaxShutdown)
	}
}
