package actor_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// snapshot maps every live process of a tree to its PID, by child path.
func (e *env) snapshot(tree string) map[string]actor.PID {
	out := map[string]actor.PID{}
	for _, p := range e.rt.Processes() {
		if p.Tree == tree {
			out[p.ChildID] = p.PID
		}
	}
	return out
}

func baseTree() spec.Tree {
	return tree("app", spec.OneForOne,
		worker("a", "counter"),
		sup("sub", spec.OneForOne, worker("x", "counter"), worker("y", "kv")),
		worker("b", "echo"),
	)
}

func TestApplyTreeStartsAndDescribes(t *testing.T) {
	e := newEnv(t)
	tr := baseTree()
	tr.Children[0].Name = "hits"
	e.apply(tr)
	infos := e.rt.Trees()
	if len(infos) != 1 || infos[0].Name != "app" || infos[0].Status != actor.TreeRunning || infos[0].Processes != 6 {
		t.Fatalf("trees %+v", infos)
	}
	if infos[0].Root != e.resolve("app", "") || infos[0].Spec.Children[1].ID != "sub" {
		t.Fatalf("tree info %+v", infos[0])
	}
	x := e.resolve("app", "sub/x")
	info, _ := e.rt.Process(x)
	if info.Parent != e.resolve("app", "sub") || info.ChildID != "sub/x" || info.Tree != "app" || info.Behavior != "counter" {
		t.Fatalf("x info %+v", info)
	}
	if pid, ok := e.rt.WhereIs("hits"); !ok || pid != e.resolve("app", "a") {
		t.Fatal("registered name not held by its child")
	}
	// Applying the same spec is a no-op.
	before := e.snapshot("app")
	e.mark()
	e.apply(tr)
	if after := e.snapshot("app"); !samePIDs(before, after) {
		t.Fatalf("re-apply changed processes: %v -> %v", before, after)
	}
	if evs := e.rt.Events(e.marked); len(evs) != 0 {
		t.Fatalf("re-apply emitted %+v", evs)
	}
	e.valid()
}

func samePIDs(a, b map[string]actor.PID) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestApplyTreeUpdatesInPlace(t *testing.T) {
	e := newEnv(t)
	e.apply(baseTree())
	before := e.snapshot("app")

	next := baseTree()
	next.Strategy, next.MaxRestarts = spec.RestForOne, 4                               // policy in place
	next.Children[0].Args = map[string]string{"start": "100"}                          // a changed
	next.Children[1].Children = append(next.Children[1].Children, worker("z", "echo")) // sub gains z
	next.Children[1].Strategy = spec.OneForAll                                         // sub's policy in place
	next.Children = append(next.Children[:2], worker("c", "counter"))                  // b removed, c added
	e.mark()
	e.apply(next)

	after := e.snapshot("app")
	for _, path := range []string{"", "sub", "sub/x", "sub/y"} {
		if after[path] != before[path] {
			t.Errorf("%q changed pid %v -> %v though unchanged", path, before[path], after[path])
		}
	}
	if after["a"] == before["a"] || after["a"].IsZero() {
		t.Error("changed child a kept its process")
	}
	if _, ok := after["b"]; ok {
		t.Error("removed child b still runs")
	}
	if after["c"].IsZero() || after["sub/z"].IsZero() {
		t.Errorf("added children missing: %v", after)
	}
	if got := e.call(after["a"], "get"); got != "100" {
		t.Errorf("a runs its old args: count %s", got)
	}
	if pol, _ := e.rt.SupervisorPolicy(after[""]); pol.Strategy != spec.RestForOne || pol.MaxRestarts != 4 {
		t.Errorf("root policy %+v", pol)
	}
	if pol, _ := e.rt.SupervisorPolicy(after["sub"]); pol.Strategy != spec.OneForAll {
		t.Errorf("sub policy %+v", pol)
	}
	kids, _ := e.rt.WhichChildren(after[""])
	if ids := []string{kids[0].ID, kids[1].ID, kids[2].ID}; !sameStrings(ids, []string{"a", "sub", "c"}) || len(kids) != 3 {
		t.Errorf("children order %v", ids)
	}
	upd := e.until(func(ev actor.Event) bool { return ev.Type == actor.EventTreeUpdated })
	d := upd[len(upd)-1].Detail
	for _, want := range []string{"policy changed", "added sub/z,c", "removed b", "changed a"} {
		if !strings.Contains(d, want) {
			t.Errorf("update detail %q lacks %q", d, want)
		}
	}
	if info, _ := e.rt.Tree("app"); info.Spec.Strategy != spec.RestForOne {
		t.Error("tree spec not recorded")
	}
	e.valid()
}

func TestApplyTreeReplacesNestedSupervisorWhenItsOwnFieldsChange(t *testing.T) {
	e := newEnv(t)
	e.apply(baseTree())
	before := e.snapshot("app")
	next := baseTree()
	next.Children[1].Restart = spec.Transient // the supervisor child itself changed
	e.apply(next)
	after := e.snapshot("app")
	if after["sub"] == before["sub"] || after["sub/x"] == before["sub/x"] {
		t.Fatal("a supervisor child whose own spec changed was not replaced")
	}
	if after["a"] != before["a"] || after["b"] != before["b"] {
		t.Fatal("siblings disturbed")
	}
	e.valid()
}

func TestApplyTreeRootStrategyToSimpleReplacesTree(t *testing.T) {
	e := newEnv(t)
	e.apply(baseTree())
	root := e.resolve("app", "")
	if err := e.rt.SetTracing("app", actor.Tracing{Flow: true}); err != nil {
		t.Fatal(err)
	}
	e.apply(tree("app", spec.SimpleOneForOne, worker("w", "counter")))
	if e.resolve("app", "") == root {
		t.Fatal("root kept across a move to simple_one_for_one")
	}
	if info, _ := e.rt.Tree("app"); info.Processes != 1 || !info.Tracing.Flow {
		t.Fatalf("replaced tree %+v", info)
	}
	e.valid()
}

func TestApplyTreeRefusesBadSpecsAndTouchesNothing(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.MaxProcesses = 20; c.MaxDepth = 3; c.MaxChildren = 5 })
	e.apply(baseTree())
	outsider, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Name: "taken"})
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot("app")
	mark := e.rt.Stats().LastEventSeq

	deep := func(levels int) spec.Tree {
		c := worker("leaf", "counter")
		for i := 0; i < levels; i++ {
			c = sup("s", spec.OneForOne, c)
		}
		return tree("app", spec.OneForOne, c)
	}
	dupNames := baseTree()
	dupNames.Children[0].Name = "n"
	dupNames.Children[2].Name = "n"
	takenName := baseTree()
	takenName.Children[0].Name = "taken"
	many := baseTree()
	for i := 0; i < 10; i++ {
		many.Children[1].Children = append(many.Children[1].Children, worker("w"+string(rune('a'+i)), "counter"))
	}
	tooMany := tree("app", spec.OneForOne)
	for i := 0; i < 4; i++ {
		s := sup("s"+string(rune('a'+i)), spec.OneForOne)
		for j := 0; j < 5; j++ {
			s.Children = append(s.Children, worker("w"+string(rune('a'+j)), "counter"))
		}
		tooMany.Children = append(tooMany.Children, s)
	}
	mutate := func(f func(*spec.Tree)) spec.Tree { tr := baseTree(); f(&tr); return tr }

	cases := []struct {
		name string
		tree spec.Tree
		want []error
	}{
		{"unknown behavior", mutate(func(t *spec.Tree) { t.Children[0].Behavior = "nope" }), []error{actor.ErrUnknownBehavior}},
		{"bad arg value", mutate(func(t *spec.Tree) { t.Children[0].Args = map[string]string{"start": "ten"} }), []error{actor.ErrBadArgs}},
		{"unknown arg", mutate(func(t *spec.Tree) { t.Children[0].Args = map[string]string{"strat": "1"} }), []error{actor.ErrBadArgs}},
		{"absurd intensity", mutate(func(t *spec.Tree) { t.MaxRestarts = 1_000_000 }), []error{spec.ErrBadValue}},
		{"negative intensity", mutate(func(t *spec.Tree) { t.Children[1].MaxSeconds = -5 }), []error{spec.ErrBadValue}},
		{"unknown strategy", mutate(func(t *spec.Tree) { t.Strategy = "one_for_most" }), []error{spec.ErrBadValue}},
		{"duplicate ids", mutate(func(t *spec.Tree) { t.Children[2].ID = "a" }), []error{spec.ErrDuplicate}},
		{"duplicate names", dupNames, []error{spec.ErrDuplicate}},
		{"name held outside the tree", takenName, []error{actor.ErrNameTaken}},
		{"too deep", deep(3), []error{spec.ErrLimit}},
		{"too many children", many, []error{spec.ErrLimit}},
		{"too many processes", tooMany, []error{actor.ErrTooManyProcesses}},
		{"bad shutdown", mutate(func(t *spec.Tree) { t.Children[0].Shutdown = "soon" }), []error{spec.ErrBadValue}},
		{"bad restart", mutate(func(t *spec.Tree) { t.Children[0].Restart = "sometimes" }), []error{spec.ErrBadValue}},
		{"worker with children", mutate(func(t *spec.Tree) { t.Children[0].Children = []spec.ChildSpec{worker("q", "echo")} }), []error{spec.ErrFieldMix}},
		{"bad id", mutate(func(t *spec.Tree) { t.Children[0].ID = "a/b" }), []error{spec.ErrBadName}},
		{"other node", mutate(func(t *spec.Tree) { t.Node = "n9" }), []error{actor.ErrWrongNode}},
		{"simple with two templates", tree("app", spec.SimpleOneForOne, worker("a", "echo"), worker("b", "echo")), []error{spec.ErrBadValue}},
	}
	for _, c := range cases {
		err := e.rt.ApplyTree(e.ctx, c.tree)
		if !errors.Is(err, actor.ErrInvalidSpec) {
			t.Errorf("%s: error %v, want ErrInvalidSpec", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: error %v, want %v", c.name, err, w)
			}
		}
	}
	if got := e.snapshot("app"); !samePIDs(before, got) {
		t.Fatalf("a refused spec disturbed the tree: %v -> %v", before, got)
	}
	if evs := e.rt.Events(mark); len(evs) != 0 {
		t.Fatalf("refused specs emitted events: %+v", evs)
	}
	if !e.alive(outsider) {
		t.Fatal("outsider disturbed")
	}
	// A depth within the limit is fine.
	e.apply(deep(2))
	e.valid()
}

func TestApplyTreeStartFailures(t *testing.T) {
	e := newEnv(t)
	bad := tree("t", spec.OneForOne, worker("ok", "counter"), worker("boom", "crasher", "crash_in_init", "true"))
	err := e.rt.ApplyTree(e.ctx, bad)
	wantErr(t, err, actor.ErrStartFailed)
	if _, err := e.rt.Tree("t"); !errors.Is(err, actor.ErrTreeNotFound) || e.rt.ProcessCount() != 0 {
		t.Fatalf("failed start left a tree or processes (%d)", e.rt.ProcessCount())
	}
	// During an update the failing child is reported and left out; the
	// rest applies; applying again retries it.
	good := tree("t", spec.OneForOne, worker("ok", "counter"))
	e.apply(good)
	ok := e.resolve("t", "ok")
	err = e.rt.ApplyTree(e.ctx, tree("t", spec.OneForOne, worker("ok", "counter"), worker("boom", "crasher", "crash_in_init", "true"), worker("fine", "echo")))
	wantErr(t, err, actor.ErrStartFailed)
	if e.resolve("t", "ok") != ok || e.resolve("t", "fine").IsZero() {
		t.Fatal("update around the failing child did not apply")
	}
	_, err = e.rt.Resolve(actor.Target{Tree: "t", Path: "boom"})
	wantErr(t, err, actor.ErrChildNotFound)
	e.valid()
}

func TestTargets(t *testing.T) {
	e := newEnv(t)
	tr := baseTree()
	tr.Children[0].Name = "hits"
	e.apply(tr)
	a := e.resolve("app", "a")
	for _, c := range []struct {
		in   string
		want actor.Target
	}{
		{"pid:n1/3", actor.Target{PID: actor.PID{Node: "n1", Seq: 3}}},
		{"n1/3", actor.Target{PID: actor.PID{Node: "n1", Seq: 3}}},
		{"name:hits", actor.Target{Name: "hits"}},
		{"hits", actor.Target{Name: "hits"}},
		{"tree:app", actor.Target{Tree: "app"}},
		{"tree:app/sub/x", actor.Target{Tree: "app", Path: "sub/x"}},
		{"app/sub/x", actor.Target{Tree: "app", Path: "sub/x"}},
	} {
		got, err := actor.ParseTarget(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "pid:x", "name:", "tree:", "app//x", "two words"} {
		if _, err := actor.ParseTarget(bad); !errors.Is(err, actor.ErrBadTarget) {
			t.Errorf("ParseTarget(%q) = %v, want ErrBadTarget", bad, err)
		}
	}
	if pid, _ := e.rt.Resolve(actor.Target{Name: "hits"}); pid != a {
		t.Fatal("name does not resolve to the child")
	}
	if pid, _ := e.rt.Resolve(actor.Target{PID: a}); pid != a {
		t.Fatal("pid does not resolve to itself")
	}
	remote := actor.PID{Node: "n2", Seq: 9}
	if pid, err := e.rt.Resolve(actor.Target{PID: remote}); err != nil || pid != remote {
		t.Fatalf("remote pid resolves to %v, %v", pid, err)
	}
	for _, c := range []struct {
		tg   actor.Target
		want error
	}{
		{actor.Target{Tree: "nope"}, actor.ErrTreeNotFound},
		{actor.Target{Tree: "app", Path: "sub/nope"}, actor.ErrChildNotFound},
		{actor.Target{Tree: "app", Path: "a/deeper"}, actor.ErrChildNotFound},
		{actor.Target{Name: "ghost"}, actor.ErrNameNotFound},
		{actor.Target{PID: actor.PID{Node: "n1", Seq: 999}}, actor.ErrUnknownPID},
		{actor.Target{}, actor.ErrBadTarget},
		{actor.Target{Name: "hits", Tree: "app"}, actor.ErrBadTarget},
	} {
		if _, err := e.rt.Resolve(c.tg); !errors.Is(err, c.want) {
			t.Errorf("Resolve(%+v) = %v, want %v", c.tg, err, c.want)
		}
	}
	if err := e.rt.TerminateChild(e.ctx, e.resolve("app", ""), "b"); err != nil {
		t.Fatal(err)
	}
	_, err := e.rt.Resolve(actor.Target{Tree: "app", Path: "b"})
	wantErr(t, err, actor.ErrChildNotRunning)
}

func TestTickerFollowsRegisteredName(t *testing.T) {
	e := newEnv(t)
	c := worker("c", "counter")
	c.Name = "sink"
	e.apply(tree("t", spec.OneForOne, c, worker("tick", "ticker", "target", "sink", "interval", "1s")))
	sink := e.resolve("t", "c")
	step := func() {
		t.Helper()
		if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	for i := 0; i < 3; i++ {
		step()
	}
	actortest.Eventually(t, "3 ticks counted", func() bool {
		b, err := e.rt.Call(e.ctx, sink, actor.Message{Body: []byte("get")})
		return err == nil && string(b) == "3"
	})
	// The sink restarts; the ticker finds it again by name.
	if err := e.rt.Kill(sink, "bump"); err != nil {
		t.Fatal(err)
	}
	e.awaitChild(actor.EventRestarted, "t", "c")
	step()
	sink2 := e.resolve("t", "c")
	actortest.Eventually(t, "tick reaches the restarted sink", func() bool {
		b, err := e.rt.Call(e.ctx, sink2, actor.Message{Body: []byte("get")})
		return err == nil && string(b) == "1"
	})
	st, _ := e.rt.GetState(e.ctx, e.resolve("t", "tick"))
	if string(st) != `{"ticks":4,"missed":0}` {
		t.Fatalf("ticker state %s", st)
	}
}
