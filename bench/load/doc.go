// Package load is the benchmark's load generator: a fixed number of
// operations (or a fixed duration) of a fixed value size, spread over a
// number of concurrent clients, against any Target, with every latency
// recorded. Writes are the Target's own operation; Reads turns a Reader
// into a Target, and Fill writes a keyspace once so that reads find
// values. It knows nothing of steward or etcd; the cluster package
// provides the Targets.
package load
