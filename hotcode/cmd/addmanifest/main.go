// Command addmanifest appends a steward.manifest custom section to a
// WebAssembly module: wat2wasm (wabt 1.0.32, Debian's) parses the
// (@custom ...) annotation but does not emit it. `make wasm` runs it.
//
//	go run ./hotcode/cmd/addmanifest -manifest counter-v1.manifest.json -o counter-v1.wasm raw.wasm
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/steward/steward/hotcode"
)

func main() {
	manifest := flag.String("manifest", "", "the manifest's JSON file (required)")
	out := flag.String("o", "", "the output module (required)")
	flag.Parse()
	if *manifest == "" || *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: addmanifest -manifest FILE.json -o OUT.wasm IN.wasm")
		os.Exit(2)
	}
	if err := run(*manifest, flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "addmanifest:", err)
		os.Exit(1)
	}
}

func run(manifestFile, in, out string) error {
	mj, err := os.ReadFile(manifestFile)
	if err != nil {
		return err
	}
	var m hotcode.Manifest
	dec := json.NewDecoder(bytes.NewReader(mj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("%s: %w", manifestFile, err)
	}
	bin, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	withManifest, err := hotcode.AddManifest(bin, m)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, withManifest, 0o644)
}
