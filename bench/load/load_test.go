package load

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTarget records the puts it receives and fails every failEvery-th.
type fakeTarget struct {
	mu        sync.Mutex
	keys      map[string]int
	byClient  map[int]int
	calls     int
	failEvery int
	sizes     map[int]bool
}

func newFake(failEvery int) *fakeTarget {
	return &fakeTarget{keys: map[string]int{}, byClient: map[int]int{}, failEvery: failEvery, sizes: map[int]bool{}}
}

func (f *fakeTarget) Put(ctx context.Context, client int, key string, value []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no per-request deadline")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.keys[key]++
	f.byClient[client]++
	f.sizes[len(value)] = true
	if f.failEvery > 0 && f.calls%f.failEvery == 0 {
		return errors.New("injected failure")
	}
	return nil
}

func TestRunCountsEveryOperation(t *testing.T) {
	f := newFake(0)
	spec := Spec{Clients: 7, Ops: 100, Warmup: 14, ValueSize: 256, Keyspace: 10, Prefix: "p/", Timeout: time.Second, Seed: 1}
	r, err := Run(context.Background(), f, spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 100 || r.Errors != 0 || r.Clients != 7 {
		t.Fatalf("result %+v, want 100 ops, 0 errors, 7 clients", r)
	}
	if f.calls != 114 {
		t.Fatalf("target saw %d puts, want 100 measured + 14 warm-up", f.calls)
	}
	if r.Latency.Count != 100 || r.Elapsed <= 0 || r.Throughput() <= 0 {
		t.Fatalf("latency %+v elapsed %v", r.Latency, r.Elapsed)
	}
	if len(f.keys) > 10 {
		t.Fatalf("%d distinct keys, keyspace is 10", len(f.keys))
	}
	for k := range f.keys {
		if !strings.HasPrefix(k, "p/") {
			t.Fatalf("key %q lacks the prefix", k)
		}
	}
	if len(f.byClient) != 7 {
		t.Fatalf("clients used: %v", f.byClient)
	}
	for c, n := range f.byClient {
		// 114 over 7 clients: 16 or 17 each (100/7 and 14/7 shares).
		if n < 16 || n > 17 {
			t.Fatalf("client %d made %d puts; the shares should be even", c, n)
		}
	}
	if !f.sizes[256] || len(f.sizes) != 1 {
		t.Fatalf("value sizes %v, want only 256", f.sizes)
	}
}

func TestRunUniqueKeysWithoutKeyspace(t *testing.T) {
	f := newFake(0)
	if _, err := Run(context.Background(), f, Spec{Clients: 4, Ops: 50, ValueSize: 1}); err != nil {
		t.Fatal(err)
	}
	if len(f.keys) != 50 {
		t.Fatalf("%d distinct keys, want one per operation", len(f.keys))
	}
}

func TestRunCountsErrorsApart(t *testing.T) {
	f := newFake(4)
	r, err := Run(context.Background(), f, Spec{Clients: 2, Ops: 40, ValueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 10 || r.Ops != 30 || r.Latency.Count != 30 {
		t.Fatalf("ops %d errors %d latencies %d, want 30, 10, 30", r.Ops, r.Errors, r.Latency.Count)
	}
	if !strings.Contains(r.FirstErr, "injected") {
		t.Fatalf("first error %q", r.FirstErr)
	}
}

func TestRunWarmupErrorsAreNotCounted(t *testing.T) {
	f := newFake(3) // fails the 3rd call: inside the warm-up
	r, err := Run(context.Background(), f, Spec{Clients: 1, Ops: 1, Warmup: 3, ValueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.Ops != 1 || r.FirstErr != "" {
		t.Fatalf("%+v: warm-up failures leaked into the result", r)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, newFake(0), Spec{Clients: 1, Ops: 10}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSpecValidate(t *testing.T) {
	err := Spec{Clients: 0, Ops: -1, ValueSize: -1, Keyspace: -1, Warmup: -1}.Validate()
	if err == nil {
		t.Fatal("bad spec accepted")
	}
	for _, field := range []string{"clients:", "value_size:", "keyspace:", "warmup:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	if err := (Spec{Clients: 4, Ops: 3}).Validate(); err == nil || !strings.Contains(err.Error(), "ops:") {
		t.Errorf("fewer ops than clients: %v", err)
	}
}

func TestShare(t *testing.T) {
	total := 0
	for i := 0; i < 7; i++ {
		total += share(100, 7, i)
	}
	if total != 100 || share(100, 7, 0) != 15 || share(100, 7, 6) != 14 {
		t.Fatalf("share splits 100 over 7 as %d..%d summing to %d", share(100, 7, 0), share(100, 7, 6), total)
	}
}
