package spec

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseModuleRef(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		version string
		ok      bool
	}{
		{"counter", "counter", "", true},
		{"counter@3", "counter", "3", true},
		{"my.mod-1_x@1.2.0", "my.mod-1_x", "1.2.0", true},
		{"c@0", "c", "0", true},
		{"c@1.2.3.4", "c", "1.2.3.4", true},
		{"c@123456789", "c", "123456789", true},
		{"", "", "", false},
		{"@1", "", "", false},
		{"_c", "", "", false},
		{"c@", "", "", false},
		{"c@01", "", "", false},
		{"c@1..2", "", "", false},
		{"c@1.2.3.4.5", "", "", false},
		{"c@v1", "", "", false},
		{"c@1@2", "", "", false},
		{"c@1234567890", "", "", false},
		{"c d", "", "", false},
		{"wasm:counter@1", "", "", false},
	}
	for _, tt := range tests {
		ref, err := ParseModuleRef(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseModuleRef(%q) = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if ref.Name != tt.name || ref.Version != tt.version || ref.Pinned() != (tt.version != "") || ref.String() != tt.in {
			t.Errorf("ParseModuleRef(%q) = %+v", tt.in, ref)
		}
	}
}

// TestModuleChildRoundTrip: a module child reads the same from HCL and
// JSON, survives encoding/json and Canonical, and differs from the same
// child pinned or naming a behavior.
func TestModuleChildRoundTrip(t *testing.T) {
	hcl := "name = \"w\"\nchild \"a\" {\n  module = \"tally@2\"\n  args = { start = \"1\" }\n}\n"
	js := `{"name":"w","children":[{"id":"a","module":"tally@2","args":{"start":"1"}}]}`
	th, err := Load([]byte(hcl), "w.hcl", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	tj, err := Load([]byte(js), "w.json", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if string(CanonicalTree(th)) != string(CanonicalTree(tj)) {
		t.Errorf("forms differ:\n%s\n%s", CanonicalTree(th), CanonicalTree(tj))
	}
	if th.Children[0].Module != "tally@2" || th.Children[0].Behavior != "" {
		t.Errorf("child = %+v", th.Children[0])
	}
	out, _ := json.Marshal(th)
	back, err := Load(out, "", testOpts)
	if err != nil {
		t.Fatalf("re-reading %s: %v", out, err)
	}
	if !Equal(back.Children[0], th.Children[0]) {
		t.Errorf("round trip changed the child: %s", out)
	}
	c := th.Children[0]
	for _, other := range []ChildSpec{
		{ID: "a", Module: "tally", Args: c.Args},
		{ID: "a", Module: "tally@1", Args: c.Args},
		{ID: "a", Behavior: "wasm:tally@2", Args: c.Args},
	} {
		if Equal(c, other) || EqualShallow(c, other) {
			t.Errorf("%+v equals %+v", other, c)
		}
	}
	if cl := c.Clone(); cl.Module != c.Module {
		t.Errorf("Clone lost the module: %+v", cl)
	}
}

func TestValidateChildModule(t *testing.T) {
	if err := ValidateChild(ChildSpec{ID: "a", Module: "tally"}, testOpts); err != nil {
		t.Errorf("following ref: %v", err)
	}
	if err := ValidateChild(ChildSpec{ID: "a", Module: "tally"}, ValidateOptions{}); err != nil {
		t.Errorf("without a store check: %v", err)
	}
	err := ValidateChild(ChildSpec{ID: "a", Module: "tally@7"}, testOpts)
	if !errors.Is(err, ErrUnknownModule) || !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown version: %v", err)
	}
	err = ValidateChild(ChildSpec{ID: "a", Module: "tally@x"}, ValidateOptions{})
	if !errors.Is(err, ErrBadName) {
		t.Errorf("bad syntax without a store check: %v", err)
	}
}
