// Package metrics owns a steward agent's Prometheus metrics: one
// prometheus.Registry per agent (never the global default registry, so
// that several agents in one test process keep their series apart), the
// collectors that read Raft, gossip and the process runtime when scraped,
// the counters fed by the gRPC interceptors and the FSM apply hook, and a
// process-wide bridge that turns what hashicorp/raft and memberlist emit
// through go-metrics into Prometheus families.
//
// It must not change what it observes: the FSM hook only times Apply
// (outside its result), the interceptors only count, collectors only
// read. Metric names and labels are documented in docs/OBSERVABILITY.md;
// a name once published is not renamed.
package metrics
