package actor

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// StateOp is a state access the runtime records on sandboxed processes.
type StateOp string

const (
	// StateGet: GetState (sys:get_state).
	StateGet StateOp = "get_state"
	// StateReplace: ReplaceState (sys:replace_state).
	StateReplace StateOp = "replace_state"
	// StateCodeChange: ChangeCode, which exports the state and hands it
	// to the new version.
	StateCodeChange StateOp = "code_change"
	// StateRestoreCode: RestoreCode, which imports a state as it is.
	StateRestoreCode StateOp = "restore_code"
)

// SandboxMaxAccesses is how many distinct (caller, op, target) state
// accesses a sandbox keeps; more are counted in SandboxAccessLog.Dropped.
const SandboxMaxAccesses = 1024

// SandboxStateAccess counts one kind of state access that concerned a
// sandbox: a state inside it read or replaced, or a state outside it read
// or replaced by a process inside it.
type SandboxStateAccess struct {
	// System is true for an access through the runtime's API with no
	// calling process (WithCaller not used): the node's system path, the
	// operator API, deployments' code_change, checkpoints.
	System bool `json:"system"`
	// Caller is the calling process (zero for the system path), and
	// CallerInside whether it counts as inside the sandbox.
	Caller       PID     `json:"caller,omitzero"`
	CallerInside bool    `json:"caller_inside"`
	Op           StateOp `json:"op"`
	// Target is the process whose state was accessed, its path in its
	// tree, its tree, and whether it counts as inside the sandbox.
	Target        PID    `json:"target"`
	TargetChildID string `json:"target_child_id,omitempty"`
	TargetTree    string `json:"target_tree,omitempty"`
	TargetInside  bool   `json:"target_inside"`
	// Count is every attempt that reached the target; Failed those that
	// returned an error.
	Count  uint64    `json:"count"`
	Failed uint64    `json:"failed"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// SandboxAccessLog is a sandbox's record of state accesses.
type SandboxAccessLog struct {
	Tree     string               `json:"tree"`
	Accesses []SandboxStateAccess `json:"accesses"`
	// Dropped counts accesses of new kinds past SandboxMaxAccesses.
	Dropped uint64 `json:"dropped"`
}

type callerKey struct{}

// WithCaller marks ctx as the context of a call made on behalf of the
// process p (its callback's Proc): a GetState, ReplaceState, ChangeCode or
// RestoreCode made with it is recorded as p's access, not the system's.
// Without it, such a call is the node's system path.
func WithCaller(ctx context.Context, p Proc) context.Context {
	return context.WithValue(ctx, callerKey{}, p)
}

type accessKey struct {
	caller PID
	op     StateOp
	target PID
}

// accessTable is a sandbox's record of state accesses (sandboxState.access;
// its map made at the first access).
type accessTable struct {
	mu      sync.Mutex
	m       map[accessKey]*SandboxStateAccess
	dropped uint64
}

// stateAccess records a state access (op) to target made with ctx, whose
// outcome is err, in the sandbox of the target and in that of the calling
// process when the target is outside it. Unsandboxed accesses cost a nil
// check and a context lookup.
func (rt *Runtime) stateAccess(ctx context.Context, op StateOp, target *process, err error) {
	var caller PID
	var q *process
	if p, ok := ctx.Value(callerKey{}).(Proc); ok && p != nil {
		caller = p.Self()
		if qp, ok := p.(*process); ok {
			q = qp
		} else if v, ok := rt.procs.Load(caller.Seq); ok && caller.Node == rt.node {
			q = v.(*process)
		}
	}
	if target.sb == nil && (q == nil || q.sb == nil) {
		return
	}
	now := rt.clock.Now()
	a := SandboxStateAccess{System: caller.IsZero(), Caller: caller, Op: op, Target: target.pid, TargetChildID: target.path}
	if target.tree != nil {
		a.TargetTree = target.tree.name
	}
	if sb := target.sb; sb != nil {
		a.TargetInside = true
		a.CallerInside = q != nil && sb.inside(q)
		sb.access.record(a, err, now)
	}
	if q != nil && q.sb != nil && q.sb != target.sb && !q.sb.inside(target) {
		a.CallerInside, a.TargetInside = true, false
		q.sb.access.record(a, err, now)
	}
}

func (t *accessTable) record(a SandboxStateAccess, err error, now time.Time) {
	k := accessKey{a.Caller, a.Op, a.Target}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[accessKey]*SandboxStateAccess)
	}
	x := t.m[k]
	if x == nil {
		if len(t.m) >= SandboxMaxAccesses {
			t.dropped++
			return
		}
		a.First = now
		x = &a
		t.m[k] = x
	}
	x.Count++
	if err != nil {
		x.Failed++
	}
	x.Last = now
	x.CallerInside, x.TargetInside = a.CallerInside, a.TargetInside
}

// SandboxStateAccesses returns a sandboxed tree's record of state
// accesses, sorted by target, op, then caller (the system path first).
func (rt *Runtime) SandboxStateAccesses(tree string) (SandboxAccessLog, error) {
	sb, err := rt.sandbox(tree)
	if err != nil {
		return SandboxAccessLog{}, err
	}
	out := SandboxAccessLog{Tree: tree, Accesses: []SandboxStateAccess{}}
	t := &sb.access
	t.mu.Lock()
	for _, x := range t.m {
		out.Accesses = append(out.Accesses, *x)
	}
	out.Dropped = t.dropped
	t.mu.Unlock()
	slices.SortFunc(out.Accesses, func(a, b SandboxStateAccess) int {
		return cmp.Or(a.Target.Compare(b.Target), strings.Compare(string(a.Op), string(b.Op)), a.Caller.Compare(b.Caller))
	})
	return out, nil
}
