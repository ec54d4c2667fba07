// Package datadriven runs scripted scenario tests in the style of
// etcd-io/raft's interaction tests: a script in testdata is a sequence of
// steps, each a command line, optional input lines, a "----" line, and the
// output the command must produce, ended by a blank line. Lines starting
// with '#', and blank lines between steps, are comments kept as they are.
//
//	crash b
//	----
//	exited b crash
//	restarted b crash
//
// With update set (a test's -update flag), Run rewrites each step's output
// with what the command produced instead of comparing.
//
// It is a test helper for the packages whose behaviour is a sequence
// (supervisor strategies, the plan state machine); it knows nothing of
// what the commands mean.
package datadriven

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Step is one command of a script.
type Step struct {
	// Line is the command's line in the file, from 1.
	Line int
	Cmd  string
	// Input are the lines between the command and "----".
	Input []string
	// Want is the output the script expects, its lines joined by "\n".
	Want string
	// pre are the comments and blank lines before the step.
	pre []string
}

// Parse reads a script: its steps, and the comment lines after the last.
func Parse(path string) (steps []Step, tail []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			i++
			continue
		}
		st := Step{pre: pre, Line: i + 1, Cmd: l}
		pre = nil
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			st.Input = append(st.Input, lines[i])
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("%s:%d: %q has no ---- line", path, st.Line, l)
		}
		var want []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			want = append(want, lines[i])
		}
		if i < len(lines) {
			i++ // the blank line that ends the output
		}
		st.Want = strings.Join(want, "\n")
		steps = append(steps, st)
	}
	return steps, pre, nil
}

// Run runs the script at path: each step's command and input through run,
// whose output (trailing newlines trimmed) must be the step's; with update,
// the file is rewritten with the outputs produced instead.
func Run(t testing.TB, path string, update bool, run func(cmd string, input []string) string) {
	t.Helper()
	steps, tail, err := Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, st := range steps {
		got := strings.TrimRight(run(st.Cmd, st.Input), "\n")
		if strings.Contains(got, "\n\n") {
			t.Fatalf("%s:%d: output with a blank line cannot be written: %q", path, st.Line, got)
		}
		if !update && got != st.Want {
			t.Errorf("%s:%d: %s\n--- want\n%s\n--- got\n%s", path, st.Line, st.Cmd, st.Want, got)
		}
		for _, l := range st.pre {
			out.WriteString(l + "\n")
		}
		out.WriteString(st.Cmd + "\n")
		for _, l := range st.Input {
			out.WriteString(l + "\n")
		}
		out.WriteString("----\n" + got + "\n\n")
	}
	for _, l := range tail {
		out.WriteString(l + "\n")
	}
	if update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
