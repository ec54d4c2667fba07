package actor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/steward/steward/spec"
)

// childState is where a child stands in its supervisor.
type childState uint8

const (
	childRunning childState = iota
	// childStopped: exited and not restarted (a transient child after a
	// normal exit). A temporary child that exits loses its entry (OTP).
	childStopped
	// childTerminated: no process, and none is being started: stopped by
	// terminate_child, its start ignored (Init returned Ignore), or a
	// member of a group restart that stopped short of it because an
	// earlier member failed to start (OTP's pid undefined).
	// restart_child, an update, or a later group restart (one_for_all,
	// rest_for_one) starts it again.
	childTerminated
	// childRestarting: its restart failed and a retry (supRetry, OTP's
	// try_again_restart) is queued in the supervisor's mailbox.
	childRestarting
)

var childStateNames = [...]string{"running", "stopped", "terminated", "restarting"}

func (s childState) String() string { return childStateNames[s] }

type child struct {
	spec     *childSpec
	proc     *process
	state    childState
	restarts int
	dynamic  bool
	// last is the pid of the process that last ran in the slot: while a
	// simple_one_for_one instance is restarting it still names it (OTP
	// keeps {restarting, OldPid}), so terminate_child by that pid finds
	// it.
	last PID
	// idx is where the slot last stood in children when published: a
	// hint for publishChild, checked before use (removals and updates
	// move slots).
	idx int
	// moved is the behavior a code change (Runtime.ChangeCode) moved the
	// slot's process onto: the slot starts it again on a restart, while
	// the catalog has it, instead of the spec's behavior or a fresh
	// resolution of its module. A changed spec gets a new slot.
	moved string
}

// supervisor is the state of a supervisor process. Only the supervisor's
// goroutine touches it; readers use the published snapshot.
type supervisor struct {
	rt         *Runtime
	p          *process
	tree       *treeState
	depth      int // 0 for a tree's root
	policy     Policy
	auto       spec.AutoShutdown // never, any_significant, all_significant
	template   *childSpec        // simple_one_for_one
	children   []*child          // start order
	byID       map[string]*child
	byPID      map[uint64]*child
	restartLog []time.Time
	dynSeq     uint64
	// gone holds the specs of temporary children that exited (or were
	// terminated) since they were started: their entries are deleted, as
	// in OTP, so which_children no longer lists them and start_child may
	// reuse the id; apply consults it only so that re-applying the same
	// spec does not start them again.
	gone map[string]*childSpec
	snap atomic.Pointer[supSnapshot]
}

// supSnapshot is a supervisor's state as last published by its goroutine.
type supSnapshot struct {
	policy   Policy
	auto     spec.AutoShutdown
	template *childSpec
	children childSnaps
}

type childSnap struct {
	spec     *childSpec
	proc     *process
	state    childState
	restarts int
	dynamic  bool
	last     PID // child.last
}

// supCommand is a supervisor command: the closed set of requests a
// supervisor's goroutine receives besides exit signals and system
// requests. The set is sealed: only the types below implement it, and
// handleCmd panics on any other (a programming error, never answered).
// which_children and count_children are not commands: they read the
// published snapshot.
type supCommand interface {
	request
	isSupCommand()
}

type (
	supStartChild     struct{ spec *childSpec }
	supStartDynamic   struct{ args map[string]string }
	supTerminateChild struct{ id string }
	supRestartChild   struct{ id string }
	supRestartInPlace struct{ id string }
	supDeleteChild    struct{ id string }
	supSetPolicy      struct{ policy Policy }
	supApply          struct {
		ctx  context.Context
		spec *supSpec
	}
	// supRetry asks the supervisor to retry the restart of child id,
	// whose start failed (OTP's try_again_restart): the strategy's whole
	// group again, as for an exit of id.
	supRetry struct{ id string }
)

func (supStartChild) isSupCommand()     {}
func (supStartDynamic) isSupCommand()   {}
func (supTerminateChild) isSupCommand() {}
func (supRestartChild) isSupCommand()   {}
func (supRestartInPlace) isSupCommand() {}
func (supDeleteChild) isSupCommand()    {}
func (supSetPolicy) isSupCommand()      {}
func (supApply) isSupCommand()          {}
func (supRetry) isSupCommand()          {}

func (supStartChild) class() envClass     { return envSup }
func (supStartDynamic) class() envClass   { return envSup }
func (supTerminateChild) class() envClass { return envSup }
func (supRestartChild) class() envClass   { return envSup }
func (supRestartInPlace) class() envClass { return envSup }
func (supDeleteChild) class() envClass    { return envSup }
func (supSetPolicy) class() envClass      { return envSup }
func (supApply) class() envClass          { return envSup }
func (supRetry) class() envClass          { return envSup }

// supEnvelope wraps a supervisor command; rc is nil when no reply is
// wanted (supRetry, which the supervisor sends itself).
func supEnvelope(c supCommand, rc chan reply) envelope {
	return envelope{class: envSup, req: c, reply: rc}
}

// startSupervisor spawns a supervisor and waits until its children have
// started (in order).
func (rt *Runtime) startSupervisor(parent *process, tree *treeState, path string, ss *supSpec, depth, restarts int, onExit func(Reason)) (*process, error) {
	s := &supervisor{
		rt: rt, tree: tree, depth: depth, policy: ss.policy, auto: ss.auto,
		byID: make(map[string]*child), byPID: make(map[uint64]*child),
	}
	if ss.policy.Strategy == spec.SimpleOneForOne {
		s.template = ss.children[0]
	} else {
		for _, cs := range ss.children {
			c := &child{spec: cs}
			s.children = append(s.children, c)
			s.byID[cs.id] = c
		}
	}
	p, started, err := rt.spawn(spawnReq{
		sup: s, behavior: "supervisor", parent: parent, tree: tree, path: path,
		trap: true, restarts: restarts, onExit: onExit,
	})
	if err != nil {
		return nil, err
	}
	return p, waitStarted(p, started)
}

// startWorker spawns a worker and waits for its Init. A worker with an
// initial state (StartTreeWith) has it imported here, once its Init has
// succeeded and before it takes a message, while it waits (see
// initWorker); r.onInitial is told the outcome.
func (rt *Runtime) startWorker(r spawnReq) (*process, error) {
	p, started, err := rt.spawn(r)
	if err != nil {
		return nil, err
	}
	if p.importDone != nil {
		select {
		case <-p.initDone:
			r.onInitial(p.importInitial())
			p.initial = nil
		case err := <-started:
			r.onInitial(fmt.Errorf("not imported: its init did not start it: %w", err))
			again := make(chan error, 1)
			again <- err
			started = again
		case <-p.done:
			r.onInitial(fmt.Errorf("not imported: it exited during its init: %s", p.exitReasonAfterDone()))
		}
		// Whatever happened, the worker never waits for it again.
		close(p.importDone)
	}
	return p, waitStarted(p, started)
}

// waitStarted waits for a spawned process's init outcome, or its death.
// A failed start returns once the process is gone (a supervisor hands over
// the outcome before it exits), so that the caller never finds it still
// counted.
func waitStarted(p *process, started <-chan error) error {
	select {
	case err := <-started:
		if err != nil {
			<-p.done // every failed start exits
		}
		return err
	case <-p.done:
		select {
		case err := <-started:
			return err
		default:
		}
		return fmt.Errorf("%w: %s: %s", ErrStartFailed, p.pid, p.exitReasonAfterDone())
	}
}

// run is the supervisor's goroutine.
func (s *supervisor) run(started chan<- error) {
	if err := s.startAll(); err != nil {
		// The outcome first (started is buffered): a caller woken by the
		// exit would otherwise find no outcome yet and report the exit
		// reason's text, losing the error it wraps.
		started <- fmt.Errorf("%w: supervisor %s: %w", ErrStartFailed, s.p.pid, err)
		s.rt.exitProc(s.p, Reason("shutdown: "+err.Error()))
		return
	}
	if !s.p.state.CompareAndSwap(int32(stStarting), int32(stRunning)) {
		started <- fmt.Errorf("%w: supervisor %s killed while starting", ErrStartFailed, s.p.pid)
		return
	}
	s.publish()
	started <- nil
	var e envelope
	for s.p.next(&e) {
		var exited bool
		switch e.class {
		case envSys:
			exited = s.handleSys(e)
		case envSup:
			exited = s.handleCmd(e)
		case envMsg:
			switch e.msg.Kind {
			case KindExit:
				exited = s.handleExit(e.msg.From, Reason(e.msg.Body))
			case KindCall:
				e.reply <- reply{err: fmt.Errorf("%w: %s is a supervisor", ErrNotSupported, s.p.pid)}
			default:
				// OTP's supervisor logs and drops an unexpected message.
				s.rt.log.Debug("supervisor dropped a message", "pid", s.p.pid.String(), "kind", e.msg.Kind.String())
			}
		default:
			panic(fmt.Sprintf("actor: unknown envelope class %d", e.class))
		}
		e = envelope{}
		if exited || !s.p.isAlive() {
			return
		}
	}
}

// startAll starts the static children in order; on a failure it stops
// those already started, in reverse order.
func (s *supervisor) startAll() error {
	for i, c := range s.children {
		if err := s.start(c); err != nil {
			for j := i - 1; j >= 0; j-- {
				s.stopChild(s.children[j], Shutdown)
			}
			return fmt.Errorf("child %q: %w", c.spec.id, err)
		}
	}
	// A temporary child whose start was ignored is not kept (OTP's
	// start_children removes it); the others keep their spec.
	for _, c := range append([]*child(nil), s.children...) {
		if c.proc == nil && c.spec.restart == spec.Temporary {
			s.forget(c)
		}
	}
	return nil
}

func (s *supervisor) childPath(id string) string { return joinPath(s.p.path, id) }

// start starts one child's process. A worker whose Init returned Ignore
// (OTP's ignore) is a successful start with no process: start returns
// nil and leaves c terminated with c.proc nil (OTP's pid undefined);
// the caller decides whether the entry is kept (a temporary child's or
// a simple_one_for_one instance's is not).
func (s *supervisor) start(c *child) error {
	path := s.childPath(c.spec.id)
	var p *process
	var err error
	if c.spec.isSup {
		p, err = s.rt.startSupervisor(s.p, s.tree, path, c.spec.nested, s.depth+1, c.restarts, nil)
	} else {
		var b Behavior
		var e Entry
		var behavior string
		behavior, err = s.behaviorOf(c)
		if err == nil {
			b, e, err = s.rt.catalog.build(behavior, c.spec.args)
		}
		if err == nil {
			req := spawnReq{
				beh: b, behavior: behavior, version: e.Version, module: c.spec.module, args: c.spec.args,
				parent: s.p, tree: s.tree, path: path, name: c.spec.name, restarts: c.restarts,
			}
			if init, st, ok := s.tree.takeInitial(path); ok {
				if st.Behavior == behavior {
					req.initial, req.onInitial = st.State, func(err error) { init.record(path, err) }
				} else {
					init.record(path, fmt.Errorf("not imported: it was captured running %q and starts %q", st.Behavior, behavior))
				}
			}
			p, err = s.rt.startWorker(req)
		}
	}
	if errors.Is(err, ErrIgnore) {
		// The process has exited normally; its EXIT, from a pid never
		// recorded in byPID, is dropped by handleExit.
		s.rt.log.Debug("child start ignored", "supervisor", s.p.pid.String(), "child", c.spec.id)
		c.proc, c.state = nil, childTerminated
		return nil
	}
	if err != nil {
		s.emitChild(EventStartFailed, c.spec.id, p, Reason(err.Error()))
		return err
	}
	c.proc, c.state = p, childRunning
	s.byPID[p.pid.Seq] = c
	return nil
}

// behaviorOf is the behavior a worker slot starts: the one a code change
// moved it onto, while the catalog has it; else the spec's behavior, or
// its module ref resolved now.
func (s *supervisor) behaviorOf(c *child) (string, error) {
	if c.moved != "" {
		if s.rt.catalog.has(c.moved) {
			return c.moved, nil
		}
		c.moved = ""
	}
	if c.spec.module == "" {
		return c.spec.behavior, nil
	}
	return s.rt.catalog.ResolveModule(c.spec.module)
}

// release detaches c from its process, which exited or is being stopped,
// keeping the behavior a code change moved the process onto.
func (s *supervisor) release(c *child) {
	p := c.proc
	if p == nil {
		return
	}
	delete(s.byPID, p.pid.Seq)
	c.proc, c.last = nil, p.pid
	p.mu.Lock()
	if p.moved {
		c.moved = p.behavior
	}
	p.mu.Unlock()
}

// emitChild publishes an event about child id, whose process p may be
// gone or may never have started (nil).
func (s *supervisor) emitChild(typ EventType, id string, p *process, reason Reason) {
	ev := Event{Time: s.rt.clock.Now(), Node: s.rt.node, Type: typ, ChildID: s.childPath(id), Reason: reason}
	if p != nil {
		ev.PID = p.pid
	}
	if s.tree != nil {
		ev.Tree = s.tree.name
	}
	s.rt.events.emit(ev)
}

// stopChild stops a child's process: brutal_kill kills it at once;
// otherwise it is asked to stop (running Terminate) and killed if it has
// not exited within its shutdown timeout.
func (s *supervisor) stopChild(c *child, reason Reason) {
	p := c.proc
	if p == nil {
		return
	}
	s.release(c)
	if c.spec.brutal {
		s.rt.exitProc(p, Killed)
		return
	}
	if !p.requestStop(reason) {
		return
	}
	expired := make(chan struct{})
	t := s.rt.clock.AfterFunc(c.spec.shutdown, func() { close(expired) })
	select {
	case <-p.done:
		t.Stop()
	case <-expired:
		s.rt.emit(EventShutdownTimeout, p, Killed, "shutdown "+c.spec.shutdown.String()+" elapsed")
		s.rt.exitProc(p, Killed)
	case <-s.p.done:
		// This supervisor was killed; its exit signal takes the child.
		t.Stop()
	}
}

// requestStop asks a process to terminate gracefully; false if it is dead.
func (p *process) requestStop(reason Reason) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	w := false
	if !p.stopping.Swap(true) {
		w = p.pushUrgent(sysEnvelope(sysStop{reason: reason}, nil))
	}
	p.mu.Unlock()
	if w {
		p.signal()
	}
	return true
}

// stopAll stops every running child in reverse start order; a
// simple_one_for_one supervisor's instances all at once (stopInstances).
func (s *supervisor) stopAll(reason Reason) {
	if s.template != nil {
		s.stopInstances(reason)
		return
	}
	for i := len(s.children) - 1; i >= 0; i-- {
		s.stopChild(s.children[i], reason)
	}
}

// stopInstances is OTP's terminate_dynamic_children: the instances have
// no order, so each is sent its stop at once (a brutal_kill one is
// killed), and then one shutdown timer, the template's, runs for all of
// them: those still running when it elapses are killed. A pool of slow
// instances takes one shutdown timeout to stop, not one each.
func (s *supervisor) stopInstances(reason Reason) {
	var waiting []*process
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		p := c.proc
		if p == nil {
			continue
		}
		s.release(c)
		if c.spec.brutal {
			s.rt.exitProc(p, Killed)
			continue
		}
		if p.requestStop(reason) {
			waiting = append(waiting, p)
		}
	}
	if len(waiting) == 0 {
		return
	}
	timeout := s.template.shutdown
	expired := make(chan struct{})
	t := s.rt.clock.AfterFunc(timeout, func() { close(expired) })
	defer t.Stop()
	for i, p := range waiting {
		select {
		case <-p.done:
		case <-expired:
			for _, q := range waiting[i:] {
				select {
				case <-q.done:
				default:
					s.rt.emit(EventShutdownTimeout, q, Killed, "shutdown "+timeout.String()+" elapsed")
					s.rt.exitProc(q, Killed)
				}
			}
			return
		case <-s.p.done:
			// This supervisor was killed; its exit signal takes them.
			return
		}
	}
}

// shutdown is the supervisor's own graceful exit.
func (s *supervisor) shutdown(reason Reason) {
	if !s.p.beginTerminate() {
		return
	}
	s.stopAll(reason)
	s.rt.exitProc(s.p, reason)
}

func (s *supervisor) handleSys(e envelope) bool {
	switch r := e.req.(type) {
	case sysStop:
		s.shutdown(r.reason)
		return true
	case sysGetState:
		b, err := json.Marshal(s.snapshot().state())
		e.reply <- reply{body: b, err: err}
	case sysReplaceState, sysCodeChange, sysHealth:
		e.reply <- reply{err: fmt.Errorf("%w: %s is a supervisor", ErrNotSupported, s.p.pid)}
	case sysCapture:
		s.p.capturing.Store(false)
	default:
		panic(unknownRequest("system request", r))
	}
	return false
}

// handleExit reacts to a child's exit; true when the supervisor itself
// exited (escalation).
func (s *supervisor) handleExit(from PID, reason Reason) bool {
	c := s.byPID[from.Seq]
	if c == nil || c.proc == nil || c.proc.pid != from {
		return false // not a current child: a stale signal, or a stranger's
	}
	s.release(c)
	defer s.publish()
	if c.spec.restart == spec.Temporary || (c.spec.restart == spec.Transient && !reason.Abnormal()) {
		switch {
		case c.dynamic:
			s.remove(c)
		case c.spec.restart == spec.Temporary:
			s.forget(c) // OTP deletes a temporary child's spec when it exits
		default:
			c.state = childStopped
		}
		if s.autoShutdownDue(c) {
			s.autoShutdown(c, reason)
			return true
		}
		return false
	}
	if !s.allowRestart() {
		s.escalate(c, reason)
		return true
	}
	s.restart(s.restartGroup(c), reason)
	return false
}

// autoShutdownDue is OTP's do_auto_shutdown, asked after c terminated by
// itself and was not restarted (a transient child's normal or shutdown
// exit, any exit of a temporary one): whether the supervisor shuts itself
// down now. Never for auto_shutdown never or a child that is not
// significant; at once for any_significant; for all_significant when no
// significant child is left with a process or a pending restart (OTP:
// none whose pid is not undefined). A child stopped by its supervisor
// (terminate_child, a group restart, an update) is never asked about.
func (s *supervisor) autoShutdownDue(c *child) bool {
	if !c.spec.significant {
		return false
	}
	switch s.auto {
	case spec.AnySignificant:
		return true
	case spec.AllSignificant:
		for _, x := range s.children {
			if x != c && x.spec.significant && (x.proc != nil || x.state == childRestarting) {
				return false
			}
		}
		return true
	}
	return false
}

// autoShutdown stops every child, in reverse order, and exits with reason
// shutdown, as escalate does: the parent treats it like any child exit;
// for a tree's root the tree is failed (reason shutdown).
func (s *supervisor) autoShutdown(c *child, reason Reason) {
	s.rt.emit(EventSupervisorAutoShutdown, s.p, Shutdown,
		fmt.Sprintf("significant child %q exited (%s), auto_shutdown %s", c.spec.id, reason, s.auto))
	s.p.beginTerminate()
	s.stopAll(Shutdown)
	s.rt.exitProc(s.p, Shutdown)
}

// restartGroup stops the siblings the strategy takes down with c, in
// reverse order, and returns the children to start again, in order: c
// and, under one_for_all, every sibling, under rest_for_one, every
// sibling after c. As in OTP (restart_multiple_children), that is every
// sibling that has a spec, whether it runs or not: one stopped by
// terminate_child, a transient one that exited normally, one a failed
// group restart did not reach. A temporary sibling is stopped and its
// spec deleted, never restarted.
func (s *supervisor) restartGroup(c *child) []*child {
	from := -1
	switch s.policy.Strategy {
	case spec.OneForAll:
		from = 0
	case spec.RestForOne:
		for i, x := range s.children {
			if x == c {
				from = i
				break
			}
		}
	}
	if from < 0 {
		return []*child{c}
	}
	restart := make(map[*child]bool, len(s.children)-from)
	restart[c] = true
	for i := len(s.children) - 1; i >= from; i-- {
		x := s.children[i]
		if x == c {
			continue
		}
		s.stopChild(x, Shutdown)
		if x.spec.restart == spec.Temporary {
			// A bystander of a group restart: never restarted, and its
			// spec is deleted (OTP).
			s.forget(x)
			continue
		}
		restart[x] = true
	}
	group := make([]*child, 0, len(restart))
	for _, x := range s.children[from:] {
		if restart[x] {
			group = append(group, x)
		}
	}
	return group
}

// restart starts group in order. When a member fails to start, it is
// marked restarting, the members after it (not started) terminated, and
// a retry of it is queued in the mailbox (OTP's try_again_restart): the
// supervisor serves what is queued before the retry, which counts
// against the intensity and restarts the strategy's group again,
// stopping the members this attempt did start (one_for_all).
func (s *supervisor) restart(group []*child, why Reason) {
	for i, c := range group {
		c.restarts++
		// While it starts (a slow init), which_children shows it
		// restarting with no pid, as OTP does, not the process that died.
		c.proc, c.state = nil, childRestarting
		s.publish()
		if err := s.start(c); err != nil {
			c.state = childRestarting
			for _, x := range group[i+1:] {
				x.state = childTerminated
			}
			_ = s.p.deliver(supEnvelope(supRetry{id: c.spec.id}, nil), true)
			return
		}
		if c.proc == nil {
			// Ignored: a static child stays terminated (its spec kept),
			// an instance is dropped; the group goes on (OTP).
			if c.dynamic {
				s.remove(c)
			}
			continue
		}
		s.publish() // resolvable before the event announces it
		s.rt.emit(EventRestarted, c.proc, why, "restart "+strconv.Itoa(c.restarts))
	}
}

// allowRestart records a restart now and reports whether the intensity
// still allows it: at most MaxRestarts within the last MaxSeconds.
func (s *supervisor) allowRestart() bool {
	now := s.rt.clock.Now()
	period := time.Duration(s.policy.MaxSeconds) * time.Second
	keep := s.restartLog[:0]
	for _, t := range s.restartLog {
		if now.Sub(t) < period {
			keep = append(keep, t)
		}
	}
	s.restartLog = append(keep, now)
	if len(s.restartLog) > s.policy.MaxRestarts {
		return false
	}
	s.rt.restarts.add(now)
	return true
}

// escalate is what a supervisor does beyond its intensity: stop every
// child and exit with reason shutdown, leaving the decision to its parent
// (or, for a tree's root, marking the tree failed).
func (s *supervisor) escalate(c *child, reason Reason) {
	s.rt.emit(EventSupervisorEscalated, s.p, reason,
		fmt.Sprintf("child %q exceeded %d restarts in %ds", c.spec.id, s.policy.MaxRestarts, s.policy.MaxSeconds))
	s.p.beginTerminate()
	s.stopAll(Shutdown)
	s.rt.exitProc(s.p, Shutdown)
}

// forget removes a static temporary child that exited or was stopped,
// remembering its spec in gone (see there).
func (s *supervisor) forget(c *child) {
	s.remove(c)
	if s.gone == nil {
		s.gone = make(map[string]*childSpec)
	}
	s.gone[c.spec.id] = c.spec
}

func (s *supervisor) remove(c *child) {
	if c.proc != nil {
		delete(s.byPID, c.proc.pid.Seq)
	}
	delete(s.byID, c.spec.id)
	for i, x := range s.children {
		if x == c {
			s.children = append(s.children[:i], s.children[i+1:]...)
			break
		}
	}
}

// handleCmd runs a supervisor command; true when the supervisor exited.
func (s *supervisor) handleCmd(e envelope) bool {
	var r reply
	published := false
	switch q := e.req.(type) {
	case supRetry:
		return s.retry(q.id)
	// Start, terminate and restart publish their own change (a child
	// appended or changed in place) at the cost of that change, so that
	// a supervisor of n children serves n of them in O(n) overall
	// (supervisor_SUITE:scale_start_stop_many_children).
	case supStartChild:
		r.val, r.err = s.startChild(q.spec)
		published = true
	case supStartDynamic:
		r.val, r.err = s.startDynamic(q.args)
		published = true
	case supTerminateChild:
		r.err = s.terminateChild(q.id)
		published = true
	case supRestartChild:
		r.val, r.err = s.restartChild(q.id)
		published = true
	case supRestartInPlace:
		r.val, r.err = s.restartInPlace(q.id)
	case supDeleteChild:
		r.err = s.deleteChild(q.id)
	case supSetPolicy:
		r.err = s.setPolicy(q.policy)
	case supApply:
		r.val, r.err = s.apply(q.ctx, q.spec)
	default:
		panic(unknownRequest("supervisor command", q))
	}
	if !published {
		s.publish()
	}
	if e.reply != nil {
		e.reply <- r
	}
	return false
}

// retry is OTP's try_again_restart: unless the child was started,
// terminated or deleted meanwhile, it is a restart like one for an exit
// of the child: it counts against the intensity (beyond it the
// supervisor escalates) and restarts the strategy's group.
func (s *supervisor) retry(id string) bool {
	c := s.byID[id]
	if c == nil || c.state != childRestarting || c.proc != nil {
		return false
	}
	defer s.publish()
	if !s.allowRestart() {
		s.escalate(c, "restart failed")
		return true
	}
	s.restart(s.restartGroup(c), "retry")
	return false
}

func (s *supervisor) room() error {
	limit, name := s.rt.cfg.MaxChildren, "MaxChildren"
	if s.template != nil {
		limit, name = s.rt.cfg.MaxDynamicChildren, "MaxDynamicChildren"
	}
	if len(s.children) >= limit {
		return fmt.Errorf("%w: supervisor %s holds %d (%s)", ErrTooManyChildren, s.p.pid, limit, name)
	}
	return nil
}

func (s *supervisor) startChild(cs *childSpec) (PID, error) {
	if s.template != nil {
		return PID{}, fmt.Errorf("%w: supervisor %s is simple_one_for_one: start instances with StartDynamicChild", ErrBadStrategy, s.p.pid)
	}
	if cs.significant && s.auto == spec.Never {
		return PID{}, fmt.Errorf("supervisor %s: child %q: %w", s.p.pid, cs.id, errSignificantNever)
	}
	if old := s.byID[cs.id]; old != nil {
		if old.proc != nil {
			return PID{}, fmt.Errorf("%w: %q runs as %s", ErrAlreadyStarted, cs.id, old.proc.pid)
		}
		return PID{}, fmt.Errorf("%w: %q (restart_child or delete_child it)", ErrAlreadyPresent, cs.id)
	}
	if err := s.room(); err != nil {
		return PID{}, err
	}
	c := &child{spec: cs}
	if err := s.start(c); err != nil {
		return PID{}, err
	}
	delete(s.gone, cs.id)
	if c.proc == nil && cs.restart == spec.Temporary {
		return PID{}, nil // ignored: OTP's {ok, undefined}, the spec not kept
	}
	s.children = append(s.children, c)
	s.byID[cs.id] = c
	s.publishAppended(c)
	if c.proc == nil {
		return PID{}, nil // ignored: kept terminated, as OTP's pid undefined
	}
	s.rt.emit(EventChildStarted, c.proc, "", "start_child")
	return c.proc.pid, nil
}

func (s *supervisor) startDynamic(extra map[string]string) (PID, error) {
	if s.template == nil {
		return PID{}, fmt.Errorf("%w: supervisor %s is %s, not simple_one_for_one", ErrBadStrategy, s.p.pid, s.policy.Strategy)
	}
	if err := s.room(); err != nil {
		return PID{}, err
	}
	cs := *s.template
	if cs.isSup && len(extra) > 0 {
		return PID{}, fmt.Errorf("%w: template %q is a supervisor, which takes no args", ErrBadArgs, cs.id)
	}
	if len(extra) > 0 {
		cs.args = make(map[string]string, len(s.template.args)+len(extra))
		for k, v := range s.template.args {
			cs.args[k] = v
		}
		for k, v := range extra {
			cs.args[k] = v
		}
	}
	s.dynSeq++
	cs.id = s.template.id + "-" + strconv.FormatUint(s.dynSeq, 10)
	c := &child{spec: &cs, dynamic: true}
	if err := s.start(c); err != nil {
		return PID{}, err
	}
	if c.proc == nil {
		return PID{}, nil // ignored: OTP's {ok, undefined}, no instance kept
	}
	s.children = append(s.children, c)
	s.byID[cs.id] = c
	s.publishAppended(c)
	s.rt.emit(EventChildStarted, c.proc, "", "start_child")
	return c.proc.pid, nil
}

func (s *supervisor) find(id string) (*child, error) {
	c := s.byID[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %q in supervisor %s", ErrChildNotFound, id, s.p.pid)
	}
	return c, nil
}

// findInstance finds a simple_one_for_one instance by its pid ("node/seq",
// OTP's terminate_child(Sup, Pid)) or by the id steward gives it.
func (s *supervisor) findInstance(ref string) (*child, error) {
	if pid, err := ParsePID(ref); err == nil {
		if c := s.byPID[pid.Seq]; c != nil && c.dynamic && c.proc != nil && c.proc.pid == pid {
			return c, nil
		}
		// An instance whose restart is being retried is still known by
		// the pid that died (OTP's {restarting, Pid}); a scan, as such a
		// pid is rare.
		for _, c := range s.children {
			if c.dynamic && c.state == childRestarting && c.proc == nil && c.last == pid {
				return c, nil
			}
		}
		return nil, fmt.Errorf("%w: no instance %s in supervisor %s", ErrChildNotFound, pid, s.p.pid)
	}
	c, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	if !c.dynamic {
		return nil, fmt.Errorf("%w: %q in supervisor %s", ErrChildNotFound, ref, s.p.pid)
	}
	return c, nil
}

// terminateChild is OTP's terminate_child: the child stops with its
// shutdown policy and is not restarted. A static child keeps its spec
// (terminated), unless it is temporary; a simple_one_for_one instance,
// named by its pid or its id, is removed.
func (s *supervisor) terminateChild(ref string) error {
	var c *child
	var err error
	if s.template != nil {
		c, err = s.findInstance(ref)
	} else {
		c, err = s.find(ref)
	}
	if err != nil {
		return err
	}
	id, p := c.spec.id, c.proc
	s.stopChild(c, Shutdown)
	switch {
	case c.dynamic:
		s.remove(c)
		s.publish()
	case c.spec.restart == spec.Temporary:
		s.forget(c)
		s.publish()
	default:
		c.state = childTerminated
		s.publishChild(c)
	}
	s.emitChild(EventChildTerminated, id, p, Shutdown)
	return nil
}

func (s *supervisor) restartChild(id string) (PID, error) {
	c, err := s.find(id)
	if err != nil {
		return PID{}, err
	}
	if c.dynamic {
		return PID{}, fmt.Errorf("%w: restart_child of a simple_one_for_one instance", ErrNotSupported)
	}
	if c.proc != nil {
		return PID{}, fmt.Errorf("%w: %q is %s", ErrChildRunning, id, c.proc.pid)
	}
	if c.state == childRestarting {
		return PID{}, errRestarting(id)
	}
	if err := s.start(c); err != nil {
		return PID{}, err
	}
	s.publishChild(c)
	if c.proc == nil {
		return PID{}, nil // ignored again: still terminated
	}
	s.rt.emit(EventChildStarted, c.proc, "", "restart_child")
	return c.proc.pid, nil
}

// restartInPlace stops a static child if it runs and starts it again
// from its spec, whatever its restart type: terminate_child followed by
// restart_child, without the deletion of a temporary child's spec in
// between.
func (s *supervisor) restartInPlace(id string) (PID, error) {
	c, err := s.find(id)
	if err != nil {
		return PID{}, err
	}
	if c.dynamic {
		return PID{}, fmt.Errorf("%w: restart of a simple_one_for_one instance", ErrNotSupported)
	}
	if p := c.proc; p != nil {
		s.stopChild(c, Shutdown)
		c.state = childTerminated
		s.emitChild(EventChildTerminated, id, p, Shutdown)
	}
	if err := s.start(c); err != nil {
		if c.spec.restart == spec.Temporary {
			s.forget(c)
		}
		return PID{}, err
	}
	if c.proc == nil {
		// Ignored: terminated, or, for a temporary child, gone as if it
		// had exited.
		if c.spec.restart == spec.Temporary {
			s.forget(c)
		}
		s.publish()
		return PID{}, nil
	}
	s.publish()
	s.rt.emit(EventChildStarted, c.proc, "", "restart_child")
	return c.proc.pid, nil
}

// errRestarting is OTP's {error, restarting}: restart_child and
// delete_child of a child whose restart is being retried. The
// supervisor restarts it (with its group) itself; terminate_child stops
// the retries.
func errRestarting(id string) error {
	return fmt.Errorf("%w: %q (a retry is queued; terminate_child stops it)", ErrChildRestarting, id)
}

func (s *supervisor) deleteChild(id string) error {
	c, err := s.find(id)
	if err != nil {
		return err
	}
	if c.dynamic {
		return fmt.Errorf("%w: delete_child of a simple_one_for_one instance (terminate it)", ErrNotSupported)
	}
	if c.proc != nil {
		return fmt.Errorf("%w: %q is %s", ErrChildRunning, id, c.proc.pid)
	}
	if c.state == childRestarting {
		return errRestarting(id)
	}
	s.remove(c)
	s.emitChild(EventChildDeleted, id, nil, "")
	return nil
}

// setPolicy changes strategy and intensity in place. A move to or from
// simple_one_for_one changes what children are and is refused.
func (s *supervisor) setPolicy(p Policy) error {
	if (p.Strategy == spec.SimpleOneForOne) != (s.policy.Strategy == spec.SimpleOneForOne) {
		return fmt.Errorf("%w: cannot change %s to %s in place", ErrBadStrategy, s.policy.Strategy, p.Strategy)
	}
	if p == s.policy {
		return nil
	}
	old := s.policy
	s.policy = p
	s.rt.emit(EventStrategyChanged, s.p, "", old.String()+" -> "+p.String())
	return nil
}

// applyResult lists what an in-place update changed, by child path.
type applyResult struct {
	added, removed, changed []string
	policy                  bool
}

func (r *applyResult) merge(o applyResult) {
	r.added = append(r.added, o.added...)
	r.removed = append(r.removed, o.removed...)
	r.changed = append(r.changed, o.changed...)
	r.policy = r.policy || o.policy
}

func (r applyResult) empty() bool {
	return len(r.added)+len(r.removed)+len(r.changed) == 0 && !r.policy
}

// apply moves the supervisor toward ns in place: removed children stop (in
// reverse order), new ones start, changed ones are replaced, nested
// supervisors whose own fields are unchanged are updated recursively, and
// unchanged children are not touched. Start failures are reported; the
// failed child is left out so that a later apply starts it.
func (s *supervisor) apply(ctx context.Context, ns *supSpec) (applyResult, error) {
	var res applyResult
	if ns.policy != s.policy {
		if err := s.setPolicy(ns.policy); err != nil {
			return res, err
		}
		res.policy = true
	}
	if ns.auto != s.auto {
		// In place, as OTP's code_change takes new flags: the children
		// are not touched, and nothing shuts down until a significant
		// child exits.
		s.rt.emit(EventStrategyChanged, s.p, "", "auto_shutdown "+string(s.auto)+" -> "+string(ns.auto))
		s.auto = ns.auto
		res.policy = true
	}
	if s.template != nil {
		if !sameSelf(s.template, ns.children[0]) || !specEqual(s.template.nested, ns.children[0].nested) {
			s.template = ns.children[0]
			res.changed = append(res.changed, s.childPath(s.template.id)+" (template)")
		}
		return res, nil
	}
	want := make(map[string]*childSpec, len(ns.children))
	for _, cs := range ns.children {
		want[cs.id] = cs
	}
	for id := range s.gone {
		if want[id] == nil {
			delete(s.gone, id)
		}
	}
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		if want[c.spec.id] == nil {
			s.stopChild(c, Shutdown)
			s.remove(c)
			res.removed = append(res.removed, s.childPath(c.spec.id))
		}
	}
	var errs []error
	order := make([]*child, 0, len(ns.children))
	for _, cs := range ns.children {
		c := s.byID[cs.id]
		switch {
		case c == nil && s.gone[cs.id] != nil && sameSelf(s.gone[cs.id], cs) && specEqual(s.gone[cs.id].nested, cs.nested):
			// A temporary child that exited: the same spec again does
			// not start it.
			continue
		case c == nil:
			c = &child{spec: cs}
			if err := s.start(c); err != nil {
				errs = append(errs, fmt.Errorf("start %q: %w", s.childPath(cs.id), err))
				continue
			}
			if c.proc == nil && cs.restart == spec.Temporary {
				s.forget(c) // ignored: not kept, as at a supervisor's start
				continue
			}
			delete(s.gone, cs.id)
			s.byID[cs.id] = c
			res.added = append(res.added, s.childPath(cs.id))
		case sameSelf(c.spec, cs) && !cs.isSup:
		case sameSelfButSignificant(c.spec, cs):
			// Unchanged but perhaps for its significant flag, which
			// changes in place, the process kept (OTP's code_change);
			// a nested supervisor is then updated recursively.
			if c.spec.significant != cs.significant {
				res.changed = append(res.changed, s.childPath(cs.id)+" (significant)")
			}
			c.spec = cs
			if !cs.isSup {
				break
			}
			if c.proc != nil && c.proc.sup != nil {
				r, err := s.rt.supCall(ctx, c.proc, supApply{ctx: ctx, spec: cs.nested})
				if v, ok := r.val.(applyResult); ok {
					res.merge(v)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
		default:
			s.stopChild(c, Shutdown)
			nc := &child{spec: cs}
			if err := s.start(nc); err != nil {
				delete(s.byID, cs.id)
				errs = append(errs, fmt.Errorf("restart %q with its new spec: %w", s.childPath(cs.id), err))
				continue
			}
			if nc.proc == nil && cs.restart == spec.Temporary {
				delete(s.byID, cs.id)
				s.forget(nc) // ignored: not kept
				continue
			}
			s.byID[cs.id] = nc
			c = nc
			res.changed = append(res.changed, s.childPath(cs.id))
		}
		order = append(order, c)
	}
	s.children = order
	return res, errors.Join(errs...)
}

// specEqual compares two validated supervisor specs (nil for workers).
func specEqual(a, b *supSpec) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.policy != b.policy || a.auto != b.auto || len(a.children) != len(b.children) {
		return false
	}
	for i := range a.children {
		if !sameSelf(a.children[i], b.children[i]) || !specEqual(a.children[i].nested, b.children[i].nested) {
			return false
		}
	}
	return true
}

// publish makes the current state visible to readers: a full copy.
func (s *supervisor) publish() {
	s.snap.Store(&supSnapshot{policy: s.policy, auto: s.auto, template: s.template, children: buildChildSnaps(s.children)})
}

// latestMatches returns the last published snapshot when its flags are
// the current ones and it lists n children, else nil.
func (s *supervisor) latestMatches(n int) *supSnapshot {
	prev := s.snap.Load()
	if prev == nil || prev.policy != s.policy || prev.auto != s.auto || prev.template != s.template || prev.children.len() != n {
		return nil
	}
	return prev
}

// publishAppended publishes the state when it differs from the last
// published one only by c, appended (start_child): the new snapshot
// extends the last one's chunks (childSnaps), O(1), where publish copies
// every child, so n children start in O(n), not O(n^2).
func (s *supervisor) publishAppended(c *child) {
	n := len(s.children)
	prev := s.latestMatches(n - 1)
	if prev == nil || s.children[n-1] != c {
		s.publish()
		return
	}
	s.snap.Store(&supSnapshot{policy: s.policy, auto: s.auto, template: s.template, children: prev.children.appended(c)})
}

// publishChild publishes the state when it differs from the last
// published one only by c's own fields (its process, state, restarts),
// c in place: one chunk is copied (childSnaps), not every child.
func (s *supervisor) publishChild(c *child) {
	prev := s.latestMatches(len(s.children))
	i := c.idx
	if i >= len(s.children) || s.children[i] != c {
		i = slices.Index(s.children, c)
	}
	if prev == nil || i < 0 || prev.children.chunks[i/snapChunk][i%snapChunk].spec != c.spec {
		s.publish()
		return
	}
	s.snap.Store(&supSnapshot{policy: s.policy, auto: s.auto, template: s.template, children: prev.children.replaced(i, c)})
}

// snapshot is the last published state; before the first publish (while
// starting) it is empty.
func (s *supervisor) snapshot() *supSnapshot {
	if snap := s.snap.Load(); snap != nil {
		return snap
	}
	return &supSnapshot{policy: s.policy, auto: s.auto}
}

// ChildInfo describes one child of a supervisor (which_children).
type ChildInfo struct {
	ID string `json:"id"`
	// PID is zero when the child is not running.
	PID  PID            `json:"pid,omitzero"`
	Type spec.ChildType `json:"type"`
	// Behavior is the spec's behavior; for a module child, the behavior
	// its running process runs (empty while none runs).
	Behavior string `json:"behavior,omitempty"`
	// Module is the spec's module ref ("counter", "counter@3").
	Module  string       `json:"module,omitempty"`
	Restart spec.Restart `json:"restart"`
	// Significant is the spec's significant flag (auto_shutdown).
	Significant bool `json:"significant,omitempty"`
	// State is running, stopped, terminated or restarting (a failed
	// restart is being retried; no process meanwhile).
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	Dynamic  bool   `json:"dynamic,omitempty"`
}

// ChildCounts is count_children.
type ChildCounts struct {
	Specs       int `json:"specs"`
	Active      int `json:"active"`
	Supervisors int `json:"supervisors"`
	Workers     int `json:"workers"`
}

// SupervisorState is what GetState returns for a supervisor.
type SupervisorState struct {
	Policy Policy `json:"policy"`
	// AutoShutdown is any_significant or all_significant; empty for
	// never (the default, left out as in the spec's canonical form).
	AutoShutdown spec.AutoShutdown `json:"auto_shutdown,omitempty"`
	Template     string            `json:"template,omitempty"`
	Children     []ChildInfo       `json:"children"`
}

func (c childSnap) info() ChildInfo {
	ci := ChildInfo{ID: c.spec.id, Type: spec.Worker, Behavior: c.spec.behavior, Module: c.spec.module, Restart: c.spec.restart,
		Significant: c.spec.significant, State: c.state.String(), Restarts: c.restarts, Dynamic: c.dynamic}
	if c.spec.isSup {
		ci.Type = spec.Supervisor
	}
	if c.proc != nil {
		ci.PID = c.proc.pid
		if c.spec.module != "" {
			c.proc.mu.Lock()
			ci.Behavior = c.proc.behavior
			c.proc.mu.Unlock()
		}
	}
	return ci
}

func (s *supSnapshot) state() SupervisorState {
	st := SupervisorState{Policy: s.policy, Children: make([]ChildInfo, s.children.len())}
	if s.auto != spec.Never {
		st.AutoShutdown = s.auto
	}
	if s.template != nil {
		st.Template = s.template.id
	}
	for i, c := range s.children.all() {
		st.Children[i] = c.info()
	}
	return st
}
