package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFillWritesEveryKeyOnce(t *testing.T) {
	f := newFake(0)
	if err := Fill(context.Background(), f, FillSpec{Keyspace: 37, Prefix: "p/", Clients: 5, ValueSize: 9}); err != nil {
		t.Fatal(err)
	}
	if len(f.keys) != 37 || f.calls != 37 {
		t.Fatalf("%d keys in %d writes, want 37 in 37", len(f.keys), f.calls)
	}
	for n := 0; n < 37; n++ {
		if k := fmt.Sprintf("p/%08d", n); f.keys[k] != 1 {
			t.Fatalf("key %s written %d times", k, f.keys[k])
		}
	}
	if !f.sizes[9] || len(f.sizes) != 1 {
		t.Fatalf("value sizes %v", f.sizes)
	}
	// The keys Run draws with the same prefix and keyspace are all filled.
	r := newRunner(context.Background(), f, 1, 0, 1, "p/", 37, 7)
	for i := 0; i < 200; i++ {
		if k := r.keys.next(); f.keys[k] == 0 {
			t.Fatalf("Run would draw %s, which Fill did not write", k)
		}
	}
}

func TestFillRetriesThenFailsNamingTheKey(t *testing.T) {
	f := newFake(2) // every second write fails: one retry succeeds
	if err := Fill(context.Background(), f, FillSpec{Keyspace: 10, Clients: 1, Prefix: "k/"}); err != nil {
		t.Fatalf("retries should absorb every other failure: %v", err)
	}
	if len(f.keys) != 10 {
		t.Fatalf("%d keys", len(f.keys))
	}
	bad := newFake(1) // every write fails
	err := Fill(context.Background(), bad, FillSpec{Keyspace: 10, Clients: 2, Prefix: "k/", Attempts: 2})
	if err == nil || !strings.Contains(err.Error(), "k/0000000") || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("fill of a failing target: %v", err)
	}
	if err := Fill(context.Background(), f, FillSpec{}); err == nil || !strings.Contains(err.Error(), "keyspace") {
		t.Fatalf("empty keyspace: %v", err)
	}
}

type readCounter struct {
	got  []string
	fail bool
}

func (r *readCounter) Get(_ context.Context, _ int, key string) error {
	r.got = append(r.got, key)
	if r.fail {
		return errors.New("missing")
	}
	return nil
}

func TestReadsRunsTheReaderWithRunsKeys(t *testing.T) {
	rc := &readCounter{}
	res, err := Run(context.Background(), Reads(rc), Spec{Clients: 1, Ops: 20, Warmup: 5, Keyspace: 4, Prefix: "r/"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 20 || len(rc.got) != 25 || res.Errors != 0 {
		t.Fatalf("ops %d reads %d errors %d", res.Ops, len(rc.got), res.Errors)
	}
	for _, k := range rc.got {
		if !strings.HasPrefix(k, "r/0000000") {
			t.Fatalf("read key %q outside the keyspace", k)
		}
	}
	res, err = Run(context.Background(), Reads(&readCounter{fail: true}), Spec{Clients: 1, Ops: 3})
	if err != nil || res.Errors != 3 || res.Ops != 0 {
		t.Fatalf("failing reads: %+v %v", res, err)
	}
}
