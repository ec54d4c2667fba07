package hotcode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/steward/steward/hotcode/internal/wasmbin"
)

// ValidateOptions say what a module is checked against.
type ValidateOptions struct {
	// Name is the name the module is pushed under; the manifest's name must
	// equal it. Required.
	Name string
	// Level is the safety level; "" is DefaultLevel (moderate).
	Level Level
	// MaxMemoryPages is the cluster's page cap (64 KiB pages); 0 is
	// DefaultMaxMemoryPages.
	MaxMemoryPages uint32
	// Confirmed is the pusher's confirmation of the dangerous host
	// functions the manifest declares (strict refuses them without it).
	Confirmed bool
	// Dependency reports whether a module name is present at a version in
	// versionRange (strict). Nil at strict: every dependency is missing.
	Dependency func(name, versionRange string) bool
	// SmokeDeadline bounds each callback of the strict smoke run; 0 is
	// DefaultMessageDeadline.
	SmokeDeadline time.Duration
}

// Report is what validation found. It is returned with or without
// problems.
type Report struct {
	Level Level
	// Size (bytes) and SHA256 (hex) of the binary.
	Size   int
	SHA256 string
	// Manifest, when it parsed.
	Manifest *Manifest
	// Imports lists every import as "module.name".
	Imports []string
	// Capabilities is the capability report (moderate and strict): each
	// imported function with its class, in import order.
	Capabilities []Use
	// MemoryMinPages is the exported memory's declared minimum.
	MemoryMinPages uint32
	// Checks lists the checks that ran, in order.
	Checks []string
	// Problems lists every failed check; empty means valid.
	Problems []Problem
	// Warnings are findings that do not refuse the module.
	Warnings []string
}

// Use is one imported function in the capability report.
type Use struct {
	Function string `json:"function"` // "steward.send", "wasi_snapshot_preview1.fd_write"
	Class    Class  `json:"class"`
}

// Problem is one failed check. Err wraps the check's sentinel.
type Problem struct {
	Check string
	Err   error
}

func (p Problem) Error() string { return p.Check + ": " + p.Err.Error() }

// ValidationError is a refusal: every problem found, each naming what
// failed. errors.Is finds ErrInvalidModule and each problem's sentinel.
type ValidationError struct {
	Name     string
	Level    Level
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: module %q refused at %s: ", ErrInvalidModule, e.Name, e.Level)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *ValidationError) Unwrap() []error {
	out := []error{ErrInvalidModule}
	for _, p := range e.Problems {
		out = append(out, p.Err)
	}
	return out
}

// Validate checks a module binary as a push at opts.Level does
// (docs/MODULES.md "Validation"); the error is a *ValidationError listing
// every problem. Nothing is kept: Validate compiles in a throwaway runtime.
func Validate(ctx context.Context, bin []byte, opts ValidateOptions) (*Report, error) {
	level, err := ParseLevel(string(opts.Level))
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		return nil, fmt.Errorf("%w: ValidateOptions.Name is empty", ErrBadOptions)
	}
	if opts.MaxMemoryPages == 0 {
		opts.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if opts.MaxMemoryPages > MaxMemoryPagesLimit {
		return nil, fmt.Errorf("%w: ValidateOptions.MaxMemoryPages %d: want 1..%d", ErrBadOptions, opts.MaxMemoryPages, MaxMemoryPagesLimit)
	}
	if opts.SmokeDeadline <= 0 {
		opts.SmokeDeadline = DefaultMessageDeadline
	}
	opts.Level = level
	// Decoding needs no cap: the memory minimum is checked by name below.
	// The smoke run's host shares the compilation (wazero keys compiled
	// code by the bytes and WithCloseOnContextDone, which both set).
	cache := wazero.NewCompilationCache()
	defer cache.Close(ctx)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
	defer r.Close(ctx)
	c := &checker{opts: opts, rep: &Report{Level: level}}
	cm := c.static(ctx, bin, func(b []byte) (wazero.CompiledModule, error) { return r.CompileModule(ctx, b) })
	if cm != nil && len(c.rep.Problems) == 0 && level == Strict {
		c.smoke(ctx, bin, cache)
	}
	return c.result()
}

// checker runs the checks, collecting problems.
type checker struct {
	opts ValidateOptions
	rep  *Report
}

func (c *checker) ran(check string) { c.rep.Checks = append(c.rep.Checks, check) }

func (c *checker) fail(check string, sentinel error, format string, args ...any) {
	c.rep.Problems = append(c.rep.Problems, Problem{Check: check, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))})
}

func (c *checker) failErr(check string, err error) {
	c.rep.Problems = append(c.rep.Problems, Problem{Check: check, Err: err})
}

func (c *checker) result() (*Report, error) {
	if len(c.rep.Problems) > 0 {
		name := c.opts.Name
		if name == "" && c.rep.Manifest != nil {
			name = c.rep.Manifest.Name
		}
		return c.rep, &ValidationError{Name: name, Level: c.rep.Level, Problems: c.rep.Problems}
	}
	return c.rep, nil
}

// static runs every check but the smoke run, compiling with compile; it
// returns the compiled module when it compiled.
func (c *checker) static(ctx context.Context, bin []byte, compile func([]byte) (wazero.CompiledModule, error)) wazero.CompiledModule {
	sum := sha256.Sum256(bin)
	c.rep.Size, c.rep.SHA256 = len(bin), hex.EncodeToString(sum[:])

	c.ran("size")
	if len(bin) > MaxModuleBytes {
		// Not read further: the work stays bounded.
		c.fail("size", ErrTooLarge, "%d bytes, over the %d-byte limit", len(bin), MaxModuleBytes)
		return nil
	}
	c.ran("binary")
	sections, err := wasmbin.Read(bin)
	if err == nil {
		// Before wazero sees it: its decoder allocates what sizes declare.
		err = wasmbin.CheckBounds(sections)
	}
	if err != nil {
		c.fail("binary", ErrBadBinary, "%v", err)
		return nil
	}
	c.ran("start")
	if wasmbin.Has(sections, wasmbin.IDStart) {
		c.fail("start", ErrStartSection, "the module has a start section: code would run at instantiation (use init)")
	}
	c.manifest(sections)
	imports, err := wasmbin.Imports(sections)
	if err != nil {
		c.fail("binary", ErrBadBinary, "%v", err)
	}

	c.ran("compile")
	cm, err := compile(bin)
	if err != nil {
		c.fail("compile", ErrBadBinary, "does not compile: %v", firstLine(err))
		return nil
	}
	c.exports(cm)
	c.imports(cm, imports)
	c.memory(cm)
	if c.opts.Level != Permissive {
		c.capabilities()
	}
	if c.opts.Level == Strict {
		c.dependencies()
	}
	return cm
}

func (c *checker) manifest(sections []wasmbin.Section) {
	c.ran("manifest")
	data := wasmbin.CustomData(sections, ManifestSection)
	switch len(data) {
	case 0:
		c.fail("manifest", ErrNoManifest, "no %q custom section", ManifestSection)
		return
	case 1:
	default:
		c.fail("manifest", ErrNoManifest, "%d %q custom sections (want one)", len(data), ManifestSection)
		return
	}
	m, err := ParseManifest(data[0])
	if err != nil {
		c.failErr("manifest", err)
		return
	}
	c.rep.Manifest = m
	if c.opts.Name != "" {
		c.ran("name")
		if m.Name != c.opts.Name {
			c.fail("name", ErrNameMismatch, "the manifest names %q, pushed as %q", m.Name, c.opts.Name)
		}
	}
}

func (c *checker) exports(cm wazero.CompiledModule) {
	c.ran("exports")
	fns := cm.ExportedFunctions()
	for _, e := range abiExports {
		d, ok := fns[e.name]
		if !ok {
			if !e.optional {
				c.fail("exports", ErrMissingExport, "%s %s", e.name, signature(e.params, e.results))
			}
			continue
		}
		if !sameTypes(d.ParamTypes(), e.params) || !sameTypes(d.ResultTypes(), e.results) {
			c.fail("exports", ErrBadSignature, "%s is %s, want %s", e.name, signature(d.ParamTypes(), d.ResultTypes()), signature(e.params, e.results))
		}
	}
	if _, ok := cm.ExportedMemories()[memoryExport]; !ok {
		c.fail("exports", ErrMissingExport, "memory %q", memoryExport)
	}
}

func (c *checker) imports(cm wazero.CompiledModule, entries []wasmbin.ImportEntry) {
	c.ran("imports")
	for _, e := range entries {
		c.rep.Imports = append(c.rep.Imports, e.Module+"."+e.Name)
		if e.Kind != wasmbin.ImportFunc {
			kind := map[byte]string{wasmbin.ImportTable: "table", wasmbin.ImportMemory: "memory", wasmbin.ImportGlobal: "global", wasmbin.ImportTag: "tag"}[e.Kind]
			c.fail("imports", ErrForbiddenImport, "%s.%s: a %s import (only functions may be imported)", e.Module, e.Name, kind)
		}
	}
	m := c.rep.Manifest
	wasi := false
	if m != nil {
		_, wasi = m.WASI()
	}
	wasiSigs := wasiSignatures()
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		f := importFacts{module: mod, name: name}
		var params, results []api.ValueType
		switch mod {
		case HostModule:
			hf, ok := lookupHostFunc(name)
			f.known, params, results = ok, hf.params, hf.results
			f.declared = m != nil && slices.Contains(m.HostFunctions, name)
		case WASIModule:
			sig, ok := wasiSigs[name]
			f.known, params, results = ok, sig[0], sig[1]
			f.declared = wasi
		}
		class, err := importRule(c.opts.Level, f, c.opts.Confirmed)
		if err != nil {
			c.failErr("imports", err)
			continue
		}
		if !sameTypes(d.ParamTypes(), params) || !sameTypes(d.ResultTypes(), results) {
			c.fail("imports", ErrBadSignature, "%s.%s is imported as %s, the host defines %s", mod, name, signature(d.ParamTypes(), d.ResultTypes()), signature(params, results))
			continue
		}
		c.rep.Capabilities = append(c.rep.Capabilities, Use{Function: mod + "." + name, Class: class})
	}
}

func (c *checker) memory(cm wazero.CompiledModule) {
	c.ran("memory")
	mem, ok := cm.ExportedMemories()[memoryExport]
	if !ok {
		return // reported by exports
	}
	c.rep.MemoryMinPages = mem.Min()
	if mem.Min() > c.opts.MaxMemoryPages {
		c.fail("memory", ErrMemoryTooLarge, "minimum %d pages (%d KiB), over the cap of %d pages (%d KiB)", mem.Min(), mem.Min()*64, c.opts.MaxMemoryPages, c.opts.MaxMemoryPages*64)
	}
}

// capabilities is the moderate scan: the report's capability list is kept
// (the imports check filled it), and declarations with no matching import
// are warned about.
func (c *checker) capabilities() {
	c.ran("capabilities")
	m := c.rep.Manifest
	if m == nil {
		return
	}
	for _, f := range m.HostFunctions {
		if !slices.Contains(c.rep.Imports, HostModule+"."+f) {
			c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf("host_functions declares %q, which the module does not import", f))
		}
	}
	if _, ok := m.WASI(); ok && !slices.ContainsFunc(c.rep.Imports, func(s string) bool { return strings.HasPrefix(s, WASIModule+".") }) {
		c.rep.Warnings = append(c.rep.Warnings, "the \"wasi\" capability is declared but no WASI function is imported")
	}
}

func (c *checker) dependencies() {
	c.ran("dependencies")
	m := c.rep.Manifest
	if m == nil {
		return
	}
	for _, d := range m.Dependencies {
		if c.opts.Dependency == nil || !c.opts.Dependency(d.Name, d.VersionRange) {
			c.fail("dependencies", ErrDependency, "%s %s is not present", d.Name, d.VersionRange)
		}
	}
}

// smoke is strict's smoke run: instantiate in a throwaway host with the
// page cap, run init and state_export, each under the deadline.
func (c *checker) smoke(ctx context.Context, bin []byte, cache wazero.CompilationCache) {
	c.ran("smoke")
	cfg := DefaultConfig()
	cfg.MaxMemoryPages = c.opts.MaxMemoryPages
	cfg.MessageDeadline = c.opts.SmokeDeadline
	h, err := newHost(ctx, cfg, cache)
	if err != nil {
		c.fail("smoke", ErrSmokeRun, "host: %v", err)
		return
	}
	defer h.Close(ctx)
	m, err := h.compile(ctx, bin, false)
	if err != nil {
		c.fail("smoke", ErrSmokeRun, "%v", err)
		return
	}
	if err := m.smoke(); err != nil {
		c.fail("smoke", ErrSmokeRun, "%v", err)
	}
}

// wasiSignatures are the WASI functions' signatures as wazero defines
// them, read once from a throwaway runtime.
var wasiSignatures = sync.OnceValue(func() map[string][2][]api.ValueType {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	out := map[string][2][]api.ValueType{}
	cm, err := wasi_snapshot_preview1.NewBuilder(r).Compile(ctx)
	if err != nil {
		return out
	}
	for name, d := range cm.ExportedFunctions() {
		out[name] = [2][]api.ValueType{d.ParamTypes(), d.ResultTypes()}
	}
	return out
})

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
