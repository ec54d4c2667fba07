package spec

import (
	"maps"
	"time"
)

// Normalize fills in defaults, in place, so that a tree written with
// defaults left out and one written with them spelled out become equal:
//
//   - node: "auto" when empty;
//   - supervisors (the root and every child of type supervisor): strategy
//     one_for_one when empty; max_restarts 1 and max_seconds 5 (OTP's
//     defaults) when both are 0, and max_seconds 5 when only it is 0;
//     auto_shutdown never is written as "" (left out of the canonical
//     form, like significant false);
//   - children: type worker, restart permanent when empty; shutdown "5s"
//     for a worker and "infinity" for a supervisor when empty (OTP's
//     defaults); a shutdown duration is rewritten in Go's canonical form
//     ("5000ms" -> "5s", "0" -> "0s"); an empty args map or children list
//     becomes nil.
//
// Because MaxRestarts and MaxSeconds are plain ints, 0 reads as "not
// given" in a Go struct. Parse knows which fields a file spelled out: it
// fills the missing one, so a file saying max_restarts = 0 keeps its zero
// (with max_seconds 5 unless given), and it refuses a spelled-out
// max_seconds = 0 (the period must be positive, as in OTP) rather than
// read it as 5. A caller building a Tree in Go asks for "no restarts" with
// MaxRestarts 0 and a positive MaxSeconds.
//
// Invalid values are left as they are for Validate to report. Normalize is
// idempotent.
func Normalize(t *Tree) {
	if t == nil {
		return
	}
	if t.Node == "" {
		t.Node = NodeAuto
	}
	normalizeSupervisor(&t.SupervisorSpec)
}

// NormalizeChild is Normalize for one child spec (and its subtree).
func NormalizeChild(c *ChildSpec) {
	if c == nil {
		return
	}
	if c.Type == "" {
		c.Type = Worker
	}
	if c.Restart == "" {
		c.Restart = Permanent
	}
	switch c.Shutdown {
	case "":
		c.Shutdown = DefaultShutdown
		if c.Type == Supervisor {
			c.Shutdown = DefaultSupervisorShutdown
		}
	case BrutalKill, Infinity:
	default:
		if d, err := time.ParseDuration(c.Shutdown); err == nil && d >= 0 {
			c.Shutdown = d.String()
		}
	}
	if len(c.Args) == 0 {
		c.Args = nil
	}
	if c.Type == Supervisor {
		normalizeSupervisor(&c.SupervisorSpec)
	} else {
		for i := range c.Children {
			NormalizeChild(&c.Children[i])
		}
		if len(c.Children) == 0 {
			c.Children = nil
		}
	}
}

func normalizeSupervisor(s *SupervisorSpec) {
	if s.Strategy == "" {
		s.Strategy = OneForOne
	}
	if s.MaxRestarts == 0 && s.MaxSeconds == 0 {
		s.MaxRestarts = DefaultMaxRestarts
	}
	if s.MaxSeconds == 0 {
		s.MaxSeconds = DefaultMaxSeconds
	}
	if s.AutoShutdown == Never {
		// The default is left out, so a spec that spells it out and one
		// that does not have the same canonical form (and every spec
		// written before the field existed keeps its bytes).
		s.AutoShutdown = ""
	}
	for i := range s.Children {
		NormalizeChild(&s.Children[i])
	}
	if len(s.Children) == 0 {
		s.Children = nil
	}
}

// Clone returns a deep copy of t.
func (t *Tree) Clone() *Tree {
	if t == nil {
		return nil
	}
	c := *t
	c.SupervisorSpec = cloneSupervisor(t.SupervisorSpec)
	return &c
}

// Clone returns a deep copy of c.
func (c ChildSpec) Clone() ChildSpec {
	out := c
	out.Args = maps.Clone(c.Args)
	out.SupervisorSpec = cloneSupervisor(c.SupervisorSpec)
	return out
}

func cloneSupervisor(s SupervisorSpec) SupervisorSpec {
	out := s
	if s.Children != nil {
		out.Children = make([]ChildSpec, len(s.Children))
		for i := range s.Children {
			out.Children[i] = s.Children[i].Clone()
		}
	}
	return out
}
