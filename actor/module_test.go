package actor_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

// modules is a test module store: versions of module "c" registered as
// native counters under "mod:c@VERSION", an active version, and the
// resolver the runtime asks.
type modules struct {
	e      *env
	mu     sync.Mutex
	active string
	calls  int
}

func newModules(e *env, active string, versions ...string) *modules {
	m := &modules{e: e, active: active}
	for _, v := range versions {
		m.add(v)
	}
	e.cat.SetModuleResolver(m.resolve)
	return m
}

func (m *modules) add(version string) {
	m.e.t.Helper()
	if err := m.e.cat.Register(actor.Entry{Name: "mod:c@" + version, Version: version, New: behaviors.NewCounter}); err != nil {
		m.e.t.Fatal(err)
	}
}

func (m *modules) activate(version string) {
	m.mu.Lock()
	m.active = version
	m.mu.Unlock()
}

func (m *modules) resolve(ref string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	name, version, pinned := strings.Cut(ref, "@")
	if name != "c" {
		return "", fmt.Errorf("no module %q", name)
	}
	if !pinned {
		version = m.active
	}
	b := "mod:c@" + version
	if _, err := m.e.cat.Lookup(b); err != nil {
		return "", fmt.Errorf("module %q has no version %q", name, version)
	}
	return b, nil
}

func moduleChild(id, ref string) spec.ChildSpec { return spec.ChildSpec{ID: id, Module: ref} }

// info is the process at a tree path.
func (e *env) info(tree, path string) actor.ProcessInfo {
	e.t.Helper()
	pi, err := e.rt.Process(e.resolve(tree, path))
	if err != nil {
		e.t.Fatal(err)
	}
	return pi
}

func (e *env) wantRunning(tree, path, behavior, module string) {
	e.t.Helper()
	pi := e.info(tree, path)
	if pi.Behavior != behavior || pi.Module != module {
		e.t.Fatalf("%s/%s runs %s (module %q), want %s (module %q)", tree, path, pi.Behavior, pi.Module, behavior, module)
	}
}

// killAndRestart kills a child and waits for its supervisor to restart it.
func (e *env) killAndRestart(tree, path string) {
	e.t.Helper()
	pid := e.resolve(tree, path)
	e.mark()
	if err := e.rt.Kill(pid, "boom"); err != nil {
		e.t.Fatal(err)
	}
	e.awaitChild(actor.EventRestarted, tree, path)
}

// TestModuleRefs: a following ref starts the active version, a pinned one
// its version; every restart resolves again; the spec's ref shows in
// ProcessInfo and which_children.
func TestModuleRefs(t *testing.T) {
	e := newEnv(t)
	m := newModules(e, "2", "1", "2")
	e.apply(tree("t", spec.OneForOne, moduleChild("f", "c"), moduleChild("p", "c@1"), worker("w", "counter")))
	e.wantRunning("t", "f", "mod:c@2", "c")
	e.wantRunning("t", "p", "mod:c@1", "c@1")
	if pi := e.info("t", "w"); pi.Module != "" || pi.Behavior != "counter" {
		t.Fatalf("behavior child: %+v", pi)
	}
	root, err := e.rt.Resolve(actor.Target{Tree: "t"})
	if err != nil {
		t.Fatal(err)
	}
	kids, err := e.rt.WhichChildren(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 3 || kids[0].Module != "c" || kids[0].Behavior != "mod:c@2" || kids[1].Module != "c@1" || kids[2].Module != "" {
		t.Fatalf("which_children %+v", kids)
	}

	// New starts follow the active version; running processes stay.
	m.activate("1")
	e.wantRunning("t", "f", "mod:c@2", "c")
	e.killAndRestart("t", "f")
	e.wantRunning("t", "f", "mod:c@1", "c")
	m.activate("2")
	e.killAndRestart("t", "p")
	e.wantRunning("t", "p", "mod:c@1", "c@1")
	e.valid()
}

// TestModuleRefUnresolvable: a ref the resolver does not know fails the
// start (the tree's, or a restart's), with a reason naming the ref.
func TestModuleRefUnresolvable(t *testing.T) {
	e := newEnv(t)
	err := e.rt.ApplyTree(e.ctx, tree("none", spec.OneForOne, moduleChild("f", "c")))
	wantErr(t, err, actor.ErrUnknownModule)
	if !strings.Contains(err.Error(), `module "c": no module resolver`) {
		t.Fatalf("error %v", err)
	}

	m := newModules(e, "1", "1")
	err = e.rt.ApplyTree(e.ctx, tree("bad", spec.OneForOne, moduleChild("f", "c@7")))
	wantErr(t, err, actor.ErrUnknownModule)
	wantErr(t, err, actor.ErrStartFailed)
	if !strings.Contains(err.Error(), `module "c@7": module "c" has no version "7"`) {
		t.Fatalf("error %v", err)
	}

	// A restart that cannot resolve is a failed start: the supervisor
	// retries it against its intensity.
	e.apply(tree("t", spec.OneForOne, moduleChild("f", "c"), worker("w", "counter")))
	m.activate("9")
	pid := e.resolve("t", "f")
	e.mark()
	if err := e.rt.Kill(pid, "boom"); err != nil {
		t.Fatal(err)
	}
	ev := e.awaitChild(actor.EventStartFailed, "t", "f")
	if !strings.Contains(string(ev.Reason), `unknown module: module "c": module "c" has no version "9"`) {
		t.Fatalf("start_failed reason %q", ev.Reason)
	}
	// The retries fail as fast as they come, so the supervisor escalates
	// as beyond any intensity and the tree fails.
	e.awaitChild(actor.EventTreeFailed, "t", "")

	// Args are checked against the resolved behavior when it is loaded.
	m.activate("1")
	err = e.rt.ApplyTree(e.ctx, tree("args", spec.OneForOne, spec.ChildSpec{ID: "f", Module: "c", Args: map[string]string{"bogus": "1"}}))
	wantErr(t, err, actor.ErrBadArgs)
	wantErr(t, err, actor.ErrInvalidSpec)
}

// TestSlotMemory: a slot whose process a code change moved restarts on the
// behavior it was moved onto (while the catalog has it), not on a fresh
// resolution; the others resolve again; a changed spec forgets it.
func TestSlotMemory(t *testing.T) {
	e := newEnv(t)
	m := newModules(e, "1", "1", "2")
	e.apply(tree("t", spec.OneForOne,
		moduleChild("a", "c"), moduleChild("b", "c"), worker("x", "mod:c@1"),
		sup("s", spec.OneForAll, moduleChild("m", "c"), moduleChild("n", "c"))))
	move := func(path, to string) {
		t.Helper()
		if _, err := e.rt.ChangeCode(e.ctx, e.resolve("t", path), to); err != nil {
			t.Fatal(err)
		}
	}
	move("a", "mod:c@2")
	move("x", "mod:c@2")
	move("s/m", "mod:c@2")

	// Moved: back on the new version, with the active record still on
	// the old one. Not moved: back on the old one.
	e.killAndRestart("t", "a")
	e.wantRunning("t", "a", "mod:c@2", "c")
	e.killAndRestart("t", "b")
	e.wantRunning("t", "b", "mod:c@1", "c")
	e.killAndRestart("t", "x")
	e.wantRunning("t", "x", "mod:c@2", "")
	// A second restart still remembers it.
	e.killAndRestart("t", "a")
	e.wantRunning("t", "a", "mod:c@2", "c")

	// one_for_all: a sibling's crash stops and restarts the moved child too.
	if err := e.rt.Kill(e.resolve("t", "s/n"), "boom"); err != nil {
		t.Fatal(err)
	}
	restarted := func(path string) func(actor.Event) bool {
		return func(ev actor.Event) bool {
			return ev.Type == actor.EventRestarted && ev.Tree == "t" && ev.ChildID == path
		}
	}
	actortest.AwaitEvents(t, e.sub, restarted("s/m"), restarted("s/n"))
	e.wantRunning("t", "s/m", "mod:c@2", "c")
	e.wantRunning("t", "s/n", "mod:c@1", "c")

	// A moved slot and the active record moving do not interfere: a
	// moved slot stays on its behavior, an unmoved one follows.
	m.activate("2")
	e.killAndRestart("t", "b")
	e.wantRunning("t", "b", "mod:c@2", "c")
	move("b", "mod:c@1")
	e.killAndRestart("t", "b")
	e.wantRunning("t", "b", "mod:c@1", "c")
	m.activate("1")

	// Re-applying a spec that changes a (its args) gives it a new slot,
	// resolved afresh; unchanged b keeps its memory.
	move("b", "mod:c@2")
	e.apply(tree("t", spec.OneForOne,
		spec.ChildSpec{ID: "a", Module: "c", Args: map[string]string{"start": "5"}}, moduleChild("b", "c"), worker("x", "mod:c@1"),
		sup("s", spec.OneForAll, moduleChild("m", "c"), moduleChild("n", "c"))))
	e.wantRunning("t", "a", "mod:c@1", "c")
	e.killAndRestart("t", "b")
	e.wantRunning("t", "b", "mod:c@2", "c")

	// A remembered behavior gone from the catalog: resolve again.
	e.cat.Remove("mod:c@2")
	e.killAndRestart("t", "b")
	e.wantRunning("t", "b", "mod:c@1", "c")
	e.killAndRestart("t", "x")
	e.wantRunning("t", "x", "mod:c@1", "")
	e.valid()
}
