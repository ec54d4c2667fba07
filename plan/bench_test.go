package plan

import (
	"fmt"
	"testing"
)

// benchPlan is n operations in chains of ten (each depending on the one
// before), half of them sharing a target with an operation of another
// chain, with facts giving every operation two affected processes.
func benchPlan(n int) (*Plan, *Facts) {
	p := &Plan{SafetyLevel: Moderate}
	f := &Facts{Nodes: []NodeFacts{{Node: "n1", Alive: true}}}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("op%d", i)
		pid := fmt.Sprintf("n1/%d", i+1)
		if i%2 == 1 {
			pid = fmt.Sprintf("n1/%d", (i*7)%n+1)
		}
		op := Operation{ID: id, Type: SendMessage, Node: "n1", Target: Target{PID: pid}, Params: Params{Message: "x"}}
		if i%10 != 0 {
			op.DependsOn = []string{fmt.Sprintf("op%d", i-1)}
		}
		p.Operations = append(p.Operations, op)
		f.Operations = append(f.Operations, OperationFacts{OpID: id,
			Target: ProcessFacts{Exists: true, Alive: true, PID: pid, Node: "n1", Status: Running},
			Affected: []AffectedProcess{
				{PID: fmt.Sprintf("n1/%d", (i*13)%n+1), Node: "n1", Relation: Linked},
				{PID: fmt.Sprintf("n1/%d", (i*31)%n+1), Node: "n1", Relation: MonitoredBy},
			}})
	}
	return p, f
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		p, f := benchPlan(n)
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(p, f, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
