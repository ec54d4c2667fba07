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
// coordinated plans, with the plan engine's checks, run in two stages. The
// first restarts missing children and starts every simple_one_for_one
// instance that no longer runs again with its captured args; once its
// plans have finished, the second (planned against the processes they
// started: the plan engine plans only against live targets) imports saved
// states, re-registers names and re-sends the queued messages of each
// process restore brought back anew, oldest first, each send depending on
// the one before so that they arrive in order, and once: a plan step runs
// at most once (the executor commits its start before acting), and
// restore submits each plan once. A process still running as captured
// gets no message again (it handled them or still holds them).
//
// What is not restored is reported with the reason: unsupervised
// processes (no plan operation spawns one; a Go implementation outside the
// catalog could not be started at all), instances from a part of format 1
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
