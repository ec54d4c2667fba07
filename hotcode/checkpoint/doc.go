// Package checkpoint is the checkpoint layer (issue 16, item 6): it
// records the active version of a set of modules, and optionally the
// exported state of every worker running them, in one CHECKPOINT_CREATE
// entry, and rolls the cluster back to a checkpoint through coordinated
// deployments (hotcode/deploy) and a plan of replace_state operations
// (the coordination layer).
//
// It owns:
//   - the Checkpoints gRPC service: Create (forwarded to the leader, where
//     the versions are read and the states gathered from every node over
//     the Internal service's CheckpointStates), List, Inspect, Delete
//     (CHECKPOINT_DELETE) and Rollback (on the leader: one deployment per
//     module whose following processes are not on the checkpoint's
//     version, in dependency order, each waited for, then the states put
//     back);
//   - the CheckpointStates answer of this node: its workers running the
//     modules, each state read between two messages (sys:get_state).
//
// Limits (MaxCheckpoints, MaxStateBytes, the per-process limit) are the
// leader's: they travel in the command, and Apply refuses alike on every
// replica. A checkpoint pins the versions it names: the state machine
// neither evicts nor deletes them while it exists (state/checkpoints.go).
//
// It must not act on processes itself: the deployments and plans it
// commits do, through the nodes' executors.
package checkpoint
