package state

import "errors"

var (
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrCASConflict is returned when a check-and-set index does not match
	// the record's current modify index.
	ErrCASConflict = errors.New("check-and-set conflict")
	// ErrInvalidKey is returned for an empty, oversized or malformed key.
	ErrInvalidKey = errors.New("invalid key")
	// ErrValueTooLarge is returned for a kv value over MaxKVValueSize.
	ErrValueTooLarge = errors.New("value too large")
	// ErrInvalidRecord is returned when a record misses a required field.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrCorruptSnapshot is returned when a snapshot stream cannot be decoded.
	ErrCorruptSnapshot = errors.New("corrupt snapshot")
)
