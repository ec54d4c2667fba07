package hotcode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/hotcode"
)

// The committed .wasm files are what `make wasm` builds from the .wat
// sources and manifests (wat2wasm, then AddManifest as addmanifest does).
func TestExamplesRebuild(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed (Debian's wabt; `make wasm-tools` installs it): the committed .wasm files are not checked against their sources")
	}
	srcs, _ := filepath.Glob("../examples/modules/*.wat")
	more, _ := filepath.Glob("testdata/*.wat")
	srcs = append(srcs, more...)
	if len(srcs) < 3 {
		t.Fatalf("sources %v", srcs)
	}
	for _, src := range srcs {
		base := strings.TrimSuffix(src, ".wat")
		raw := filepath.Join(t.TempDir(), "raw.wasm")
		if out, err := exec.Command(wat2wasm, src, "-o", raw).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", src, err, out)
		}
		var m hotcode.Manifest
		if err := json.Unmarshal(readFile(t, base+".manifest.json"), &m); err != nil {
			t.Fatal(err)
		}
		built, err := hotcode.AddManifest(readFile(t, raw), m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, readFile(t, base+".wasm")) {
			t.Errorf("%s.wasm is not what its source builds: run `make wasm` and commit", base)
		}
	}
}

// Run counter v1 in a runtime, then move it to v2 keeping its count.
func Example() {
	ctx := context.Background()
	host, err := hotcode.NewHost(ctx, hotcode.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer host.Close(ctx)
	catalog := behaviors.NewCatalog()
	for _, f := range []string{"../examples/modules/counter-v1.wasm", "../examples/modules/counter-v2.wasm"} {
		bin, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		m, err := host.Compile(ctx, bin)
		if err != nil {
			panic(err)
		}
		if err := catalog.Register(m.Entry(hotcode.EntryOptions{})); err != nil {
			panic(err)
		}
	}
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Catalog = catalog
	rt, err := actor.New(cfg)
	if err != nil {
		panic(err)
	}
	defer rt.Shutdown(ctx)
	host.Bind(rt)

	pid, _ := rt.Spawn(ctx, actor.SpawnOptions{Behavior: "counter@1", Args: map[string]string{"start": "40"}})
	rt.Cast(pid, actor.Message{Body: []byte("inc 2")})
	n, _ := rt.Call(ctx, pid, actor.Message{Body: []byte("get")})
	fmt.Println("v1 count:", string(n))

	if _, err := rt.ChangeCode(ctx, pid, "counter@2"); err != nil {
		panic(err)
	}
	st, _ := rt.GetState(ctx, pid)
	fmt.Println("v2 state:", string(st))
	// Output:
	// v1 count: 42
	// v2 state: {"count":42,"messages":0}
}
