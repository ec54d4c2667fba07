package actor_test

import (
	"testing"

	"github.com/steward/steward/actor"
)

// spawnProbe starts a standalone probe process.
func (e *env) spawnProbe(trap bool) (actor.PID, *probe) {
	e.t.Helper()
	pr := newProbe()
	pid, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "probe", Impl: pr, TrapExit: trap})
	if err != nil {
		e.t.Fatal(err)
	}
	return pid, pr
}

// exitOf waits for pid's exited event and returns its reason.
func (e *env) exitOf(pid actor.PID) actor.Reason {
	e.t.Helper()
	return e.await(actor.EventExited, pid).Reason
}

func (e *env) alive(pid actor.PID) bool {
	_, err := e.rt.Process(pid)
	return err == nil
}

func TestLinkAbnormalExitKillsLinkedProcess(t *testing.T) {
	e := newEnv(t)
	a, _ := e.spawnProbe(false)
	b, _ := e.spawnProbe(false)
	if err := e.rt.Link(a, b); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.rt.Process(b); len(info.Links) != 1 || info.Links[0] != a {
		t.Fatalf("b links %v", info.Links)
	}
	if err := e.rt.Send(a, actor.Message{Body: []byte("crash")}); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(a); r != "probe crashed" {
		t.Fatalf("a exited %q", r)
	}
	if r := e.exitOf(b); r != "probe crashed" {
		t.Fatalf("b exited %q, want the same reason as a", r)
	}
}

func TestLinkNormalExitDoesNotKill(t *testing.T) {
	e := newEnv(t)
	a := e.spawn("crasher", nil)
	b, _ := e.spawnProbe(false)
	if err := e.rt.Link(a, b); err != nil {
		t.Fatal(err)
	}
	e.cast(a, "stop")
	if r := e.exitOf(a); r != actor.Normal {
		t.Fatalf("a exited %q", r)
	}
	if !e.alive(b) {
		t.Fatal("a normal exit killed the linked process")
	}
	if info, _ := e.rt.Process(b); len(info.Links) != 0 {
		t.Fatalf("link to the dead process kept: %v", info.Links)
	}
	e.valid()
}

func TestTrapExitTurnsSignalsIntoMessages(t *testing.T) {
	e := newEnv(t)
	a, _ := e.spawnProbe(false)
	b, bp := e.spawnProbe(true)
	if err := e.rt.Link(a, b); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Kill(a, "boom"); err != nil {
		t.Fatal(err)
	}
	m := recv(t, bp.got)
	if m.Kind != actor.KindExit || m.From != a || string(m.Body) != "boom" {
		t.Fatalf("got %+v %q, want EXIT from a with boom", m, m.Body)
	}
	if !e.alive(b) {
		t.Fatal("trapping process died")
	}
	// Even a normal exit is reported to a trapping process.
	c := e.spawn("crasher", nil)
	if err := e.rt.Link(c, b); err != nil {
		t.Fatal(err)
	}
	e.cast(c, "stop")
	if m := recv(t, bp.got); m.Kind != actor.KindExit || string(m.Body) != "normal" {
		t.Fatalf("got %+v %q, want EXIT normal", m, m.Body)
	}
}

func TestKillReasonIsUntrappable(t *testing.T) {
	e := newEnv(t)
	trapper, _ := e.spawnProbe(true)
	plain, _ := e.spawnProbe(false)
	watcher, wp := e.spawnProbe(true)
	for _, p := range []actor.PID{plain, watcher} {
		if err := e.rt.Link(trapper, p); err != nil {
			t.Fatal(err)
		}
	}
	// exit(Pid, kill) kills a trapping process; it exits "killed", which
	// its links then see as an ordinary (trappable) reason.
	if err := e.rt.Exit(trapper, actor.Kill); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(trapper); r != actor.Killed {
		t.Fatalf("trapper exited %q", r)
	}
	if r := e.exitOf(plain); r != actor.Killed {
		t.Fatalf("linked non-trapping process exited %q", r)
	}
	if m := recv(t, wp.got); m.Kind != actor.KindExit || string(m.Body) != "killed" {
		t.Fatalf("trapping link got %+v %q", m, m.Body)
	}
}

func TestExitSignalFromOutside(t *testing.T) {
	e := newEnv(t)
	plain, _ := e.spawnProbe(false)
	trapper, tp := e.spawnProbe(true)
	if err := e.rt.Exit(plain, actor.Normal); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Exit(trapper, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, tp.got); m.Kind != actor.KindExit || !m.From.IsZero() || string(m.Body) != "shutdown" {
		t.Fatalf("trapper got %+v", m)
	}
	if !e.alive(plain) || !e.alive(trapper) {
		t.Fatal("normal exit to a plain process, or shutdown to a trapping one, killed it")
	}
	if err := e.rt.Exit(plain, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(plain); r != actor.Shutdown {
		t.Fatalf("plain exited %q", r)
	}
	wantErr(t, e.rt.Exit(plain, "x"), actor.ErrNoProc)
}

func TestMonitors(t *testing.T) {
	e := newEnv(t)
	w, wp := e.spawnProbe(false)
	target := e.spawn("counter", nil)
	ref, err := e.rt.Monitor(w, target)
	if err != nil {
		t.Fatal(err)
	}
	wi, _ := e.rt.Process(w)
	ti, _ := e.rt.Process(target)
	if len(wi.Monitors) != 1 || wi.Monitors[0] != target || len(ti.MonitoredBy) != 1 || ti.MonitoredBy[0] != w {
		t.Fatalf("monitors %v monitored_by %v", wi.Monitors, ti.MonitoredBy)
	}
	// A monitor is one-way: the watcher's death does not touch the target,
	// and the target's death does not kill the watcher.
	if err := e.rt.Kill(target, "bye"); err != nil {
		t.Fatal(err)
	}
	m := recv(t, wp.got)
	if m.Kind != actor.KindDown || m.Ref != ref || m.From != target || string(m.Body) != "bye" {
		t.Fatalf("DOWN %+v %q", m, m.Body)
	}
	if !e.alive(w) {
		t.Fatal("watcher died with the target")
	}
	// Monitoring a dead pid gives DOWN noproc at once, for dead and unknown.
	ref2, err := e.rt.Monitor(w, target)
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, wp.got); m.Kind != actor.KindDown || m.Ref != ref2 || string(m.Body) != "noproc" {
		t.Fatalf("DOWN for a dead pid %+v %q", m, m.Body)
	}
	if _, err := e.rt.Monitor(w, actor.PID{Node: "n1", Seq: 7777}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, wp.got); string(m.Body) != "noproc" {
		t.Fatalf("DOWN for an unknown pid %q", m.Body)
	}
	// Demonitor: no DOWN afterwards.
	t2 := e.spawn("counter", nil)
	ref3, _ := e.rt.Monitor(w, t2)
	if err := e.rt.Demonitor(w, ref3); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Suspend(w); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Kill(t2, "x"); err != nil {
		t.Fatal(err)
	}
	e.exitOf(t2)
	if q, _ := e.rt.Peek(w, 0); len(q) != 0 {
		t.Fatalf("demonitored watcher got %+v", q)
	}
	e.valid()
}

func TestLinkAndMonitorErrors(t *testing.T) {
	e := newEnv(t)
	a := e.spawn("counter", nil)
	dead := e.spawn("counter", nil)
	if err := e.rt.Kill(dead, ""); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.rt.Link(a, dead), actor.ErrNoProc)
	wantErr(t, e.rt.Link(a, actor.PID{Node: "n1", Seq: 5000}), actor.ErrUnknownPID)
	wantErr(t, e.rt.Link(a, actor.PID{Node: "n2", Seq: 1}), actor.ErrRemoteUnsupported)
	_, err := e.rt.Monitor(a, actor.PID{Node: "n2", Seq: 1})
	wantErr(t, err, actor.ErrRemoteUnsupported)
	wantErr(t, e.rt.Link(dead, a), actor.ErrNoProc)
	if err := e.rt.Link(a, a); err != nil {
		t.Fatalf("self link: %v", err)
	}
	if info, _ := e.rt.Process(a); len(info.Links) != 0 {
		t.Fatal("self link recorded")
	}
}

func TestUnlink(t *testing.T) {
	e := newEnv(t)
	a, _ := e.spawnProbe(false)
	b, _ := e.spawnProbe(false)
	if err := e.rt.Link(a, b); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Unlink(b, a); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Kill(a, "boom"); err != nil {
		t.Fatal(err)
	}
	e.exitOf(a)
	if !e.alive(b) {
		t.Fatal("unlinked process died")
	}
}

// A long chain of links unwinds without recursion: killing one end takes
// every process down.
func TestLongLinkChain(t *testing.T) {
	e := newEnv(t)
	const n = 2000
	first := e.spawn("counter", nil)
	prev := first
	for i := 1; i < n; i++ {
		p, err := e.rt.Spawn(e.ctx, actor.SpawnOptions{Behavior: "counter", Link: prev})
		if err != nil {
			t.Fatal(err)
		}
		prev = p
	}
	if e.rt.ProcessCount() != n {
		t.Fatalf("count %d", e.rt.ProcessCount())
	}
	if err := e.rt.Kill(first, "chain"); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(prev); r != "chain" {
		t.Fatalf("last in chain exited %q", r)
	}
	if c := e.rt.ProcessCount(); c != 0 {
		t.Fatalf("%d processes left", c)
	}
}
