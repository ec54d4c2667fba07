package actor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// A supervisor's death takes its children: one that traps exits stops
// gracefully (its Terminate runs with the supervisor's reason), one that
// does not dies at once.
func TestSupervisorDeathStopsItsChildren(t *testing.T) {
	e := newEnv(t)
	trapping := e.registerProbes("trapping", func(p *probe) { p.trap = true })
	plain := e.registerProbes("plain", nil)
	inner := sup("sub", spec.OneForOne, worker("t", "trapping"), worker("p", "plain"))
	e.apply(tree("tr", spec.OneForOne, inner))
	tp, pp := recv(t, trapping), recv(t, plain)
	sub := e.resolve("tr", "sub")
	if err := e.rt.Kill(sub, "operator"); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, tp.ended); r != "operator" {
		t.Fatalf("trapping child terminated with %q", r)
	}
	// Kill takes sub down on this goroutine: it hands the root its EXIT,
	// and only then takes the plain child down (a death caused by a death
	// waits on the work list), while the root, on its own goroutine, may
	// already be restarting sub. The plain child's exit and sub's restart
	// come in either order: wait for both together.
	evs := actortest.AwaitEvents(t, e.sub,
		actortest.Is(actor.EventExited, pp.pid),
		func(ev actor.Event) bool {
			return ev.Type == actor.EventRestarted && ev.Tree == "tr" && ev.ChildID == "sub"
		})
	if r := evs[0].Reason; r != "operator" {
		t.Fatalf("plain child exited %q", r)
	}
	select {
	case r := <-pp.ended:
		t.Fatalf("plain child ran Terminate (%q)", r)
	default:
	}
	if evs[1].PID == sub || evs[1].Reason != "operator" {
		t.Fatalf("restarted event %+v, want a new sub after operator", evs[1])
	}
	recv(t, trapping)
	recv(t, plain)
	e.valid()
}

// scripted runs the commands it is cast, through its Proc, and reports the
// outcome of each on out.
type scripted struct {
	probe
	out chan string
}

func (s *scripted) HandleCast(p actor.Proc, m actor.Message) error {
	verb, arg, _ := strings.Cut(string(m.Body), " ")
	target, _ := actor.ParsePID(arg)
	var res string
	switch verb {
	case "link":
		res = errText(p.Link(target))
	case "unlink":
		p.Unlink(target)
		res = "ok"
	case "monitor":
		_, err := p.Monitor(target)
		res = errText(err)
	case "trap":
		p.TrapExit(arg == "on")
		res = "ok"
	case "call":
		b, err := p.Call(context.Background(), target, []byte("get"))
		res = string(b) + errText(err)
	case "self":
		_, err := p.Call(context.Background(), p.Self(), nil)
		res = errText(err)
	case "whoami":
		p.Logger().Debug("whoami", "name", p.Name())
		res = p.Name() + " " + p.Parent().String() + " " + p.Now().Format("2006")
	}
	s.out <- res
	return nil
}

func (s *scripted) HandleInfo(_ actor.Proc, m actor.Message) error {
	s.got <- m
	return nil
}

func errText(err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

func TestBehaviorsUseTheirProc(t *testing.T) {
	e := newEnv(t)
	s := &scripted{probe: *newProbe(), out: make(chan string, 16)}
	pid, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "scripted", Impl: s, Name: "script"})
	if err != nil {
		t.Fatal(err)
	}
	do := func(cmd string) string {
		t.Helper()
		e.cast(pid, cmd)
		return recv(t, s.out)
	}
	c := e.spawn("counter", map[string]string{"start": "9"})
	if got := do("call " + c.String()); got != "9ok" {
		t.Fatalf("call from a behavior: %q", got)
	}
	if got := do("self"); !strings.Contains(got, "called itself") {
		t.Fatalf("self call: %q", got)
	}
	if got := do("whoami"); got != "script  2025" {
		t.Fatalf("whoami %q", got)
	}
	if got := do("trap on"); got != "ok" {
		t.Fatal(got)
	}
	if got := do("link " + c.String()); got != "ok" {
		t.Fatal(got)
	}
	w := e.spawn("counter", nil)
	if got := do("monitor " + w.String()); got != "ok" {
		t.Fatal(got)
	}
	if err := e.rt.Kill(c, "gone"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, s.got); m.Kind != actor.KindExit || m.From != c {
		t.Fatalf("trapped exit %+v", m)
	}
	if err := e.rt.Kill(w, "gone too"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, s.got); m.Kind != actor.KindDown || m.From != w {
		t.Fatalf("DOWN %+v", m)
	}
	if got := do("link " + c.String()); !strings.Contains(got, "process not alive") {
		t.Fatalf("link to dead: %q", got)
	}
	c2 := e.spawn("counter", nil)
	do("link " + c2.String())
	do("unlink " + c2.String())
	if info, _ := e.rt.Process(pid); len(info.Links) != 0 {
		t.Fatalf("links after unlink %v", info.Links)
	}
	info, _ := e.rt.Process(pid)
	if info.MessagesOut != 1 {
		t.Fatalf("messages out %d, want 1 (the call; the self-call is refused before sending)", info.MessagesOut)
	}
	e.valid()
}

func TestSimpleOneForOneTemplateUpdateAndLimit(t *testing.T) {
	e := newEnv(t, func(c *actor.Config) { c.MaxDynamicChildren = 2 })
	e.apply(tree("pool", spec.SimpleOneForOne, worker("w", "counter", "start", "1")))
	root := e.resolve("pool", "")
	w1, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.mark()
	e.apply(tree("pool", spec.SimpleOneForOne, worker("w", "counter", "start", "5")))
	upd := e.until(func(ev actor.Event) bool { return ev.Type == actor.EventTreeUpdated })
	if d := upd[len(upd)-1].Detail; d != "changed w (template)" {
		t.Fatalf("detail %q", d)
	}
	if e.resolve("pool", "w-1") != w1 || e.call(w1, "get") != "1" {
		t.Fatal("existing instance disturbed by a template change")
	}
	w2, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.call(w2, "get"); got != "5" {
		t.Fatalf("new instance runs the old template: %s", got)
	}
	_, err = e.rt.StartDynamicChild(e.ctx, root, nil)
	wantErr(t, err, actor.ErrTooManyChildren)
	e.valid()
}

func TestSpawnLinkFailsCleanly(t *testing.T) {
	e := newEnv(t)
	a := e.spawn("counter", nil)
	if _, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Name: "n"}); err != nil {
		t.Fatal(err)
	}
	// The name is taken: the spawn fails after linking, and undoes the link.
	_, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Name: "n", Link: a})
	wantErr(t, err, actor.ErrNameTaken)
	if info, _ := e.rt.Process(a); len(info.Links) != 0 {
		t.Fatalf("failed spawn left links %v", info.Links)
	}
	dead := e.spawn("counter", nil)
	if err := e.rt.Kill(dead, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Link: dead})
	wantErr(t, err, actor.ErrNoProc)
	e.valid()
}

func TestCatalogReplaceServesNewStarts(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("c", "counter")))
	c := e.resolve("t", "c")
	if err := e.cat.Replace(actor.Entry{Name: "counter", Version: "2", New: func(map[string]string) (actor.Behavior, error) {
		return newProbe(), nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Kill(c, "upgrade"); err != nil {
		t.Fatal(err)
	}
	e.awaitChild(actor.EventRestarted, "t", "c")
	info, _ := e.rt.Process(e.resolve("t", "c"))
	if info.Version != "2" {
		t.Fatalf("restarted child runs version %q", info.Version)
	}
}

func TestSupervisorCommandsWaitWhileSuspended(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne, worker("a", "counter")))
	root := e.resolve("t", "")
	if err := e.rt.Suspend(root); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.rt.StartChild(e.ctx, root, worker("b", "counter"))
		done <- err
	}()
	actortest.Eventually(t, "command queued", func() bool {
		info, _ := e.rt.Process(root)
		return info.MessagesIn == 1
	})
	select {
	case err := <-done:
		t.Fatalf("suspended supervisor acted: %v", err)
	default:
	}
	if err := e.rt.Resume(root); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	// A stop request is served even while suspended.
	if err := e.rt.Suspend(root); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.StopTree(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if e.rt.ProcessCount() != 0 {
		t.Fatal("suspended tree did not stop")
	}
}

func TestSimpleOneForOneSupervisorTemplate(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("pool", spec.SimpleOneForOne, sup("team", spec.OneForOne, worker("a", "counter"), worker("b", "echo"))))
	root := e.resolve("pool", "")
	team, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kids, _ := e.rt.WhichChildren(team); len(kids) != 2 {
		t.Fatalf("instance children %+v", kids)
	}
	if e.resolve("pool", "team-1/b").IsZero() {
		t.Fatal("nested child of an instance not resolvable")
	}
	_, err = e.rt.StartDynamicChild(e.ctx, root, map[string]string{"x": "1"})
	wantErr(t, err, actor.ErrBadArgs)
	e.valid()
}
