// Package supervision is the layer that runs supervision trees on a node
// and keeps them where the replicated state says they belong.
//
// It owns the node's process runtime (package actor) and:
//   - the Supervision gRPC service: tree specs are validated and placed on
//     the leader and committed through Raft (TREE_APPLY, TREE_DELETE);
//   - the reconciler, which brings the local runtime to the committed specs
//     placed on this node: it starts what is missing, stops what was removed
//     or moved away, updates what changed, and restarts failed trees with a
//     backoff;
//   - re-placement, on the leader, of trees placed with `--node auto` whose
//     node left or failed;
//   - the Runtime gRPC service (processes, trees, events, tracing) with
//     forwarding to the node that hosts a process or tree, and fan-out for
//     cluster-wide listings;
//   - routing of sends to processes on other nodes (the runtime's Router),
//     and of the link, monitor, exit and DOWN signals between processes of
//     different nodes (Internal.Signal), each carrying the sending node's
//     incarnation (its layer's start, unix ns, also gossiped as metadata
//     field si);
//   - the lost-node watch: every 500 ms, the links and monitors towards a
//     node gossip holds failed or left fire with noconnection, and so do
//     those held towards an earlier incarnation of a node that gossips a
//     later one (it restarted before gossip declared it failed).
//
// It must not change the replicated state except through node.Apply, and it
// acts on the runtime only for trees committed to this node (or on an
// operator's direct request for one process). The backoff, the resync and
// re-placement are timed by Config.Clock, which tests advance.
package supervision
