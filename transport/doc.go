// Package transport is steward's gRPC surface: the services clients and
// other nodes call (KV, Cluster, and the node-to-node services added by later
// layers), the standard health service, forwarding of writes and consistent
// reads to the leader, request limits, and a pool of connections to peers.
//
// It owns the wire: request validation that needs no state, the mapping of
// errors to gRPC status codes, and forwarding. It must not hold business
// logic or reach into Raft: everything it needs from the node comes through
// the small Backend interface defined here, and the errors a Backend returns
// are the sentinels declared in errors.go.
package transport
