package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steward/steward/state"
)

// replicaOnly is a host whose replica the test drives; nothing else of it
// is used by await.
type replicaOnly struct {
	host
	st *state.Store
}

func (r replicaOnly) State() *state.Store { return r.st }

// A create awaited on a replica that has not applied its commit yet (a
// follower, a client agent) is not taken for destroyed: the chaos harness
// found creates reported "destroyed before it was up" that were running.
func TestAwaitOnALaggingReplica(t *testing.T) {
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	l := &Layer{node: replicaOnly{st: st}}
	ended, stop := context.WithCancel(context.Background())
	stop()
	if _, err := l.await(ended, "exp-1", 9); errors.Is(err, ErrCreateFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("await before index 9 is applied: %v, want it still waiting (context.Canceled)", err)
	}
	if e, err := l.applied(ended, "exp-1", 9); !errors.Is(err, context.Canceled) {
		t.Fatalf("applied before index 9: %v %v, want context.Canceled", e, err)
	}
	// Index 9 applied without the group: it was destroyed meanwhile.
	if _, err := st.KVSet(9, "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.await(ctx, "exp-1", 9); !errors.Is(err, ErrCreateFailed) {
		t.Fatalf("await after index 9 without the group: %v, want ErrCreateFailed", err)
	}
	if e, err := l.applied(ctx, "exp-1", 9); err != nil || e != nil {
		t.Fatalf("applied after index 9: %v %v, want nil, nil", e, err)
	}
}
