package plan

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// DryRun is a summary of a Result for people: what would run in which
// phase, with which checks and rollbacks, what conflicts were found and how
// long it should take. A CLI prints it with WriteText or as JSON.
type DryRun struct {
	SafetyLevel SafetyLevel   `json:"safety_level"`
	Timeout     string        `json:"timeout"`
	Window      *Window       `json:"window,omitempty"`
	Operations  int           `json:"operations"`
	Edges       []Edge        `json:"edges"`
	Phases      []DryRunPhase `json:"phases"`
	Conflicts   []Conflict    `json:"conflicts"`
	Estimate    Estimate      `json:"estimate"`
	// Refused is true when a conflict of error severity was found.
	Refused bool `json:"refused"`
	// SkippedChecks are the checks the operator skipped (none: empty).
	SkippedChecks []CheckKind `json:"skipped_checks"`
}

// DryRunPhase is one phase in a DryRun.
type DryRunPhase struct {
	Index       int         `json:"index"`
	Level       int         `json:"level"`
	Operations  []string    `json:"operations"`
	Impact      int         `json:"impact"`
	PreChecks   []CheckKind `json:"pre_checks"`
	PostChecks  []CheckKind `json:"post_checks"`
	Rollback    []string    `json:"rollback"`
	EstimatedMS int64       `json:"estimated_ms"`
}

// DryRun summarizes the result.
func (r *Result) DryRun() DryRun {
	d := DryRun{
		SafetyLevel: r.SafetyLevel, Timeout: r.Timeout, Window: r.Window,
		Operations: len(r.Operations), Edges: r.Edges, Conflicts: r.Conflicts,
		Estimate: r.Estimate, Refused: r.Refused(), Phases: []DryRunPhase{},
		SkippedChecks: append([]CheckKind{}, r.SkippedChecks...),
	}
	ops := map[string]Operation{}
	for _, op := range r.Operations {
		ops[op.ID] = op
	}
	for _, ph := range r.Phases {
		dp := DryRunPhase{Index: ph.Index, Level: ph.Level, Impact: ph.Impact, EstimatedMS: ph.EstimatedMS, Rollback: []string{}}
		for _, id := range ph.Operations {
			op := ops[id]
			dp.Operations = append(dp.Operations, fmt.Sprintf("%s: %s %s", id, op.Type, op.TargetLabel()))
		}
		for _, c := range ph.PreChecks {
			dp.PreChecks = append(dp.PreChecks, c.Kind)
		}
		for _, c := range ph.PostChecks {
			dp.PostChecks = append(dp.PostChecks, c.Kind)
		}
		for _, c := range ph.Rollback {
			if c.Operation != nil {
				target := c.Operation.TargetLabel()
				if c.TargetFromResult {
					target = "the pid in " + c.Op + "'s result"
				}
				what := fmt.Sprintf("%s %s", c.Operation.Type, target)
				for _, t := range c.Then {
					what += fmt.Sprintf(", then %s %s", t.Type, t.Target)
				}
				dp.Rollback = append(dp.Rollback, fmt.Sprintf("%s: %s (%s)", c.Op, what, c.Note))
			} else {
				dp.Rollback = append(dp.Rollback, fmt.Sprintf("%s: none (%s)", c.Op, c.Note))
			}
		}
		d.Phases = append(d.Phases, dp)
	}
	return d
}

// WriteText prints the dry run for a terminal.
func (d DryRun) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "plan: %d operations, safety level %s, timeout %s\n", d.Operations, d.SafetyLevel, d.Timeout)
	if d.Window != nil {
		fmt.Fprintf(&b, "window: %s .. %s\n", fmtTime(d.Window.NotBefore), fmtTime(d.Window.NotAfter))
	}
	if len(d.SkippedChecks) > 0 {
		fmt.Fprintf(&b, "skipped checks: %s (by the operator: no phase runs them)\n", joinKinds(d.SkippedChecks))
	}
	for _, ph := range d.Phases {
		fmt.Fprintf(&b, "\nphase %d (level %d, impact %d, ~%s)\n", ph.Index, ph.Level, ph.Impact, time.Duration(ph.EstimatedMS)*time.Millisecond)
		for _, op := range ph.Operations {
			fmt.Fprintf(&b, "  %s\n", op)
		}
		fmt.Fprintf(&b, "  pre:  %s\n", joinKinds(ph.PreChecks))
		fmt.Fprintf(&b, "  post: %s\n", joinKinds(ph.PostChecks))
		for _, rb := range ph.Rollback {
			fmt.Fprintf(&b, "  rollback %s\n", rb)
		}
	}
	if len(d.Edges) > 0 {
		b.WriteString("\nordering:\n")
		for _, e := range d.Edges {
			fmt.Fprintf(&b, "  %s -> %s (%s: %s)\n", e.From, e.To, e.Kind, e.Reason)
		}
	}
	if len(d.Conflicts) > 0 {
		b.WriteString("\nconflicts:\n")
		for _, c := range d.Conflicts {
			fmt.Fprintf(&b, "  %s %s: %s\n", c.Severity, c.Kind, c.Message)
		}
	}
	fmt.Fprintf(&b, "\nestimate: %s (operations %s, checks %s, barriers %s)\n",
		time.Duration(d.Estimate.TotalMS)*time.Millisecond, time.Duration(d.Estimate.OperationsMS)*time.Millisecond,
		time.Duration(d.Estimate.ChecksMS)*time.Millisecond, time.Duration(d.Estimate.BarriersMS)*time.Millisecond)
	if d.Refused {
		b.WriteString("REFUSED: resolve the error conflicts above\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinKinds(ks []CheckKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.Format(time.RFC3339)
}
