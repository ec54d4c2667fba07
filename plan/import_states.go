package plan

import (
	"strings"
	"unicode/utf8"

	"github.com/steward/steward/internal/fielderr"
	"github.com/steward/steward/internal/strictjson"
	"github.com/steward/steward/spec"
)

// ImportStates imports, in one operation, the states of many processes of
// the target tree (Target.Supervisor, the tree's root supervisor) on
// Operation.Node: Params.States names each process (by its slot in the
// tree, child_id, or by pid for a simple_one_for_one instance), the
// behavior it must run and the state to import (sys:replace_state), so
// that a snapshot restore imports ten thousand states in one step instead
// of ten thousand replace_state operations and the plans they fill.
//
// Its own checks run on the node, around the imports: before, every
// process named must exist on the node, in the tree, and run the behavior
// its entry names, or nothing is imported and the operation fails naming
// them (a process whose behavior changed since a snapshot refuses the
// whole import); after, every state read back from its process must be
// the one imported (the same bytes or JSON value, or an object holding
// each field imported with its value, as a behavior may add the fields it
// defaults), or the operation fails naming those that differ. The plan's post-check
// operation_effect checks that the tree's root supervisor kept its pid.
// Like replace_state it is not undone by a rollback (the states replaced
// are not kept).
//
//	{"id":"states-n1-web","type":"import_states","node":"n1","target":{"supervisor":"web"},
//	 "params":{"states":[{"child_id":"pool/w1","behavior":"counter","state":"{\"count\":7}"},
//	                     {"pid":"n1/42","behavior":"counter","state":"{\"count\":3}"}]}}
const ImportStates OpType = "import_states"

// Limits of one import_states, enforced by Validate (the plan's own
// MaxPlanBytes bounds the file that carries it).
const (
	// MaxImportStates bounds the entries of one import_states (count).
	MaxImportStates = 10000
	// MaxImportStatesBytes bounds the summed states of one import_states
	// (bytes).
	MaxImportStatesBytes = 1 << 20
)

// EstimatePerStateMS is added to an import_states' estimate per entry
// (ms): a phase's stage is given four times its estimate, and an import
// of thousands of states takes seconds on a loaded node.
const EstimatePerStateMS = 2

// importEstimateMS is what op's entries add to its estimate (ms).
func importEstimateMS(op Operation) int64 {
	if op.Type != ImportStates {
		return 0
	}
	return int64(len(op.Params.States)) * EstimatePerStateMS
}

// StateImport is one process's state in an import_states.
type StateImport struct {
	// ChildID is the process's slot in the operation's target tree (nested
	// child ids joined by "/"); PID names it by pid instead (a
	// simple_one_for_one instance, which has no stable slot). Exactly one
	// is given.
	ChildID string `json:"child_id,omitempty"`
	PID     string `json:"pid,omitempty"`
	// Behavior is the catalog behavior the process must run for its state
	// to be imported.
	Behavior string `json:"behavior"`
	// State is the state to import, as the behavior exports it (JSON for
	// the native behaviors; UTF-8 text, as a plan carries states).
	State string `json:"state"`
}

// Where names the entry's process: its slot or its pid.
func (s StateImport) Where() string {
	if s.PID != "" {
		return "pid " + s.PID
	}
	return s.ChildID
}

// stateImportJSONFields are the keys of one params.states entry.
var stateImportJSONFields = []string{"child_id", "pid", "behavior", "state"}

// statesFromJSON reads params.states: an array of entries.
func statesFromJSON(r fielderr.Reporter, path string, v *strictjson.Value) []StateImport {
	if v.Kind != strictjson.Array {
		r.Report(path, "expected an array of {child_id|pid, behavior, state}, got %s", v.Kind)
		return nil
	}
	out := make([]StateImport, 0, len(v.Vals))
	for i, e := range v.Vals {
		ep := fielderr.Index(path, i)
		var s StateImport
		if !jsonObjectAt(r, ep, e) {
			continue
		}
		strictjson.Fields(r, e, ep, stateImportJSONFields, func(key, fp string, val *strictjson.Value) {
			switch key {
			case "child_id":
				s.ChildID = strictjson.Str(r, fp, val)
			case "pid":
				s.PID = strictjson.Str(r, fp, val)
			case "behavior":
				s.Behavior = strictjson.Str(r, fp, val)
			case "state":
				s.State = strictjson.Str(r, fp, val)
			}
		})
		out = append(out, s)
	}
	return out
}

// validateImportStates checks an import_states: a tree target, at least
// one and at most MaxImportStates entries, each naming one process (a
// valid slot, or a pid on the operation's node) no other entry names,
// a known behavior and a state of 1 to MaxStateBytes bytes of UTF-8, all
// states together at most MaxImportStatesBytes.
func validateImportStates(ps *fielderr.List, path string, op *Operation, opts Options) {
	if op.Target.Supervisor == "" || op.Target.ChildID != "" {
		ps.Add(ErrBadValue, fielderr.Join(strings.TrimSuffix(path, ".params"), "target"), "import_states targets a tree (supervisor, without child_id): its entries name the processes")
	}
	states := op.Params.States
	sp := fielderr.Join(path, "states")
	switch {
	case len(states) == 0:
		ps.Add(ErrRequired, sp, "required for import_states: at least one entry")
		return
	case len(states) > MaxImportStates:
		ps.Add(ErrLimit, sp, "%d entries, more than the limit of %d", len(states), MaxImportStates)
		return
	}
	seen := make(map[string]int, len(states))
	total := 0
	for i, s := range states {
		ep := fielderr.Index(sp, i)
		switch {
		case s.ChildID == "" && s.PID == "":
			ps.Add(ErrRequired, ep, "child_id or pid required: the process whose state this is")
		case s.ChildID != "" && s.PID != "":
			ps.Add(ErrBadValue, ep, "give child_id or pid, not both")
		case s.ChildID != "" && !validChildPath(s.ChildID):
			ps.Add(ErrBadValue, fielderr.Join(ep, "child_id"), "%q is not a child path (ids joined by \"/\")", s.ChildID)
		case s.PID != "" && !validPIDOn(s.PID, op.Node):
			ps.Add(ErrBadValue, fielderr.Join(ep, "pid"), "%q is not a pid on node %s", s.PID, op.Node)
		default:
			if first, dup := seen[s.Where()]; dup {
				ps.Add(ErrDuplicate, ep, "%s is also named by states[%d]", s.Where(), first)
			}
			seen[s.Where()] = i
		}
		switch {
		case s.Behavior == "":
			ps.Add(ErrRequired, fielderr.Join(ep, "behavior"), "required: the behavior the process must run")
		case !spec.ValidName(s.Behavior) && opts.KnownBehavior == nil:
			ps.Add(ErrBadValue, fielderr.Join(ep, "behavior"), "%q is not a behavior name", s.Behavior)
		case opts.KnownBehavior != nil && !opts.KnownBehavior(s.Behavior):
			ps.Add(ErrBadValue, fielderr.Join(ep, "behavior"), "unknown behavior %q", s.Behavior)
		}
		switch {
		case s.State == "":
			ps.Add(ErrRequired, fielderr.Join(ep, "state"), "required: the state to import")
		case len(s.State) > MaxStateBytes:
			ps.Add(ErrLimit, fielderr.Join(ep, "state"), "%d bytes, more than the limit of %d", len(s.State), MaxStateBytes)
		case !utf8.ValidString(s.State):
			ps.Add(ErrBadValue, fielderr.Join(ep, "state"), "not valid UTF-8")
		}
		total += len(s.State)
	}
	if total > MaxImportStatesBytes {
		ps.Add(ErrLimit, sp, "%d bytes of states, more than the limit of %d", total, MaxImportStatesBytes)
	}
}

// validPIDOn reports whether s is a pid ("node/seq") on node (any node
// when node is empty).
func validPIDOn(s, node string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '/' {
			continue
		}
		n, seq := s[:i], s[i+1:]
		if !spec.ValidName(n) || (node != "" && n != node) || seq == "" {
			return false
		}
		for _, c := range seq {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return false
}
