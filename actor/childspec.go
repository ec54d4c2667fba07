package actor

import (
	"fmt"
	"maps"

	"github.com/steward/steward/spec"
)

// GetChildSpec returns the spec of a supervisor's child as it was given
// (OTP's get_childspec), read from the supervisor's last published state:
// a child of the tree's spec or one added by StartChild, running or
// terminated. Under a simple_one_for_one supervisor id names an instance by
// its pid ("node/seq") or its instance id and the answer is the template
// with the instance's id and merged args (an instance whose restart is
// being retried is still named by the pid that died, as TerminateChild
// finds it); the template's own id gives the template. ErrChildNotFound when there is no such child.
func (rt *Runtime) GetChildSpec(sup PID, id string) (spec.ChildSpec, error) {
	p, err := rt.supervisorOf(sup)
	if err != nil {
		return spec.ChildSpec{}, err
	}
	snap := p.sup.snapshot()
	pid, byPID := PID{}, false
	if snap.template != nil {
		if pid, err = ParsePID(id); err == nil {
			byPID = true
		}
	}
	for _, c := range snap.children.all() {
		if byPID && !c.hasPID(pid) || !byPID && c.spec.id != id {
			continue
		}
		cs := c.spec.raw
		if c.dynamic {
			cs.ID = c.spec.id
			cs.Args = maps.Clone(c.spec.args)
		}
		return cs, nil
	}
	if snap.template != nil && !byPID && snap.template.id == id {
		return snap.template.raw, nil
	}
	return spec.ChildSpec{}, fmt.Errorf("%w: %q in supervisor %s", ErrChildNotFound, id, sup)
}

// hasPID reports whether pid is the child's process, or, while it is
// restarting, the process that died (OTP's {restarting, Pid}).
func (c childSnap) hasPID(pid PID) bool {
	if c.proc != nil {
		return c.proc.pid == pid
	}
	return c.state == childRestarting && c.last == pid
}
