package plan

import (
	"errors"
	"fmt"
	"github.com/steward/steward/internal/strictjson"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps one of
// ErrSyntax, ErrTooLarge, ErrInvalid, ErrFacts or ErrConflict.
var (
	// ErrSyntax: the plan file could not be read as HCL or JSON of the
	// expected shape.
	ErrSyntax = errors.New("plan syntax error")
	// ErrTooLarge: the plan file is over MaxPlanBytes.
	ErrTooLarge = errors.New("plan too large")
	// ErrInvalid: the plan breaks a rule checked by Validate (the *Error
	// also wraps the kind of each problem, e.g. ErrCycle).
	ErrInvalid = errors.New("invalid plan")
	// ErrFacts: the facts given to Build do not match the plan.
	ErrFacts = errors.New("facts do not match the plan")
	// ErrConflict: Build found a conflict of error severity; the Result is
	// returned alongside, for a dry run to show.
	ErrConflict = errors.New("plan refused by conflicts")

	// Problem kinds, wrapped by *Error alongside ErrInvalid or ErrSyntax.

	// ErrRequired: a required field or parameter is missing.
	ErrRequired = errors.New("required field missing")
	// ErrBadValue: a field holds a value outside its allowed set or range.
	ErrBadValue = errors.New("bad value")
	// ErrDuplicate: an operation id repeats.
	ErrDuplicate = errors.New("duplicate")
	// ErrDependency: depends_on names an unknown operation or the operation
	// itself.
	ErrDependency = errors.New("bad dependency")
	// ErrCycle: depends_on edges form a cycle.
	ErrCycle = errors.New("dependency cycle")
	// ErrLimit: a size or count limit is exceeded.
	ErrLimit = errors.New("limit exceeded")
)

// MaxProblems caps the problems one *Error lists; the rest are counted.
const MaxProblems = 100

// Problem is one thing wrong with a plan at a field path such as
// "operations[2].params.strategy"; an empty path is about the whole plan.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Kind    error  `json:"-"`
}

// String renders "path: message", or the message alone for an empty path.
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error lists every problem found, in document order.
type Error struct {
	// Err is ErrSyntax, ErrInvalid or ErrFacts.
	Err      error
	Problems []Problem
	Omitted  int
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

// Unwrap returns Err followed by the distinct problem kinds.
func (e *Error) Unwrap() []error {
	out := []error{e.Err}
	for _, p := range e.Problems {
		if p.Kind != nil && !containsErr(out, p.Kind) {
			out = append(out, p.Kind)
		}
	}
	return out
}

func containsErr(list []error, e error) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

type problems struct {
	list    []Problem
	omitted int
}

func (ps *problems) add(kind error, path, format string, args ...any) {
	if len(ps.list) >= MaxProblems {
		ps.omitted++
		return
	}
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...), Kind: kind})
}

func (ps *problems) empty() bool { return len(ps.list) == 0 && ps.omitted == 0 }

func (ps *problems) err(sentinel error) error {
	if ps.empty() {
		return nil
	}
	return &Error{Err: sentinel, Problems: ps.list, Omitted: ps.omitted}
}

func joinPath(prefix, field string) string { return strictjson.JoinPath(prefix, field) }

func indexPath(prefix string, i int) string {
	return fmt.Sprintf("%s[%d]", prefix, i)
}
