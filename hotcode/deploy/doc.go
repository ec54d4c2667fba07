// Package deploy is the deployment layer (issue 16, item 4): it moves
// running WebAssembly processes onto a module version phase by phase,
// through the plan engine, and reverts them in place.
//
// A deployment is committed in one DEPLOY_CREATE entry with its plan (the
// same id): one upgrade_code operation per target process, in batches
// (the canaries first, then max_parallel at a time; permissive: all at
// once), each batch gated on health unless permissive. The state machine
// (state/deployments.go) holds batches while the deployment is paused or
// its canaries await promotion, and decides what a failed batch does:
// strict, or any level with auto_revert, reverts every batch that ran,
// last first; moderate pauses; permissive fails. Each node's coordination
// executor runs its share of a batch: each process is moved between two
// messages (a system message), keeps its PID, links, monitors, name,
// timers and mailbox, and a failing code_change leaves it on its old
// instance. A revert moves exactly the processes that moved back, with
// code_change down, or, when the new version declares no downgrade, by
// importing the state captured just before its upgrade.
//
// It owns:
//   - the Deployments gRPC service: Submit (forwarded to the leader, where
//     targets are gathered from every node over the Internal service's
//     CodeTargets, the plan is built and conflicts with other plans are
//     refused), Get, List (the history), Watch, Control;
//   - the CodeTargets answer of this node;
//   - the defaults of Nomad's update block (Defaults).
//
// It must not act on processes itself: executors do, from committed
// batches only. Work arrives through the plan records, so a node that
// only follows committed state (a client agent, later) runs the same way.
package deploy
