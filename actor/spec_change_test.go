package actor_test

import (
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// childrenByID is which_children of the supervisor at path, by id.
func (e *env) childrenByID(tree, path string) map[string]actor.ChildInfo {
	e.t.Helper()
	kids, err := e.rt.WhichChildren(e.resolve(tree, path))
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]actor.ChildInfo{}
	for _, k := range kids {
		out[k.ID] = k
	}
	return out
}

// A running child whose changed spec fails to start is not lost: the
// supervisor starts it again from the spec it ran, and the tree reports
// the spec it runs, not the refused one (issue 11, item 7).
func TestApplyTreeFailedChangeRestoresChild(t *testing.T) {
	e := newEnv(t)
	old := tree("t", spec.OneForOne, worker("a", "counter"), worker("b", "echo"), worker("c", "kv"))
	e.apply(old)
	a, c := e.resolve("t", "a"), e.resolve("t", "c")

	// b changes to a behavior whose Init fails; c is unchanged.
	bad := tree("t", spec.OneForOne, worker("a", "counter"), worker("b", "crasher", "crash_in_init", "true"), worker("c", "kv"))
	err := e.rt.ApplyTree(e.ctx, bad)
	wantErr(t, err, actor.ErrStartFailed)

	kids := e.childrenByID("t", "")
	if k, ok := kids["b"]; !ok || k.PID.IsZero() || k.State != "running" || k.Behavior != "echo" {
		t.Fatalf("b after the refused change: %+v (present %v); all %+v", k, ok, kids)
	}
	if e.resolve("t", "a") != a || e.resolve("t", "c") != c {
		t.Fatal("unchanged children were restarted")
	}
	// Order is the spec's.
	got, _ := e.rt.WhichChildren(e.resolve("t", ""))
	if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" {
		t.Fatalf("children %+v", got)
	}
	ti, err := e.rt.Tree("t")
	if err != nil {
		t.Fatal(err)
	}
	if b := ti.Spec.Children[1]; b.ID != "b" || b.Behavior != "echo" {
		t.Fatalf("TreeInfo.Spec says b runs %+v; it runs echo", b)
	}
	e.valid()

	// Applying the old spec again changes nothing; the refused spec is
	// refused again, still without losing b.
	before := e.snapshot("t")
	e.apply(old)
	if after := e.snapshot("t"); !samePIDs(before, after) {
		t.Fatalf("re-applying the running spec changed processes: %v -> %v", before, after)
	}
	wantErr(t, e.rt.ApplyTree(e.ctx, bad), actor.ErrStartFailed)
	if k := e.childrenByID("t", "")["b"]; k.PID.IsZero() || k.Behavior != "echo" {
		t.Fatalf("b after a second refusal: %+v", k)
	}
	e.valid()
}

// The same inside a nested supervisor, and beside parts of the update
// that do apply: those stay applied, the tree's spec says so, and a new
// child that fails is left out as before.
func TestApplyTreeFailedNestedChangeRestoresChild(t *testing.T) {
	e := newEnv(t)
	old := tree("t", spec.OneForOne,
		worker("a", "counter"),
		sup("s", spec.RestForOne, worker("x", "counter"), worker("y", "kv")))
	e.apply(old)
	x := e.resolve("t", "s/x")

	next := tree("t", spec.OneForOne,
		worker("a", "echo"), // changes and starts
		sup("s", spec.RestForOne, worker("x", "counter"), worker("y", "crasher", "crash_in_init", "true")),
		worker("n", "crasher", "crash_in_init", "true")) // new, fails
	wantErr(t, e.rt.ApplyTree(e.ctx, next), actor.ErrStartFailed)

	if k := e.childrenByID("t", "s")["y"]; k.PID.IsZero() || k.Behavior != "kv" {
		t.Fatalf("s/y after the refused change: %+v", k)
	}
	if e.resolve("t", "s/x") != x {
		t.Fatal("s/x was restarted")
	}
	top := e.childrenByID("t", "")
	if k := top["a"]; k.Behavior != "echo" || k.PID.IsZero() {
		t.Fatalf("a: %+v", k)
	}
	if _, ok := top["n"]; ok {
		t.Fatalf("the new failing child is listed: %+v", top)
	}
	ti, _ := e.rt.Tree("t")
	if len(ti.Spec.Children) != 2 || ti.Spec.Children[0].Behavior != "echo" ||
		ti.Spec.Children[1].Children[1].Behavior != "kv" {
		t.Fatalf("TreeInfo.Spec %+v", ti.Spec.Children)
	}
	e.valid()
}
