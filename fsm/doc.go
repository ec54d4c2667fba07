// Package fsm is steward's replicated state machine: it decodes Raft log
// entries into typed commands, dispatches them through a registration table
// to the state store, and snapshots and restores the whole store for Raft.
//
// Apply is deterministic: it reads no clock, draws no random numbers, does no
// I/O and does not depend on map order; timestamps and ids travel inside the
// command. A malformed payload or a command the domain rules refuse yields
// the same error Result on every node. A command type this binary does not
// know halts the apply loop (see Halted) unless the entry is flagged
// ignorable, so replicas never silently diverge during a rolling upgrade.
//
// The FSM holds no business logic: handlers in commands_<domain>.go decode,
// call the state store, and return a Result. A payload's fields this
// binary does not know (a newer leader's) are kept, not refused; what the
// store checks is what no version changes (see package state), so replicas
// of two versions apply the same entry alike. testdata/golden holds the
// logs earlier versions committed, which this binary must apply with the
// same outcomes (golden_test.go, skew_test.go).
package fsm
