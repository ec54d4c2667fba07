// Package metrics owns a steward agent's Prometheus metrics: one
// prometheus.Registry per agent (never the global default registry, so
// that several agents in one test process keep their series apart), and
// what feeds it:
//
//   - registry.go: the registry, its HTTP handler, the FSM apply hook
//     (ObserveApply, fsm.Config.OnApply);
//   - grpc.go: the gRPC server interceptors (calls per method and code,
//     latency);
//   - node.go: Raft (read from the node's raft.Raft), gossip members and
//     health score, readiness, read when scraped;
//   - gometrics.go: a process-wide go-metrics sink that turns what
//     hashicorp/raft and memberlist emit into Prometheus families
//     (memberlist's scoped by node, raft's process-wide);
//   - runtime.go: the process runtime's events (exits by reason class,
//     restarts, sandbox violations) and introspection (processes,
//     mailboxes);
//   - state.go, finished.go: the committed state's records by status,
//     and plans, stages, deployments and snapshots as they finish;
//   - thresholds.go: the health layer's threshold state.
//
// It must not change what it observes: the FSM hook only times Apply
// (outside its result), the interceptors only count, collectors and
// watchers only read. It imports no layer above node (the health layer's
// state comes in as plain values). Metric names and labels are documented
// in docs/OBSERVABILITY.md; a name once published is not renamed.
package metrics
