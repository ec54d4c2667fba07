package spec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// problemPaths parses and validates src (HCL or JSON by name) and returns
// the paths of the problems found ("" when valid).
func problemPaths(t *testing.T, name, src string) []string {
	t.Helper()
	tree, err := Parse([]byte(src), name)
	if err != nil {
		t.Fatalf("Parse %s: %v", name, err)
	}
	err = Validate(tree, testOpts)
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %T %v", err, err)
	}
	var out []string
	for _, p := range e.Problems {
		out = append(out, p.Path)
	}
	return out
}

// TestSignificantValidation follows OTP's supervisor doc and
// validSignificant/validAutoShutdown: significant with restart permanent is
// invalid; significant under auto_shutdown never is invalid; auto_shutdown
// is never, any_significant or all_significant; simple_one_for_one takes
// only never (OTP 27, "Disallow auto-shutdown for simple_one_for_one"). Each
// case in HCL and in JSON, with the field path named.
func TestSignificantValidation(t *testing.T) {
	tests := []struct {
		name      string
		hcl, json string
		want      string // problem paths, comma-separated; "" for valid
	}{
		{"any transient", `
name = "t"
auto_shutdown = "any_significant"
child "a" {
  behavior = "echo"
  restart = "transient"
  significant = true
}`, `{"name":"t","auto_shutdown":"any_significant","children":[{"id":"a","behavior":"echo","restart":"transient","significant":true}]}`, ""},
		{"all temporary nested", `
name = "t"
child "s" {
  type = "supervisor"
  auto_shutdown = "all_significant"
  child "a" {
    behavior = "echo"
    restart = "temporary"
    significant = true
  }
}`, `{"name":"t","children":[{"id":"s","type":"supervisor","auto_shutdown":"all_significant","children":[{"id":"a","behavior":"echo","restart":"temporary","significant":true}]}]}`, ""},
		{"never spelled out, nothing significant", `
name = "t"
auto_shutdown = "never"
child "a" { behavior = "echo" }`, `{"name":"t","auto_shutdown":"never","children":[{"id":"a","behavior":"echo","significant":false}]}`, ""},
		{"significant permanent", `
name = "t"
auto_shutdown = "any_significant"
child "a" {
  behavior = "echo"
  significant = true
}`, `{"name":"t","auto_shutdown":"any_significant","children":[{"id":"a","behavior":"echo","significant":true}]}`, "children[0].significant"},
		{"significant under never (default)", `
name = "t"
child "a" {
  behavior = "echo"
  restart = "transient"
  significant = true
}`, `{"name":"t","children":[{"id":"a","behavior":"echo","restart":"transient","significant":true}]}`, "children[0].significant"},
		{"significant under nested never", `
name = "t"
auto_shutdown = "any_significant"
child "s" {
  type = "supervisor"
  restart = "transient"
  significant = true
  child "a" {
    behavior = "echo"
    restart = "temporary"
    significant = true
  }
}`, `{"name":"t","auto_shutdown":"any_significant","children":[{"id":"s","type":"supervisor","restart":"transient","significant":true,"children":[{"id":"a","behavior":"echo","restart":"temporary","significant":true}]}]}`, "children[0].children[0].significant"},
		{"bad auto_shutdown", `
name = "t"
auto_shutdown = "sometimes"
child "a" { behavior = "echo" }`, `{"name":"t","auto_shutdown":"sometimes","children":[{"id":"a","behavior":"echo"}]}`, "auto_shutdown"},
		{"simple_one_for_one", `
name = "t"
strategy = "simple_one_for_one"
auto_shutdown = "all_significant"
child "a" {
  behavior = "echo"
  restart = "temporary"
  significant = true
}`, `{"name":"t","strategy":"simple_one_for_one","auto_shutdown":"all_significant","children":[{"id":"a","behavior":"echo","restart":"temporary","significant":true}]}`, "auto_shutdown"},
		{"worker with auto_shutdown", `
name = "t"
child "a" {
  behavior = "echo"
  auto_shutdown = "any_significant"
}`, `{"name":"t","children":[{"id":"a","behavior":"echo","auto_shutdown":"any_significant"}]}`, "children[0].auto_shutdown"},
	}
	for _, tt := range tests {
		for _, f := range []struct{ name, src string }{{"t.hcl", tt.hcl}, {"t.json", tt.json}} {
			got := strings.Join(problemPaths(t, f.name, f.src), ",")
			if got != tt.want {
				t.Errorf("%s (%s): problems at %q, want %q", tt.name, f.name, got, tt.want)
			}
		}
	}
}

// TestSignificantParseTypes: significant is a boolean in both formats.
func TestSignificantParseTypes(t *testing.T) {
	for _, f := range []struct{ name, src string }{
		{"t.json", `{"name":"t","children":[{"id":"a","behavior":"echo","significant":"yes"}]}`},
		{"t.hcl", "name = \"t\"\nchild \"a\" {\n  behavior = \"echo\"\n  significant = \"yes\"\n}\n"},
	} {
		_, err := Parse([]byte(f.src), f.name)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "children[0].significant") {
			t.Errorf("%s: %v, want a syntax error at children[0].significant", f.name, err)
		}
	}
}

// TestSignificantCanonical: the defaults (auto_shutdown never, significant
// false) are left out of the canonical form, so every spec written before
// the fields existed keeps its bytes; a set value survives a JSON round
// trip and changes the child (Equal, EqualShallow).
func TestSignificantCanonical(t *testing.T) {
	plain := &Tree{Name: "t", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "a", Behavior: "echo"}}}}
	never := plain.Clone()
	never.AutoShutdown = Never
	if c := string(CanonicalTree(plain)); strings.Contains(c, "auto_shutdown") || strings.Contains(c, "significant") {
		t.Errorf("defaults spelled out in %s", c)
	}
	if string(CanonicalTree(never)) != string(CanonicalTree(plain)) {
		t.Errorf("never differs from absent:\n%s\n%s", CanonicalTree(never), CanonicalTree(plain))
	}

	set := &Tree{Name: "t", SupervisorSpec: SupervisorSpec{AutoShutdown: AllSignificant, Children: []ChildSpec{
		{ID: "a", Behavior: "echo", Restart: Transient, Significant: true},
		{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{AutoShutdown: AnySignificant,
			Children: []ChildSpec{{ID: "b", Behavior: "echo", Restart: Temporary, Significant: true}}}},
	}}}
	if err := Validate(set, testOpts); err != nil {
		t.Fatal(err)
	}
	Normalize(set)
	out, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(out, "", testOpts)
	if err != nil {
		t.Fatalf("re-reading %s: %v", out, err)
	}
	if string(CanonicalTree(back)) != string(CanonicalTree(set)) {
		t.Errorf("round trip changed the tree:\n%s\n%s", CanonicalTree(back), CanonicalTree(set))
	}
	if !back.Children[0].Significant || back.AutoShutdown != AllSignificant || back.Children[1].AutoShutdown != AnySignificant {
		t.Errorf("fields lost: %s", CanonicalTree(back))
	}
	a, b := set.Children[0], set.Children[0]
	b.Significant = false
	if Equal(a, b) || EqualShallow(a, b) {
		t.Error("significant does not change the child")
	}
	s1, s2 := set.Children[1], set.Children[1].Clone()
	s2.AutoShutdown = AllSignificant
	if EqualShallow(s1, s2) {
		t.Error("auto_shutdown does not change the supervisor child")
	}
}

// TestValidateChildSignificant: start_child's check knows the restart
// type, not the supervisor's auto_shutdown (the runtime checks that).
func TestValidateChildSignificant(t *testing.T) {
	err := ValidateChild(ChildSpec{ID: "a", Behavior: "echo", Significant: true}, testOpts)
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "significant") {
		t.Errorf("permanent significant child: %v", err)
	}
	if err := ValidateChild(ChildSpec{ID: "a", Behavior: "echo", Restart: Transient, Significant: true}, testOpts); err != nil {
		t.Errorf("transient significant child: %v", err)
	}
}
