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
// the nodes restored (so reconcilers keep what restore brings back), and a
// coordinated plan, with the plan engine's checks, restarts missing
// children, imports saved states and re-registers names. What cannot be
// restored (unsupervised processes, dynamic children, queued messages) is
// reported with the reason.
//
// The package must not change the replicated state except through commands,
// nor act on a runtime outside a committed capture or a restore plan.
// Capture deadlines and a restore's wait are timed by Config.Clock (with the
// node's, which dates the commands), which tests advance.
package snapshot
