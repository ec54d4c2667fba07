// Package state is steward's replicated state store: every table the FSM
// changes, held in go-memdb (immutable radix trees, as Consul and Nomad use),
// so that reads, watches and Raft snapshots never stop writers.
//
// It owns the schema, the domain rules of each table (check-and-set, key and
// value limits, status transitions) and the snapshot encoding of every table.
// It must not do I/O beyond the io.Writer/io.Reader it is handed, read a
// clock, or know about Raft: every write takes the Raft index that caused it,
// and every timestamp arrives inside the record.
//
// Records are protobuf messages from package pb and are immutable once
// inserted: a write stores a fresh copy, never mutates a stored one.
//
// # Version skew
//
// During a rolling upgrade replicas of two versions apply the same log,
// so a write checks only what no version changes: names and ids present,
// a tree placed on a node, check-and-set, the limits the command itself
// carries, status transitions. What can change between versions (a spec's
// fields, limits and behaviors, a plan's operations and checks) the leader
// validated before proposing. The schema of every record is its protobuf
// message. Two documents inside records are other packages' formats, kept
// as opaque bytes: a tree's spec JSON (spec.CanonicalTree; TreeApply reads
// only its name) and a plan's plan, facts and result JSON (the state
// machine runs the plan's PlanShape instead). Readers decode them outside
// Apply, with their own version's rules (DecodeTree, DecodePlanResult).
// The limits a write enforces itself (MaxKVKeySize, MaxKVValueSize, the
// MaxSnapshot* sizes, the thresholds' bounds, MaxPlanHistory) are part of
// the replicated format, fixed by the golden logs of package fsm: a
// version that needs another value carries it in the command (or a new
// command type), it does not change the constant.
//
// Statuses are enums beside their lowercase names (status.go); records
// written before the enums, and plans committed before shapes, are read
// as they are and mapped on read, never rewritten by a restore.
package state
