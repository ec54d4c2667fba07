package transport

import (
	"errors"
	"fmt"
	"testing"

	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An error crosses the wire as a status that names its sentinel's kind, so
// the node that receives it tests it with errors.Is as the sender would.
func TestErrorsCrossTheWireByKind(t *testing.T) {
	sent := fmt.Errorf("%w: key %q is at modify index 7, not 3", state.ErrCASConflict, "a")
	st := ToStatus(sent)
	if status.Code(st) != codes.FailedPrecondition {
		t.Fatalf("code %s", status.Code(st))
	}
	// What a client library sees: a bare status, rebuilt from the wire.
	wire := status.Convert(st).Proto()
	got := FromStatus(status.FromProto(wire).Err())
	if !errors.Is(got, state.ErrCASConflict) || got.Error() != sent.Error() || status.Code(got) != codes.FailedPrecondition {
		t.Fatalf("received %v (code %s), want a cas conflict with the sender's message", got, status.Code(got))
	}
	if errors.Is(got, state.ErrNotFound) || NotApplied(got) {
		t.Fatalf("received error matches what it is not: %v", got)
	}
	// Sent on again, it keeps its code and kind.
	if again := FromStatus(ToStatus(got)); !errors.Is(again, state.ErrCASConflict) {
		t.Fatalf("relayed: %v", again)
	}

	// Two sentinels with the same text stay apart.
	nf := FromStatus(status.FromProto(status.Convert(ToStatus(fmt.Errorf("%w: tree %q", state.ErrNotFound, "x"))).Proto()).Err())
	if !errors.Is(nf, state.ErrNotFound) || errors.Is(nf, ErrNotFound) {
		t.Fatalf("state.ErrNotFound came back as %v", nf)
	}

	// An error of no known kind is left as it is.
	plain := status.Error(codes.Internal, "boom")
	if FromStatus(plain) != plain {
		t.Fatal("an unknown error was rewritten")
	}
}

// Not-applied errors carry a NotApplied detail; nothing else is taken for
// one, whatever its text.
func TestNotAppliedIsStructured(t *testing.T) {
	for _, err := range []error{ErrNotLeader, ErrNoLeader, ErrShuttingDown} {
		wrapped := fmt.Errorf("%w: leader is n2", err)
		if !NotApplied(wrapped) {
			t.Errorf("local %v: not applied = false", wrapped)
		}
		wire := status.FromProto(status.Convert(ToStatus(wrapped)).Proto()).Err()
		if !NotApplied(wire) {
			t.Errorf("%v over the wire: not applied = false", wrapped)
		}
	}
	for _, err := range []error{
		ErrLeadershipLost,
		status.Error(codes.Unavailable, "the message says not the leader, but no node said so"),
		ToStatus(fmt.Errorf("%w: x", state.ErrCASConflict)),
	} {
		if NotApplied(err) {
			t.Errorf("%v taken for not applied", err)
		}
	}
	if !NotApplied(status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`)) {
		t.Error("a failed dial is not applied")
	}
}

func TestRegisterCodeTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a kind registered twice did not panic")
		}
	}()
	RegisterCode("state.cas_conflict", errors.New("another"), codes.Aborted)
}
