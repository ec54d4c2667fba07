// Package health is the layer that says whether the cluster is what it
// should be, and whether each node stays within its resource thresholds.
//
// Validation (the seed's comprehensive consistency check, done for real):
// each node checks its own runtime's invariants (actor.Runtime.Validate: process
// states, supervisors' children against their specs, bidirectional links,
// monitors recorded on both sides, registered names on live processes,
// trees and their members) and compares the runtime with the desired state
// committed for it: every tree placed on the node runs there, at the spec
// index the reconciler last applied, every supervisor at its spec's
// strategy and intensity and with its spec's children, and no tree runs
// there that the desired state does not place there. The Validate RPC fans
// out to the nodes in parallel; by default it runs on the leader, which
// hands the nodes its commit point so that each compares against a replica
// at least that fresh. A node that cannot be asked is reported as
// node_unreachable. Each node lets its runtime settle (a supervisor busy
// with an exit, a reconciler catching up with a commit) for a bounded time
// before it reports what is still wrong.
//
// Resource thresholds are replicated state (package state, THRESHOLDS_SET).
// Every node samples itself at Config.SampleInterval — memory (the agent's
// Go heap in use plus goroutine stacks, which hold every process's mailbox,
// state and stack; the runtime's own per-process estimate is reported
// beside it but not added, as it counts the same bytes), live processes,
// the longest mailbox and the total queued (only the longest is bounded),
// and the agent's CPU use from /proc/self/stat (utime+stime over wall time
// and cores; unavailable elsewhere than Linux) — compares the sample with
// the committed thresholds, which it watches, and on every transition
// publishes a threshold_exceeded or threshold_cleared event on the node's
// runtime event stream. Active violations are in the node's status, and
// their metric names travel in its gossip metadata so that `members` shows
// every member's without asking any of them.
//
// It must not change the replicated state except through commands, nor act
// on the runtime: it only looks.
package health
