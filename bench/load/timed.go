package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
	// flight at its end are waited for and counted.
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
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	value := make([]byte, spec.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	keys := newKeys(Spec{Prefix: spec.Prefix, Keyspace: spec.Keyspace}, rng)

	var firstErr atomic.Pointer[error]
	var errCount atomic.Int64
	phase := func(d time.Duration, record bool) [][]time.Duration {
		lat := make([][]time.Duration, spec.Clients)
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for c := 0; c < spec.Clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && time.Now().Before(deadline) {
					rctx, cancel := context.WithTimeout(ctx, timeout)
					start := time.Now()
					err := t.Put(rctx, c, keys.next(), value)
					took := time.Since(start)
					cancel()
					if err != nil {
						errCount.Add(1)
						firstErr.CompareAndSwap(nil, &err)
						continue
					}
					if record {
						lat[c] = append(lat[c], took)
					}
				}
			}()
		}
		wg.Wait()
		return lat
	}

	if spec.Warmup > 0 {
		phase(spec.Warmup, false)
		errCount.Store(0)
		firstErr.Store(nil)
	}
	if spec.OnStart != nil {
		spec.OnStart()
	}
	start := time.Now()
	lat := phase(spec.Duration, true)
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := Result{
		Clients: spec.Clients,
		Ops:     len(all),
		Errors:  int(errCount.Load()),
		Elapsed: elapsed,
		Latency: Summarize(all),
	}
	if e := firstErr.Load(); e != nil {
		r.FirstErr = (*e).Error()
	}
	return r, nil
}
