package actor_test

// Starts that fail, child specs read back and counts, mirrored from OTP's
// lib/stdlib/test/supervisor_SUITE.erl (issue 11), each test named after
// the case it follows.

import (
	"maps"
	"strconv"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// supervisor_SUITE:sup_start_restart_child_returns_error: child1 starts,
// is stopped with terminate_child, and its restart_child fails: the call
// returns the start's error, the child stays terminated with no pid, and
// it is not retried (a failed restart_child is the caller's to act on,
// not the supervisor's: no try_again_restart, no intensity spent).
func TestSupStartRestartChildReturnsError(t *testing.T) {
	e := newEnv(t)
	st := e.registerStarts("sup1", failAfterFirst)
	tr := tree("t", spec.OneForOne, keyed("child1", "sup1"))
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	cpid := e.resolve("t", "child1")
	if err := e.rt.TerminateChild(e.ctx, root, "child1"); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(cpid); r != actor.Shutdown {
		t.Fatalf("child1 exited %q, want shutdown", r)
	}
	e.mark()
	_, err := e.rt.RestartChild(e.ctx, root, "child1")
	wantErrText(t, err, actor.ErrStartFailed, errNoStart.Error())

	e.wantStates(root, map[string]string{"child1": "terminated"})
	e.wantCounts(root, 1, 0, 0, 1)
	// A command served after anything the failure could have queued: no
	// retry ran, the supervisor runs on.
	if _, err := e.rt.StartChild(e.ctx, root, worker("other", "counter")); err != nil {
		t.Fatal(err)
	}
	if n := st.count("child1"); n != 2 {
		t.Fatalf("child1 start attempts %d, want 2 (the start and restart_child's)", n)
	}
	e.wantStates(root, map[string]string{"child1": "terminated", "other": "running"})
	for _, ev := range e.rt.Events(e.marked) {
		if ev.Type == actor.EventRestarted || ev.Type == actor.EventSupervisorEscalated {
			t.Fatalf("after a failed restart_child: %+v", ev)
		}
	}
	// The next restart_child tries again, and fails again.
	_, err = e.rt.RestartChild(e.ctx, root, "child1")
	wantErr(t, err, actor.ErrStartFailed)
	if n := st.count("child1"); n != 3 {
		t.Fatalf("child1 start attempts %d, want 3", n)
	}
	e.valid()
}

// supervisor_SUITE:sup_start_child_returns_error_simple: start_child of a
// simple_one_for_one instance whose start fails returns the start's
// error and keeps no instance: which_children is [], count_children
// [1,0,0,0]. Past the suite: an instance that starts is listed alone.
func TestSupStartChildReturnsErrorSimple(t *testing.T) {
	e := newEnv(t)
	e.registerStarts("sup1", func(key string, _ int) error {
		if key == "error" {
			return errNoStart
		}
		return nil
	})
	tr := tree("t", spec.SimpleOneForOne, worker("child1", "sup1"))
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	for range 2 {
		pid, err := e.rt.StartDynamicChild(e.ctx, root, map[string]string{"key": "error"})
		wantErrText(t, err, actor.ErrStartFailed, errNoStart.Error())
		if !pid.IsZero() {
			t.Fatalf("a failed start returned pid %s", pid)
		}
	}
	if ids := e.childIDs(root); len(ids) != 0 {
		t.Fatalf("which_children %v, want []", ids)
	}
	e.wantCounts(root, 1, 0, 0, 0)
	pid, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := e.rt.WhichChildren(root)
	if len(kids) != 1 || kids[0].PID != pid {
		t.Fatalf("which_children %+v, want the one instance %s", kids, pid)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	e.valid()
}

// supervisor_SUITE:sup_start_map_simple: get_childspec with an instance's
// pid gives the template, the same for each of three instances (steward:
// with the instance's own id and merged args); a pid that is no instance
// is not_found. Steward gives the spec as it was given, not with the
// defaults filled in (TestSupStartMap_Defaults observes those). Past the
// suite: the template's id gives the template, and a terminated
// instance's pid is not_found.
func TestSupStartMapSimple(t *testing.T) {
	e := newEnv(t)
	tmpl := temporary(worker("child", "counter", "start", "1"))
	e.apply(tree("t", spec.SimpleOneForOne, tmpl))
	root := e.resolve("t", "")
	var pids []actor.PID
	for range 3 {
		pid, err := e.rt.StartDynamicChild(e.ctx, root, nil)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	extra, err := e.rt.StartDynamicChild(e.ctx, root, map[string]string{"start": "7"})
	if err != nil {
		t.Fatal(err)
	}
	ids := e.childIDs(root)
	for i, pid := range append(pids, extra) {
		got, err := e.rt.GetChildSpec(root, pid.String())
		if err != nil {
			t.Fatalf("get_childspec of instance %s: %v", pid, err)
		}
		want := tmpl
		want.ID = ids[i]
		want.Args = map[string]string{"start": "1"}
		if pid == extra {
			want.Args["start"] = "7"
		}
		if got.ID != want.ID || got.Behavior != want.Behavior || got.Restart != want.Restart ||
			got.Shutdown != want.Shutdown || got.Type != want.Type || got.Significant || !maps.Equal(got.Args, want.Args) {
			t.Fatalf("get_childspec of %s = %+v, want %+v", pid, got, want)
		}
	}
	got, err := e.rt.GetChildSpec(root, "child")
	if err != nil || got.ID != "child" || !maps.Equal(got.Args, tmpl.Args) {
		t.Fatalf("get_childspec of the template = %+v, %v", got, err)
	}
	stranger := e.spawn("counter", nil)
	_, err = e.rt.GetChildSpec(root, stranger.String())
	wantErr(t, err, actor.ErrChildNotFound)
	if err := e.rt.TerminateChild(e.ctx, root, pids[0].String()); err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.GetChildSpec(root, pids[0].String())
	wantErr(t, err, actor.ErrChildNotFound)
}

// supervisor_SUITE:count_children_supervisor: a simple_one_for_one
// supervisor whose template is a (temporary) supervisor counts its
// instances as supervisors: [1,n,n,0] for 100 and then 200 instances,
// which_children lists them of type supervisor, and once each is
// killed, [1,0,0,0].
func TestCountChildrenSupervisor(t *testing.T) {
	e := newEnv(t)
	tmpl := spec.ChildSpec{ID: "child", Type: spec.Supervisor, Restart: spec.Temporary, Shutdown: spec.Infinity,
		SupervisorSpec: spec.SupervisorSpec{Strategy: spec.OneForOne, MaxRestarts: 2, MaxSeconds: 3600}}
	tr := tree("t", spec.SimpleOneForOne, tmpl)
	tr.MaxRestarts, tr.MaxSeconds = 2, 3600
	e.apply(tr)
	root := e.resolve("t", "")
	start := func(n int) {
		for range n {
			if _, err := e.rt.StartDynamicChild(e.ctx, root, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	start(100)
	e.wantCounts(root, 1, 100, 100, 0)
	start(100)
	e.wantCounts(root, 1, 200, 200, 0)
	kids, err := e.rt.WhichChildren(root)
	if err != nil || len(kids) != 200 {
		t.Fatalf("which_children: %d, %v", len(kids), err)
	}
	for _, k := range kids {
		if k.Type != spec.Supervisor || k.State != "running" || k.PID.IsZero() {
			t.Fatalf("instance %+v, want a running supervisor", k)
		}
		if err := e.rt.Kill(k.PID, actor.Killed); err != nil {
			t.Fatal(err)
		}
	}
	e.awaitChildren(root, 0)
	e.wantCounts(root, 1, 0, 0, 0)
	if !e.alive(root) {
		t.Fatal("the supervisor exited: temporary instances are not restarted")
	}
}

// Past the suite (scale_start_stop_many_children's correctness half): a
// supervisor of more children than one published chunk holds, after
// start_child of each, terminate_child of every third and restart_child
// of every sixth, lists each child in start order in the state those
// calls left it, and counts them so.
func TestManyStaticChildrenPublished(t *testing.T) {
	const n = 300
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne))
	root := e.resolve("t", "")
	pids := make([]actor.PID, n)
	for i := range n {
		pid, err := e.rt.StartChild(e.ctx, root, worker("c"+strconv.Itoa(i), "counter"))
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = pid
	}
	running := n
	for i := 0; i < n; i += 3 {
		if err := e.rt.TerminateChild(e.ctx, root, "c"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		running--
	}
	for i := 0; i < n; i += 6 {
		pid, err := e.rt.RestartChild(e.ctx, root, "c"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = pid
		running++
	}
	kids, err := e.rt.WhichChildren(root)
	if err != nil || len(kids) != n {
		t.Fatalf("which_children: %d, %v", len(kids), err)
	}
	for i, k := range kids {
		want, wantPID := "running", pids[i]
		if i%3 == 0 && i%6 != 0 {
			want, wantPID = "terminated", actor.PID{}
		}
		if k.ID != "c"+strconv.Itoa(i) || k.State != want || k.PID != wantPID {
			t.Fatalf("child %d: %+v, want c%d %s %s", i, k, i, want, wantPID)
		}
	}
	e.wantCounts(root, n, running, 0, n)
	e.valid()
}
