package spec_test

import (
	"fmt"

	"github.com/steward/steward/spec"
)

func ExampleLoad() {
	src := []byte(`
tree "web" {
  child "c1" { behavior = "counter" }
  child "sub" {
    type = "supervisor"
    child "w" { restart = "sometimes" }
  }
}`)
	known := func(name string) bool { return name == "counter" }
	_, err := spec.Load(src, "web.hcl", spec.ValidateOptions{KnownBehavior: known})
	fmt.Println(err)
	// Output:
	// invalid supervision tree spec: children[1].children[0].restart: "sometimes" is not one of permanent, transient, temporary; children[1].children[0].behavior: a worker needs a behavior or a module
}
