package coordination

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
)

// execute carries out one operation on the local runtime. An
// upgrade_code's revert by restore needs the state exported just before
// it: that is returned as captured.
func (l *Layer) execute(ctx context.Context, op plan.Operation) (out *pb.OpOutcome, captured *pb.CapturedState) {
	return l.executeAs(ctx, op, false)
}

// executeAs is execute; undo marks a compensation, which ensures a state
// rather than changes one: its delete_child of a spec already gone is
// done, as its terminate_child of a stopped child is.
func (l *Layer) executeAs(ctx context.Context, op plan.Operation, undo bool) (out *pb.OpOutcome, captured *pb.CapturedState) {
	start := time.Now()
	out = &pb.OpOutcome{Op: op.ID, Type: string(op.Type), Ran: true}
	var pid, resultPID actor.PID
	var err error
	if op.Type == plan.UpgradeCode || op.Type == plan.RevertCode {
		var old []byte
		pid, old, err = l.changeCode(ctx, op)
		if err == nil && old != nil && op.Type == plan.UpgradeCode && op.Params.Revert == plan.RevertRestore {
			captured = &pb.CapturedState{Pid: pid.String(), State: old}
		}
	} else if op.Type == plan.Spawn {
		resultPID, err = l.spawn(ctx, op)
	} else if op.Type == plan.ImportStates {
		pid, err = l.importStates(ctx, op)
	} else {
		pid, resultPID, err = l.do(ctx, op)
		if undo && op.Type == plan.DeleteChild && errors.Is(err, actor.ErrChildNotFound) {
			err = nil
		}
		if undo && op.Type == plan.KillProcess && errors.Is(err, actor.ErrNoProc) {
			err = nil // a spawned process already gone: what the kill ensures
		}
	}
	if !pid.IsZero() {
		out.Pid = pid.String()
	}
	if !resultPID.IsZero() {
		out.ResultPid = resultPID.String()
	}
	out.DurationUs = time.Since(start).Microseconds()
	if err != nil {
		out.Error = err.Error()
		return out, nil
	}
	out.Ok = true
	return out, captured
}

// spawn starts an unsupervised process of a catalog behavior, imports the
// state given into it, then registers the name given, so that nothing
// reaches it by name before its state is in. A name registered on this
// node is refused (actor.ErrNameTaken), before anything starts; a process
// whose state or name cannot be set is killed again and the error says
// why. The step runs at most once (the executor commits its start first),
// so a spawn never starts two processes.
func (l *Layer) spawn(ctx context.Context, op plan.Operation) (actor.PID, error) {
	rt, p := l.rt, op.Params
	if p.Name != "" {
		if cur, ok := rt.WhereIs(p.Name); ok {
			return actor.PID{}, fmt.Errorf("%w: name %q on node %s is registered to %s", actor.ErrNameTaken, p.Name, rt.Node(), cur)
		}
	}
	pid, err := rt.Spawn(ctx, actor.SpawnOptions{Behavior: p.Behavior, Args: p.Args})
	if err != nil {
		return actor.PID{}, fmt.Errorf("spawn %s: %w", p.Behavior, err)
	}
	undo := func(what string, err error) (actor.PID, error) {
		_ = rt.Kill(pid, actor.Kill)
		return actor.PID{}, fmt.Errorf("spawned %s as %s, then %s: %w; the process was killed again", p.Behavior, pid, what, err)
	}
	if p.State != "" {
		if err := rt.ReplaceState(ctx, pid, []byte(p.State)); err != nil {
			return undo("could not import its state", err)
		}
	}
	if p.Name != "" {
		if err := rt.Register(p.Name, pid); err != nil {
			return undo(fmt.Sprintf("could not register it as %q", p.Name), err)
		}
	}
	return pid, nil
}

// changeCode runs upgrade_code and revert_code: the process moves between
// two messages, keeping its identity. A process already on the behavior is
// left alone (the step ran before this incarnation's report, or a revert
// of a process whose upgrade did not take). old is the state the previous
// instance exported.
func (l *Layer) changeCode(ctx context.Context, op plan.Operation) (pid actor.PID, old []byte, err error) {
	pid, err = actor.ParsePID(op.Target.PID)
	if err != nil {
		return pid, nil, err
	}
	info, err := l.rt.Process(pid)
	if err != nil && op.Type == plan.RevertCode && op.Params.Slot != "" {
		// Restarted since it moved: its slot's process runs what the slot
		// remembers, the version it moved to; that one goes back.
		tree, path, _ := strings.Cut(op.Params.Slot, "/")
		if now, rerr := l.rt.Resolve(actor.Target{Tree: tree, Path: path}); rerr == nil {
			pid = now
			info, err = l.rt.Process(pid)
		}
	}
	if err != nil {
		return pid, nil, fmt.Errorf("resolve %s: %w", op.Target, err)
	}
	if info.Behavior == op.Params.Behavior {
		return pid, nil, nil
	}
	if op.Type == plan.RevertCode && op.Params.Revert == plan.RevertRestore {
		return pid, nil, l.rt.RestoreCode(ctx, pid, op.Params.Behavior, []byte(op.Params.State))
	}
	old, err = l.rt.ChangeCode(ctx, pid, op.Params.Behavior)
	return pid, old, err
}

func (l *Layer) do(ctx context.Context, op plan.Operation) (pid, result actor.PID, err error) {
	rt := l.rt
	tgt, err := runtimeTarget(op.Target)
	if err != nil {
		return pid, result, err
	}
	pid, err = rt.Resolve(tgt)
	if err != nil {
		return pid, result, fmt.Errorf("resolve %s: %w", op.Target, err)
	}
	switch op.Type {
	case plan.KillProcess:
		reason := op.Params.Reason
		if reason == "" {
			reason = string(actor.Kill)
		}
		err = rt.Kill(pid, actor.Reason(reason))
	case plan.SendMessage:
		kind := actor.KindInfo
		if op.Params.Kind == "cast" {
			kind = actor.KindCast
		}
		err = rt.SendChecked(pid, actor.Message{Kind: kind, Body: []byte(op.Params.Message)})
	case plan.SuspendProcess:
		err = rt.Suspend(pid)
	case plan.ResumeProcess:
		err = rt.Resume(pid)
	case plan.ChangeSupervisorStrategy:
		var pol actor.Policy
		if pol, err = rt.SupervisorPolicy(pid); err == nil {
			pol.Strategy = op.Params.Strategy
			err = rt.SetPolicy(ctx, pid, pol)
		}
	case plan.RestartSupervisor:
		err = l.restartSupervisor(ctx, op.Target, pid)
	case plan.StartChild:
		if op.Params.Child != nil {
			cs := *op.Params.Child
			spec.NormalizeChild(&cs)
			result, err = rt.StartChild(ctx, pid, cs)
		} else {
			result, err = rt.StartDynamicChild(ctx, pid, op.Params.Args)
		}
	case plan.TerminateChild:
		err = rt.TerminateChild(ctx, pid, op.Params.ChildID)
	case plan.DeleteChild:
		// OTP's delete_child: {error, running} (ErrChildRunning) and
		// {error, restarting} (ErrChildRestarting) are failures, reported
		// as the runtime words them.
		err = rt.DeleteChild(ctx, pid, op.Params.ChildID)
	case plan.ReplaceState:
		err = rt.ReplaceState(ctx, pid, []byte(op.Params.State))
	case plan.RegisterName:
		err = rt.Register(op.Params.Name, pid)
		if errors.Is(err, actor.ErrNameTaken) {
			if cur, ok := rt.WhereIs(op.Params.Name); ok && cur == pid {
				err = nil // already so
			}
		}
	case plan.RestartChild:
		result, err = rt.RestartChild(ctx, pid, op.Params.ChildID)
		if errors.Is(err, actor.ErrChildRunning) {
			err = nil // already running: what restart_child ensures
		}
	default:
		err = fmt.Errorf("unknown operation type %q", op.Type)
	}
	return pid, result, err
}

// restartSupervisor restarts a supervisor and its whole subtree: a tree's
// root by stopping the tree and starting it again from the spec it runs, a
// nested one through its parent.
func (l *Layer) restartSupervisor(ctx context.Context, t plan.Target, pid actor.PID) error {
	rt := l.rt
	info, err := rt.Process(pid)
	if err != nil {
		return err
	}
	if !info.Supervisor {
		return fmt.Errorf("%w: %s", actor.ErrNotSupervisor, pid)
	}
	if info.Parent.IsZero() {
		ti, err := rt.Tree(info.Tree)
		if err != nil {
			return err
		}
		if err := rt.StopTree(ctx, info.Tree); err != nil {
			return err
		}
		return rt.ApplyTree(ctx, ti.Spec)
	}
	id := info.ChildID[strings.LastIndex(info.ChildID, "/")+1:]
	// In place: a temporary supervisor's spec would be deleted by a
	// terminate_child.
	_, err = rt.RestartInPlace(ctx, info.Parent, id)
	return err
}
