// Package snapshot captures the runtime state of every node at one committed
// point, keeps it in the replicated state, and restores it.
//
// Capture follows the commit-then-act flow: the leader commits a capture
// request naming the nodes; each node captures its own runtime when it
// applies the request (supervision trees with their specs and children,
// processes with their info and, on request, state, queued messages, links
// and monitors; registered names; system figures), compresses it and
// commits it back in checksummed chunks. A snapshot is complete when every
// node's part is in, or partial, with the missing nodes named, after its
// deadline.
//
// Restore is real and goes through the same engines as everything else: the
// snapshot's supervision specs are committed back as the desired state of
// the nodes restored (so reconcilers keep what restore brings back), then
// coordinated plans, with the plan engine's checks, run in two stages. A
// tree the restore creates or moves (started afresh) carries its workers'
// captured states in its record (pb.TreeRestore, within an import_states'
// bounds, until the restore's timeout): its node's reconciler starts it
// with them (actor.Runtime.StartTreeWith, each worker importing its state
// after its Init and before its first message, once; a later restart
// starts from Init) and reports what it imported in its tree view; such a
// tree needs no import plan, and a node whose trees all started so and
// whose processes need nothing more is not even read. A node that reports
// no outcome (an earlier version) gets its states by plan, as below. The
// first restarts missing children, starts every simple_one_for_one
// instance that no longer runs again with its captured args, and spawns
// again (plan operation spawn) every unsupervised process of a catalog
// behavior that no longer runs, with its captured args (part format 3 on),
// state and name; once its
// plans have finished, the second (planned against the processes they
// started: the plan engine plans only against live targets) imports saved
// states, re-registers names and re-sends the queued messages of each
// process restore brought back anew, oldest first, each send depending on
// the one before so that they arrive in order, and once: a plan step runs
// at most once (the executor commits its start before acting), and
// restore submits each plan once. A process still running as captured
// gets no message again (it handled them or still holds them). The states
// of a tree's processes on a node go in one plan operation,
// import_states (cut at its entry and byte bounds), which checks before
// importing anything that every process it names runs the behavior
// captured, and after that each holds the state imported; a process that
// already runs another behavior when the restore plans is reported and
// keeps its state. Names and queued messages follow their tree's import.
// Restore plans hold at most plan.MaxOperations operations and
// plan.MaxPlanBytes bytes each, and are submitted side by side.
//
// What is not restored is reported with the reason: unsupervised
// processes whose behavior is a Go implementation outside the catalog
// (nothing can start them) or whose name another live process holds now
// (restore takes no name from one), the links and monitors of a process
// spawned again, states a plan cannot carry (over plan.MaxStateBytes, or
// not UTF-8), states of processes that run another behavior now than
// captured, spawn args from a part before format 3 (spawned without),
// instances from a part of format 1
// (no args recorded), calls, exit signals and monitor notifications among
// the queued messages, bodies over the capture limits (MaxQueuedPerProcess,
// MaxQueuedMessageBytes, MaxQueuedBytesPerPart), empty or non-UTF-8
// bodies, and whatever a restore plan failed to start.
//
// Parts are versioned (PartVersion); older ones stay readable.
//
// The package must not change the replicated state except through commands,
// nor act on a runtime outside a committed capture or a restore plan.
// Capture deadlines and a restore's wait are timed by Config.Clock (with the
// node's, which dates the commands), which tests advance.
package snapshot
