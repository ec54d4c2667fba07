// Package plan turns a coordinated operation plan plus live facts into
// phases: it parses and validates plan files, orders operations by explicit
// and implicit dependencies, groups them into phases per safety level,
// attaches pre- and post-checks as data, derives rollbacks, finds conflicts
// and estimates durations. It also evaluates checks, as pure functions,
// against observed before/after process tables.
//
// It must not do I/O, talk to the cluster, read the clock (Options.Now is
// passed in) or depend on map order: the same plan, facts and options give
// the same Result, byte for byte once encoded. Gathering facts, committing
// the plan through Raft and executing phases on nodes belong to the caller.
//
// # Plan files
//
// JSON, keys exactly as the struct tags (unknown and duplicate keys
// refused):
//
//	{"safety_level":"moderate","timeout":"30s",
//	 "constraints":{"max_parallel":4,"max_memory_bytes":1073741824,"max_process_count":10000,
//	                "max_total_queue_length":5000,
//	                "window":{"not_before":"2026-01-01T00:00:00Z","not_after":"2026-01-01T01:00:00Z"}},
//	 "operations":[
//	   {"id":"a","type":"kill_process","node":"n1","target":{"supervisor":"web","child_id":"c1"}},
//	   {"id":"b","type":"restart_supervisor","node":"n2","target":{"supervisor":"web"},"depends_on":["a"]}]}
//
// HCL, with one labeled operation block per operation:
//
//	safety_level = "moderate"
//	timeout      = "30s"
//	constraints {
//	  max_parallel = 4
//	  window { not_after = "2026-01-01T01:00:00Z" }
//	}
//	operation "a" {
//	  type = "kill_process"
//	  node = "n1"
//	  target {
//	    supervisor = "web"
//	    child_id   = "c1"
//	  }
//	}
//	operation "c" {
//	  type       = "start_child"
//	  target     { supervisor = "web" }
//	  params {
//	    child "c9" { behavior = "counter" }
//	  }
//	  depends_on = ["a"]
//	}
//
// A target is exactly one of: supervisor (a tree name) with an optional
// child_id (nested child ids joined by "/"), a registered name (with the
// operation's node), or a pid ("node/seq"). Parameters per type:
// kill_process reason (default "kill"); send_message message (required);
// change_supervisor_strategy strategy (required; not simple_one_for_one);
// start_child child (a spec.ChildSpec) or args (for a simple_one_for_one
// supervisor); terminate_child and restart_child child_id (required; a pid
// for a simple_one_for_one child); delete_child child_id (required, a
// static child's id: not for simple_one_for_one); replace_state state (required, the
// behavior's exported form); register_name name (required); spawn
// behavior (required, a catalog behavior), args, name (registered once
// the state is in) and state (imported before the name is registered).
// Parameters a type does not take are
// refused. Supervisor operations (restart_supervisor,
// change_supervisor_strategy, start_child, terminate_child, restart_child,
// delete_child) take a supervisor or pid target. spawn takes no target and
// needs node: it creates its process, whose pid its result reports:
//
//	{"id":"s","type":"spawn","node":"n1",
//	 "params":{"behavior":"counter","args":{"start":"5"},"name":"tally","state":"{\"count\":7}"}}
//
// A name already registered on the node refuses the plan (name_taken);
// its pre-check parameters_valid checks the name is still free; its
// post-check operation_effect that the process of its result (or, named,
// the one under its name) is alive, new, unsupervised, runs the behavior
// and holds the name; its rollback kills that process.
//
// # Limits and defaults
//
// At most MaxOperations (1000) operations and MaxPlanBytes (1 MiB) per
// file; timeout in (0, 24h], default 30s; safety level default moderate;
// message at most 64 KiB; replace_state's and spawn's state at most 256 KiB; reason at
// most 256 printable bytes; files nested
// deeper than 64 brackets refused. Ids, node and tree names follow
// spec.ValidName.
//
// # Planning
//
// Explicit edges come from depends_on. Implicit edges come from the facts:
// when an operation affects another's target (its affected processes, or
// a subtree it restarts or stops, contain that target) or both share a
// target, and depends_on orders neither before the other, an edge is
// added, oriented along the topological order of the explicit edges (ties
// broken by declaration order), so implicit edges never create a cycle.
// Every edge carries its reason. Levels are longest-path levels over all
// edges. Strict runs one operation per phase (by level, then declaration
// order); moderate splits each level into phases first-fit in declaration
// order so that a phase's impact stays within ImpactBudget (10), it holds at
// most MaxHighImpactPerPhase (3) high-impact operations and at most
// max_parallel operations; permissive splits a level only by max_parallel.
// Impact: send_message, suspend, resume and delete_child 1; kill_process,
// start_child, terminate_child, restart_child, spawn 2;
// change_supervisor_strategy 3; restart_supervisor 5; plus 1 per started
// 10 affected processes.
//
// Checks (see Check for what each verifies): pre targets_alive,
// resources_available, parameters_valid, system_stable, and for strict
// capture_state and external_dependencies; post operation_effect,
// no_side_effects, system_stable, and for strict consistency and
// supervision_trees. Evaluate runs one against observed state.
// system_stable (both) covers only the operations that need a stable node
// (NeedsStableNode): terminate_child, delete_child, kill_process and
// suspend_process stop, clear or halt work and run on a crash-looping node; a phase of only those has
// no system_stable. An operator may skip checks for one plan
// (Options.SkipChecks, of SkippableChecks); Result.SkippedChecks records
// them.
//
// Rollback: see Compensate. Conflicts: see ConflictKind; those of error
// severity make Build return ErrConflict. Estimates (ms): send_message 10,
// suspend/resume and delete_child 50, kill_process 100, change_supervisor_strategy 200,
// terminate_child 500, start_child, restart_child and spawn 1000,
// restart_supervisor 5000, plus 5 per affected process; a phase takes its
// slowest operation, plus 20 per pre-check, 50 per post-check, 10 per
// captured process and a 100 ms barrier; the total is the phases' sum.
package plan
