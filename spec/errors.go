package spec

import (
	"errors"

	"github.com/steward/steward/internal/fielderr"
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
	// ErrUnknownModule: a worker names a module, or a module version, the
	// module store does not hold.
	ErrUnknownModule = errors.New("unknown module")
	// ErrFieldMix: a worker carries supervisor fields or the reverse, or a
	// worker names both a behavior and a module.
	ErrFieldMix = errors.New("worker and supervisor fields mixed")
	// ErrLimit: a size, depth or count limit is exceeded.
	ErrLimit = errors.New("limit exceeded")
)

// MaxProblems caps the problems one *Error lists; the rest are counted.
const MaxProblems = fielderr.MaxProblems

// Problem is one thing wrong at a field path, such as
// "children[1].restart"; an empty path is about the whole document.
type Problem = fielderr.Problem

// Error lists every problem found, in document order; it unwraps to its
// sentinel (ErrSyntax, ErrInvalid, ...) and to each problem's kind.
type Error = fielderr.Error
