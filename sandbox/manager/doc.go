// Package manager is the cluster side of sandboxes: the Sandboxes and
// Experiments gRPC services, creation through Raft, placement and
// re-placement, and the leader's watch over creations in progress.
//
// It owns:
//   - create: a sandbox file or an experiment file is parsed and checked
//     on the leader (policy, tree against the catalog, modules and their
//     versions, placement), then committed as one creation group
//     (EXPERIMENT_CREATE): a sandbox created alone is a group of one. The
//     nodes run their parts (the supervision layer's reconciler, with
//     sandbox.Start) and report each placement (SANDBOX_STATUS); the group
//     is running when every part runs, and failed, with every part removed
//     everywhere, when one fails;
//   - the leader's watch (OnLeadership): a pending group past its deadline,
//     or with a part on a node that failed or left, is aborted
//     (EXPERIMENT_ABORT); a running auto-placed sandbox whose node failed
//     (after ReplaceAfter) or left is placed elsewhere (SANDBOX_PLACE);
//   - the live views of a sandbox (inspect, violations, interactions,
//     trace, verify) and an experiment's compare, answered by the node
//     that runs each sandbox, forwarded there.
//
// It must not:
//   - run or stop processes itself: the supervision layer's reconciler is
//     the one writer of trees to the runtime, sandboxes included;
//   - wait without a bound: every creation has a deadline the leader
//     enforces, whoever asked and whether or not they still wait;
//   - decide in Apply what depends on time or membership: the leader
//     proposes the abort with its reason.
package manager
