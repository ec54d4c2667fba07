package spec

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		data, file string
		want       Format
	}{
		{`name = "x"`, "a.hcl", FormatHCL},
		{`{"name":"x"}`, "a.HCL", FormatHCL},
		{`name = "x"`, "a.json", FormatJSON},
		{"  \n{\"name\":\"x\"}", "", FormatJSON},
		{"\ufeff{}", "spec.txt", FormatJSON},
		{`tree "x" {}`, "-", FormatHCL},
		{"", "", FormatHCL},
	}
	for _, tt := range tests {
		if got := DetectFormat([]byte(tt.data), tt.file); got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tt.data, tt.file, got, tt.want)
		}
	}
}

// TestParseSyntaxErrors: files that cannot be read at all. Each wraps
// ErrSyntax (or ErrTooLarge) and mentions what is wrong.
func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             []string // substrings of the error, in order
	}{
		{"json unknown field", "x.json", `{"name":"w","children":[{"id":"a","behavior":"echo","restrat":"permanent"}]}`,
			[]string{"children[0].restrat: unknown field"}},
		{"json key case", "x.json", `{"Name":"w"}`, []string{"Name: unknown field"}},
		{"json duplicate key", "x.json", `{"name":"w","name":"v"}`, []string{"name: duplicate key"}},
		{"json wrong types", "x.json", `{"name":1,"max_restarts":"3","children":{},"node":true}`,
			[]string{"name: expected a string, got a number", "max_restarts: expected an integer, got a string", "children: expected an array, got an object", "node: expected a string, got a boolean"}},
		{"json fraction", "x.json", `{"name":"w","max_seconds":1.5}`, []string{"max_seconds: expected an integer, got 1.5"}},
		{"json args not strings", "x.json", `{"name":"w","children":[{"id":"a","args":{"n":1}}]}`, []string{"children[0].args.n: expected a string, got a number"}},
		{"json child not object", "x.json", `{"name":"w","children":["a"]}`, []string{"children[0]: expected a JSON object, got a string"}},
		{"json not object", "x.json", `[1]`, []string{"expected a JSON object, got an array"}},
		{"json trailing", "x.json", `{"name":"w"} {}`, []string{"trailing data"}},
		{"json truncated", "x.json", `{"name":"w"`, []string{"unexpected EOF"}},
		{"json bad", "x.json", `{"name" "w"}`, []string{"offset"}},
		{"json deep", "x.json", strings.Repeat("[", 100) + strings.Repeat("]", 100), []string{"nested deeper than 64"}},
		{"hcl unknown attribute", "x.hcl", "name = \"w\"\nchild \"a\" {\n  behavior = \"echo\"\n  restrat = \"permanent\"\n}\n",
			[]string{`children[0]: x.hcl:4,3-10: Unsupported argument: An argument named "restrat" is not expected here.`}},
		{"hcl unknown block", "x.hcl", "name = \"w\"\nchildren {}\n", []string{`Unsupported block type`}},
		{"hcl wrong type", "x.hcl", "name = \"w\"\nmax_restarts = \"many\"\n", []string{"max_restarts: x.hcl:2,17-21: Unsuitable value type"}},
		{"hcl variable", "x.hcl", "name = var.name\n", []string{"name: x.hcl:1,8-11: Variables not allowed"}},
		{"hcl syntax", "x.hcl", "name = \n", []string{"x.hcl:1"}},
		{"hcl tree plus attributes", "x.hcl", "node = \"n1\"\ntree \"w\" {}\n", []string{"a tree block must be the only thing in the file"}},
		{"hcl two trees", "x.hcl", "tree \"a\" {}\ntree \"b\" {}\n", []string{"a tree block must be the only thing in the file"}},
		{"hcl name in tree block", "x.hcl", "tree \"a\" {\n  name = \"b\"\n}\n", []string{`Unsupported argument`}},
		{"hcl deep", "x.hcl", strings.Repeat("child \"a\" {\n", 70) + strings.Repeat("}\n", 70), []string{"nested deeper than 64"}},
		{"too large", "x.json", `{"name":"` + strings.Repeat("x", MaxSpecBytes) + `"}`, []string{"spec too large"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), tt.file)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%v wraps neither ErrSyntax nor ErrTooLarge", err)
			}
			if errors.Is(err, ErrInvalid) {
				t.Errorf("%v wraps ErrInvalid", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q", msg, w)
				}
				msg = msg[i+len(w):]
			}
		})
	}
}

// TestParseIntensity: a file's intensity fields, given or not.
func TestParseIntensity(t *testing.T) {
	tests := []struct {
		name, data        string
		restarts, seconds int
	}{
		{"both absent", `{"name":"w"}`, 1, 5},
		{"restarts zero only", `{"name":"w","max_restarts":0}`, 0, 5},
		{"seconds only", `{"name":"w","max_seconds":60}`, 1, 60},
		{"both given", `{"name":"w","max_restarts":10,"max_seconds":60}`, 10, 60},
		{"restarts only", `{"name":"w","max_restarts":7}`, 7, 5},
	}
	for _, tt := range tests {
		for _, form := range []string{"json", "hcl"} {
			data := tt.data
			if form == "hcl" {
				data = jsonToHCLFlat(t, tt.data)
			}
			tree, err := Load([]byte(data), "x."+form, ValidateOptions{})
			if err != nil {
				t.Errorf("%s/%s: %v", tt.name, form, err)
				continue
			}
			if tree.MaxRestarts != tt.restarts || tree.MaxSeconds != tt.seconds {
				t.Errorf("%s/%s: intensity %d/%d, want %d/%d", tt.name, form, tree.MaxRestarts, tree.MaxSeconds, tt.restarts, tt.seconds)
			}
		}
	}
}

// TestParseZeroPeriod: a spelled-out max_seconds = 0 is refused with a
// field error, never read as the default period (OTP: period > 0), in
// both formats, at the root and in a supervisor child; a worker's zero
// (the canonical JSON spells it out) is not an intensity.
func TestParseZeroPeriod(t *testing.T) {
	for _, tt := range []struct{ data, path string }{
		{`{"name":"w","max_seconds":0}`, "max_seconds"},
		{`{"name":"w","max_restarts":0,"max_seconds":0}`, "max_seconds"},
		{`{"name":"w","max_restarts":7,"max_seconds":0}`, "max_seconds"},
		{`{"name":"w","children":[{"id":"s","type":"supervisor","max_seconds":0,"children":[{"id":"a","behavior":"echo"}]}]}`, "children[0].max_seconds"},
	} {
		forms := []string{"json"}
		if !strings.Contains(tt.data, "children") {
			forms = append(forms, "hcl")
		}
		for _, form := range forms {
			data := tt.data
			if form == "hcl" {
				data = jsonToHCLFlat(t, tt.data)
			}
			_, err := Parse([]byte(data), "x."+form)
			if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tt.path+": 0 is out of range 1..3600") {
				t.Errorf("%s (%s): %v, want a bad value at %s", tt.data, form, err, tt.path)
			}
		}
	}
	c := `{"name":"w","max_restarts":1,"max_seconds":5,"children":[{"id":"a","behavior":"echo","strategy":"","max_restarts":0,"max_seconds":0,"children":null}]}`
	if _, err := Load([]byte(c), "", testOpts); err != nil {
		t.Errorf("a worker's zero intensity: %v", err)
	}
}

// jsonToHCLFlat turns a flat JSON object of strings and numbers into HCL
// attributes.
func jsonToHCLFlat(t *testing.T, data string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range []string{"name", "node", "strategy", "max_restarts", "max_seconds"} {
		if v, ok := m[k]; ok {
			out, _ := json.Marshal(v)
			b.WriteString(k + " = " + string(out) + "\n")
		}
	}
	return b.String()
}

// TestJSONRoundTrip: encoding/json's output of a normalized Tree (what is
// committed and handed around), zeros of workers and all, reads back as the
// same tree. An unnormalized supervisor's MaxSeconds 0 would be spelled out
// as max_seconds 0, which Parse refuses (TestParseZeroPeriod).
func TestJSONRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/web.hcl")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Load(data, "web.hcl", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	zero := &Tree{Name: "zero", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "a", Behavior: "echo"}}}}
	Normalize(zero)
	for _, in := range []*Tree{tree, zero} {
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Load(out, "", testOpts)
		if err != nil {
			t.Fatalf("re-reading %s: %v", out, err)
		}
		if string(CanonicalTree(back)) != string(CanonicalTree(in)) {
			t.Errorf("round trip changed the tree:\n%s\n%s", CanonicalTree(back), CanonicalTree(in))
		}
	}
}

func TestParseNullIsAbsent(t *testing.T) {
	tree, err := Parse([]byte(`{"name":"w","node":null,"children":[{"id":"a","behavior":"echo","args":null}]}`), "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if tree.Node != "" || tree.Children[0].Args != nil {
		t.Errorf("null not read as absent: %+v", tree)
	}
}

func TestParseChild(t *testing.T) {
	c, err := ParseChildJSON([]byte(`{"id":"s","type":"supervisor","max_restarts":0,"children":[{"id":"w","behavior":"echo"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxRestarts != 0 || c.MaxSeconds != 5 || len(c.Children) != 1 {
		t.Errorf("child = %+v", c)
	}
	if _, err := ParseChildJSON([]byte(`{"id":"s","bogus":1}`)); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "bogus: unknown field") {
		t.Errorf("unknown field: %v", err)
	}
}

func TestParseKeepsOrder(t *testing.T) {
	tree, err := Parse([]byte("name = \"w\"\nchild \"z\" { behavior = \"echo\" }\nchild \"a\" { behavior = \"echo\" }\nchild \"m\" { behavior = \"echo\" }\n"), "x.hcl")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range tree.Children {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "z,a,m" {
		t.Errorf("children order %v, want z,a,m (start order is the written order)", ids)
	}
}
