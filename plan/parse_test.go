package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/spec"
)

func catalog(name string) bool { return name == "counter" || name == "echo" }

var testOpts = Options{KnownBehavior: catalog, Now: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)}

func TestParseValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*")
	if len(files) < 2 {
		t.Fatal("no testdata")
	}
	var first string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(data, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n, err := normalize(p, testOpts)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out, _ := json.Marshal(n)
		if first == "" {
			first = string(out)
		} else if string(out) != first {
			t.Errorf("%s differs from the other form:\n%s\n%s", f, out, first)
		}
	}
}

func TestInvalidFiles(t *testing.T) {
	wants, _ := filepath.Glob("testdata/invalid/*.want")
	if len(wants) == 0 {
		t.Fatal("no testdata")
	}
	for _, w := range wants {
		base := strings.TrimSuffix(w, ".want")
		wantData, _ := os.ReadFile(w)
		want := strings.TrimRight(string(wantData), "\n")
		for _, ext := range []string{".json", ".hcl"} {
			f := base + ext
			data, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			t.Run(filepath.Base(f), func(t *testing.T) {
				p, err := Parse(data, f)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				err = Validate(p, testOpts)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Validate = %v, want ErrInvalid", err)
				}
				if got := problemLines(t, err); got != want {
					t.Errorf("problems:\n%s\nwant:\n%s", got, want)
				}
				if _, err := Build(p, nil, testOpts); !errors.Is(err, ErrInvalid) {
					t.Errorf("Build = %v, want ErrInvalid", err)
				}
			})
		}
	}
}

func problemLines(t *testing.T, err error) string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	var lines []string
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

func TestValidateErrorKinds(t *testing.T) {
	data, _ := os.ReadFile("testdata/invalid/deps.json")
	p, err := Parse(data, "deps.json")
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(p, testOpts)
	for _, k := range []error{ErrInvalid, ErrCycle, ErrDependency, ErrDuplicate} {
		if !errors.Is(err, k) {
			t.Errorf("%v does not wrap %v", err, k)
		}
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             []string
	}{
		{"json unknown field", "p.json", `{"operations":[{"id":"a","type":"kill_process","target":{"pid":"n1/1"},"after":["b"]}]}`, []string{"operations[0].after: unknown field"}},
		{"json key case", "p.json", `{"Operations":[]}`, []string{"Operations: unknown field"}},
		{"json duplicate key", "p.json", `{"timeout":"1s","timeout":"2s"}`, []string{"timeout: duplicate key"}},
		{"json types", "p.json", `{"timeout":30,"constraints":{"max_parallel":"2"},"operations":{}}`,
			[]string{"timeout: expected a string, got a number", "constraints.max_parallel: expected an integer, got a string", "operations: expected an array, got an object"}},
		{"json bad time", "p.json", `{"constraints":{"window":{"not_after":"tomorrow"}}}`, []string{`constraints.window.not_after: "tomorrow" is not an RFC 3339 time`}},
		{"json child spec field", "p.json", `{"operations":[{"id":"a","type":"start_child","target":{"supervisor":"w"},"params":{"child":{"id":"x","behaviour":"echo"}}}]}`,
			[]string{"operations[0].params.child.behaviour: unknown field"}},
		{"json depends_on type", "p.json", `{"operations":[{"id":"a","depends_on":"b"}]}`, []string{"operations[0].depends_on: expected an array of strings, got a string"}},
		{"json too many operations", "p.json", `{"operations":[` + strings.Repeat(`{},`, MaxOperations) + `{}]}`, []string{"operations: 1001 operations, more than the limit of 1000"}},
		{"json deep", "p.json", strings.Repeat("[", 100), []string{"nested deeper than 64"}},
		{"hcl unknown attribute", "p.hcl", "operation \"a\" {\n  kind = \"x\"\n}\n", []string{`operations[0]: p.hcl:2,3-7: Unsupported argument`}},
		{"hcl two targets", "p.hcl", "operation \"a\" {\n  target {\n    pid = \"n1/1\"\n  }\n  target {\n    pid = \"n1/2\"\n  }\n}\n", []string{"operations[0].target: p.hcl:5,3-9: only one target block is allowed"}},
		{"hcl two constraints", "p.hcl", "constraints {}\nconstraints {}\n", []string{"constraints: p.hcl:2,1-12: only one constraints block is allowed"}},
		{"hcl child spec problem", "p.hcl", "operation \"a\" {\n  params {\n    child \"x\" {\n      restrat = \"x\"\n    }\n  }\n}\n", []string{"operations[0].params.child: p.hcl:4,7-14: Unsupported argument"}},
		{"hcl bad time", "p.hcl", "constraints {\n  window {\n    not_before = \"soon\"\n  }\n}\n", []string{`constraints.window.not_before: "soon" is not an RFC 3339 time`}},
		{"hcl syntax", "p.hcl", "operation \"a\" {\n", []string{"p.hcl:"}},
		{"too large", "p.json", `{"timeout":"` + strings.Repeat("x", MaxPlanBytes) + `"}`, []string{"plan too large"}},
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

func TestValidateDefaults(t *testing.T) {
	p := &Plan{Operations: []Operation{
		{ID: "a", Type: KillProcess, Target: Target{PID: "n1/5"}},
		{ID: "b", Type: StartChild, Target: Target{Supervisor: "web"}, Params: Params{Child: nil, Args: map[string]string{"n": "1"}}},
	}}
	n, err := normalize(p, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if n.SafetyLevel != Moderate || n.Timeout != "30s" || n.Operations[0].Params.Reason != "kill" || n.Operations[0].Node != "n1" {
		t.Errorf("defaults not applied: %+v", n)
	}
	if p.SafetyLevel != "" || p.Operations[0].Node != "" {
		t.Error("normalize modified its input")
	}
}

func TestValidateLimits(t *testing.T) {
	ops := make([]Operation, MaxOperations+1)
	for i := range ops {
		ops[i] = Operation{ID: fmt.Sprintf("o%d", i), Type: SendMessage, Target: Target{PID: "n1/1"}, Params: Params{Message: "x"}}
	}
	err := Validate(&Plan{Operations: ops}, testOpts)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "1001 operations, more than the limit of 1000") {
		t.Errorf("too many operations: %v", err)
	}
	if err := Validate(&Plan{Operations: ops[:MaxOperations]}, testOpts); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	big := []Operation{{ID: "a", Type: SendMessage, Target: Target{PID: "n1/1"}, Params: Params{Message: strings.Repeat("x", MaxMessageBytes+1)}}}
	if err := Validate(&Plan{Operations: big}, testOpts); !errors.Is(err, ErrLimit) {
		t.Errorf("big message: %v", err)
	}
	if err := Validate(&Plan{Timeout: "25h", Operations: ops[:1]}, testOpts); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("long timeout: %v", err)
	}
	if err := Validate(&Plan{Timeout: "soon", Operations: ops[:1]}, testOpts); err == nil {
		t.Error("bad timeout accepted")
	}
}

var specChild = spec.ChildSpec{ID: "c9", Behavior: "counter"}
