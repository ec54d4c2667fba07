package state

import (
	"encoding/json"
	"fmt"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
)

// What the state machine runs of a plan is its pb.PlanShape, carried in
// the PLAN_CREATE command: the leader builds it from the plan.Result it
// planned (PlanShapeOf), with the planner of its version; Apply and the
// stage machine read only the shape. The plan's JSON documents stay opaque
// to them, for the executors and `ops status` to decode outside Apply.

// PlanShapeOf builds the shape of a planned result, as the leader commits
// it with the plan (coordination's applyLocal).
func PlanShapeOf(res *plan.Result) *pb.PlanShape {
	sh := &pb.PlanShape{
		SafetyLevel: SafetyLevelOf(string(res.SafetyLevel)),
		Operations:  uint32(len(res.Operations)),
		EstimatedMs: res.Estimate.TotalMS,
		Refused:     res.Refused(),
	}
	for i, ph := range res.Phases {
		p := &pb.PlanPhase{Operations: append([]string(nil), ph.Operations...), Nodes: res.PhaseNodes(i), EstimatedMs: ph.EstimatedMS}
		for _, c := range ph.Rollback {
			if c.Operation != nil {
				p.Rollback = append(p.Rollback, &pb.PlanUndo{Op: c.Op, Node: c.Operation.Node})
			}
		}
		sh.Phases = append(sh.Phases, p)
	}
	return sh
}

// The names of the safety levels, as plan files and users spell them.
var safetyLevels = newEnumNames("SAFETY_LEVEL", map[pb.SafetyLevel]string{
	pb.SafetyLevel_SAFETY_LEVEL_STRICT:     "strict",
	pb.SafetyLevel_SAFETY_LEVEL_MODERATE:   "moderate",
	pb.SafetyLevel_SAFETY_LEVEL_PERMISSIVE: "permissive",
})

// SafetyLevelOf returns the safety level a name spells, or
// SAFETY_LEVEL_UNSPECIFIED for a name it does not know.
func SafetyLevelOf(name string) pb.SafetyLevel { return safetyLevels.value(name) }

// SafetyLevelName returns a safety level's name ("moderate"), or for a
// value this binary does not know "safety_level_<number>".
func SafetyLevelName(l pb.SafetyLevel) string { return safetyLevels.name(l) }

// checkShape refuses a shape that breaks what the stage machine relies on
// in every version: a step per node, so a phase's nodes are named and
// distinct. Which operations, nodes and phases a plan has is the planner's
// (the leader's) business.
func checkShape(id string, sh *pb.PlanShape) error {
	for i, ph := range sh.Phases {
		seen := make(map[string]bool, len(ph.Nodes))
		for _, n := range ph.Nodes {
			if n == "" || seen[n] {
				return fmt.Errorf("%w: plan %q: phase %d has an empty or repeated node %q", ErrInvalidRecord, id, i, n)
			}
			seen[n] = true
		}
	}
	return nil
}

// legacyShape derives the shape of a plan committed before PLAN_CREATE
// carried one (the golden log v1, and every plan of a state written
// then): it decodes result_json as that version wrote it, the JSON of
// plan.Result at the time, reading only the members the stage machine
// used and ignoring any other, so that it keeps reading those plans as
// that version did whatever the plan package's types become. It gives
// what that version's PlanCreate took from plan.Result: the safety level's
// name, the operation count, the estimate, whether a conflict of error
// severity refused the plan, and per phase its operations, its nodes
// (Result.PhaseNodes: the operations' nodes and every node its checks
// refer to, sorted), its estimate and its compensations that have an
// operation. It is frozen: a later change of the plan's JSON is carried by
// the shape the leader commits, never by a change here.
func legacyShape(resultJSON []byte) (*pb.PlanShape, string, error) {
	var r legacyResult
	if err := json.Unmarshal(resultJSON, &r); err != nil {
		return nil, "", err
	}
	nodeOf := make(map[string]string, len(r.Operations))
	for _, op := range r.Operations {
		if _, dup := nodeOf[op.ID]; !dup {
			nodeOf[op.ID] = op.Node // Result.Operation: the first with the id
		}
	}
	sh := &pb.PlanShape{
		SafetyLevel: SafetyLevelOf(r.SafetyLevel),
		Operations:  uint32(len(r.Operations)),
		EstimatedMs: r.Estimate.TotalMS,
	}
	for _, c := range r.Conflicts {
		if c.Severity == "error" {
			sh.Refused = true
		}
	}
	for _, ph := range r.Phases {
		nodes := map[string]bool{}
		add := func(n string) {
			if n != "" {
				nodes[n] = true
			}
		}
		for _, id := range ph.Operations {
			add(nodeOf[id])
		}
		for _, cs := range [][]legacyCheck{ph.PreChecks, ph.PostChecks} {
			for _, c := range cs {
				for _, n := range c.Nodes {
					add(n)
				}
				for _, p := range c.Processes {
					add(p.Node)
				}
				if c.Limits != nil {
					for _, l := range c.Limits.Nodes {
						add(l.Node)
					}
				}
				for _, p := range c.Params {
					add(p.Target.Node)
				}
				for _, e := range c.Effects {
					add(e.Target.Node)
				}
			}
		}
		p := &pb.PlanPhase{Operations: ph.Operations, Nodes: sortedKeys(nodes), EstimatedMs: ph.EstimatedMS}
		for _, c := range ph.Rollback {
			if c.Operation != nil {
				p.Rollback = append(p.Rollback, &pb.PlanUndo{Op: c.Op, Node: c.Operation.Node})
			}
		}
		sh.Phases = append(sh.Phases, p)
	}
	return sh, r.SafetyLevel, nil
}

// The members of plan.Result's JSON (golden log v1) that legacyShape
// reads. encoding/json ignores the others.
type legacyResult struct {
	SafetyLevel string `json:"safety_level"`
	Operations  []struct {
		ID   string `json:"id"`
		Node string `json:"node"`
	} `json:"operations"`
	Phases []struct {
		Operations  []string      `json:"operations"`
		PreChecks   []legacyCheck `json:"pre_checks"`
		PostChecks  []legacyCheck `json:"post_checks"`
		EstimatedMS int64         `json:"estimated_ms"`
		Rollback    []struct {
			Op        string `json:"op"`
			Operation *struct {
				Node string `json:"node"`
			} `json:"operation"`
		} `json:"rollback"`
	} `json:"phases"`
	Conflicts []struct {
		Severity string `json:"severity"`
	} `json:"conflicts"`
	Estimate struct {
		TotalMS int64 `json:"total_ms"`
	} `json:"estimate"`
}

type legacyCheck struct {
	Nodes     []string        `json:"nodes"`
	Processes []legacyNodeRef `json:"processes"`
	Limits    *struct {
		Nodes []legacyNodeRef `json:"nodes"`
	} `json:"limits"`
	Params  []legacyTargetRef `json:"params"`
	Effects []legacyTargetRef `json:"effects"`
}

type legacyNodeRef struct {
	Node string `json:"node"`
}

type legacyTargetRef struct {
	Target legacyNodeRef `json:"target"`
}

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}
