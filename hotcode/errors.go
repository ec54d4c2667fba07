package hotcode

import "errors"

// Sentinel errors. Validation problems each wrap ErrInvalidModule and one
// of the check sentinels, so errors.Is tells which checks failed.
var (
	// ErrInvalidModule wraps every validation refusal.
	ErrInvalidModule = errors.New("invalid module")

	// ErrTooLarge: the binary is over MaxModuleBytes.
	ErrTooLarge = errors.New("module too large")
	// ErrBadBinary: the binary does not decode or compile.
	ErrBadBinary = errors.New("bad wasm binary")
	// ErrStartSection: the module has a start section (code would run at
	// instantiation).
	ErrStartSection = errors.New("start section")
	// ErrNoManifest: no steward.manifest custom section, or more than one.
	ErrNoManifest = errors.New("no manifest")
	// ErrBadManifest: the manifest does not parse or a field is invalid.
	ErrBadManifest = errors.New("bad manifest")
	// ErrNameMismatch: the manifest names another module.
	ErrNameMismatch = errors.New("manifest names another module")
	// ErrMissingExport: an ABI export is missing.
	ErrMissingExport = errors.New("missing export")
	// ErrBadSignature: an ABI export or an import has the wrong signature.
	ErrBadSignature = errors.New("wrong signature")
	// ErrForbiddenImport: an import is not allowed at the level (unknown
	// module or function, forbidden function, non-function import).
	ErrForbiddenImport = errors.New("forbidden import")
	// ErrUndeclaredImport: an import the manifest does not declare.
	ErrUndeclaredImport = errors.New("undeclared import")
	// ErrUnconfirmed: strict and a dangerous import the pusher did not
	// confirm.
	ErrUnconfirmed = errors.New("dangerous import not confirmed")
	// ErrMemoryTooLarge: the memory's minimum is over the page cap.
	ErrMemoryTooLarge = errors.New("memory minimum over the page cap")
	// ErrDependency: a declared dependency is not present at a compatible
	// version (strict).
	ErrDependency = errors.New("missing dependency")
	// ErrSmokeRun: the strict smoke run (init, state_export) failed.
	ErrSmokeRun = errors.New("smoke run failed")

	// ErrBadOptions: ValidateOptions or Config is invalid; the text names
	// the field.
	ErrBadOptions = errors.New("bad options")
	// ErrVersionConflict: a host already holds other bytes under the same
	// name and version.
	ErrVersionConflict = errors.New("module version already loaded with other bytes")
	// ErrNoDowngrade: a code change down from a version that does not
	// support downgrade, or whose module is not loaded.
	ErrNoDowngrade = errors.New("downgrade not possible")
	// ErrClosed: the host or module is closed.
	ErrClosed = errors.New("hotcode host closed")
)
