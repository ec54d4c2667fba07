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
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	value := make([]byte, spec.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	keys := newKeys(spec, rng)

	var firstErr atomic.Pointer[error]
	var errCount atomic.Int64
	put := func(c int, key string) (time.Duration, bool) {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		err := t.Put(rctx, c, key, value)
		d := time.Since(start)
		cancel()
		if err != nil {
			errCount.Add(1)
			firstErr.CompareAndSwap(nil, &err)
			return d, false
		}
		return d, true
	}
	phase := func(total int, record bool) [][]time.Duration {
		lat := make([][]time.Duration, spec.Clients)
		var wg sync.WaitGroup
		for c := 0; c < spec.Clients; c++ {
			n := share(total, spec.Clients, c)
			if record {
				lat[c] = make([]time.Duration, 0, n)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < n && ctx.Err() == nil; j++ {
					d, ok := put(c, keys.next())
					if ok && record {
						lat[c] = append(lat[c], d)
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
	start := time.Now()
	lat := phase(spec.Ops, true)
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

// keys hands out the keys of a run: random within the keyspace, or one
// fresh key per operation.
type keys struct {
	mu     sync.Mutex
	rng    *rand.Rand
	prefix string
	space  int
	seq    int
}

func newKeys(s Spec, rng *rand.Rand) *keys {
	return &keys{rng: rng, prefix: s.Prefix, space: s.Keyspace}
}

func (k *keys) next() string {
	k.mu.Lock()
	var n int
	if k.space > 0 {
		n = k.rng.IntN(k.space)
	} else {
		k.seq++
		n = k.seq
	}
	k.mu.Unlock()
	return fmt.Sprintf("%s%08d", k.prefix, n)
}
