package health

// Violation kinds validation adds to the runtime's own (package actor:
// process_state, supervisor_children, link_asymmetric, monitor_asymmetric,
// stale_name, tree_state). Values are stable: scripts read them.
const (
	// KindUnsettled: a supervisor was still busy (with an exit, a command,
	// its start) when the settle time ended; its children were not
	// checked.
	KindUnsettled = "supervisor_unsettled"
	// KindTreeMissing: a tree committed for the node does not run there.
	KindTreeMissing = "tree_missing"
	// KindTreeFailed: a tree committed for the node is there but failed
	// (its root gave up); the reconciler restarts it after a backoff.
	KindTreeFailed = "tree_failed"
	// KindTreeSpecStale: a tree runs at another spec than the committed
	// one (the reconciler has not applied the committed spec index).
	KindTreeSpecStale = "tree_spec_stale"
	// KindStrategyMismatch: a supervisor's live strategy or restart
	// intensity differs from its committed spec's (changed in place by a
	// plan or an operator).
	KindStrategyMismatch = "strategy_mismatch"
	// KindChildrenMismatch: a supervisor's children are not its committed
	// spec's children (one added or deleted in place).
	KindChildrenMismatch = "children_mismatch"
	// KindTreeUnexpected: a tree runs on a node the desired state does not
	// place it on.
	KindTreeUnexpected = "tree_unexpected"
	// KindSpecInvalid: a committed spec cannot be decoded.
	KindSpecInvalid = "spec_invalid"
	// KindStateBehind: the node's replica did not reach the leader's commit
	// point within the settle time, so its desired state was not checked.
	KindStateBehind = "state_behind"
	// KindNodeUnreachable: the node could not be asked (down, partitioned,
	// or too slow).
	KindNodeUnreachable = "node_unreachable"
)
