package hotcode_test

import (
	"reflect"
	"testing"

	"github.com/steward/steward/hotcode"
)

func TestDependencyOrder(t *testing.T) {
	dep := func(names ...string) []hotcode.Dependency {
		var out []hotcode.Dependency
		for _, n := range names {
			out = append(out, hotcode.Dependency{Name: n, VersionRange: ">=1"})
		}
		return out
	}
	for _, tt := range []struct {
		what string
		mans []*hotcode.Manifest
		want []int
	}{
		{"by name without dependencies", []*hotcode.Manifest{{Name: "b"}, {Name: "a"}}, []int{1, 0}},
		{"a dependency first", []*hotcode.Manifest{{Name: "a", Dependencies: dep("z")}, {Name: "z"}}, []int{1, 0}},
		{"a chain", []*hotcode.Manifest{{Name: "a", Dependencies: dep("b")}, {Name: "b", Dependencies: dep("c")}, {Name: "c"}}, []int{2, 1, 0}},
		{"outside dependencies ignored", []*hotcode.Manifest{{Name: "b", Dependencies: dep("x")}, {Name: "a"}}, []int{1, 0}},
		{"a cycle by name", []*hotcode.Manifest{{Name: "b", Dependencies: dep("a")}, {Name: "a", Dependencies: dep("b")}}, []int{1, 0}},
	} {
		if got := hotcode.DependencyOrder(tt.mans); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.what, got, tt.want)
		}
	}
}
