package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward/steward/internal/fuzzseed"
)

// FuzzParseBuild: Parse, then Build (without facts and with facts made up
// from the plan), then evaluating every check, never panic.
func FuzzParseBuild(f *testing.F) {
	files, _ := filepath.Glob("testdata/*valid/*")
	for _, pattern := range []string{"../examples/plans/*"} {
		more, _ := filepath.Glob(pattern)
		files = append(files, more...)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		fuzzseed.Add(f, data, filepath.Base(file))
	}
	fuzzseed.Add(f, []byte(`{"operations":[{"id":"a","type":"kill_process","target":{"pid":"n1/1"},"depends_on":["b"]},{"id":"b","type":"kill_process","target":{"pid":"n1/1"},"depends_on":["a"]}]}`), "x.json")
	fuzzseed.Add(f, []byte(`operation "a" { params { child "x" { type = "supervisor" } } }`), "x.hcl")
	w := world()
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		p, err := Parse(data, name)
		if err != nil {
			return
		}
		if r, err := Build(p, nil, testOpts); err == nil && r == nil {
			t.Fatal("no result and no error")
		}
		facts := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}}
		for i, op := range p.Operations {
			fact := OperationFacts{OpID: op.ID, Target: ProcessFacts{Exists: i%5 != 4, Alive: i%3 != 2, PID: fmt.Sprintf("n1/%d", i%7+1), Node: "n1", Kind: KindSupervisor, Tree: op.Target.Supervisor, Slot: op.Target.ChildID}}
			if i%2 == 0 {
				fact.Affected = []AffectedProcess{{PID: fmt.Sprintf("n1/%d", (i+1)%7+1), Node: "n1", Relation: Linked}}
				fact.Child = &ProcessFacts{Exists: true, PID: "n1/11", Tree: "web", Slot: "sub/w"}
			}
			facts.Operations = append(facts.Operations, fact)
		}
		r, _ := Build(p, facts, testOpts)
		if r == nil {
			return
		}
		for _, ph := range r.Phases {
			for _, c := range ph.PreChecks {
				Evaluate(c, w, nil)
			}
			for _, c := range ph.PostChecks {
				Evaluate(c, w, w)
			}
		}
		_ = r.DryRun()
	})
}
