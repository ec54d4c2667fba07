// Package cluster starts and drives the clusters under test as real
// processes on loopback: steward agents (bin/steward agent with
// --bootstrap-expect and --retry-join) and etcd members. It provides, for
// each, load Targets (clients talking to the leader or to the followers),
// leader discovery through each system's own status API, SIGKILL and
// restart of a member, and per-process CPU and disk accounting. It never
// changes how either system is built or configured beyond its documented
// flags and config file.
package cluster
