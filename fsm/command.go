package fsm

import (
	"fmt"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

// Result is what Apply returns for every command, read by the proposer
// through ApplyFuture.Response().
type Result struct {
	// Index is the Raft index of the entry.
	Index uint64
	// Value is the command's typed answer (documented per command), or nil.
	Value any
	// Err is the domain error, identical on every node.
	Err error
}

// applyFunc applies one decoded payload to the store.
type applyFunc func(s *state.Store, idx uint64, e *pb.LogEntry, payload proto.Message) (any, error)

type commandDef struct {
	name       string
	newPayload func() proto.Message
	apply      applyFunc
}

var commands = map[pb.CommandType]commandDef{}

// registerCommand adds a command handler. Registering a type twice is a
// programming error caught at start-up.
func registerCommand(t pb.CommandType, newPayload func() proto.Message, apply applyFunc) {
	if t == pb.CommandType_COMMAND_TYPE_UNSPECIFIED {
		panic("fsm: cannot register COMMAND_TYPE_UNSPECIFIED")
	}
	if _, ok := commands[t]; ok {
		panic(fmt.Sprintf("fsm: command %s registered twice", t))
	}
	commands[t] = commandDef{name: t.String(), newPayload: newPayload, apply: apply}
}

// NewPayload returns an empty payload message of command type t, and false
// for a type this binary does not know.
func NewPayload(t pb.CommandType) (proto.Message, bool) {
	c, ok := commands[t]
	if !ok {
		return nil, false
	}
	return c.newPayload(), true
}

// Encode builds the bytes of a log entry. at and proposer are recorded in the
// entry so that Apply never reads a clock.
func Encode(t pb.CommandType, payload proto.Message, at time.Time, proposer string) ([]byte, error) {
	body, err := proto.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return proto.Marshal(&pb.LogEntry{
		Type:               t,
		Payload:            body,
		ProposedAtUnixNano: at.UnixNano(),
		Proposer:           proposer,
	})
}
