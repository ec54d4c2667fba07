// Package cluster starts and drives the clusters under test as real
// processes on loopback: steward agents (bin/steward agent with
// --bootstrap-expect and --retry-join) and etcd members. It provides, for
// each, load Targets (clients talking to the leader or to the followers,
// writing, or reading linearizably or from the member's replica), leader
// discovery and each member's term through each system's own status API,
// steward's /metrics counters, SIGKILL and
// restart of a member, and per-process CPU and disk accounting. It never
// changes how either system is built or configured beyond its documented
// flags and config file.
package cluster
