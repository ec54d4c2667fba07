// Package testkit starts real steward nodes inside one test process, on
// loopback sockets, with Raft's BoltDB store in t.TempDir(), and offers the
// waits and failure injections that multi-node tests need (Leader,
// WaitForLeader, Kill, Restart, Eventually). Nothing here is a mock.
package testkit
