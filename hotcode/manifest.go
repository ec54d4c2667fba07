package hotcode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/steward/steward/hotcode/internal/wasmbin"
	"github.com/steward/steward/spec"
)

// Manifest is a module's declaration of itself, the JSON of its
// steward.manifest custom section (docs/MODULES.md "Manifest").
type Manifest struct {
	Name              string       `json:"name"`
	Version           string       `json:"version"`
	ABI               int          `json:"abi"`
	SupportsDowngrade bool         `json:"supports_downgrade,omitempty"`
	Dependencies      []Dependency `json:"dependencies,omitempty"`
	// HostFunctions lists every steward host function the module imports.
	HostFunctions []string     `json:"host_functions,omitempty"`
	Capabilities  []Capability `json:"capabilities,omitempty"`
	// Args, when present, lists the spec args the module accepts; a spec
	// giving another is refused before anything starts.
	Args []string `json:"args,omitempty"`
}

// Dependency is another module this one needs, at a version in a range
// (see MatchRange).
type Dependency struct {
	Name         string `json:"name"`
	VersionRange string `json:"version_range"`
}

// Capability is a capability beyond the host functions. ABI 1 knows one:
// "wasi" (WASI preview 1 at permissive), with an optional filesystem: one
// preopened directory per process mounted at FSDir, read-only unless
// FSWritable, with at most MaxFileHandles files open.
type Capability struct {
	Name           string `json:"name"`
	FSDir          string `json:"fs_dir,omitempty"`
	FSWritable     bool   `json:"fs_writable,omitempty"`
	MaxFileHandles int    `json:"max_file_handles,omitempty"`
}

// CapabilityWASI is the name of the WASI capability.
const CapabilityWASI = "wasi"

// DefaultMaxFileHandles is the WASI capability's max_file_handles when the
// manifest leaves it out; MaxFileHandlesLimit is the most it may ask.
const (
	DefaultMaxFileHandles = 20
	MaxFileHandlesLimit   = 1024
)

// maxManifestBytes bounds the manifest's JSON.
const maxManifestBytes = 64 << 10

// WASI returns the module's WASI capability, if it declares one.
func (m *Manifest) WASI() (Capability, bool) {
	for _, c := range m.Capabilities {
		if c.Name == CapabilityWASI {
			if c.MaxFileHandles == 0 {
				c.MaxFileHandles = DefaultMaxFileHandles
			}
			return c, true
		}
	}
	return Capability{}, false
}

// ParseManifest decodes and checks a manifest; the error lists every
// problem, each wrapping ErrBadManifest.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrBadManifest, len(data), maxManifestBytes)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: JSON: %w", ErrBadManifest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: JSON: data after the object", ErrBadManifest)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, args...)))
	}
	if !spec.ValidName(m.Name) {
		bad("name %q: want 1-%d letters, digits, '_', '-' or '.', starting with a letter or digit", m.Name, spec.MaxNameLen)
	}
	if _, err := parseVersion(m.Version); err != nil {
		bad("%v", err)
	}
	if m.ABI != ABIVersion {
		bad("abi %d: this host implements abi %d", m.ABI, ABIVersion)
	}
	for i, d := range m.Dependencies {
		if !spec.ValidName(d.Name) {
			bad("dependencies[%d].name %q is not a module name", i, d.Name)
		}
		if d.Name == m.Name {
			bad("dependencies[%d]: the module depends on itself", i)
		}
		if _, err := parseRange(d.VersionRange); err != nil {
			bad("dependencies[%d]: %v", i, err)
		}
	}
	known := hostFunctionNames()
	for i, f := range m.HostFunctions {
		if !slices.Contains(known, f) {
			bad("host_functions[%d] %q is not a steward host function", i, f)
		}
		if slices.Index(m.HostFunctions, f) != i {
			bad("host_functions[%d] %q is listed twice", i, f)
		}
	}
	seen := map[string]bool{}
	for i, c := range m.Capabilities {
		switch {
		case c.Name != CapabilityWASI:
			bad("capabilities[%d] %q: the only capability is %q", i, c.Name, CapabilityWASI)
		case seen[c.Name]:
			bad("capabilities[%d] %q is declared twice", i, c.Name)
		case c.FSDir == "" && (c.FSWritable || c.MaxFileHandles != 0):
			bad("capabilities[%d]: fs_writable and max_file_handles need fs_dir", i)
		case c.FSDir != "" && (c.FSDir[0] != '/' || bytes.ContainsAny([]byte(c.FSDir), "\x00")):
			bad("capabilities[%d].fs_dir %q: want an absolute guest path", i, c.FSDir)
		case c.MaxFileHandles < 0 || c.MaxFileHandles > MaxFileHandlesLimit:
			bad("capabilities[%d].max_file_handles %d: want 1..%d", i, c.MaxFileHandles, MaxFileHandlesLimit)
		}
		seen[c.Name] = true
	}
	for i, a := range m.Args {
		if a == "" || slices.Index(m.Args, a) != i {
			bad("args[%d] %q: empty or listed twice", i, a)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &m, nil
}

// AddManifest returns bin with m appended as its steward.manifest custom
// section (compact JSON, fields in Manifest's order, so the same manifest
// always gives the same bytes). m must be valid and bin must have no
// manifest yet.
func AddManifest(bin []byte, m Manifest) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := ParseManifest(data); err != nil {
		return nil, err
	}
	sections, err := wasmbin.Read(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBinary, err)
	}
	if len(wasmbin.CustomData(sections, ManifestSection)) > 0 {
		return nil, fmt.Errorf("%w: the binary already has a %q section", ErrBadManifest, ManifestSection)
	}
	return wasmbin.AppendCustom(bin, ManifestSection, data), nil
}
