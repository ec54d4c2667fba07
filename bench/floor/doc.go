// Package floor measures the physical floor under a replicated write on
// this machine: how long the data disk takes to make a small write durable
// (fdatasync, fsync, and one bbolt transaction as raft-boltdb makes it),
// and the loopback round trip (raw TCP and a unary gRPC call). A Raft write
// costs at least one durable write and one round trip to a follower; the
// report divides the systems' latencies by these figures.
package floor
