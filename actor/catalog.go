package actor

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Factory builds a fresh behavior instance for one process from its spec
// args. It must validate args (returning an error wrapping ErrBadArgs) and
// do nothing else: the runtime also calls it to validate specs before
// touching anything, and discards that instance.
type Factory func(args map[string]string) (Behavior, error)

// Entry is one behavior in a catalog.
type Entry struct {
	Name string
	// Version is handed to CodeChange as oldVersion when a process moves
	// off this entry.
	Version string
	New     Factory
}

// Catalog maps behavior names to factories. It is safe for concurrent use.
// The runtime consumes it; the natives live in actor/behaviors, and the
// hot-code package registers WebAssembly modules into the same catalog.
type Catalog struct {
	mu       sync.RWMutex
	m        map[string]Entry
	resolver ModuleResolver
}

// ModuleResolver turns a worker's module reference, as its spec writes it
// ("counter": the module's active version; "counter@3": pinned), into the
// catalog behavior to run ("wasm:counter@2"). An error should say what is
// missing; the runtime wraps it in ErrUnknownModule unless it already is.
// It is called every time a worker with a module reference starts or is
// restarted (not for a slot a code change moved: see Runtime.ChangeCode),
// from supervisor goroutines, so it must be safe for concurrent use and
// must not block on the runtime.
type ModuleResolver func(ref string) (behavior string, err error)

// SetModuleResolver installs the resolver of module references (nil
// removes it: module workers then fail to start). The module store sets
// it on its node's catalog (hotcode/store).
func (c *Catalog) SetModuleResolver(r ModuleResolver) {
	c.mu.Lock()
	c.resolver = r
	c.mu.Unlock()
}

// ResolveModule resolves a module reference with the resolver; errors wrap
// ErrUnknownModule and name the reference.
func (c *Catalog) ResolveModule(ref string) (string, error) {
	var r ModuleResolver
	if c != nil {
		c.mu.RLock()
		r = c.resolver
		c.mu.RUnlock()
	}
	if r == nil {
		return "", fmt.Errorf("%w: module %q: no module resolver (this runtime runs no modules)", ErrUnknownModule, ref)
	}
	b, err := r(ref)
	switch {
	case err != nil && errors.Is(err, ErrUnknownModule):
		return "", fmt.Errorf("module %q: %w", ref, err)
	case err != nil:
		return "", fmt.Errorf("%w: module %q: %w", ErrUnknownModule, ref, err)
	case b == "":
		return "", fmt.Errorf("%w: module %q: the resolver gave no behavior", ErrUnknownModule, ref)
	}
	return b, nil
}

// has reports whether name is registered.
func (c *Catalog) has(name string) bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	_, ok := c.m[name]
	c.mu.RUnlock()
	return ok
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{m: make(map[string]Entry)} }

// Register adds an entry; a duplicate name wraps ErrDuplicateBehavior.
func (c *Catalog) Register(e Entry) error {
	if err := checkToken(e.Name); err != nil {
		return fmt.Errorf("behavior name: %w", err)
	}
	if e.New == nil {
		return fmt.Errorf("%w: behavior %q has no factory", ErrBadArgs, e.Name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[e.Name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateBehavior, e.Name)
	}
	c.m[e.Name] = e
	return nil
}

// Replace adds or overwrites an entry (a new module version).
func (c *Catalog) Replace(e Entry) error {
	if err := checkToken(e.Name); err != nil {
		return fmt.Errorf("behavior name: %w", err)
	}
	if e.New == nil {
		return fmt.Errorf("%w: behavior %q has no factory", ErrBadArgs, e.Name)
	}
	c.mu.Lock()
	c.m[e.Name] = e
	c.mu.Unlock()
	return nil
}

// Remove takes an entry out (a module version removed from the store); a
// process already running it keeps its behavior.
func (c *Catalog) Remove(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

// Lookup returns the entry for name, or an error wrapping
// ErrUnknownBehavior that lists the known names.
func (c *Catalog) Lookup(name string) (Entry, error) {
	if c == nil {
		return Entry{}, fmt.Errorf("%w: %q (catalog is empty)", ErrUnknownBehavior, name)
	}
	c.mu.RLock()
	e, ok := c.m[name]
	c.mu.RUnlock()
	if !ok {
		return Entry{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownBehavior, name, strings.Join(c.Names(), ", "))
	}
	return e, nil
}

// Names lists the registered names, sorted.
func (c *Catalog) Names() []string {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	out := make([]string, 0, len(c.m))
	for n := range c.m {
		out = append(out, n)
	}
	c.mu.RUnlock()
	sort.Strings(out)
	return out
}

// build looks name up and runs its factory.
func (c *Catalog) build(name string, args map[string]string) (Behavior, Entry, error) {
	e, err := c.Lookup(name)
	if err != nil {
		return nil, Entry{}, err
	}
	b, err := e.New(args)
	if err != nil {
		if !errors.Is(err, ErrBadArgs) {
			err = fmt.Errorf("%w: %w", ErrBadArgs, err)
		}
		return nil, Entry{}, fmt.Errorf("behavior %q: %w", name, err)
	}
	if b == nil {
		return nil, Entry{}, fmt.Errorf("%w: behavior %q: factory returned nil", ErrBadArgs, name)
	}
	return b, e, nil
}
