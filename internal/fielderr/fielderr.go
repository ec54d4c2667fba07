// Package fielderr collects the problems of a document operators wrote (a
// tree spec, a plan), each at its field path, and reports them all at once.
package fielderr

import (
	"fmt"
	"strings"
)

// MaxProblems caps the problems one Error lists; the rest are counted.
const MaxProblems = 100

// Problem is one thing wrong at a field path such as
// "children[1].restart"; an empty path is about the whole document.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	// Kind is the caller's sentinel for this sort of problem.
	Kind error `json:"-"`
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
	// Err is the caller's sentinel for the document as a whole (syntax,
	// invalid, ...).
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
			dup = dup || k == p.Kind
		}
		if !dup {
			out = append(out, p.Kind)
		}
	}
	return out
}

// List accumulates problems up to MaxProblems.
type List struct {
	list    []Problem
	omitted int
}

// Add records a problem of the given kind at path.
func (l *List) Add(kind error, path, format string, args ...any) {
	if len(l.list) >= MaxProblems {
		l.omitted++
		return
	}
	l.list = append(l.list, Problem{Path: path, Message: fmt.Sprintf(format, args...), Kind: kind})
}

// Err returns nil when nothing was recorded, else an *Error under sentinel.
func (l *List) Err(sentinel error) error {
	if len(l.list) == 0 && l.omitted == 0 {
		return nil
	}
	return &Error{Err: sentinel, Problems: l.list, Omitted: l.omitted}
}

// Reporter records problems of one kind in a List: what a decoder
// (internal/strictjson, internal/hcldoc) is handed for the syntax problems
// it finds, with the caller's sentinel as Kind.
type Reporter struct {
	List *List
	Kind error
}

// Report records a problem of r's kind at path.
func (r Reporter) Report(path, format string, args ...any) {
	r.List.Add(r.Kind, path, format, args...)
}
