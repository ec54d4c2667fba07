// Package harness runs the benchmark plan: interleaved steward/etcd pairs
// at each concurrency, leader-kill failover runs, the physical floor, and
// before/after pairs for steward's tuning knobs, and assembles the report.
// It drives the clusters only through the System interface, which the
// cluster package's process clusters implement (and tests implement with
// in-process ones).
package harness
