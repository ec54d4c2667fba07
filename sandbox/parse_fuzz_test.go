package sandbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
	"github.com/steward/steward/sandbox"
)

// FuzzParseSandbox: the sandbox, experiment and sandbox policy files (HCL
// or JSON, sent by a caller in CreateSandbox and CreateExperiment) never
// panic; a refusal wraps ErrTooLarge, ErrSyntax or ErrInvalid; what is
// accepted parses the same twice. kind picks the parser.
func FuzzParseSandbox(f *testing.F) {
	files, err := filepath.Glob("../examples/sandboxes/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for kind := uint8(0); kind < 3; kind++ {
			fuzzseed.Add(f, data, filepath.Base(file), kind)
		}
	}
	fuzzseed.Add(f, []byte(`{"name":"s","node":"auto","isolation":"strict","limits":{"max_processes":3},"tree":{"name":"t","children":[]}}`), "s.json", uint8(0))
	fuzzseed.Add(f, []byte(`{"name":"ab","deadline":"60s","sandboxes":[{"name":"a"},{"name":"b"}]}`), "e.json", uint8(1))
	fuzzseed.Add(f, []byte("isolation = \"moderate\"\nlimits {\n  max_processes = -1\n}\n"), "p.hcl", uint8(2))
	fuzzseed.Add(f, []byte(`{"limits": {"max_memory_bytes": 1e400}}`), "p.json", uint8(2))
	fuzzseed.Add(f, []byte{}, "", uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, name string, kind uint8) {
		parse := func() (any, error) {
			switch kind % 3 {
			case 0:
				return sandbox.ParseDefinition(data, name)
			case 1:
				return sandbox.ParseExperiment(data, name)
			}
			return sandbox.Parse(data, name)
		}
		v, err := parse()
		if err != nil {
			if !errors.Is(err, sandbox.ErrTooLarge) && !errors.Is(err, sandbox.ErrSyntax) && !errors.Is(err, sandbox.ErrInvalid) {
				t.Fatalf("refused with %v, which wraps none of ErrTooLarge, ErrSyntax, ErrInvalid", err)
			}
			return
		}
		again, err := parse()
		if err != nil || !reflect.DeepEqual(v, again) {
			t.Fatalf("the same file parses twice differently (%v)", err)
		}
	})
}
