package actor

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/steward/steward/spec"
)

// InitialState is a state a worker of a tree starts with (StartTreeWith):
// the behavior it was captured running and the state it exported.
type InitialState struct {
	Behavior string
	State    []byte
}

// Restored is what StartTreeWith brought back: how many workers started
// holding their initial state, and why each of the others did not (by
// path), sorted.
type Restored struct {
	Imported int
	Failures []string
}

// initialStates are the states a tree's workers start with, each taken
// once, by the first start of its path; later restarts of the slot start
// from Init alone, as in OTP.
type initialStates struct {
	mu       sync.Mutex
	byPath   map[string]InitialState
	imported int
	failures []string
}

// take hands out path's initial state, once.
func (s *initialStates) take(path string) (InitialState, bool) {
	if s == nil {
		return InitialState{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byPath[path]
	delete(s.byPath, path)
	return st, ok
}

func (s *initialStates) record(path string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.imported++
		return
	}
	s.failures = append(s.failures, path+": "+err.Error())
}

// result is the outcome once the tree has started: the states no worker
// took (no worker of the spec has their path) count as failures.
func (s *initialStates) result() Restored {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Restored{Imported: s.imported, Failures: append([]string(nil), s.failures...)}
	for path := range s.byPath {
		out.Failures = append(out.Failures, path+": no worker of the tree's spec has this path")
	}
	sort.Strings(out.Failures)
	return out
}

// StartTreeWith starts a tree that does not run, as ApplyTree would, its
// workers starting with the given states (by path): each worker whose
// path has one and runs the behavior it names imports it
// (Behavior.ImportState, as sys:replace_state would) right after its Init
// and before it takes any message; a worker whose import fails runs on
// from its Init. It is how a restore brings a tree back as it was captured,
// without a round trip per process. A tree that runs is refused
// (ErrTreeExists). The returned Restored says what was imported and what
// was not, and why.
func (rt *Runtime) StartTreeWith(ctx context.Context, t spec.Tree, states map[string]InitialState) (Restored, error) {
	init := &initialStates{byPath: make(map[string]InitialState, len(states))}
	for path, st := range states {
		init.byPath[path] = st
	}
	if err := rt.applyTree(ctx, t, nil, init); err != nil {
		return Restored{}, err
	}
	return init.result(), nil
}

// importInitial imports a worker's initial state after its Init.
func (p *process) importInitial() error {
	if len(p.initial) > p.rt.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: state of %d bytes, limit %d", ErrMessageTooLarge, len(p.initial), p.rt.cfg.MaxMessageBytes)
	}
	_, err := p.protected(func() ([]byte, error) { return nil, p.beh.ImportState(p.initial) })
	if err != nil {
		return fmt.Errorf("import refused: %w", err)
	}
	if s, ok := p.beh.(Sizer); ok {
		p.stateBytes.Store(int64(s.ApproxSize()))
	}
	p.rt.emit(EventStateReplaced, p, "", fmt.Sprintf("%d bytes, at its start", len(p.initial)))
	return nil
}
