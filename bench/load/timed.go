package load

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TimedSpec is a load run of fixed length rather than a fixed number of
// writes: every client writes in a closed loop until the time is up. It
// suits comparisons of clusters whose throughput differs by several times,
// where a fixed count would make the slow runs long.
type TimedSpec struct {
	// Clients is the number of concurrent clients; each has one request
	// outstanding at a time (closed loop).
	Clients int
	// Duration is how long the measured phase issues writes; writes in
	// flight at its end are waited for and counted. Every client makes at
	// least one write.
	Duration time.Duration
	// Warmup is how long writes are made before measuring (0: none).
	Warmup time.Duration
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
	// OnStart, when set, is called between the warm-up and the measured
	// phase (to take a CPU reading, say).
	OnStart func()
}

// Validate checks the spec; errors name the field.
func (s TimedSpec) Validate() error {
	var errs []error
	if s.Clients < 1 {
		errs = append(errs, fmt.Errorf("clients: must be at least 1, got %d", s.Clients))
	}
	if s.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration: must be positive, got %s", s.Duration))
	}
	if s.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup: must not be negative, got %s", s.Warmup))
	}
	if s.ValueSize < 0 {
		errs = append(errs, fmt.Errorf("value_size: must not be negative, got %d", s.ValueSize))
	}
	if s.Keyspace < 0 {
		errs = append(errs, fmt.Errorf("keyspace: must not be negative, got %d", s.Keyspace))
	}
	return errors.Join(errs...)
}

// RunFor drives t with spec: a warm-up, then writes for spec.Duration. The
// Result's Elapsed runs from the start of the measured phase until its last
// write returned. It returns an error only for a bad spec or a cancelled
// ctx; failed writes are counted in the Result.
func RunFor(ctx context.Context, t Target, spec TimedSpec) (Result, error) {
	if err := spec.Validate(); err != nil {
		return Result{}, err
	}
	r := newRunner(ctx, t, spec.Clients, spec.Timeout, spec.ValueSize, spec.Prefix, spec.Keyspace, spec.Seed)
	until := func(d time.Duration) func(c, j int) bool {
		deadline := time.Now().Add(d)
		// Every client makes at least one request, however late it is
		// scheduled: a run on a busy machine is never empty.
		return func(c, j int) bool { return j == 0 || time.Now().Before(deadline) }
	}
	if spec.Warmup > 0 {
		r.phase(false, until(spec.Warmup))
		r.forget()
	}
	if spec.OnStart != nil {
		spec.OnStart()
	}
	start := time.Now()
	lat := r.phase(true, until(spec.Duration))
	return r.result(lat, time.Since(start))
}
