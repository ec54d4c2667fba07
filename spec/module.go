package spec

import (
	"fmt"
	"strings"
)

// MaxModuleVersionParts bounds the dot-separated numbers of a module
// version ("1.2.0.4"), as the module store does.
const MaxModuleVersionParts = 4

// ModuleRef is a parsed module reference, the value of a worker's module
// field: NAME follows the module's active version, NAME@VERSION pins one.
type ModuleRef struct {
	Name string
	// Version is "" for a reference following the active version.
	Version string
}

// Pinned reports whether the reference names a version.
func (r ModuleRef) Pinned() bool { return r.Version != "" }

// String is the reference as written: NAME or NAME@VERSION.
func (r ModuleRef) String() string {
	if r.Version == "" {
		return r.Name
	}
	return r.Name + "@" + r.Version
}

// ParseModuleRef reads NAME or NAME@VERSION. NAME follows the module
// store's name rule (ValidName: 1-63 letters, digits, '_', '-', '.',
// starting with a letter or digit); VERSION is the store's version rule,
// 1 to 4 dot-separated decimal numbers without leading zeros ("3",
// "1.2.0"), each at most 9 digits.
func ParseModuleRef(s string) (ModuleRef, error) {
	name, version, pinned := strings.Cut(s, "@")
	if !ValidName(name) {
		return ModuleRef{}, fmt.Errorf("%q: module name %q %s (want NAME or NAME@VERSION)", s, name, nameRule)
	}
	if !pinned {
		return ModuleRef{Name: name}, nil
	}
	if !ValidModuleVersion(version) {
		return ModuleRef{}, fmt.Errorf("%q: version %q must be 1 to %d dot-separated numbers without leading zeros (want NAME or NAME@VERSION)", s, version, MaxModuleVersionParts)
	}
	return ModuleRef{Name: name, Version: version}, nil
}

// ValidModuleVersion reports whether s is a module version: 1 to
// MaxModuleVersionParts dot-separated decimal numbers of 1 to 9 digits,
// without leading zeros. It is hotcode's rule (its parseVersion), kept
// here because spec sits below hotcode; a test in hotcode/store checks
// that the two agree.
func ValidModuleVersion(s string) bool {
	if s == "" {
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) > MaxModuleVersionParts {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 9 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}
