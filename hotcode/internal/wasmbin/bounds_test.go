package wasmbin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// module builds a binary of the header and the given sections.
func module(sections ...[]byte) []byte {
	out := append(append([]byte{}, Magic...), Version...)
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

// section encodes one section from its id and payload.
func section(id byte, payload ...byte) []byte {
	return append(AppendULEB([]byte{id}, uint64(len(payload))), payload...)
}

func uleb(v uint64) []byte { return AppendULEB(nil, v) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Every committed module, the Go examples included, is within bounds.
func TestCheckBoundsAcceptsCommittedModules(t *testing.T) {
	var files []string
	for _, p := range []string{"../../testdata/*.wasm", "../../deploy/testdata/*.wasm", "../../../examples/modules/*.wasm", "../../../examples/modules/*/*.wasm"} {
		m, err := filepath.Glob(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d committed modules", len(files))
	}
	for _, f := range files {
		bin, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		secs, err := Read(bin)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := CheckBounds(secs); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	built := (&Module{
		Imports: []Import{{Module: "steward", Name: "log", Type: FuncType{Params: []ValType{I32, I32, I32}}}},
		Funcs:   []Func{{Type: FuncType{Params: []ValType{I32}, Results: []ValType{I64}}, Body: []byte{0x42, 0x00}}},
		Memory:  &Limits{Min: 1, Max: 2, HasMax: true},
		Exports: []Export{{Name: "memory", Kind: KindMemory}},
		Globals: []Global{{Type: I32, Mutable: true, Init: 1024}},
		Data:    []Data{{Offset: 16, Bytes: []byte("hello")}},
		Customs: []Custom{{Name: "name", Data: cat([]byte{1}, uleb(4), uleb(1), uleb(0), uleb(1), []byte("f"))}},
	}).Encode()
	secs, err := Read(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckBounds(secs); err != nil {
		t.Fatalf("a module built here: %v", err)
	}
}

// The sizes wazero would allocate before reading are refused, each naming
// the section and what it declared; inputs the checker does not know are
// left to wazero.
func TestCheckBoundsRefusesDeclaredSizes(t *testing.T) {
	huge := uleb(1 << 28)
	for _, c := range []struct {
		name, want string
		bin        []byte
	}{
		{"parameters", "type section at offset 8: parameters: 268435456 declared", module(section(IDType, cat(uleb(1), []byte{0x60}, huge, uleb(0))...))},
		{"results", "results: 268435456 declared", module(section(IDType, cat(uleb(1), []byte{0x60}, uleb(0), huge)...))},
		{"imports", "import section", module(section(IDImport, huge...))},
		{"functions", "function section", module(section(IDFunction, huge...))},
		{"exports", "export section", module(section(IDExport, huge...))},
		{"export name", "name length", module(section(IDExport, cat(uleb(1), huge)...))},
		{"data bytes", "data bytes: 268435456 declared", module(section(IDData, cat(uleb(1), []byte{1}, huge)...))},
		{"element vector", "element section", module(section(IDElement, cat(uleb(1), []byte{1, 0}, huge)...))},
		{"element exprs", "element section", module(section(IDElement, cat(uleb(1), []byte{5, 0x70}, huge)...))},
		{"function locals", "a function declares 268435456 locals or more", module(section(IDCode, cat(uleb(1), uleb(7), uleb(1), huge, []byte{0x7f, 0x0b})...))},
		{"module locals", "over the module's limit", module(section(IDCode, cat(uleb(100), func() []byte {
			var b []byte
			for i := 0; i < 100; i++ {
				b = append(b, cat(uleb(6), uleb(1), uleb(MaxFunctionLocals), []byte{0x7f, 0x0b})...)
			}
			return b
		}())...))},
		{"name map", "custom section", module(section(IDCustom, cat(uleb(4), []byte("name"), []byte{1}, uleb(5), huge)...))},
		{"local names", "custom section", module(section(IDCustom, cat(uleb(4), []byte("name"), []byte{2}, uleb(7), uleb(1), uleb(0), huge)...))},
	} {
		t.Run(c.name, func(t *testing.T) {
			secs, err := Read(c.bin)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckBounds(secs)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrMalformed naming %q", err, c.want)
			}
		})
	}
	// Truncated or unknown content stops the check without refusing: wazero
	// refuses it, having allocated nothing past what was checked.
	for _, bin := range [][]byte{
		module(section(IDType, 0x01, 0x60)),
		module(section(IDType, cat(uleb(1), []byte{0x61})...)),
		module(section(IDGlobal, cat(uleb(1), []byte{0x7f, 0x00, 0xfe})...)),
		module(section(IDData, cat(uleb(1), []byte{9})...)),
	} {
		secs, err := Read(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckBounds(secs); err != nil {
			t.Errorf("% x: %v, want it left to wazero", bin, err)
		}
	}
}
