// Package load is the benchmark's load generator: a fixed number of writes
// of a fixed value size, spread over a number of concurrent clients, against
// any Target, with every latency recorded. It knows nothing of steward or
// etcd; the cluster package provides the Targets.
package load
