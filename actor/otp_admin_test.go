package actor_test

// Admin results, defaults and shutdown values as OTP's supervisor has
// them (issue 11, items 5 and 6), each test named after the
// lib/stdlib/test/supervisor_SUITE.erl case it mirrors, and the child cap
// of simple_one_for_one supervisors.

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/spec"
)

// wantErrText is wantErr that also wants the error's text to hold sub.
func wantErrText(t *testing.T, err, target error, sub string) {
	t.Helper()
	wantErr(t, err, target)
	if !strings.Contains(err.Error(), sub) {
		t.Fatalf("error %q does not say %q", err, sub)
	}
}

// supervisor_SUITE:child_adm, with extra_return's second terminate_child:
// start_child of a running id is already_started (naming its pid), of a
// terminated one already_present; terminate_child of a terminated child
// is ok, like deleting what does not exist; restart_child and
// delete_child of a running child are running; unknown ids are
// not_found.
func TestChildAdm(t *testing.T) {
	e := newEnv(t)
	child1 := worker("child1", "counter")
	e.apply(tree("t", spec.OneForOne, child1))
	root := e.resolve("t", "")
	cpid := e.resolve("t", "child1")
	e.wantCounts(root, 1, 1, 0, 1)

	// Start of an already running process.
	_, err := e.rt.StartChild(e.ctx, root, child1)
	wantErrText(t, err, actor.ErrAlreadyStarted, cpid.String())
	wantErr(t, err, actor.ErrDuplicateID)
	if errors.Is(err, actor.ErrAlreadyPresent) {
		t.Fatalf("%v is also already_present", err)
	}

	// Termination.
	wantErr(t, e.rt.TerminateChild(e.ctx, root, "hej"), actor.ErrChildNotFound)
	if err := e.rt.TerminateChild(e.ctx, root, "child1"); err != nil {
		t.Fatal(err)
	}
	if r := e.exitOf(cpid); r != actor.Shutdown {
		t.Fatalf("child1 exited %q, want shutdown", r)
	}
	e.wantCounts(root, 1, 0, 0, 1)
	// Like deleting something that does not exist, it succeeds.
	if err := e.rt.TerminateChild(e.ctx, root, "child1"); err != nil {
		t.Fatalf("second terminate_child: %v", err)
	}
	e.wantCounts(root, 1, 0, 0, 1)

	// Start of an existing but not running process.
	_, err = e.rt.StartChild(e.ctx, root, child1)
	wantErr(t, err, actor.ErrAlreadyPresent)
	wantErr(t, err, actor.ErrDuplicateID)
	if errors.Is(err, actor.ErrAlreadyStarted) {
		t.Fatalf("%v is also already_started", err)
	}

	// Restart.
	cpid2, err := e.rt.RestartChild(e.ctx, root, "child1")
	if err != nil {
		t.Fatal(err)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	_, err = e.rt.RestartChild(e.ctx, root, "child1")
	wantErrText(t, err, actor.ErrChildRunning, "running")
	_, err = e.rt.RestartChild(e.ctx, root, "child2")
	wantErr(t, err, actor.ErrChildNotFound)

	// Deletion.
	wantErrText(t, e.rt.DeleteChild(e.ctx, root, "child1"), actor.ErrChildRunning, "running")
	wantErr(t, e.rt.DeleteChild(e.ctx, root, "hej"), actor.ErrChildNotFound)
	if err := e.rt.TerminateChild(e.ctx, root, "child1"); err != nil {
		t.Fatal(err)
	}
	e.exitOf(cpid2)
	if err := e.rt.DeleteChild(e.ctx, root, "child1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.rt.RestartChild(e.ctx, root, "child1")
	wantErr(t, err, actor.ErrChildNotFound)
	e.wantCounts(root, 0, 0, 0, 0)

	// Start.
	if _, err := e.rt.StartChild(e.ctx, root, child1); err != nil {
		t.Fatal(err)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	e.valid()
}

// supervisor_SUITE:child_adm_simple, the part on pids: terminate_child of
// an instance's pid stops it; again, once the pid is dead, it is ok
// ("terminate non-existing process is ok"); a live pid that is no
// instance of this supervisor is not_found and stays alive.
func TestChildAdmSimple_TerminateDeadPid(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("pool", spec.SimpleOneForOne, worker("child", "counter")))
	root := e.resolve("pool", "")
	cp1, err := e.rt.StartDynamicChild(e.ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.StartDynamicChild(e.ctx, root, nil); err != nil {
		t.Fatal(err)
	}
	e.wantCounts(root, 1, 2, 0, 2) // OTP: one spec, the template
	if err := e.rt.TerminateChild(e.ctx, root, cp1.String()); err != nil {
		t.Fatal(err)
	}
	e.exitOf(cp1)
	e.wantCounts(root, 1, 1, 0, 1)
	if err := e.rt.TerminateChild(e.ctx, root, cp1.String()); err != nil {
		t.Fatalf("terminate_child of a dead instance pid: %v, want ok", err)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	stranger := e.spawn("counter", nil)
	wantErr(t, e.rt.TerminateChild(e.ctx, root, stranger.String()), actor.ErrChildNotFound)
	if !e.alive(stranger) {
		t.Fatal("terminate_child killed a process that is no instance")
	}
	e.valid()
}

// supervisor_SUITE:hanging_restart_loop (its admin results): while a child's restart has
// failed and is retried, start_child is already_present, restart_child
// and delete_child are restarting, which_children says restarting and
// count_children [1,0,0,1]; terminate_child is ok and leaves it
// terminated (the retry does not start it); restart_child then starts it.
func TestHangingRestartLoop_Admin(t *testing.T) {
	e := newEnv(t)
	var inits atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	e.registerProbes("flaky", func(p *probe) {
		p.initFn = func() error {
			if inits.Add(1) != 2 {
				return nil
			}
			close(entered)
			<-release
			return errors.New("fail_start")
		}
	})
	child1 := worker("child1", "flaky")
	child1.Shutdown = spec.BrutalKill
	e.apply(tree("t", spec.OneForOne, child1))
	root := e.resolve("t", "")
	if err := e.rt.Kill(e.resolve("t", "child1"), "boom"); err != nil {
		t.Fatal(err)
	}
	<-entered // the supervisor is inside the failing restart

	// Queue the commands in a known order behind the failing restart.
	calls := []func() error{
		func() error { _, err := e.rt.StartChild(e.ctx, root, child1); return err },
		func() error { _, err := e.rt.RestartChild(e.ctx, root, "child1"); return err },
		func() error { return e.rt.DeleteChild(e.ctx, root, "child1") },
		func() error {
			// which_children and count_children read the snapshot the
			// supervisor published before it handled this command.
			return e.rt.TerminateChild(e.ctx, root, "child1")
		},
	}
	results := make([]chan error, len(calls))
	for i, call := range calls {
		results[i] = make(chan error, 1)
		go func() { results[i] <- call() }()
		actortest.Eventually(t, "command queued", func() bool {
			n, err := e.rt.QueueLen(root)
			return err == nil && n == i+1
		})
	}
	close(release)

	wantErr(t, recv(t, results[0]), actor.ErrAlreadyPresent)
	wantErrText(t, recv(t, results[1]), actor.ErrChildRestarting, "restarting")
	wantErr(t, recv(t, results[2]), actor.ErrChildRestarting)
	if err := recv(t, results[3]); err != nil {
		t.Fatalf("terminate_child of a restarting child: %v", err)
	}
	kids, _ := e.rt.WhichChildren(root)
	if len(kids) != 1 || kids[0].State != "terminated" || !kids[0].PID.IsZero() {
		t.Fatalf("which_children %+v, want child1 terminated", kids)
	}
	e.wantCounts(root, 1, 0, 0, 1)
	if _, err := e.rt.RestartChild(e.ctx, root, "child1"); err != nil {
		t.Fatalf("restart_child after terminate_child: %v", err)
	}
	e.wantCounts(root, 1, 1, 0, 1)
	if n := inits.Load(); n != 3 {
		t.Fatalf("%d inits, want 3 (start, failed restart, restart_child): the retry started it", n)
	}
	e.valid()
}

// supervisor_SUITE:sup_start_map (the defaults of a child spec): a
// worker's shutdown is 5 s, a supervisor child's infinity; and the
// supervisor's flags default to intensity 1, period 5 (supervisor doc).
// The shutdowns are observed: under a manual clock a worker blocked in
// Terminate is killed once 5 s pass, while a nested supervisor waiting for
// such a child is waited for however long it takes.
func TestSupStartMap_Defaults(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	e.registerProbes("slow", func(p *probe) { p.block = block })
	tr := spec.Tree{Name: "t", SupervisorSpec: spec.SupervisorSpec{Children: []spec.ChildSpec{
		worker("w", "slow"),
		{ID: "s", Type: spec.Supervisor, SupervisorSpec: spec.SupervisorSpec{Children: []spec.ChildSpec{
			{ID: "inner", Behavior: "slow", Shutdown: spec.Infinity},
		}}},
	}}}
	e.apply(tr)
	root := e.resolve("t", "")
	if pol, _ := e.rt.SupervisorPolicy(root); pol.MaxRestarts != 1 || pol.MaxSeconds != 5 {
		t.Fatalf("default policy %s, want intensity 1 in 5 s", pol)
	}

	// The worker: 5 s.
	w := e.resolve("t", "w")
	done := make(chan error, 1)
	go func() { done <- e.rt.TerminateChild(e.ctx, root, "w") }()
	if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5*time.Second - time.Millisecond)
	if !e.alive(w) {
		t.Fatal("worker killed before its 5 s shutdown")
	}
	e.clock.Advance(time.Millisecond)
	if r := e.exitOf(w); r != actor.Killed {
		t.Fatalf("worker exited %q, want killed after 5 s", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}

	// The supervisor child: infinity.
	s, inner := e.resolve("t", "s"), e.resolve("t", "s/inner")
	go func() { done <- e.rt.TerminateChild(e.ctx, root, "s") }()
	if err := e.clock.WaitForTimers(e.ctx, 2); err != nil { // root's for s, s's for inner
		t.Fatal(err)
	}
	e.clock.Advance(24 * time.Hour)
	if !e.alive(s) || !e.alive(inner) {
		t.Fatal("a supervisor child (or its infinity child) was killed: its default shutdown is not infinity")
	}
	close(block)
	if r := e.exitOf(inner); r != actor.Shutdown {
		t.Fatalf("inner exited %q, want shutdown", r)
	}
	if r := e.exitOf(s); r != actor.Shutdown {
		t.Fatalf("supervisor child exited %q, want shutdown", r)
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
}

// OTP's default intensity (1 restart in 5 s) is applied: one restart is
// allowed, the second crash within 5 s escalates.
func TestDefaultIntensity(t *testing.T) {
	e := newEnv(t)
	e.apply(spec.Tree{Name: "t", SupervisorSpec: spec.SupervisorSpec{Children: []spec.ChildSpec{worker("c", "crasher")}}})
	root := e.resolve("t", "")
	e.cast(e.resolve("t", "c"), "crash")
	e.until(isRestart("c"))
	e.clock.Advance(4 * time.Second)
	e.cast(e.resolve("t", "c"), "crash")
	if r := e.exitOf(root); r != actor.Shutdown {
		t.Fatalf("root exited %q, want shutdown: a second restart within 5 s escalates", r)
	}
}

// supervisor_SUITE:sup_stop_infinity, sup_stop_timeout and
// sup_stop_brutal_kill, with OTP's shutdown 0: a worker blocked in
// Terminate is waited for with infinity, killed when a timeout elapses,
// killed at once with 0 (after being asked to stop) and with
// brutal_kill.
func TestSupStop(t *testing.T) {
	for _, tt := range []struct {
		shutdown string
		advance  time.Duration // clock moves after the stop is asked
		want     actor.Reason
	}{
		{spec.Infinity, 24 * time.Hour, actor.Shutdown},
		{"1s", time.Second, actor.Killed},
		{"0", 0, actor.Killed},
		{spec.BrutalKill, 0, actor.Killed},
	} {
		t.Run(tt.shutdown, func(t *testing.T) {
			e := newEnv(t)
			block := make(chan struct{})
			defer close(block)
			e.registerProbes("slow", func(p *probe) { p.block = block })
			c := worker("child1", "slow")
			c.Shutdown = tt.shutdown
			e.apply(tree("t", spec.OneForOne, c))
			root, pid := e.resolve("t", ""), e.resolve("t", "child1")
			done := make(chan error, 1)
			go func() { done <- e.rt.TerminateChild(e.ctx, root, "child1") }()
			if tt.advance > 0 {
				if err := e.clock.WaitForTimers(e.ctx, 1); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(tt.advance)
			}
			if tt.want == actor.Shutdown {
				if !e.alive(pid) {
					t.Fatal("killed under shutdown infinity")
				}
				block <- struct{}{}
			}
			if r := e.exitOf(pid); r != tt.want {
				t.Fatalf("exited %q, want %q", r, tt.want)
			}
			if err := recv(t, done); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// supervisor_SUITE:child_specs (invalid shutdown) and sup_flags (invalid
// period): a negative shutdown is refused; OTP's shutdown values are
// accepted through start_child.
func TestChildSpecs_Shutdown(t *testing.T) {
	e := newEnv(t)
	e.apply(tree("t", spec.OneForOne))
	root := e.resolve("t", "")
	for i, ok := range []string{"0", "0s", spec.Infinity, spec.BrutalKill, "10m"} {
		c := worker("c"+string(rune('a'+i)), "counter")
		c.Shutdown = ok
		if _, err := e.rt.StartChild(e.ctx, root, c); err != nil {
			t.Errorf("shutdown %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"-10ms", "forever", "11m"} {
		c := worker("bad", "counter")
		c.Shutdown = bad
		_, err := e.rt.StartChild(e.ctx, root, c)
		wantErrText(t, err, actor.ErrInvalidSpec, "shutdown")
	}
}

// supervisor_SUITE:simple_one_for_one_scale_many_temporary_children: a
// simple_one_for_one supervisor holds far more instances than a static
// supervisor's cap (MaxDynamicChildren, default 100 000); past its own
// cap start_child is refused.
func TestSimpleOneForOneScaleMany(t *testing.T) {
	const n = 10_000
	e := newEnv(t, func(c *actor.Config) { c.MaxChildren = 10 })
	tr := tree("pool", spec.SimpleOneForOne, temporary(worker("child", "counter")))
	e.apply(tr)
	root := e.resolve("pool", "")
	for i := range n {
		if _, err := e.rt.StartDynamicChild(e.ctx, root, nil); err != nil {
			t.Fatalf("instance %d: %v", i+1, err)
		}
	}
	e.wantCounts(root, 1, n, 0, n)

	small := newEnv(t, func(c *actor.Config) { c.MaxDynamicChildren = 3 })
	small.apply(tr)
	sroot := small.resolve("pool", "")
	for range 3 {
		if _, err := small.rt.StartDynamicChild(small.ctx, sroot, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := small.rt.StartDynamicChild(small.ctx, sroot, nil)
	wantErrText(t, err, actor.ErrTooManyChildren, "MaxDynamicChildren")
}

// Config.Validate names the new limit.
func TestConfigMaxDynamicChildren(t *testing.T) {
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	if cfg.MaxDynamicChildren != actor.DefaultMaxDynamicChildren || actor.DefaultMaxDynamicChildren < 10_000 {
		t.Fatalf("MaxDynamicChildren default %d", cfg.MaxDynamicChildren)
	}
	cfg.MaxDynamicChildren = 0
	wantErrText(t, cfg.Validate(), actor.ErrBadConfig, "MaxDynamicChildren")
}
