package chaos

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Outcome is what a client learned of an operation.
type Outcome string

const (
	// OK: the operation took effect (a write) or returned (a read).
	OK Outcome = "ok"
	// Fail: the operation certainly took no effect (a CAS conflict, or a
	// node's NotApplied answer).
	Fail Outcome = "fail"
	// Unknown: no answer in time, or an answer that does not say; a write
	// may have taken effect at any time after its call (as Jepsen treats
	// indeterminate operations).
	Unknown Outcome = "unknown"
)

// Op kinds of the register workload.
const (
	OpRead = "read"
	OpCAS  = "cas"
)

// Op is one recorded register operation.
type Op struct {
	Client int    `json:"client"`
	Node   string `json:"node"`
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	// Expect is the value a CAS expects ("" for an absent key); Value is
	// what a CAS writes, or what a read returned.
	Expect  string  `json:"expect,omitempty"`
	Value   string  `json:"value,omitempty"`
	Outcome Outcome `json:"outcome"`
	// Call and Return are monotonic nanoseconds since the run started.
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
	Err    string `json:"error,omitempty"`
}

// History records operations from many goroutines, on one monotonic clock.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts a history's clock.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is monotonic nanoseconds since the history started.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records a finished operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops is a copy of the operations recorded, by call time.
func (h *History) Ops() []Op {
	h.mu.Lock()
	out := append([]Op(nil), h.ops...)
	h.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// regInput is a porcupine operation's input; a read's output is the value
// read (a string), a CAS's output nil.
type regInput struct {
	kind   string
	key    string
	expect string
	value  string
}

// RegisterModel is a CAS register per key, partitioned by key, its state
// the current value ("" while absent). Values are unique per write, so a
// CAS on a modify index is a CAS on the value that index was read with.
var RegisterModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		s := state.(string)
		in := input.(regInput)
		switch in.kind {
		case OpRead:
			return output.(string) == s, s
		case OpCAS:
			if s != in.expect {
				return false, s
			}
			return true, in.value
		}
		return false, s
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(regInput)
		if in.kind == OpRead {
			return fmt.Sprintf("read %s -> %q", in.key, output)
		}
		return fmt.Sprintf("cas %s %q -> %q", in.key, in.expect, in.value)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", state) },
}

// PorcupineOps turns a register history into porcupine operations:
//   - ok reads and ok CASes, as they happened;
//   - a CAS of unknown outcome whose value some operation observed (a read
//     returned it, or an ok CAS expected it) certainly took effect, at
//     some time after its call: it goes in with its return at the end of
//     the history;
//   - a CAS of unknown outcome that nobody observed, a failed CAS and a
//     read without an answer are left out: they took no visible effect
//     (leaving out a definite CAS conflict keeps the check sound beside
//     the unobserved writes left out: a conflict may have been caused by
//     one of them).
//
// A write reported as failed whose value was read is therefore a violation:
// no operation in the history can have written it.
func PorcupineOps(ops []Op) []porcupine.Operation {
	observed := map[string]bool{}
	var end int64
	for _, op := range ops {
		if op.Return > end {
			end = op.Return
		}
		if op.Outcome != OK {
			continue
		}
		switch op.Kind {
		case OpRead:
			observed[op.Key+"\x00"+op.Value] = true
		case OpCAS:
			observed[op.Key+"\x00"+op.Expect] = true
		}
	}
	var out []porcupine.Operation
	for _, op := range ops {
		in := regInput{kind: op.Kind, key: op.Key, expect: op.Expect, value: op.Value}
		switch {
		case op.Kind == OpRead && op.Outcome == OK:
			out = append(out, porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: op.Value, Return: op.Return})
		case op.Kind == OpCAS && op.Outcome == OK:
			out = append(out, porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Return: op.Return})
		case op.Kind == OpCAS && op.Outcome == Unknown && observed[op.Key+"\x00"+op.Value]:
			out = append(out, porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Return: end + 1})
		}
	}
	return out
}

// LinearizabilityResult is porcupine's verdict on a history.
type LinearizabilityResult struct {
	// Result is ok, illegal or unknown (the check ran out of time).
	Result string `json:"result"`
	// Linearizable is true only for ok: unknown is a failure.
	Linearizable bool  `json:"linearizable"`
	Operations   int   `json:"operations"`
	CheckMs      int64 `json:"check_ms"`
	// Visualization is the HTML file written when the check failed.
	Visualization string `json:"visualization,omitempty"`
}

// CheckLinearizable checks ops with porcupine within budget; when the
// history is not shown linearizable and htmlPath is set, it writes
// porcupine's visualization there.
func CheckLinearizable(ops []Op, budget time.Duration, htmlPath string) (LinearizabilityResult, error) {
	pops := PorcupineOps(ops)
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(RegisterModel, pops, budget)
	r := LinearizabilityResult{Result: string(res), Linearizable: res == porcupine.Ok, Operations: len(pops), CheckMs: time.Since(start).Milliseconds()}
	if !r.Linearizable && htmlPath != "" {
		if err := porcupine.VisualizePath(RegisterModel, info, htmlPath); err != nil {
			return r, fmt.Errorf("porcupine visualization: %w", err)
		}
		r.Visualization = htmlPath
	}
	return r, nil
}
