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
package state
