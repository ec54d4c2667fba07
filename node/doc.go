// Package node is one steward agent: it wires gossip membership
// (hashicorp/memberlist), consensus (hashicorp/raft over raft-boltdb), the
// replicated state machine and the gRPC server together, keeps the Raft
// configuration in step with gossip membership on the leader (as Consul's
// autopilot does), and bootstraps a new cluster when enough nodes meet.
//
// It owns the data dir, the node's identity, and the translation of Raft's
// errors into transport's sentinels. It must not hold domain rules (those
// are in state), and it acts on the cluster only through committed commands:
// every change that matters to more than one node is proposed to Raft first.
// The leader loop's timers and the time commands carry come from
// Config.Clock, which tests advance; waits for Raft itself stay on the wall.
package node
