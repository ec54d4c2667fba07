package hotcode_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/internal/fuzzseed"
)

// fuzzHang bounds one Validate call of the fuzz targets: a module that
// makes validation run longer is a hang, not a slow machine (the smoke
// run's own deadline is fuzzSmokeDeadline).
const (
	fuzzHang          = 2 * time.Minute
	fuzzSmokeDeadline = 200 * time.Millisecond
)

var fuzzLevels = []hotcode.Level{hotcode.Permissive, hotcode.Moderate, hotcode.Strict}

// validateSeeds are the committed modules (the small ones: the Go
// examples are 1.8 MB each, too slow a mutation base) with their names,
// then modules built here that each fail one check.
func validateSeeds(tb testing.TB) [][2]any {
	tb.Helper()
	var out [][2]any
	for _, pattern := range []string{"testdata/*.wasm", "deploy/testdata/*.wasm", "../examples/modules/*.wasm", "../examples/modules/c/*.wasm"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		for _, file := range files {
			bin := readFile(tb, file)
			name := ""
			if r, _ := hotcode.Validate(context.Background(), bin, hotcode.ValidateOptions{Name: "x", Level: hotcode.Permissive}); r != nil && r.Manifest != nil {
				name = r.Manifest.Name
			}
			out = append(out, [2]any{bin, name})
		}
	}
	ok := newFixture("m").importHost("send", "spawn", "log")
	start := newFixture("m")
	start.start = true
	bigMem := newFixture("m")
	bigMem.memory.Min = 1 << 15
	loop := newFixture("m")
	loop.bodies["init"] = cat(opLoopForever, i32c(0))
	trapping := newFixture("m")
	trapping.bodies["state_export"] = cat(opUnreachable, i64c(0))
	noManifest := newFixture("m")
	noManifest.manifest = nil
	badManifest := newFixture("m")
	badManifest.rawMan = []byte(`{"name":"m","version":"1","abi":99,"host_functions":["nope"]}`)
	undeclared := newFixture("m").importHost("send")
	undeclared.manifest.HostFunctions = nil
	missing := newFixture("m")
	missing.omit["handle_call"] = true
	for _, f := range []*fixture{ok, start, bigMem, loop, trapping, noManifest, badManifest, undeclared, missing} {
		out = append(out, [2]any{f.bytes(), "m"})
	}
	head := []byte("\x00asm\x01\x00\x00\x00")
	return append(out, [2]any{[]byte{}, "m"}, [2]any{head, "m"}, [2]any{append(head, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f), "m"})
}

// fuzzValidate runs hotcode.Validate, failing the test if it does not return
// within fuzzHang (a hang) or panics (the fuzzer reports that).
func fuzzValidate(t *testing.T, bin []byte, opts hotcode.ValidateOptions) (*hotcode.Report, error) {
	t.Helper()
	type result struct {
		rep *hotcode.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := hotcode.Validate(context.Background(), bin, opts)
		done <- result{rep, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-time.After(fuzzHang):
		t.Fatalf("Validate at %s did not return within %s", opts.Level, fuzzHang)
		return nil, nil
	}
}

// FuzzValidate: module validation of a hostile binary returns a report
// and either nil or a *ValidationError (wrapping ErrInvalidModule) whose
// problems are the report's, each naming its check; it never panics and
// never hangs (the strict smoke run is bounded by its deadline, memory by
// the page cap). The report's size and SHA-256 are the binary's. A module
// valid at a level is valid at every looser one, and one valid at
// permissive is loaded by a host (which checks it as permissive does).
func FuzzValidate(f *testing.F) {
	for _, s := range validateSeeds(f) {
		for i := range fuzzLevels {
			fuzzseed.Add(f, s[0], s[1], uint8(i), i == 2)
		}
	}
	h := newHost(f, func(c *hotcode.Config) { c.MessageDeadline = fuzzSmokeDeadline })
	f.Fuzz(func(t *testing.T, bin []byte, name string, level uint8, confirmed bool) {
		if name == "" {
			name = "m"
		}
		li := int(level) % len(fuzzLevels)
		opts := hotcode.ValidateOptions{Name: name, Level: fuzzLevels[li], Confirmed: confirmed,
			Dependency: func(string, string) bool { return true }, SmokeDeadline: fuzzSmokeDeadline}
		rep, err := fuzzValidate(t, bin, opts)
		if rep == nil {
			t.Fatalf("no report (error %v)", err)
		}
		sum := sha256.Sum256(bin)
		if rep.Size != len(bin) || rep.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("report says %d bytes, sha256 %s; the binary has %d, %x", rep.Size, rep.SHA256, len(bin), sum)
		}
		if rep.Level != opts.Level {
			t.Fatalf("report at level %s, validated at %s", rep.Level, opts.Level)
		}
		for _, p := range rep.Problems {
			if p.Check == "" || p.Err == nil {
				t.Fatalf("a problem without its check or error: %+v", p)
			}
		}
		if err != nil {
			var ve *hotcode.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, hotcode.ErrInvalidModule) {
				t.Fatalf("refused with %v (%T), not a *ValidationError wrapping ErrInvalidModule", err, err)
			}
			if len(ve.Problems) == 0 || len(ve.Problems) != len(rep.Problems) {
				t.Fatalf("the error lists %d problems, the report %d", len(ve.Problems), len(rep.Problems))
			}
			return
		}
		if len(rep.Problems) != 0 {
			t.Fatalf("valid, yet the report lists problems: %v", rep.Problems)
		}
		for _, looser := range fuzzLevels[:li] {
			o := opts
			o.Level = looser
			if _, err := fuzzValidate(t, bin, o); err != nil {
				t.Fatalf("valid at %s, refused at %s: %v", opts.Level, looser, err)
			}
		}
		m, err := h.Compile(context.Background(), bin)
		switch {
		case errors.Is(err, hotcode.ErrVersionConflict), errors.Is(err, hotcode.ErrBadOptions):
			// Another input loaded other bytes under this name@version, or
			// the module asks for a WASI directory this host has not.
		case err != nil:
			t.Fatalf("valid at %s, yet the host refuses to load it: %v", opts.Level, err)
		default:
			_ = m.Close(context.Background())
		}
	})
}
