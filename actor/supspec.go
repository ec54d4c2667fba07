package actor

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/steward/steward/spec"
)

// Policy is a supervisor's restart strategy and intensity: plain data, as
// in the spec.
type Policy struct {
	Strategy spec.Strategy `json:"strategy"`
	// MaxRestarts restarts are allowed within MaxSeconds; one more and the
	// supervisor escalates.
	MaxRestarts int `json:"max_restarts"`
	MaxSeconds  int `json:"max_seconds"`
}

func (p Policy) String() string {
	return fmt.Sprintf("%s %d/%ds", p.Strategy, p.MaxRestarts, p.MaxSeconds)
}

// childSpec is a validated spec.ChildSpec with its defaults filled in.
type childSpec struct {
	id       string
	isSup    bool
	behavior string // "" when module is set
	module   string // the spec's module ref, resolved at every start
	args     map[string]string
	name     string
	restart  spec.Restart
	// significant: its termination by itself, when not restarted, may
	// shut its supervisor down (the supervisor's auto_shutdown).
	significant bool
	brutal      bool
	shutdown    time.Duration
	nested      *supSpec // isSup only
	raw         spec.ChildSpec
}

// supSpec is a validated spec.SupervisorSpec.
type supSpec struct {
	policy Policy
	// auto is the supervisor's auto_shutdown, never when the spec leaves
	// it out. It is not part of Policy, which SetPolicy replaces whole.
	auto     spec.AutoShutdown
	children []*childSpec
}

// sameSelf reports whether two child specs describe the same process apart
// from a nested supervisor's own policy and children (which an update
// changes in place).
func sameSelf(a, b *childSpec) bool {
	if a.id != b.id || a.isSup != b.isSup || a.behavior != b.behavior || a.module != b.module || a.name != b.name ||
		a.restart != b.restart || a.significant != b.significant || a.brutal != b.brutal || a.shutdown != b.shutdown || !maps.Equal(a.args, b.args) {
		return false
	}
	if a.isSup && (a.nested.policy.Strategy == spec.SimpleOneForOne) != (b.nested.policy.Strategy == spec.SimpleOneForOne) {
		return false
	}
	return true
}

// sameSelfButSignificant is sameSelf ignoring the significant flag: a
// change of that flag alone is made in place (OTP's code_change keeps
// the process; the flag only matters when the child exits).
func sameSelfButSignificant(a, b *childSpec) bool {
	x := *a
	x.significant = b.significant
	return sameSelf(&x, b)
}

// compiler validates a tree or a child spec, collecting every problem.
type compiler struct {
	rt    *Runtime
	where string // `tree "t"` or `supervisor n/5`
	errs  []error
	names map[string]string // registered name -> child path
	procs int               // processes the spec starts
}

func (c *compiler) fail(path string, err error) {
	loc := c.where
	if path != "" {
		loc += fmt.Sprintf(": child %q", path)
	}
	c.errs = append(c.errs, fmt.Errorf("%w: %s: %w", ErrInvalidSpec, loc, err))
}

func (c *compiler) err() error { return errors.Join(c.errs...) }

func joinPath(prefix, id string) string {
	if prefix == "" {
		return id
	}
	return prefix + "/" + id
}

// compilePolicy fills defaults and checks bounds.
func compilePolicy(s spec.SupervisorSpec) (Policy, error) {
	p := Policy{Strategy: s.Strategy, MaxRestarts: s.MaxRestarts, MaxSeconds: s.MaxSeconds}
	switch p.Strategy {
	case "":
		p.Strategy = spec.OneForOne
	case spec.OneForOne, spec.OneForAll, spec.RestForOne, spec.SimpleOneForOne:
	default:
		return p, fmt.Errorf("%w: %q (want one_for_one, one_for_all, rest_for_one or simple_one_for_one)", ErrBadStrategy, p.Strategy)
	}
	if p.MaxRestarts == 0 && p.MaxSeconds == 0 {
		p.MaxRestarts = DefaultMaxRestarts
	}
	if p.MaxSeconds == 0 {
		p.MaxSeconds = DefaultMaxSeconds
	}
	if p.MaxRestarts < 0 || p.MaxRestarts > MaxRestartsLimit {
		return p, fmt.Errorf("%w: max_restarts %d outside 0..%d", ErrBadIntensity, p.MaxRestarts, MaxRestartsLimit)
	}
	if p.MaxSeconds < 1 || p.MaxSeconds > MaxSecondsLimit {
		return p, fmt.Errorf("%w: max_seconds %d outside 1..%d", ErrBadIntensity, p.MaxSeconds, MaxSecondsLimit)
	}
	return p, nil
}

// supervisor validates one supervisor level; depth is the supervisor's
// own (0 for a tree's root), its children sit at depth+1.
func (c *compiler) supervisor(path string, s spec.SupervisorSpec, depth int) *supSpec {
	if len(s.Children) > 0 && depth+1 > c.rt.cfg.MaxDepth {
		c.fail(path, fmt.Errorf("%w: children at depth %d, MaxDepth is %d", ErrTooDeep, depth+1, c.rt.cfg.MaxDepth))
		return nil
	}
	pol, err := compilePolicy(s)
	if err != nil {
		c.fail(path, err)
	}
	out := &supSpec{policy: pol, auto: s.AutoShutdown}
	switch out.auto {
	case "", spec.Never:
		out.auto = spec.Never
	case spec.AnySignificant, spec.AllSignificant:
		if pol.Strategy == spec.SimpleOneForOne {
			c.fail(path, fmt.Errorf("%w: auto_shutdown %s with simple_one_for_one (only never, as OTP 27)", ErrBadStrategy, out.auto))
		}
	default:
		c.fail(path, fmt.Errorf("%w: auto_shutdown %q (want never, any_significant or all_significant)", ErrBadStrategy, out.auto))
	}
	if len(s.Children) > c.rt.cfg.MaxChildren {
		c.fail(path, fmt.Errorf("%w: %d children, MaxChildren is %d", ErrTooManyChildren, len(s.Children), c.rt.cfg.MaxChildren))
		return out
	}
	simple := pol.Strategy == spec.SimpleOneForOne
	if simple && len(s.Children) != 1 {
		c.fail(path, fmt.Errorf("%w: simple_one_for_one needs exactly one child (the template), got %d", ErrBadStrategy, len(s.Children)))
	}
	c.procs++
	seen := make(map[string]bool, len(s.Children))
	for _, cs := range s.Children {
		if cs.ID != "" && seen[cs.ID] {
			c.fail(joinPath(path, cs.ID), fmt.Errorf("%w: %q appears twice", ErrDuplicateID, cs.ID))
			continue
		}
		seen[cs.ID] = true
		if ch := c.child(path, cs, depth+1, simple, out.auto); ch != nil {
			out.children = append(out.children, ch)
		}
	}
	return out
}

// child validates one child, sitting at depth (1 for the root's children).
// auto is its supervisor's auto_shutdown, "" when the caller checks it
// (start_child: the supervisor's goroutine, which owns it).
func (c *compiler) child(parent string, cs spec.ChildSpec, depth int, template bool, auto spec.AutoShutdown) *childSpec {
	path := joinPath(parent, cs.ID)
	if template {
		// A simple_one_for_one template starts nothing by itself.
		before := c.procs
		defer func() { c.procs = before }()
	}
	if !spec.ValidName(cs.ID) {
		c.fail(path, fmt.Errorf("%w: id %q: must be 1-%d letters, digits, '_', '-' or '.', starting with a letter or digit", ErrBadName, cs.ID, spec.MaxNameLen))
		return nil
	}
	out := &childSpec{id: cs.ID, name: cs.Name, raw: cs, restart: cs.Restart, significant: cs.Significant, shutdown: DefaultShutdown}
	ok := true
	bad := func(err error) { c.fail(path, err); ok = false }

	switch out.restart {
	case "":
		out.restart = spec.Permanent
	case spec.Permanent, spec.Transient, spec.Temporary:
	default:
		bad(fmt.Errorf("%w: %q (want permanent, transient or temporary)", ErrBadRestart, cs.Restart))
	}
	switch {
	case !cs.Significant:
	case out.restart == spec.Permanent:
		bad(fmt.Errorf("%w: a significant child must be transient or temporary, not permanent", ErrBadRestart))
	case auto == spec.Never:
		bad(errSignificantNever)
	}
	switch cs.Shutdown {
	case "":
		if cs.Type == spec.Supervisor {
			out.shutdown = InfiniteShutdown // OTP's default for a supervisor
		}
	case spec.BrutalKill:
		out.brutal = true
	case spec.Infinity:
		out.shutdown = InfiniteShutdown
	default:
		d, err := time.ParseDuration(cs.Shutdown)
		if err != nil || d < 0 || d > MaxShutdownTimeout {
			bad(fmt.Errorf("%w: %q (want brutal_kill, infinity or a duration in [0, %s])", ErrBadShutdown, cs.Shutdown, MaxShutdownTimeout))
		} else {
			out.shutdown = d
		}
	}

	switch cs.Type {
	case spec.Supervisor:
		out.isSup = true
		if cs.Behavior != "" || cs.Module != "" || len(cs.Args) > 0 {
			bad(fmt.Errorf("%w: a supervisor child takes no behavior, module or args", ErrBadArgs))
		}
		if cs.Name != "" {
			bad(fmt.Errorf("%w: name registers workers only", ErrBadName))
		}
		out.nested = c.supervisor(path, cs.SupervisorSpec, depth)
		if out.nested == nil {
			ok = false
		}
	case spec.Worker, "":
		if len(cs.Children) > 0 || cs.Strategy != "" || cs.MaxRestarts != 0 || cs.MaxSeconds != 0 {
			bad(fmt.Errorf("%w: worker %q has supervisor fields (type supervisor?)", ErrBadArgs, cs.ID))
		}
		if cs.Module != "" {
			if cs.Behavior != "" {
				bad(fmt.Errorf("%w: worker %q names both a behavior and a module", ErrBadArgs, cs.ID))
				break
			}
			if _, err := spec.ParseModuleRef(cs.Module); err != nil {
				bad(fmt.Errorf("%w: module %w", ErrBadName, err))
				break
			}
			// The ref is resolved at every start; an unresolvable one is a
			// start failure, not a bad spec. When it resolves to a loaded
			// behavior now, its factory checks the args.
			out.module, out.args = cs.Module, cs.Args
			if b, err := c.rt.catalog.ResolveModule(cs.Module); err == nil && c.rt.catalog.has(b) {
				if _, _, err := c.rt.catalog.build(b, cs.Args); err != nil {
					bad(fmt.Errorf("module %q (%s): %w", cs.Module, b, err))
				}
			}
			c.procs++
			break
		}
		if cs.Behavior == "" {
			bad(fmt.Errorf("%w: worker needs a behavior or a module (known behaviors: %v)", ErrUnknownBehavior, c.rt.catalog.Names()))
			break
		}
		out.behavior, out.args = cs.Behavior, cs.Args
		if _, _, err := c.rt.catalog.build(cs.Behavior, cs.Args); err != nil {
			bad(err)
		}
		c.procs++
	default:
		bad(fmt.Errorf("%w: type %q (want worker or supervisor)", ErrBadArgs, cs.Type))
	}

	if cs.Name != "" && !out.isSup {
		switch {
		case template:
			bad(fmt.Errorf("%w: a simple_one_for_one template cannot register a name (every instance would claim it)", ErrBadName))
		case checkRegName(cs.Name) != nil:
			bad(checkRegName(cs.Name))
		case c.names[cs.Name] != "":
			bad(fmt.Errorf("%w: name %q is also given to %q", ErrNameTaken, cs.Name, c.names[cs.Name]))
		default:
			c.names[cs.Name] = path
		}
	}
	if !ok {
		return nil
	}
	return out
}

// errSignificantNever is OTP's bad_combination of significant true and
// auto_shutdown never.
var errSignificantNever = fmt.Errorf("%w: a significant child needs a supervisor whose auto_shutdown is any_significant or all_significant, not never", ErrInvalidSpec)

// specOptions are the spec package's validation options with this
// runtime's catalog and limits.
func (rt *Runtime) specOptions(maxDepth int) spec.ValidateOptions {
	return spec.ValidateOptions{
		KnownBehavior: func(name string) bool { _, err := rt.catalog.Lookup(name); return err == nil },
		MaxDepth:      maxDepth,
		MaxChildren:   rt.cfg.MaxChildren,
		MaxShutdown:   MaxShutdownTimeout,
	}
}

// compileTree validates a whole tree spec: first by the spec package's
// rules (the same the leader applies), then against what only the runtime
// knows — each behavior's args, names held by live processes, the
// process budget, placement. cur is the running tree of that name, if any
// (its processes and names are being replaced, so they do not count).
func (rt *Runtime) compileTree(t spec.Tree, cur *treeState) (*supSpec, error) {
	ss, _, err := rt.compileTreeCounted(t, cur)
	return ss, err
}

// compileTreeCounted is compileTree that also returns how many processes
// the spec starts (supervisors included).
func (rt *Runtime) compileTreeCounted(t spec.Tree, cur *treeState) (*supSpec, int, error) {
	c := &compiler{rt: rt, where: fmt.Sprintf("tree %q", t.Name), names: map[string]string{}}
	if err := spec.Validate(&t, rt.specOptions(rt.cfg.MaxDepth)); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrInvalidSpec, c.where, err)
	}
	if t.Node != "" && t.Node != "auto" && t.Node != rt.node {
		return nil, 0, fmt.Errorf("%w: %s: %w: %q, this is %q", ErrInvalidSpec, c.where, ErrWrongNode, t.Node, rt.node)
	}
	ss := c.supervisor("", t.SupervisorSpec, 0)
	for name, path := range c.names {
		if holder := rt.names.get(name); holder != nil && (cur == nil || holder.tree != cur) {
			c.fail(path, fmt.Errorf("%w: name %q is held by %s outside this tree", ErrNameTaken, name, holder.pid))
		}
	}
	if err := c.err(); err != nil {
		return nil, 0, err
	}
	have := int64(0)
	if cur != nil {
		have = int64(cur.size())
	}
	if n := rt.count.Load() - have + int64(c.procs); n > int64(rt.cfg.MaxProcesses) {
		return nil, 0, fmt.Errorf("%w: %s: %w: it needs %d processes, the node would run %d (MaxProcesses %d)",
			ErrInvalidSpec, c.where, ErrTooManyProcesses, c.procs, n, rt.cfg.MaxProcesses)
	}
	return ss, c.procs, nil
}

// compileChild validates a child spec for StartChild under supervisor s.
func (rt *Runtime) compileChild(s *supervisor, cs spec.ChildSpec) (*childSpec, error) {
	c := &compiler{rt: rt, where: fmt.Sprintf("supervisor %s", s.p.pid), names: map[string]string{}}
	room := rt.cfg.MaxDepth - s.depth
	if room < 1 {
		return nil, fmt.Errorf("%w: %s: %w: a child would sit at depth %d, MaxDepth is %d", ErrInvalidSpec, c.where, ErrTooDeep, s.depth+1, rt.cfg.MaxDepth)
	}
	if err := spec.ValidateChild(cs, rt.specOptions(room)); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSpec, c.where, err)
	}
	out := c.child(s.p.path, cs, s.depth+1, false, "")
	if err := c.err(); err != nil {
		return nil, err
	}
	return out, nil
}
