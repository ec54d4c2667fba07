package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steward/steward/state"
)

// WaitIndex returns once the store has applied the index, not before; a
// context that ends first is its error; an abandoned store returns at
// once (the caller reads the new one).
func TestWaitIndex(t *testing.T) {
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := st.KVSet(3, "a", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.WaitIndex(ctx, 3); err != nil {
		t.Fatalf("index 3 applied: %v", err)
	}
	ended, stop := context.WithCancel(ctx)
	stop()
	if err := st.WaitIndex(ended, 7); !errors.Is(err, context.Canceled) {
		t.Fatalf("index 7 not applied, context ended: %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() { done <- st.WaitIndex(ctx, 7) }()
	if _, err := st.KVSet(5, "b", []byte("2"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.KVSet(7, "c", []byte("3"), nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("index 7 applied: %v", err)
	}
	if got := st.LatestIndex(); got < 7 {
		t.Fatalf("WaitIndex returned at %d", got)
	}
	st.Abandon()
	if err := st.WaitIndex(ctx, 100); err != nil {
		t.Fatalf("abandoned: %v, want nil at once", err)
	}
}
