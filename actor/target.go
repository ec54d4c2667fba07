package actor

import (
	"fmt"
	"strings"
)

// Target names a process the way operations and the CLI do: exactly one
// of PID, Name, or Tree (with an optional child Path, nested ids joined by
// '/', "" for the root supervisor).
type Target struct {
	PID  PID    `json:"pid,omitzero"`
	Name string `json:"name,omitempty"`
	Tree string `json:"tree,omitempty"`
	Path string `json:"path,omitempty"`
}

func (t Target) String() string {
	switch {
	case !t.PID.IsZero():
		return "pid:" + t.PID.String()
	case t.Name != "":
		return "name:" + t.Name
	case t.Path == "":
		return "tree:" + t.Tree
	default:
		return "tree:" + t.Tree + "/" + t.Path
	}
}

// ParseTarget reads the textual forms "pid:node/seq", "name:reg",
// "tree:tree[/child/...]". Without a prefix, a string with no '/' is a
// registered name, one that parses as a PID is a PID, and anything else
// is a tree path.
func ParseTarget(s string) (Target, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if ok {
		switch kind {
		case "pid":
			pid, err := ParsePID(rest)
			if err != nil {
				return Target{}, fmt.Errorf("%w: %w", ErrBadTarget, err)
			}
			return Target{PID: pid}, nil
		case "name":
			if err := checkRegName(rest); err != nil {
				return Target{}, fmt.Errorf("%w: %w", ErrBadTarget, err)
			}
			return Target{Name: rest}, nil
		case "tree":
			return parseTreePath(rest)
		}
	}
	if !strings.Contains(s, "/") {
		if err := checkRegName(s); err != nil {
			return Target{}, fmt.Errorf("%w: %w", ErrBadTarget, err)
		}
		return Target{Name: s}, nil
	}
	if pid, err := ParsePID(s); err == nil {
		return Target{PID: pid}, nil
	}
	return parseTreePath(s)
}

func parseTreePath(s string) (Target, error) {
	tree, path, _ := strings.Cut(s, "/")
	if err := checkToken(tree); err != nil {
		return Target{}, fmt.Errorf("%w: tree: %w", ErrBadTarget, err)
	}
	if path != "" {
		for _, id := range strings.Split(path, "/") {
			if err := checkToken(id); err != nil {
				return Target{}, fmt.Errorf("%w: child path %q: %w", ErrBadTarget, path, err)
			}
		}
	}
	return Target{Tree: tree, Path: path}, nil
}

// Resolve turns a target into the PID of a live process. A PID of another
// node is returned as is (its liveness is that node's business); a local
// PID must be alive; a name must be registered; a tree path must lead to
// a running child.
func (rt *Runtime) Resolve(t Target) (PID, error) {
	set := 0
	for _, b := range []bool{!t.PID.IsZero(), t.Name != "", t.Tree != ""} {
		if b {
			set++
		}
	}
	if set != 1 || (t.Path != "" && t.Tree == "") {
		return PID{}, fmt.Errorf("%w: set exactly one of pid, name or tree(+path)", ErrBadTarget)
	}
	switch {
	case !t.PID.IsZero():
		if t.PID.Node != rt.node {
			return t.PID, nil
		}
		p, err := rt.lookup(t.PID)
		if err != nil {
			return PID{}, err
		}
		return p.pid, nil
	case t.Name != "":
		pid, ok := rt.WhereIs(t.Name)
		if !ok {
			return PID{}, fmt.Errorf("%w: %q", ErrNameNotFound, t.Name)
		}
		return pid, nil
	default:
		p, err := rt.resolvePath(t.Tree, t.Path)
		if err != nil {
			return PID{}, err
		}
		return p.pid, nil
	}
}

// resolvePath walks a tree's supervisors by child id.
func (rt *Runtime) resolvePath(tree, path string) (*process, error) {
	ts := rt.tree(tree)
	if ts == nil {
		return nil, fmt.Errorf("%w: %q", ErrTreeNotFound, tree)
	}
	ts.mu.Lock()
	p, status := ts.root, ts.status
	ts.mu.Unlock()
	if status == TreeFailed || !p.isAlive() {
		return nil, fmt.Errorf("%w: %q", ErrTreeFailed, tree)
	}
	if path == "" {
		return p, nil
	}
	walked := ""
	for _, id := range strings.Split(path, "/") {
		walked = joinPath(walked, id)
		if p.sup == nil {
			return nil, fmt.Errorf("%w: %s/%s: %s is a worker", ErrChildNotFound, tree, walked, p.pid)
		}
		var next *process
		found := false
		for _, c := range p.sup.snapshot().children.all() {
			if c.spec.id == id {
				next, found = c.proc, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: %s/%s", ErrChildNotFound, tree, walked)
		}
		if next == nil || !next.isAlive() {
			return nil, fmt.Errorf("%w: %s/%s", ErrChildNotRunning, tree, walked)
		}
		p = next
	}
	return p, nil
}
