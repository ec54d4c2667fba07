package load

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Target is one system under load.
type Target interface {
	// Put writes key = value and returns once the write is committed
	// (acknowledged as durable by the system). client is the index of the
	// calling client, so that a Target can give each client its own
	// connection.
	Put(ctx context.Context, client int, key string, value []byte) error
}

// Spec is one load run.
type Spec struct {
	// Clients is the number of concurrent clients; each has one request
	// outstanding at a time (closed loop).
	Clients int
	// Ops is the number of measured writes, spread evenly over the clients.
	Ops int
	// Warmup is the number of writes made before measuring (also spread
	// over the clients), to open connections and fill caches.
	Warmup int
	// ValueSize is the size of each value (bytes).
	ValueSize int
	// Keyspace is the number of distinct keys written (uniformly at
	// random); 0 means one key per operation.
	Keyspace int
	// Prefix starts every key.
	Prefix string
	// Timeout bounds one request (0: 10 s).
	Timeout time.Duration
	// Seed seeds the key choice, so that runs are repeatable.
	Seed uint64
}

// Validate checks the spec; errors name the field.
func (s Spec) Validate() error {
	var errs []error
	if s.Clients < 1 {
		errs = append(errs, fmt.Errorf("clients: must be at least 1, got %d", s.Clients))
	}
	if s.Ops < s.Clients {
		errs = append(errs, fmt.Errorf("ops: %d is fewer than the %d clients", s.Ops, s.Clients))
	}
	if s.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup: must not be negative, got %d", s.Warmup))
	}
	if s.ValueSize < 0 {
		errs = append(errs, fmt.Errorf("value_size: must not be negative, got %d", s.ValueSize))
	}
	if s.Keyspace < 0 {
		errs = append(errs, fmt.Errorf("keyspace: must not be negative, got %d", s.Keyspace))
	}
	return errors.Join(errs...)
}

// Result is the outcome of one run.
type Result struct {
	Clients int `json:"clients"`
	// Ops is the number of writes that succeeded; Errors the number that
	// failed (not retried, not in the latencies).
	Ops      int           `json:"ops"`
	Errors   int           `json:"errors"`
	FirstErr string        `json:"first_error,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Latency  Summary       `json:"latency"`
}

// Throughput is successful writes per second over the run's wall time.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// share splits n into parts as equal as possible; part i of k.
func share(n, k, i int) int {
	q, r := n/k, n%k
	if i < r {
		return q + 1
	}
	return q
}

// Run drives t with spec: a warm-up, then spec.Ops timed writes. It
// returns an error only for a bad spec or a cancelled ctx; failed writes
// are counted in the Result.
func Run(ctx context.Context, t Target, spec Spec) (Result, error) {
	if err := spec.Validate(); err != nil {
		return Result{}, err
	}
	r := newRunner(ctx, t, spec.Clients, spec.Timeout, spec.ValueSize, spec.Prefix, spec.Keyspace, spec.Seed)
	count := func(total int) func(c, j int) bool {
		return func(c, j int) bool { return j < share(total, spec.Clients, c) }
	}
	if spec.Warmup > 0 {
		r.phase(false, count(spec.Warmup))
		r.forget()
	}
	start := time.Now()
	lat := r.phase(true, count(spec.Ops))
	return r.result(lat, time.Since(start))
}
