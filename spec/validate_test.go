package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func catalog(name string) bool { return name == "counter" || name == "echo" }

// modules is the test's module store: tally, versions 1 and 2.
func modules(ref ModuleRef) error {
	switch {
	case ref.Name != "tally":
		return fmt.Errorf("no module %q in the store", ref.Name)
	case ref.Pinned() && ref.Version != "1" && ref.Version != "2":
		return fmt.Errorf("module %q has no version %q (stored: 1, 2)", ref.Name, ref.Version)
	}
	return nil
}

var testOpts = ValidateOptions{KnownBehavior: catalog, KnownModule: modules}

// TestValidFiles loads every file in testdata/valid; the HCL and JSON forms
// of the same tree must come out equal.
func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	var first []byte
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := Load(data, f, testOpts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			c := CanonicalTree(tree)
			if first == nil {
				first = c
			} else if string(c) != string(first) {
				t.Errorf("tree differs from the other forms:\n%s\n%s", c, first)
			}
		})
	}
}

// TestInvalidFiles checks that each invalid file, in both formats, yields
// exactly the problems listed in its .want file, in order.
func TestInvalidFiles(t *testing.T) {
	wants, _ := filepath.Glob("testdata/invalid/*.want")
	if len(wants) == 0 {
		t.Fatal("no testdata")
	}
	for _, w := range wants {
		base := strings.TrimSuffix(w, ".want")
		wantData, err := os.ReadFile(w)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Split(strings.TrimRight(string(wantData), "\n"), "\n")
		for _, ext := range []string{".json", ".hcl"} {
			f := base + ext
			t.Run(filepath.Base(f), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				tree, err := Parse(data, f)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				err = Validate(tree, testOpts)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Validate = %v, want ErrInvalid", err)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("not an *Error: %T", err)
				}
				var got []string
				for _, p := range e.Problems {
					got = append(got, p.String())
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

func TestValidateErrorKinds(t *testing.T) {
	tests := []struct {
		file string
		kind error
	}{
		{"restart", ErrBadValue},
		{"names", ErrBadName},
		{"names", ErrRequired},
		{"duplicates", ErrDuplicate},
		{"behaviors", ErrUnknownBehavior},
		{"mixing", ErrFieldMix},
	}
	for _, tt := range tests {
		data, err := os.ReadFile("testdata/invalid/" + tt.file + ".json")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(data, tt.file+".json", testOpts)
		if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap %v and ErrInvalid", tt.file, err, tt.kind)
		}
		if errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %v wraps ErrSyntax", tt.file, err)
		}
	}
}

func worker(id string) ChildSpec { return ChildSpec{ID: id, Behavior: "counter"} }

func nest(depth int) *Tree {
	t := &Tree{Name: "deep"}
	sup := &t.SupervisorSpec
	for i := 1; i < depth; i++ {
		sup.Children = []ChildSpec{{ID: fmt.Sprintf("s%d", i), Type: Supervisor}}
		sup = &sup.Children[0].SupervisorSpec
	}
	sup.Children = []ChildSpec{worker("leaf")}
	return t
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	var out []string
	for _, p := range e.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestValidateLimits(t *testing.T) {
	many := func(n int) []ChildSpec {
		cs := make([]ChildSpec, n)
		for i := range cs {
			cs[i] = worker(fmt.Sprintf("w%d", i))
		}
		return cs
	}
	wide := &Tree{Name: "wide", SupervisorSpec: SupervisorSpec{Children: many(DefaultMaxChildren + 1)}}
	total := &Tree{Name: "total"}
	for i := 0; i < 20; i++ {
		total.Children = append(total.Children, ChildSpec{ID: fmt.Sprintf("s%d", i), Type: Supervisor, SupervisorSpec: SupervisorSpec{Children: many(250)}})
	}
	big := &Tree{Name: "big", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{worker("a")}}}
	big.Children[0].Args = map[string]string{}
	for i := 0; i < MaxArgs; i++ {
		big.Children[0].Args[fmt.Sprintf("k%02d", i)] = strings.Repeat("x", MaxArgValueLen)
	}
	big.Children = append(big.Children, big.Children[0].Clone(), big.Children[0].Clone(), big.Children[0].Clone(), big.Children[0].Clone())
	for i := range big.Children {
		big.Children[i].ID = fmt.Sprintf("a%d", i)
	}
	tooManyArgs := &Tree{Name: "args", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{worker("a")}}}
	tooManyArgs.Children[0].Args = map[string]string{}
	for i := 0; i <= MaxArgs; i++ {
		tooManyArgs.Children[0].Args[fmt.Sprintf("k%02d", i)] = "v"
	}
	tests := []struct {
		name string
		tree *Tree
		opts ValidateOptions
		want []string
	}{
		{"depth at limit", nest(DefaultMaxDepth), testOpts, nil},
		{"depth over limit", nest(DefaultMaxDepth + 1), testOpts, []string{
			"children[0].children[0].children[0].children[0].children[0].children[0].children[0].children[0].children[0].children[0].children: nesting depth 11 is more than the limit of 10",
		}},
		{"depth option", nest(3), ValidateOptions{MaxDepth: 2}, []string{
			"children[0].children[0].children: nesting depth 3 is more than the limit of 2",
		}},
		{"children at limit", &Tree{Name: "w", SupervisorSpec: SupervisorSpec{Children: many(DefaultMaxChildren)}}, testOpts, nil},
		{"children over limit", wide, testOpts, []string{"children: 257 children, more than the limit of 256"}},
		{"children option", &Tree{Name: "w", SupervisorSpec: SupervisorSpec{Children: many(3)}}, ValidateOptions{MaxChildren: 2}, []string{"children: 3 children, more than the limit of 2"}},
		{"total over limit", total, testOpts, []string{"children: the tree has 5020 children in all, more than the limit of 4096"}},
		{"size over limit", big, testOpts, []string{"the tree encodes to 1314494 bytes, more than the limit of 1048576"}},
		{"args over limit", tooManyArgs, testOpts, []string{"children[0].args: 65 args, more than the limit of 64"}},
		{"no name", &Tree{}, testOpts, []string{"name: required"}},
		{"no children", &Tree{Name: "empty"}, testOpts, nil},
		{"shutdown option", &Tree{Name: "s", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "a", Behavior: "echo", Shutdown: "2m"}}}},
			ValidateOptions{MaxShutdown: 60e9}, []string{`children[0].shutdown: "2m" is neither "brutal_kill", "infinity" nor a duration in [0, 1m0s]`}},
		{"nil catalog accepts any behavior", &Tree{Name: "s", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "a", Behavior: "whatever"}}}}, ValidateOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, Validate(tt.tree, tt.opts))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateCapsProblems(t *testing.T) {
	tree := &Tree{Name: "many"}
	for i := 0; i < 150; i++ {
		tree.Children = append(tree.Children, ChildSpec{ID: fmt.Sprintf("w%d", i), Behavior: "nope"})
	}
	err := Validate(tree, testOpts)
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != MaxProblems || e.Omitted != 50 {
		t.Fatalf("got %d problems, %d omitted", len(e.Problems), e.Omitted)
	}
	if !strings.HasSuffix(err.Error(), "; and 50 more") {
		t.Errorf("message does not count the rest: %q", err.Error()[len(err.Error())-40:])
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	tree := &Tree{Name: "web", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{worker("a")}}}
	before := string(mustJSON(tree))
	if err := Validate(tree, testOpts); err != nil {
		t.Fatal(err)
	}
	if after := string(mustJSON(tree)); after != before {
		t.Errorf("Validate modified the tree:\n%s\n%s", before, after)
	}
}

func TestValidateChild(t *testing.T) {
	err := ValidateChild(ChildSpec{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{
		Strategy: "bogus",
		Children: []ChildSpec{{ID: "w", Behavior: "nope"}},
	}}, testOpts)
	want := []string{
		`strategy: "bogus" is not one of one_for_one, one_for_all, rest_for_one, simple_one_for_one`,
		`children[0].behavior: unknown behavior "nope"`,
	}
	if got := problemsOf(t, err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := ValidateChild(worker("ok"), testOpts); err != nil {
		t.Errorf("valid child: %v", err)
	}
}

func TestValidName(t *testing.T) {
	for _, s := range []string{"a", "web", "n1", "A.b-c_d", "0", strings.Repeat("x", 63)} {
		if !ValidName(s) {
			t.Errorf("ValidName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-a", ".a", "_a", "a/b", "a b", "é", strings.Repeat("x", 64)} {
		if ValidName(s) {
			t.Errorf("ValidName(%q) = true", s)
		}
	}
	if ValidRegisteredName("1abc") || !ValidRegisteredName("abc1") || !ValidRegisteredName(strings.Repeat("x", 128)) || ValidRegisteredName(strings.Repeat("x", 129)) {
		t.Error("ValidRegisteredName")
	}
}

// TestShutdownValues: OTP's shutdown() = brutal_kill | timeout() where
// timeout() = 0.. | infinity; each reads in HCL and JSON, and Normalize
// gives a worker "5s" and a supervisor "infinity" when none is given.
func TestShutdownValues(t *testing.T) {
	for _, tt := range []struct{ hcl, json, want string }{
		{`"brutal_kill"`, `"brutal_kill"`, BrutalKill},
		{`"infinity"`, `"infinity"`, Infinity},
		{`0`, `0`, "0s"},
		{`"0"`, `"0"`, "0s"},
		{`"0ms"`, `"0ms"`, "0s"},
		{`"2500ms"`, `"2500ms"`, "2.5s"},
	} {
		files := map[string]string{
			"x.hcl":  "tree \"w\" {\n  child \"a\" {\n    behavior = \"echo\"\n    shutdown = " + tt.hcl + "\n  }\n}\n",
			"x.json": `{"name":"w","children":[{"id":"a","behavior":"echo","shutdown":` + tt.json + `}]}`,
		}
		for name, data := range files {
			tree, err := Load([]byte(data), name, testOpts)
			if err != nil {
				t.Errorf("shutdown %s in %s: %v", tt.json, name, err)
				continue
			}
			if got := tree.Children[0].Shutdown; got != tt.want {
				t.Errorf("shutdown %s in %s reads as %q, want %q", tt.json, name, got, tt.want)
			}
		}
	}
	for _, bad := range []string{`5000`, `"-1ms"`, `"forever"`, `"Infinity"`} {
		_, err := Load([]byte(`{"name":"w","children":[{"id":"a","behavior":"echo","shutdown":`+bad+`}]}`), "x.json", testOpts)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "children[0].shutdown") {
			t.Errorf("shutdown %s: %v, want a bad value at children[0].shutdown", bad, err)
		}
	}
	tr := &Tree{Name: "w", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{
		{ID: "a", Behavior: "echo"},
		{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "b", Behavior: "echo"}}}},
	}}}
	Normalize(tr)
	if w, s := tr.Children[0].Shutdown, tr.Children[1].Shutdown; w != "5s" || s != Infinity {
		t.Errorf("default shutdowns: worker %q, supervisor %q; want 5s, infinity", w, s)
	}
	if tr.MaxRestarts != 1 || tr.MaxSeconds != 5 {
		t.Errorf("default intensity %d/%d, want OTP's 1/5", tr.MaxRestarts, tr.MaxSeconds)
	}
}
