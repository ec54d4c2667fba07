package sandbox

import (
	"fmt"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// Observation is what a node knows of one sandbox at one moment: what was
// declared (the tree spec, the policy, the module versions allowed to run)
// and what the runtime recorded. Observe fills it from the local runtime;
// Interactions and Verify read nothing else, so a caller with the records
// from elsewhere fills it by hand.
//
// A record that could not be read is left nil (Errors says why), and every
// check that needs it fails: a sandbox that cannot be read is not clean.
type Observation struct {
	Tree string    `json:"tree"`
	Node string    `json:"node,omitempty"`
	At   time.Time `json:"at"`

	// Declared.
	Spec   spec.Tree `json:"spec"`
	Policy Policy    `json:"policy"`
	// AllowedVersions are the versions each module may run inside, by
	// module name (a native behavior: by behavior name, the catalog
	// entry's versions), besides the versions the spec pins. A worker whose
	// spec follows a module's active version needs its module here (the
	// active version, and any a deployment is moving it to).
	AllowedVersions map[string][]string `json:"allowed_versions,omitempty"`

	// Recorded.
	//
	// Status is actor.Runtime.SandboxStatus; Violations the violation
	// ring, read after it (nil Status: neither could be read).
	Status     *actor.SandboxStatus     `json:"status"`
	Violations []actor.SandboxViolation `json:"violations"`
	// Accesses is actor.Runtime.SandboxStateAccesses.
	Accesses *actor.SandboxAccessLog `json:"accesses"`
	// Flow is the tree's message-flow graph; FlowTraced whether flow
	// tracing is on for the tree (off: Flow holds at most the edges of
	// processes whose tracing a moderate violation turned up).
	Flow       *actor.FlowGraph `json:"flow"`
	FlowTraced bool             `json:"flow_traced"`
	// Processes are the tree's live processes (nil: not read; empty: none
	// runs).
	Processes []actor.ProcessInfo `json:"processes"`
	// Usage are usage samples over the window, oldest first: Observe
	// takes Status's (one per monitoring interval, the last
	// actor.SandboxSampleRing) and puts the moment's (Status's processes
	// and memory) last.
	Usage []UsageSample `json:"usage"`

	// Errors lists what could not be read, one line each.
	Errors []string `json:"errors,omitempty"`
}

// UsageSample is a sandbox's usage at one time (actor.SandboxSample, the
// part the checks read).
type UsageSample struct {
	Time        time.Time `json:"time"`
	Processes   int64     `json:"processes"`
	MemoryBytes int64     `json:"memory_bytes"`
	// CPUPercent is the callbacks' running time over the sample's
	// interval, in percent of one core (0 for the moment's sample).
	CPUPercent float64 `json:"cpu_percent"`
	// Unreadable lists the processes whose usage could not be read: the
	// sample's memory is a lower bound.
	Unreadable []actor.PID `json:"unreadable,omitempty"`
}

// Observe reads a sandboxed tree's records from the local runtime: its
// status and violations, state accesses, flow graph and live processes.
// t is the tree's spec as declared (its name must be tree), p the policy
// as declared, allowedVersions as in Observation. The error says why the
// sandbox could not be observed at all (not found, not sandboxed, a spec
// or policy for another tree); the Observation is returned even then, with
// what was read, so Verify on it reports the failing checks.
func Observe(rt *actor.Runtime, tree string, t spec.Tree, p Policy, allowedVersions map[string][]string) (Observation, error) {
	obs := Observation{Tree: tree, Spec: t, Policy: p, AllowedVersions: allowedVersions}
	if rt == nil {
		obs.Errors = append(obs.Errors, "no runtime")
		return obs, fmt.Errorf("sandbox %q: no runtime", tree)
	}
	obs.Node = rt.Node()
	obs.At = now(rt)
	var first error
	fail := func(what string, err error) {
		obs.Errors = append(obs.Errors, what+": "+err.Error())
		if first == nil {
			first = fmt.Errorf("sandbox %q: %s: %w", tree, what, err)
		}
	}
	if t.Name != tree {
		fail("spec", fmt.Errorf("%w: the spec is for tree %q", ErrInvalid, t.Name))
	}
	if p.Name != "" && p.Name != tree {
		fail("policy", fmt.Errorf("%w: the policy is for %q", ErrInvalid, p.Name))
	}
	if st, err := rt.SandboxStatus(tree); err != nil {
		fail("status", err)
	} else if vs, err := rt.SandboxViolations(tree); err != nil {
		fail("violations", err)
	} else {
		obs.Status, obs.Violations = &st, vs
		for _, u := range st.Samples {
			obs.Usage = append(obs.Usage, UsageSample{Time: u.Time, Processes: u.Processes, MemoryBytes: u.MemoryBytes,
				CPUPercent: u.CPUPercent, Unreadable: u.Unreadable})
		}
		obs.Usage = append(obs.Usage, UsageSample{Time: obs.At, Processes: st.Processes, MemoryBytes: st.MemoryBytes})
	}
	if log, err := rt.SandboxStateAccesses(tree); err != nil {
		fail("state accesses", err)
	} else {
		obs.Accesses = &log
	}
	if g, err := rt.FlowGraph(tree); err != nil {
		fail("flow", err)
	} else {
		obs.Flow = &g
	}
	if ti, err := rt.Tree(tree); err != nil {
		fail("tree", err)
	} else {
		obs.FlowTraced = ti.Tracing.Flow
		obs.Processes = treeProcesses(rt, tree)
	}
	return obs, first
}

func treeProcesses(rt *actor.Runtime, tree string) []actor.ProcessInfo {
	out := []actor.ProcessInfo{}
	for _, pi := range rt.Processes() {
		if pi.Tree == tree && pi.Status != actor.StatusDead {
			out = append(out, pi)
		}
	}
	return out
}

func now(rt *actor.Runtime) time.Time {
	if c := rt.Config().Clock; c != nil {
		return c.Now()
	}
	return time.Now()
}
