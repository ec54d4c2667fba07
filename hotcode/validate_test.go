package hotcode_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/internal/wasmbin"
)

func validate(t *testing.T, bin []byte, opts hotcode.ValidateOptions) (*hotcode.Report, error) {
	t.Helper()
	rep, err := hotcode.Validate(context.Background(), bin, opts)
	if rep == nil && !errors.Is(err, hotcode.ErrBadOptions) {
		t.Fatalf("no report: %v", err)
	}
	return rep, err
}

// The examples are valid at every level, and the report grows with it.
func TestValidateExamples(t *testing.T) {
	for _, bin := range [][]byte{counterV1(t), counterV2(t)} {
		for _, level := range []hotcode.Level{hotcode.Permissive, hotcode.Moderate, hotcode.Strict} {
			rep, err := validate(t, bin, hotcode.ValidateOptions{Name: "counter", Level: level})
			if err != nil {
				t.Fatalf("%s: %v", level, err)
			}
			if rep.Manifest == nil || rep.Manifest.Name != "counter" || rep.MemoryMinPages != 1 || len(rep.SHA256) != 64 || rep.Size != len(bin) {
				t.Fatalf("%s: report %+v", level, rep)
			}
			want := []string{"steward.whereis", "steward.cast", "steward.call"}
			if !slices.Equal(rep.Imports, want) {
				t.Fatalf("imports %v", rep.Imports)
			}
			hasCaps := len(rep.Capabilities) == 3 && rep.Capabilities[0] == (hotcode.Use{Function: "steward.whereis", Class: hotcode.ClassSafe})
			if level != hotcode.Permissive && !hasCaps {
				t.Fatalf("%s: capability report %v", level, rep.Capabilities)
			}
			checks := strings.Join(rep.Checks, ",")
			base := "size,binary,start,manifest,name,compile,exports,imports,memory"
			wantChecks := map[hotcode.Level]string{
				hotcode.Permissive: base,
				hotcode.Moderate:   base + ",capabilities",
				hotcode.Strict:     base + ",capabilities,dependencies,smoke",
			}[level]
			if checks != wantChecks {
				t.Fatalf("%s: checks %s, want %s", level, checks, wantChecks)
			}
		}
	}
}

// Each refusal names what failed and wraps its sentinel.
func TestValidateRefusals(t *testing.T) {
	v1 := counterV1(t)
	badMagic := append([]byte(nil), v1...)
	badMagic[1] = 'b'
	badVersion := append([]byte(nil), v1...)
	badVersion[4] = 2
	oversized := wasmbin.AppendCustom(v1, "padding", make([]byte, hotcode.MaxModuleBytes))

	cases := []struct {
		name  string
		bin   []byte
		opts  hotcode.ValidateOptions
		want  error
		text  string
		check string
	}{
		{"bad magic", badMagic, hotcode.ValidateOptions{Name: "counter"}, hotcode.ErrBadBinary, `bad magic number 00 62 73 6d`, "binary"},
		{"bad version", badVersion, hotcode.ValidateOptions{Name: "counter"}, hotcode.ErrBadBinary, "binary format version 02 00 00 00", "binary"},
		{"truncated", v1[:len(v1)-5], hotcode.ValidateOptions{Name: "counter"}, hotcode.ErrBadBinary, "declared", "binary"},
		{"oversized", oversized, hotcode.ValidateOptions{Name: "counter"}, hotcode.ErrTooLarge, "over the 8388608-byte limit", "size"},
		{"no manifest", func() []byte { f := newFixture("m"); f.manifest = nil; return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrNoManifest, `no "steward.manifest" custom section`, "manifest"},
		{"two manifests", func() []byte {
			f := newFixture("m")
			f.extra = []wasmbin.Custom{{Name: hotcode.ManifestSection, Data: []byte(`{}`)}}
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrNoManifest, "2 \"steward.manifest\" custom sections", "manifest"},
		{"manifest not JSON", func() []byte { f := newFixture("m"); f.rawMan = []byte("name=m"); return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrBadManifest, "JSON", "manifest"},
		{"manifest unknown field", func() []byte {
			f := newFixture("m")
			f.rawMan = []byte(`{"name":"m","version":"1","abi":1,"color":"red"}`)
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrBadManifest, `unknown field "color"`, "manifest"},
		{"manifest abi 2", func() []byte { f := newFixture("m"); f.manifest.ABI = 2; return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrBadManifest, "abi 2: this host implements abi 1", "manifest"},
		{"manifest bad version", func() []byte { f := newFixture("m"); f.manifest.Version = "v1"; return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrBadManifest, `version "v1"`, "manifest"},
		{"name mismatch", counterV1(t), hotcode.ValidateOptions{Name: "other"}, hotcode.ErrNameMismatch, `the manifest names "counter", pushed as "other"`, "name"},
		{"missing export", func() []byte { f := newFixture("m"); f.omit["handle_call"] = true; return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrMissingExport, "handle_call (i32, i32) -> i64", "exports"},
		{"wrong signature", func() []byte {
			f := newFixture("m")
			f.sigs["handle_call"] = ft(vals(i32, i32), i32)
			f.bodies["handle_call"] = i32c(0)
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrBadSignature, "handle_call is (i32, i32) -> i32, want (i32, i32) -> i64", "exports"},
		{"optional export, wrong signature", func() []byte {
			f := newFixture("m")
			f.sigs["dealloc"] = ft(vals(i32))
			f.bodies["dealloc"] = nil
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrBadSignature, "dealloc is (i32) -> (), want (i32, i32) -> ()", "exports"},
		{"start section", func() []byte { f := newFixture("m"); f.start = true; return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrStartSection, "start section", "start"},
		{"import from env", func() []byte {
			f := newFixture("m")
			f.imports = append(f.imports, wasmbin.Import{Module: "env", Name: "abort", Type: ft(nil)})
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrForbiddenImport, `env.abort: imports may come only from "steward"`, "imports"},
		{"unknown host function", func() []byte {
			f := newFixture("m")
			f.imports = append(f.imports, wasmbin.Import{Module: "steward", Name: "fork", Type: ft(nil)})
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrForbiddenImport, "steward.fork: the host module has no such function", "imports"},
		{"undeclared import", func() []byte {
			f := newFixture("m").importHost("send")
			f.manifest.HostFunctions = nil
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrUndeclaredImport, "steward.send is imported but not declared", "imports"},
		{"import with wrong signature", func() []byte {
			f := newFixture("m").importHost("now")
			f.imports[0].Type = ft(nil, i32)
			return f.bytes()
		}(), hotcode.ValidateOptions{}, hotcode.ErrBadSignature, "steward.now is imported as () -> i32, the host defines () -> i64", "imports"},
		{"WASI without the capability", func() []byte {
			f := newFixture("m")
			f.imports = append(f.imports, wasmbin.Import{Module: "wasi_snapshot_preview1", Name: "fd_write", Type: ft(vals(i32, i32, i32, i32), i32)})
			return f.bytes()
		}(), hotcode.ValidateOptions{Level: hotcode.Permissive}, hotcode.ErrUndeclaredImport, `does not declare the "wasi" capability`, "imports"},
		{"WASI at moderate", wasiFixture(false, 0), hotcode.ValidateOptions{}, hotcode.ErrForbiddenImport, "WASI is given only at permissive (this is moderate)", "imports"},
		{"memory import", func() []byte {
			f := &wasmbin.Module{Memory: &wasmbin.Limits{Min: 1}, ImportMemory: &[2]string{"env", "memory"}}
			b := f.Encode()
			b, _ = hotcode.AddManifest(b, hotcode.Manifest{Name: "m", Version: "1", ABI: 1})
			return b
		}(), hotcode.ValidateOptions{}, hotcode.ErrForbiddenImport, "env.memory: a memory import", "imports"},
		{"memory over the cap", func() []byte { f := newFixture("m"); f.memory.Min = 300; return f.bytes() }(), hotcode.ValidateOptions{}, hotcode.ErrMemoryTooLarge, "minimum 300 pages (19200 KiB), over the cap of 256 pages", "memory"},
		{"missing dependency", func() []byte {
			f := newFixture("m")
			f.manifest.Dependencies = []hotcode.Dependency{{Name: "lib", VersionRange: ">=2"}}
			return f.bytes()
		}(), hotcode.ValidateOptions{Level: hotcode.Strict, Dependency: func(name, rng string) bool { return name == "lib" && rng == "<2" }}, hotcode.ErrDependency, "lib >=2 is not present", "dependencies"},
		{"smoke run loops forever", func() []byte {
			f := newFixture("m")
			f.bodies["init"] = cat(opLoopForever, opUnreachable)
			return f.bytes()
		}(), hotcode.ValidateOptions{Level: hotcode.Strict, SmokeDeadline: 50 * time.Millisecond}, hotcode.ErrSmokeRun, "m@1: init ran past its 50ms deadline", "smoke"},
		{"smoke run: state out of bounds", func() []byte {
			f := newFixture("m")
			f.bodies["state_export"] = i64c(int64(65000)<<32 | 1000)
			return f.bytes()
		}(), hotcode.ValidateOptions{Level: hotcode.Strict}, hotcode.ErrSmokeRun, "state_export returned ptr 65000 len 1000, outside memory (65536 bytes)", "smoke"},
		{"smoke run: init fails", func() []byte {
			f := newFixture("m")
			f.bodies["init"] = i32c(5)
			return f.bytes()
		}(), hotcode.ValidateOptions{Level: hotcode.Strict}, hotcode.ErrSmokeRun, "m@1: init returned status 5", "smoke"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Name == "" {
				tc.opts.Name = "m"
			}
			rep, err := validate(t, tc.bin, tc.opts)
			if !errors.Is(err, hotcode.ErrInvalidModule) || !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not say %q", err, tc.text)
			}
			var ve *hotcode.ValidationError
			if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Problems, func(p hotcode.Problem) bool { return p.Check == tc.check && errors.Is(p.Err, tc.want) }) {
				t.Fatalf("no %s problem in %v", tc.check, rep.Problems)
			}
			// The compiler of record refuses it too, except what only a
			// push checks (the name, the level's extra checks).
			if tc.check != "name" && tc.check != "dependencies" && tc.check != "smoke" && tc.opts.Level != hotcode.Permissive && tc.name != "WASI at moderate" {
				h := newHost(t, nil)
				if _, err := h.Compile(context.Background(), tc.bin); err == nil {
					t.Fatal("Host.Compile accepted it")
				}
			}
		})
	}
}

// Validation collects every problem, like a compiler.
func TestValidateCollectsAllProblems(t *testing.T) {
	f := newFixture("m").importHost("send")
	f.manifest.HostFunctions = nil
	f.start = true
	f.omit["state_import"] = true
	f.imports = append(f.imports, wasmbin.Import{Module: "env", Name: "x", Type: ft(nil)})
	_, err := validate(t, f.bytes(), hotcode.ValidateOptions{Name: "n"})
	for _, want := range []error{hotcode.ErrStartSection, hotcode.ErrNameMismatch, hotcode.ErrMissingExport, hotcode.ErrUndeclaredImport, hotcode.ErrForbiddenImport} {
		if !errors.Is(err, want) {
			t.Errorf("%v is not listed in %v", want, err)
		}
	}
	var ve *hotcode.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 5 {
		t.Fatalf("problems: %v", err)
	}
}

func TestValidateOptions(t *testing.T) {
	if _, err := hotcode.Validate(context.Background(), counterV1(t), hotcode.ValidateOptions{}); !errors.Is(err, hotcode.ErrBadOptions) || !strings.Contains(err.Error(), "Name") {
		t.Fatalf("no name: %v", err)
	}
	if _, err := hotcode.Validate(context.Background(), counterV1(t), hotcode.ValidateOptions{Name: "counter", Level: "lax"}); !errors.Is(err, hotcode.ErrBadOptions) {
		t.Fatalf("bad level: %v", err)
	}
	rep, err := hotcode.Validate(context.Background(), counterV1(t), hotcode.ValidateOptions{Name: "counter"})
	if err != nil || rep.Level != hotcode.Moderate {
		t.Fatalf("default level %v %v", rep.Level, err)
	}
}

// wasiFixture imports WASI's path_open and, when declared, has the "wasi"
// capability with a writable (or read-only) fs_dir and max handles.
func wasiFixture(declared bool, maxHandles int) []byte {
	f := newFixture("w")
	f.imports = append(f.imports, wasmbin.Import{Module: "wasi_snapshot_preview1", Name: "path_open",
		Type: ft(vals(i32, i32, i32, i32, i32, i64, i64, i32, i32), i32)})
	if declared {
		f.manifest.Capabilities = []hotcode.Capability{{Name: "wasi", FSDir: "/data", FSWritable: maxHandles > 0, MaxFileHandles: max(maxHandles, 2)}}
	}
	// handle_call(ptr, len): path_open(3, 0, ptr, len, O_CREAT, rights,
	// rights, 0, &fd at 600) and reply with the errno as one byte at 604.
	f.bodies["handle_call"] = cat(
		i32c(604),
		i32c(3), i32c(0), []byte{0x20, 0x00, 0x20, 0x01}, i32c(1), i64c(0x1fffffff), i64c(0x1fffffff), i32c(0), i32c(600),
		[]byte{0x10, 0x00}, // call 0 (path_open)
		[]byte{0x3a, 0x00, 0x00},
		i64c(int64(604)<<32|1),
	)
	return f.bytes()
}

// The import table (docs/MODULES.md "Imports by safety level"): one test
// per row, each at every level.
func TestImportTable(t *testing.T) {
	levels := []hotcode.Level{hotcode.Strict, hotcode.Moderate, hotcode.Permissive}
	type outcome struct {
		ok   bool
		want error
	}
	allowed := outcome{ok: true}
	refused := func(err error) outcome { return outcome{want: err} }
	row := func(t *testing.T, bin []byte, opts hotcode.ValidateOptions, want map[hotcode.Level]outcome) {
		t.Helper()
		for _, l := range levels {
			opts.Level = l
			_, err := validate(t, bin, opts)
			w := want[l]
			if w.ok != (err == nil) || (!w.ok && !errors.Is(err, w.want)) {
				t.Errorf("%s: %v, want ok=%t %v", l, err, w.ok, w.want)
			}
		}
	}
	t.Run("safe host functions, declared", func(t *testing.T) {
		for _, fn := range []string{"send", "cast", "call", "self", "from", "log", "now", "send_after", "whereis", "link", "unlink", "monitor", "demonitor", "trap_exit"} {
			t.Run(fn, func(t *testing.T) {
				row(t, newFixture("m").importHost(fn).bytes(), hotcode.ValidateOptions{Name: "m"},
					map[hotcode.Level]outcome{hotcode.Strict: allowed, hotcode.Moderate: allowed, hotcode.Permissive: allowed})
			})
		}
	})
	t.Run("dangerous host functions, declared", func(t *testing.T) {
		for _, fn := range []string{"register", "spawn", "exit"} {
			t.Run(fn, func(t *testing.T) {
				bin := newFixture("m").importHost(fn).bytes()
				row(t, bin, hotcode.ValidateOptions{Name: "m"},
					map[hotcode.Level]outcome{hotcode.Strict: refused(hotcode.ErrUnconfirmed), hotcode.Moderate: allowed, hotcode.Permissive: allowed})
				row(t, bin, hotcode.ValidateOptions{Name: "m", Confirmed: true},
					map[hotcode.Level]outcome{hotcode.Strict: allowed, hotcode.Moderate: allowed, hotcode.Permissive: allowed})
				rep, _ := validate(t, bin, hotcode.ValidateOptions{Name: "m", Level: hotcode.Strict, Confirmed: true})
				if len(rep.Capabilities) != 1 || rep.Capabilities[0].Class != hotcode.ClassDangerous {
					t.Errorf("capability report %v", rep.Capabilities)
				}
			})
		}
	})
	t.Run("host functions, not declared", func(t *testing.T) {
		f := newFixture("m").importHost("send", "spawn")
		f.manifest.HostFunctions = []string{"send"}
		row(t, f.bytes(), hotcode.ValidateOptions{Name: "m", Confirmed: true},
			map[hotcode.Level]outcome{hotcode.Strict: refused(hotcode.ErrUndeclaredImport), hotcode.Moderate: refused(hotcode.ErrUndeclaredImport), hotcode.Permissive: refused(hotcode.ErrUndeclaredImport)})
	})
	t.Run("WASI functions, capability declared", func(t *testing.T) {
		row(t, wasiFixture(true, 0), hotcode.ValidateOptions{Name: "w"},
			map[hotcode.Level]outcome{hotcode.Strict: refused(hotcode.ErrForbiddenImport), hotcode.Moderate: refused(hotcode.ErrForbiddenImport), hotcode.Permissive: allowed})
	})
	wasiImport := func(name string, sig wasmbin.FuncType) []byte {
		f := newFixture("m")
		f.manifest.Capabilities = []hotcode.Capability{{Name: "wasi"}}
		f.imports = append(f.imports, wasmbin.Import{Module: "wasi_snapshot_preview1", Name: name, Type: sig})
		return f.bytes()
	}
	never := map[hotcode.Level]outcome{hotcode.Strict: refused(hotcode.ErrForbiddenImport), hotcode.Moderate: refused(hotcode.ErrForbiddenImport), hotcode.Permissive: refused(hotcode.ErrForbiddenImport)}
	t.Run("WASI sockets", func(t *testing.T) {
		for _, fn := range []string{"sock_accept", "sock_recv", "sock_send", "sock_shutdown"} {
			row(t, wasiImport(fn, ft(vals(i32, i32), i32)), hotcode.ValidateOptions{Name: "m"}, never)
		}
	})
	t.Run("WASI links and signals", func(t *testing.T) {
		for _, fn := range []string{"path_link", "path_symlink", "proc_raise"} {
			row(t, wasiImport(fn, ft(vals(i32), i32)), hotcode.ValidateOptions{Name: "m"}, never)
		}
	})
	t.Run("any other module", func(t *testing.T) {
		f := newFixture("m")
		f.imports = append(f.imports, wasmbin.Import{Module: "env", Name: "memcpy", Type: ft(vals(i32, i32, i32), i32)})
		row(t, f.bytes(), hotcode.ValidateOptions{Name: "m"}, never)
	})
	t.Run("non-function imports", func(t *testing.T) {
		b := (&wasmbin.Module{Memory: &wasmbin.Limits{Min: 1}, ImportMemory: &[2]string{"steward", "memory"}}).Encode()
		b, _ = hotcode.AddManifest(b, hotcode.Manifest{Name: "m", Version: "1", ABI: 1})
		row(t, b, hotcode.ValidateOptions{Name: "m"}, never)
	})
}
