package actor

import (
	"context"
	"errors"
	"fmt"

	"github.com/steward/steward/spec"
)

// Admin results, as OTP's supervisor answers them. Test with errors.Is;
// ErrAlreadyStarted and ErrAlreadyPresent also match ErrDuplicateID, and
// ErrChildRestarting ErrChildRunning, so a caller (or a node's gRPC code
// table) that knows only the broader sentinel keeps working.
var (
	// ErrAlreadyStarted: start_child of an id whose child runs (OTP's
	// {error, {already_started, Pid}}; the text names the pid).
	ErrAlreadyStarted error = &adminError{"child already started", ErrDuplicateID}
	// ErrAlreadyPresent: start_child of an id whose spec the supervisor
	// keeps while the child does not run: terminated, stopped or
	// restarting (OTP's {error, already_present}); restart_child or
	// delete_child it.
	ErrAlreadyPresent error = &adminError{"child spec already present", ErrDuplicateID}
	// ErrChildRestarting: restart_child or delete_child of a child whose
	// restart failed and is being retried by its supervisor (OTP's
	// {error, restarting}). It also matches ErrChildRunning (OTP's
	// {error, running}): the supervisor is bringing the child back, so a
	// caller that only ensures it runs may take either as done.
	ErrChildRestarting error = &adminError{"child is restarting", ErrChildRunning}
)

// adminError is a sentinel that also matches a broader one.
type adminError struct {
	msg    string
	parent error
}

func (e *adminError) Error() string { return e.msg }
func (e *adminError) Unwrap() error { return e.parent }

// supervisorOf resolves a PID that must be a live local supervisor.
func (rt *Runtime) supervisorOf(pid PID) (*process, error) {
	p, err := rt.local(pid)
	if err != nil {
		return nil, err
	}
	if p.sup == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotSupervisor, pid)
	}
	return p, nil
}

// supCall queues a supervisor command behind the supervisor's pending
// messages (as OTP's supervisor calls are) and waits for the answer. Only
// ctx bounds the wait: starting children may legitimately take long (OTP
// uses infinity here), so there is no default timeout.
func (rt *Runtime) supCall(ctx context.Context, p *process, req supCommand) (reply, error) {
	rc := make(chan reply, 1)
	if err := p.deliver(supEnvelope(req, rc), true); err != nil {
		return reply{}, err
	}
	return waitReply(ctx, p, rc)
}

// Supervisor operations wait for the supervisor to act, bounded only by
// ctx (a suspended supervisor acts once resumed).

// StartChild adds a child to a running supervisor and starts it (OTP's
// start_child with a child spec). The id must be new: ErrAlreadyStarted
// when a child of that id runs, ErrAlreadyPresent when its spec is kept
// but it does not run. The spec is validated as in a tree.
func (rt *Runtime) StartChild(ctx context.Context, sup PID, cs spec.ChildSpec) (PID, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return PID{}, err
	}
	compiled, err := rt.compileChild(p.sup, cs)
	if err != nil {
		return PID{}, err
	}
	r, err := rt.supCall(ctx, p, supStartChild{spec: compiled})
	if err != nil {
		return PID{}, err
	}
	return r.val.(PID), nil
}

// StartDynamicChild starts an instance of a simple_one_for_one
// supervisor's template; extra args are merged over the template's (OTP's
// start_child with extra arguments). Instances get the id
// "<template id>-<n>".
func (rt *Runtime) StartDynamicChild(ctx context.Context, sup PID, extra map[string]string) (PID, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return PID{}, err
	}
	r, err := rt.supCall(ctx, p, supStartDynamic{args: extra})
	if err != nil {
		return PID{}, err
	}
	return r.val.(PID), nil
}

// TerminateChild stops a child with its shutdown policy; it is not
// restarted (OTP's terminate_child). A static child keeps its spec
// (terminated), unless it is temporary, whose spec is deleted. Under a
// simple_one_for_one supervisor id names an instance, by its pid
// ("node/seq", as OTP's terminate_child(Sup, Pid)) or by its instance id
// ("<template id>-<n>"); the instance is removed. Terminating a child
// that is not running is ok and changes nothing (OTP), and so is a dead
// pid under simple_one_for_one; a temporary child's spec is gone once
// terminated, so a second call by its id is not_found.
func (rt *Runtime) TerminateChild(ctx context.Context, sup PID, id string) error {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return err
	}
	_, err = rt.supCall(ctx, p, supTerminateChild{id: id})
	if errors.Is(err, ErrChildNotFound) && rt.deadInstancePid(p, id) {
		// OTP's find_child for a simple_one_for_one supervisor: a pid
		// that is no instance but is dead is terminated already.
		return nil
	}
	return err
}

// deadInstancePid reports whether ref is the pid of a dead local process
// and sup a simple_one_for_one supervisor: what OTP's terminate_child
// answers ok, whether or not the pid was ever an instance (a live pid
// that is none stays not_found).
func (rt *Runtime) deadInstancePid(sup *process, ref string) bool {
	pid, err := ParsePID(ref)
	if err != nil || sup.sup.snapshot().template == nil {
		return false
	}
	_, err = rt.local(pid)
	return errors.Is(err, ErrNoProc)
}

// RestartChild starts a child that is not running (OTP's restart_child):
// ErrChildRunning when it runs, ErrChildRestarting when its supervisor is
// retrying a failed restart, ErrChildNotFound when there is no such spec.
func (rt *Runtime) RestartChild(ctx context.Context, sup PID, id string) (PID, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return PID{}, err
	}
	r, err := rt.supCall(ctx, p, supRestartChild{id: id})
	if err != nil {
		return PID{}, err
	}
	return r.val.(PID), nil
}

// RestartInPlace stops a static child (if it runs) with its shutdown
// policy and starts it again from its spec, whatever its restart type:
// TerminateChild then RestartChild, except that a temporary child keeps
// its spec in between. Restarting a nested supervisor uses it.
func (rt *Runtime) RestartInPlace(ctx context.Context, sup PID, id string) (PID, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return PID{}, err
	}
	r, err := rt.supCall(ctx, p, supRestartInPlace{id: id})
	if err != nil {
		return PID{}, err
	}
	return r.val.(PID), nil
}

// DeleteChild removes the spec of a child that is not running (OTP's
// delete_child): ErrChildRunning when it runs, ErrChildRestarting when its
// supervisor is retrying a failed restart.
func (rt *Runtime) DeleteChild(ctx context.Context, sup PID, id string) error {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return err
	}
	_, err = rt.supCall(ctx, p, supDeleteChild{id: id})
	return err
}

// SetPolicy changes a running supervisor's strategy and intensity in
// place; running children are not touched. Zero MaxRestarts and
// MaxSeconds take the defaults, as in a spec. A change to or from
// simple_one_for_one is refused (ErrBadStrategy).
func (rt *Runtime) SetPolicy(ctx context.Context, sup PID, pol Policy) error {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return err
	}
	pol, err = compilePolicy(spec.SupervisorSpec{Strategy: pol.Strategy, MaxRestarts: pol.MaxRestarts, MaxSeconds: pol.MaxSeconds})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	_, err = rt.supCall(ctx, p, supSetPolicy{policy: pol})
	return err
}

// WhichChildren lists a supervisor's children in start order, as last
// published by the supervisor.
func (rt *Runtime) WhichChildren(sup PID) ([]ChildInfo, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return nil, err
	}
	return p.sup.snapshot().state().Children, nil
}

// CountChildren is OTP's count_children.
func (rt *Runtime) CountChildren(sup PID) (ChildCounts, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return ChildCounts{}, err
	}
	var n ChildCounts
	snap := p.sup.snapshot()
	if snap.policy.Strategy == spec.SimpleOneForOne {
		// OTP: a simple_one_for_one supervisor has one spec, the template,
		// however many instances run; active, workers and supervisors
		// count the instances.
		n.Specs = 1
	}
	for _, c := range snap.children.all() {
		if snap.policy.Strategy != spec.SimpleOneForOne {
			n.Specs++
		}
		if c.proc != nil {
			n.Active++
		}
		if c.spec.isSup {
			n.Supervisors++
		} else {
			n.Workers++
		}
	}
	return n, nil
}

// SupervisorPolicy returns a supervisor's current policy.
func (rt *Runtime) SupervisorPolicy(sup PID) (Policy, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return Policy{}, err
	}
	return p.sup.snapshot().policy, nil
}
