package examples_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/spec"
)

// TestExamplesAreAccepted loads every spec here as the leader does (parse,
// normalize, validate against the native catalog), then applies it to a
// runtime as the node does, which also checks each behavior's args and
// the registered names.
func TestExamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob("*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	jsons, _ := filepath.Glob("*.json")
	files = append(files, jsons...)
	if len(files) < 4 {
		t.Fatalf("examples: %v", files)
	}
	cat := behaviors.NewCatalog()
	known := func(name string) bool { _, err := cat.Lookup(name); return err == nil }
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := spec.Load(data, f, spec.ValidateOptions{KnownBehavior: known})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			cfg := actor.DefaultConfig()
			cfg.NodeName, cfg.Catalog = "n1", cat
			rt, err := actor.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			defer func() { _ = rt.Shutdown(ctx) }()
			if err := rt.ApplyTree(ctx, *tree); err != nil {
				t.Fatalf("%s: the runtime refuses it: %v", f, err)
			}
			ti, err := rt.Tree(tree.Name)
			if err != nil || ti.Status != actor.TreeRunning {
				t.Fatalf("%s: %+v %v", f, ti, err)
			}
		})
	}
}

// TestWebJSONIsWebHCL keeps the two forms of the web example the same tree.
func TestWebJSONIsWebHCL(t *testing.T) {
	load := func(f string) *spec.Tree {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := spec.Load(data, f, spec.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	h, j := spec.CanonicalTree(load("web.hcl")), spec.CanonicalTree(load("web.json"))
	if string(h) != string(j) {
		t.Fatalf("web.hcl and web.json differ:\n%s\n%s", h, j)
	}
}
