package sandbox

import "errors"

// Sentinel errors; a Parse or Validate error is a *fielderr.Error (each
// problem at its field path) wrapping one of them.
var (
	// ErrSyntax: the file is not HCL or JSON of the expected shape
	// (unknown field, wrong type).
	ErrSyntax = errors.New("sandbox policy syntax error")
	// ErrTooLarge: the file is over MaxPolicyBytes.
	ErrTooLarge = errors.New("sandbox policy too large")
	// ErrInvalid: the policy was read but a value is out of its bounds.
	ErrInvalid = errors.New("invalid sandbox policy")
)
