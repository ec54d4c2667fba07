package actor

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/steward/steward/spec"
)

// nameTable is the per-node registry. Names resolve only to live
// processes: a process's name is released in the same step that takes it
// down.
type nameTable struct {
	mu sync.RWMutex
	m  map[string]*process
}

// claim registers name for p unless a live process holds it.
func (t *nameTable) claim(name string, p *process) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if q, ok := t.m[name]; ok && q != p && q.isAlive() {
		return fmt.Errorf("%w: %q is held by %s", ErrNameTaken, name, q.pid)
	}
	t.m[name] = p
	return nil
}

// release drops name if p still holds it.
func (t *nameTable) release(name string, p *process) {
	t.mu.Lock()
	if t.m[name] == p {
		delete(t.m, name)
	}
	t.mu.Unlock()
}

func (t *nameTable) get(name string) *process {
	t.mu.RLock()
	p := t.m[name]
	t.mu.RUnlock()
	if p == nil || !p.isAlive() {
		return nil
	}
	return p
}

// checkRegName applies the spec's rule for registered names.
func checkRegName(s string) error {
	if !spec.ValidRegisteredName(s) {
		return fmt.Errorf("%w: registered name %q: must be 1-%d letters, digits, '_', '-' or '.', starting with a letter",
			ErrBadName, s, spec.MaxRegisteredNameLen)
	}
	return nil
}

// checkToken accepts what may sit between slashes of a target or be a
// behavior name: 1..spec.MaxBehaviorLen bytes without '/', whitespace or
// control characters. (Tree names and child ids are checked strictly by
// spec.Validate when a tree is applied.)
func checkToken(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadName)
	}
	if len(s) > spec.MaxBehaviorLen {
		return fmt.Errorf("%w: %q is longer than %d bytes", ErrBadName, s, spec.MaxBehaviorLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return r == '/' || unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%w: %q contains '/', whitespace or a control character", ErrBadName, s)
	}
	return nil
}

// Register gives a live local process a per-node name. A process holds at
// most one name; a name held by another live process is refused.
func (rt *Runtime) Register(name string, pid PID) error {
	if err := checkRegName(name); err != nil {
		return err
	}
	p, err := rt.local(pid)
	if err != nil {
		return err
	}
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	rt.names.mu.Lock()
	defer rt.names.mu.Unlock()
	if q, ok := rt.names.m[name]; ok && q != p && q.isAlive() {
		return fmt.Errorf("%w: %q is held by %s", ErrNameTaken, name, q.pid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errNoProc(pid)
	}
	if p.name != "" && p.name != name {
		return fmt.Errorf("%w: %s is already registered as %q", ErrNameTaken, pid, p.name)
	}
	p.name = name
	rt.names.m[name] = p
	return nil
}

// Unregister removes a name.
func (rt *Runtime) Unregister(name string) error {
	rt.topo.RLock()
	defer rt.topo.RUnlock()
	rt.names.mu.Lock()
	defer rt.names.mu.Unlock()
	p, ok := rt.names.m[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNameNotFound, name)
	}
	delete(rt.names.m, name)
	p.mu.Lock()
	if p.name == name {
		p.name = ""
	}
	p.mu.Unlock()
	return nil
}

// WhereIs resolves a registered name to a live local PID.
func (rt *Runtime) WhereIs(name string) (PID, bool) {
	if p := rt.names.get(name); p != nil {
		return p.pid, true
	}
	return PID{}, false
}

// whereIsFrom is WhereIs asked by process p: a name held across a
// sandbox's boundary is a lookup crossing it (a strict sandbox answers
// not found).
func (rt *Runtime) whereIsFrom(p *process, name string) (PID, bool) {
	q := rt.names.get(name)
	if q == nil {
		return PID{}, false
	}
	if sandboxed(p, q) && p != q {
		if p.sb != nil && !p.sb.inside(q) {
			if p.sb.cross(OpLookup, p, q, q.pid, name, false) != nil {
				return PID{}, false
			}
		}
		if q.sb != nil && !q.sb.inside(p) {
			if q.sb.cross(OpLookup, q, p, p.pid, "", true) != nil {
				return PID{}, false
			}
		}
	}
	return q.pid, true
}

// RegisteredNames returns every registered name with its PID, sorted by
// name.
func (rt *Runtime) RegisteredNames() []NamedPID {
	rt.names.mu.RLock()
	out := make([]NamedPID, 0, len(rt.names.m))
	for n, p := range rt.names.m {
		if p.isAlive() {
			out = append(out, NamedPID{Name: n, PID: p.pid})
		}
	}
	rt.names.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NamedPID is one registry entry.
type NamedPID struct {
	Name string `json:"name"`
	PID  PID    `json:"pid"`
}
