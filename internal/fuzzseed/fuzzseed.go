// Package fuzzseed adds a fuzz target's seeds and, on request, writes
// them to the target's committed seed corpus.
//
// A fuzz target adds each seed with Add instead of f.Add. With the
// environment variable STEWARD_WRITE_FUZZ_SEEDS=1, running the target's
// seeds (an ordinary `go test -run '^FuzzXxx$'`) also writes each seed
// to testdata/fuzz/FuzzXxx/seed-<sha256 of the file, 16 hex digits> in
// the package directory, in the format of `go test fuzz v1` corpus
// files, so that the committed corpus is made from the same inputs and
// rerunning is idempotent:
//
//	STEWARD_WRITE_FUZZ_SEEDS=1 go test -count=1 -run '^Fuzz' ./fsm ./spec ...
//
// `go test` runs every file of testdata/fuzz/FuzzXxx as a seed, so the
// committed corpus (with the crashers a fuzz run found, which `go test
// -fuzz` writes there itself) is part of every test run.
//
// This package holds no fuzz target and runs nothing by itself.
package fuzzseed

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// WriteEnv is the environment variable that makes Add write the corpus.
const WriteEnv = "STEWARD_WRITE_FUZZ_SEEDS"

// Add adds values as a seed of f (f.Add) and, with WriteEnv=1, writes
// them to the corpus of f's target under testdata/fuzz.
func Add(f *testing.F, values ...any) {
	f.Helper()
	f.Add(values...)
	if os.Getenv(WriteEnv) != "1" {
		return
	}
	data, err := Encode(values...)
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256(data)
	dir := filepath.Join("testdata", "fuzz", f.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(dir, "seed-"+hex.EncodeToString(sum[:8]))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		f.Fatal(err)
	}
}

// Encode renders values as a `go test fuzz v1` corpus file. It knows the
// types the steward fuzz targets take: []byte, string, bool and the
// integer types.
func Encode(values ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for i, v := range values {
		switch x := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(x)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(x))
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", x)
		case int:
			fmt.Fprintf(&b, "int(%d)\n", x)
		case int32:
			fmt.Fprintf(&b, "int32(%d)\n", x)
		case int64:
			fmt.Fprintf(&b, "int64(%d)\n", x)
		case uint8:
			fmt.Fprintf(&b, "uint8(%d)\n", x)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", x)
		case uint32:
			fmt.Fprintf(&b, "uint32(%d)\n", x)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", x)
		default:
			return nil, fmt.Errorf("fuzzseed: value %d has type %T, which a corpus file cannot hold here", i, v)
		}
	}
	return []byte(b.String()), nil
}
