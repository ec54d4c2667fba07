package plan

import (
	"errors"

	"github.com/steward/steward/internal/fielderr"
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
	// ErrDependency: depends_on names an unknown operation.
	ErrDependency = errors.New("bad dependency")
	// ErrCycle: depends_on edges form a cycle, an operation that depends on
	// itself included.
	ErrCycle = errors.New("dependency cycle")
	// ErrLimit: a size or count limit is exceeded.
	ErrLimit = errors.New("limit exceeded")
)

// MaxProblems caps the problems one *Error lists; the rest are counted.
const MaxProblems = fielderr.MaxProblems

// Problem is one thing wrong at a field path, such as
// "operations[1].target.pid"; an empty path is about the whole document.
type Problem = fielderr.Problem

// Error lists every problem found, in document order; it unwraps to its
// sentinel (ErrSyntax, ErrInvalid, ...) and to each problem's kind.
type Error = fielderr.Error
