package fsm

import "errors"

var (
	// ErrMalformedCommand is the Result error for an entry or payload that
	// cannot be decoded.
	ErrMalformedCommand = errors.New("malformed command")
	// ErrUnknownCommand is the fatal error for a command type this binary
	// does not know.
	ErrUnknownCommand = errors.New("unknown command type")
	// ErrHalted is returned for every entry after the FSM halted.
	ErrHalted = errors.New("state machine halted")
)
