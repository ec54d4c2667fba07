package plan

import (
	"strings"

	"github.com/steward/steward/spec"
)

// Compensate derives the operation that undoes op, given the state of its
// target (and, for child operations, of the child) captured before op ran:
// Build uses the facts; an executor may call it again with the state it
// captured at the phase's start. Per type:
//
//   - kill_process of a supervised permanent or transient child:
//     restart_child of its slot, which a supervisor may already have done
//     (restart_child of a running child is a no-op). A temporary or dynamic
//     child, a root supervisor or an unsupervised process: none (the exit
//     cannot be undone).
//   - change_supervisor_strategy: change it back to the captured strategy.
//   - suspend_process: resume_process; resume_process: suspend_process; each
//     only if the process was in the other status before (else op changed
//     nothing).
//   - start_child of a child spec: terminate_child of the new child, then
//     (Then) delete_child of it, so that its spec goes too and the
//     supervisor is as before; under simple_one_for_one terminate_child of
//     the instance by the PID in op's result (that removes it).
//   - terminate_child: restart_child of the same child, if it was running
//     and is not temporary (terminating a temporary child deletes its spec).
//   - restart_child: terminate_child, if the child was not running before.
//   - delete_child: start_child of the deleted spec (child.Spec, which the
//     planner gathers), then (Then) terminate_child of it, since it was not
//     running: the spec is back, terminated (its init runs once). None when
//     the spec was not gathered (facts from an earlier version's node), or
//     for a temporary child (terminating it would delete its spec again).
//
// An executor takes a rollback's delete_child of a spec already gone as
// done, as it takes terminate_child of a stopped child.
//   - spawn: kill_process (reason kill) of the process it started, by
//     the pid in op's result (TargetFromResult); an executor takes the
//     kill of a process already gone as done.
//   - send_message, restart_supervisor: none; a delivered message cannot be
//     recalled and a restarted subtree cannot be un-restarted.
//   - replace_state, register_name: none (restores use them to put things
//     back; undoing them is not offered).
func Compensate(op Operation, target ProcessFacts, child *ProcessFacts) Compensation {
	c := Compensation{Op: op.ID}
	mk := func(t OpType, tgt Target, p Params) *Operation {
		return &Operation{ID: "rollback-" + op.ID, Type: t, Node: op.Node, Target: tgt, Params: p}
	}
	switch op.Type {
	case KillProcess:
		switch {
		case target.Tree == "":
			c.Note = "an unsupervised process cannot be brought back"
		case target.Slot == "":
			c.Note = "the root supervisor of tree " + target.Tree + " has no supervisor to restart it"
		case target.Dynamic:
			c.Note = "a simple_one_for_one child cannot be restarted by id"
		case target.Restart == spec.Temporary:
			c.Note = "a temporary child is not restarted and its spec is gone"
		default:
			parent, leaf := splitSlot(target.Slot)
			c.Operation = mk(RestartChild, Target{Supervisor: target.Tree, ChildID: parent}, Params{ChildID: leaf})
			c.Operation.Node = target.Node
			c.Note = "ensure " + target.Tree + "/" + target.Slot + " runs again (a no-op if its supervisor restarted it)"
		}
	case ChangeSupervisorStrategy:
		if target.Strategy == "" {
			c.Note = "the previous strategy is unknown"
			break
		}
		c.Operation = mk(ChangeSupervisorStrategy, op.Target, Params{Strategy: target.Strategy})
		c.Note = "restore strategy " + string(target.Strategy)
	case SuspendProcess:
		if target.Status == Suspended {
			c.Note = "the process was already suspended"
			break
		}
		c.Operation = mk(ResumeProcess, op.Target, Params{})
		c.Note = "resume the process"
	case ResumeProcess:
		if target.Status != Suspended {
			c.Note = "the process was not suspended"
			break
		}
		c.Operation = mk(SuspendProcess, op.Target, Params{})
		c.Note = "suspend the process again"
	case StartChild:
		if op.Params.Child != nil {
			id := op.Params.Child.ID
			c.Operation = mk(TerminateChild, op.Target, Params{ChildID: id})
			del := mk(DeleteChild, op.Target, Params{ChildID: id})
			del.ID += "-delete"
			c.Then = []Operation{*del}
			c.Note = "terminate the started child " + id + ", then delete its spec"
		} else {
			c.Operation = mk(TerminateChild, op.Target, Params{})
			c.ChildFromResult = true
			c.Note = "terminate the started child, by the pid in the operation's result"
		}
	case TerminateChild:
		switch {
		case child != nil && child.Exists && !child.Alive:
			c.Note = "the child was not running"
		case isPID(op.Params.ChildID) || (child != nil && child.Dynamic):
			c.Note = "a simple_one_for_one child cannot be restarted by id"
		case child != nil && child.Restart == spec.Temporary:
			c.Note = "a terminated temporary child's spec is deleted (as in OTP): it cannot be restarted"
		default:
			c.Operation = mk(RestartChild, op.Target, Params{ChildID: op.Params.ChildID})
			c.Note = "restart child " + op.Params.ChildID
		}
	case RestartChild:
		if child != nil && child.Alive {
			c.Note = "the child was already running"
			break
		}
		c.Operation = mk(TerminateChild, op.Target, Params{ChildID: op.Params.ChildID})
		c.Note = "terminate child " + op.Params.ChildID + " again"
	case DeleteChild:
		id := op.Params.ChildID
		switch {
		case child == nil || child.Spec == nil:
			c.Note = "the spec of child " + id + " was not gathered when planning: it cannot be added back"
		case child.Spec.Restart == spec.Temporary:
			c.Note = "a temporary child's spec goes when it is terminated: it cannot be added back as it was"
		default:
			cs := child.Spec.Clone()
			cs.ID = id
			c.Operation = mk(StartChild, op.Target, Params{Child: &cs})
			term := mk(TerminateChild, op.Target, Params{ChildID: id})
			term.ID += "-terminate"
			c.Then = []Operation{*term}
			c.Note = "add the spec of child " + id + " back (start_child), then terminate it: it was not running"
		}
	case Spawn:
		c.Operation = mk(KillProcess, Target{}, Params{Reason: DefaultReason})
		c.TargetFromResult = true
		c.Note = "kill the spawned process, by the pid in the operation's result"
	case UpgradeCode:
		c.Operation = mk(RevertCode, op.Target, Params{Behavior: op.Params.From, Revert: op.Params.Revert, Slot: op.Params.Slot})
		if op.Params.Revert == RevertRestore {
			c.StateFromCapture = true
			c.Note = "move back onto " + op.Params.From + " with the state captured before the upgrade (the module declares no downgrade)"
		} else {
			c.Note = "move back onto " + op.Params.From + " through code_change down"
		}
	case RevertCode:
		c.Note = "a revert is not undone"
	case SendMessage:
		c.Note = "a delivered message cannot be recalled"
	case RestartSupervisor:
		c.Note = "a restarted subtree cannot be un-restarted"
	case ImportStates:
		c.Note = "the replaced states are not kept"
	case ReplaceState:
		c.Note = "the replaced state is not kept (a strict plan captures it in its report)"
	case RegisterName:
		c.Note = "the name stays registered; it goes with the process"
	default:
		c.Note = "unknown operation type"
	}
	return c
}

// splitSlot splits "a/b/c" into "a/b" and "c".
func splitSlot(slot string) (parent, leaf string) {
	if i := strings.LastIndexByte(slot, '/'); i >= 0 {
		return slot[:i], slot[i+1:]
	}
	return "", slot
}
