package plan_test

import (
	"fmt"
	"os"
	"time"

	"github.com/steward/steward/plan"
)

func ExampleBuild() {
	p, err := plan.Parse([]byte(`{"safety_level":"moderate","timeout":"30s","operations":[
	  {"id":"a","type":"kill_process","node":"n1","target":{"supervisor":"web","child_id":"c1"}},
	  {"id":"b","type":"send_message","node":"n1","target":{"name":"peer"},"params":{"message":"ping"}}]}`), "plan.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	facts := &plan.Facts{
		Nodes: []plan.NodeFacts{{Node: "n1", Alive: true}},
		Operations: []plan.OperationFacts{
			{OpID: "a", Target: plan.ProcessFacts{Exists: true, Alive: true, PID: "n1/5", Node: "n1", Tree: "web", Slot: "c1", Restart: "permanent"},
				Affected: []plan.AffectedProcess{{PID: "n1/7", Node: "n1", Relation: plan.Linked}}},
			{OpID: "b", Target: plan.ProcessFacts{Exists: true, Alive: true, PID: "n1/7", Node: "n1", Status: plan.Running}},
		},
	}
	r, err := plan.Build(p, facts, plan.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.DryRun().WriteText(os.Stdout)
	// Output:
	// plan: 2 operations, safety level moderate, timeout 30s
	//
	// phase 0 (level 0, impact 3, ~365ms)
	//   a: kill_process web/c1
	//   pre:  targets_alive, resources_available, parameters_valid
	//   post: operation_effect, no_side_effects
	//   rollback a: restart_child web (ensure web/c1 runs again (a no-op if its supervisor restarted it))
	//
	// phase 1 (level 1, impact 1, ~340ms)
	//   b: send_message name peer
	//   pre:  targets_alive, resources_available, parameters_valid, system_stable
	//   post: operation_effect, no_side_effects, system_stable
	//   rollback b: none (a delivered message cannot be recalled)
	//
	// ordering:
	//   a -> b (implicit: kill_process n1/5 affects linked n1/7, the target of b)
	//
	// estimate: 705ms (operations 115ms, checks 390ms, barriers 200ms)
}
