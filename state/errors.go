package state

import "errors"

// domainErrors are the refusals of the domain rules: a write returns them
// before it changes anything.
var domainErrors = []*error{&ErrNotFound, &ErrCASConflict, &ErrInvalidKey, &ErrValueTooLarge, &ErrInvalidRecord,
	&ErrCorruptSnapshot, &ErrStepTaken, &ErrPlanNotRunning, &ErrNotExpired, &ErrLimit, &ErrInUse, &ErrDeployState,
	&ErrACLBootstrapped}

// IsDomainError reports whether err is a refusal by the domain rules (as
// opposed to a failure of the store itself).
func IsDomainError(err error) bool {
	for _, d := range domainErrors {
		if errors.Is(err, *d) {
			return true
		}
	}
	return false
}

var (
	// ErrDeployState: a deployment control its status does not allow
	// (resume of one that is not paused, promote without canaries, ...).
	ErrDeployState = errors.New("not possible in the deployment's status")
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
