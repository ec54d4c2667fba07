package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
)

// FuzzParse: Parse, and Normalize, Validate and Canonical on whatever it
// returns, never panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*valid/*")
	for _, pattern := range []string{"../examples/*.hcl", "../examples/*.json", "../examples/modules/*.hcl"} {
		more, _ := filepath.Glob(pattern)
		files = append(files, more...)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		fuzzseed.Add(f, data, filepath.Base(file))
	}
	fuzzseed.Add(f, []byte(`{"name":"w","children":[{"id":"a","type":"supervisor","children":[]}]}`), "")
	fuzzseed.Add(f, []byte(`tree "w" { child "a" { args = { "k" = "${1}" } } }`), "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		tree, err := Parse(data, name)
		if err != nil {
			if tree != nil {
				t.Fatal("tree and error")
			}
			return
		}
		_ = Validate(tree, testOpts)
		Normalize(tree)
		_ = Validate(tree, testOpts)
		_ = CanonicalTree(tree)
	})
}
