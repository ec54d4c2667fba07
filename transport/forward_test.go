package transport

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward/steward/fsm"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeBackend is a Backend whose leadership a test sets.
type fakeBackend struct {
	leader     atomic.Bool
	leaderAddr string
}

func (b *fakeBackend) NodeName() string { return "self" }
func (b *fakeBackend) IsLeader() bool   { return b.leader.Load() }
func (b *fakeBackend) Leader() (string, string) {
	if b.leader.Load() {
		return "self", "127.0.0.1:1"
	}
	if b.leaderAddr == "" {
		return "", ""
	}
	return "other", b.leaderAddr
}
func (b *fakeBackend) Apply(context.Context, pb.CommandType, proto.Message) (*fsm.Result, error) {
	return nil, errors.New("fakeBackend: no Apply")
}
func (b *fakeBackend) ReadBarrier(context.Context) error        { return nil }
func (b *fakeBackend) State() *state.Store                      { return nil }
func (b *fakeBackend) LastContact() time.Duration               { return 0 }
func (b *fakeBackend) StaleReadsFrom() (addr string, err error) { return "", nil }

func noRemote(t testing.TB) func(context.Context, *grpc.ClientConn, string) (string, error) {
	return func(context.Context, *grpc.ClientConn, string) (string, error) {
		t.Error("forwarded, but this node is the leader")
		return "", nil
	}
}

// On the leader a request runs locally once, its answer and error
// returned as they are (the error as a status).
func TestOnLeaderRunsLocallyOnTheLeader(t *testing.T) {
	b := &fakeBackend{}
	b.leader.Store(true)
	s := NewServer(b, ServerConfig{HoldTimeout: time.Minute})
	calls := 0
	resp, err := OnLeader(context.Background(), s, "req", noRemote(t), func(_ context.Context, req string) (string, error) {
		calls++
		return req + " done", nil
	})
	if err != nil || resp != "req done" || calls != 1 {
		t.Fatalf("OnLeader: %q %v after %d local calls, want \"req done\" after 1", resp, err, calls)
	}
	calls = 0
	_, err = OnLeader(context.Background(), s, "req", noRemote(t), func(context.Context, string) (string, error) {
		calls++
		return "", ErrTimeout
	})
	if _, ok := status.FromError(err); !ok || calls != 1 || !errors.Is(FromStatus(err), ErrTimeout) {
		t.Fatalf("OnLeader with a failing local: %v after %d calls, want ErrTimeout as a status after 1", err, calls)
	}
}

// When the local run reports ErrNotLeader (leadership moved before
// anything was applied), the request waits for a leader and runs again.
func TestOnLeaderRetriesAfterNotLeader(t *testing.T) {
	b := &fakeBackend{}
	b.leader.Store(true)
	s := NewServer(b, ServerConfig{HoldTimeout: time.Minute})
	calls := 0
	resp, err := OnLeader(context.Background(), s, "req", noRemote(t), func(context.Context, string) (string, error) {
		calls++
		if calls < 3 {
			return "", ErrNotLeader
		}
		return "third", nil
	})
	if err != nil || resp != "third" || calls != 3 {
		t.Fatalf("OnLeader: %q %v after %d local calls, want \"third\" after 3", resp, err, calls)
	}
}

// With no leader the request is held up to the hold timeout, then
// refused with ErrNoLeader.
func TestOnLeaderHoldsWithoutLeader(t *testing.T) {
	b := &fakeBackend{}
	s := NewServer(b, ServerConfig{HoldTimeout: 50 * time.Millisecond})
	_, err := OnLeader(context.Background(), s, "req", noRemote(t), func(context.Context, string) (string, error) {
		t.Error("ran locally on a follower")
		return "", nil
	})
	if !errors.Is(FromStatus(err), ErrNoLeader) {
		t.Fatalf("OnLeader without a leader: %v, want ErrNoLeader", err)
	}
}

// The hop count and the caller's token travel on a forward; a request
// forwarded maxForwardHops times is not forwarded again.
func TestForwardHopsAndToken(t *testing.T) {
	in := metadata.NewIncomingContext(context.Background(), metadata.Pairs(forwardHopsKey, "1", tokenKey, "secret"))
	if h := forwardHops(in); h != 1 {
		t.Fatalf("forwardHops: %d, want 1", h)
	}
	if h := forwardHops(context.Background()); h != 0 {
		t.Fatalf("forwardHops without metadata: %d, want 0", h)
	}
	out, _ := metadata.FromOutgoingContext(forwardContext(in, 1))
	if v := out.Get(forwardHopsKey); len(v) != 1 || v[0] != "2" {
		t.Fatalf("forwarded hops %v, want [2]", v)
	}
	if v := out.Get(tokenKey); len(v) != 1 || v[0] != "secret" {
		t.Fatalf("forwarded token %v, want [secret]", v)
	}
	// A token the caller set on the outgoing context is not doubled.
	own := metadata.AppendToOutgoingContext(in, tokenKey, "own")
	out, _ = metadata.FromOutgoingContext(forwardContext(own, 0))
	if v := out.Get(tokenKey); len(v) != 1 || v[0] != "own" {
		t.Fatalf("forwarded token with the caller's own %v, want [own]", v)
	}

	b := &fakeBackend{leaderAddr: "127.0.0.1:1"}
	s := NewServer(b, ServerConfig{HoldTimeout: time.Minute})
	far := metadata.NewIncomingContext(context.Background(), metadata.Pairs(forwardHopsKey, "2"))
	_, err := OnLeader(far, s, "req", noRemote(t), func(context.Context, string) (string, error) {
		t.Error("ran locally on a follower")
		return "", nil
	})
	if !errors.Is(FromStatus(err), ErrNoLeader) {
		t.Fatalf("OnLeader after %d hops: %v, want ErrNoLeader", maxForwardHops, err)
	}
}

// BenchmarkOnLeaderLocal is OnLeader's own cost on the leader, for a
// request with incoming metadata as gRPC gives it.
func BenchmarkOnLeaderLocal(b *testing.B) {
	be := &fakeBackend{}
	be.leader.Store(true)
	s := NewServer(be, ServerConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(":authority", "127.0.0.1:7403", "content-type", "application/grpc", "user-agent", "grpc-go/1.85.0"))
	remote := func(context.Context, *grpc.ClientConn, string) (string, error) { return "", nil }
	local := func(_ context.Context, req string) (string, error) { return req, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OnLeader(ctx, s, "req", remote, local); err != nil {
			b.Fatal(err)
		}
	}
}
