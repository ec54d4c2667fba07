// Package harness runs the benchmark plan: interleaved steward/etcd pairs
// at each concurrency for writes and for reads of each consistency (over a
// keyspace filled first), fault-free steady runs that count elections,
// leader-kill failover runs, and before/after pairs for steward's tuning
// knobs (the Raft timings with interleaved failover and steady runs, the
// log store), and assembles the report. It drives the clusters only
// through the System interface, which the cluster package's process
// clusters implement (and tests implement with in-process ones).
package harness
