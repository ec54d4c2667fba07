package spec

import (
	"errors"
	"fmt"
	"github.com/steward/steward/internal/strictjson"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// ErrSyntax, ErrTooLarge or ErrInvalid; an *Error additionally wraps the kind
// of each of its problems, so errors.Is(err, ErrUnknownBehavior) tells whether
// any problem was an unknown behavior.
var (
	// ErrSyntax: the file could not be read as HCL or JSON of the expected
	// shape (syntax error, unknown field, wrong value type).
	ErrSyntax = errors.New("spec syntax error")
	// ErrTooLarge: the file or the tree is over MaxSpecBytes.
	ErrTooLarge = errors.New("spec too large")
	// ErrInvalid: the tree was read but breaks a rule checked by Validate.
	ErrInvalid = errors.New("invalid supervision tree spec")

	// Problem kinds, wrapped by *Error alongside ErrInvalid or ErrSyntax.

	// ErrRequired: a required field is missing.
	ErrRequired = errors.New("required field missing")
	// ErrBadValue: a field holds a value outside its allowed set or range.
	ErrBadValue = errors.New("bad value")
	// ErrBadName: a name or id breaks its syntax rule.
	ErrBadName = errors.New("bad name")
	// ErrDuplicate: a child id repeats among siblings, or a registered name
	// repeats within a tree.
	ErrDuplicate = errors.New("duplicate")
	// ErrUnknownBehavior: a worker names a behavior the catalog does not know.
	ErrUnknownBehavior = errors.New("unknown behavior")
	// ErrFieldMix: a worker carries supervisor fields or the reverse.
	ErrFieldMix = errors.New("worker and supervisor fields mixed")
	// ErrLimit: a size, depth or count limit is exceeded.
	ErrLimit = errors.New("limit exceeded")
)

// MaxProblems caps the problems one *Error lists; the rest are counted in
// Error.Omitted.
const MaxProblems = 100

// Problem is one thing wrong with a spec, at a field path such as
// "children[1].children[0].restart". Path is empty for a problem with the
// whole document.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	// Kind is one of the problem-kind sentinels (ErrRequired, ErrBadValue…).
	Kind error `json:"-"`
}

// String renders "path: message", or the message alone for an empty path.
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error lists every problem found in a spec, in document order.
type Error struct {
	// Err is ErrSyntax or ErrInvalid.
	Err      error
	Problems []Problem
	// Omitted counts problems beyond MaxProblems that are not listed.
	Omitted int
}

// Error renders "<err>: <problem>; <problem>…".
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
		if p.Kind == nil {
			continue
		}
		dup := false
		for _, k := range out {
			if k == p.Kind {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p.Kind)
		}
	}
	return out
}

// problems accumulates Problems up to MaxProblems.
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

func (ps *problems) merge(prefix string, other []Problem) {
	for _, p := range other {
		path := joinPath(prefix, p.Path)
		if len(ps.list) >= MaxProblems {
			ps.omitted++
			continue
		}
		p.Path = path
		ps.list = append(ps.list, p)
	}
}

func (ps *problems) err(sentinel error) error {
	if len(ps.list) == 0 && ps.omitted == 0 {
		return nil
	}
	return &Error{Err: sentinel, Problems: ps.list, Omitted: ps.omitted}
}

// joinPath joins a prefix and a field path: ("children[0]", "restart") ->
// "children[0].restart"; an index step joins without a dot.
func joinPath(prefix, field string) string { return strictjson.JoinPath(prefix, field) }

func indexPath(prefix, field string, i int) string {
	return joinPath(prefix, fmt.Sprintf("%s[%d]", field, i))
}
