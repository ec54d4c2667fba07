package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// runner holds what Run and RunFor share: the per-request timeout, the
// value, the keys, and the error tally of the current phase.
type runner struct {
	ctx     context.Context
	target  Target
	clients int
	timeout time.Duration
	value   []byte
	keys    *keys

	errCount atomic.Int64
	firstErr atomic.Pointer[error]
}

// newRunner prepares a run of clients against t. timeout bounds one request
// (0: 10 s); valueSize is in bytes; prefix, keyspace and seed choose the keys
// as Spec describes.
func newRunner(ctx context.Context, t Target, clients int, timeout time.Duration, valueSize int, prefix string, keyspace int, seed uint64) *runner {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	value := make([]byte, valueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return &runner{
		ctx:     ctx,
		target:  t,
		clients: clients,
		timeout: timeout,
		value:   value,
		keys:    &keys{rng: rng, prefix: prefix, space: keyspace},
	}
}

// put makes one write as client c and returns how long it took; a failed
// write is counted and reported as not ok.
func (r *runner) put(c int, key string) (time.Duration, bool) {
	rctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	start := time.Now()
	err := r.target.Put(rctx, c, key, r.value)
	d := time.Since(start)
	cancel()
	if err != nil {
		r.errCount.Add(1)
		r.firstErr.CompareAndSwap(nil, &err)
		return d, false
	}
	return d, true
}

// phase runs every client in a closed loop while more(c, j) holds for its
// j-th write (and ctx is live), and returns each client's latencies of
// successful writes if record is set.
func (r *runner) phase(record bool, more func(c, j int) bool) [][]time.Duration {
	lat := make([][]time.Duration, r.clients)
	var wg sync.WaitGroup
	for c := 0; c < r.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; r.ctx.Err() == nil && more(c, j); j++ {
				d, ok := r.put(c, r.keys.next())
				if ok && record {
					lat[c] = append(lat[c], d)
				}
			}
		}()
	}
	wg.Wait()
	return lat
}

// forget drops the errors counted so far (those of a warm-up).
func (r *runner) forget() {
	r.errCount.Store(0)
	r.firstErr.Store(nil)
}

// result assembles the Result of a measured phase that took elapsed and
// recorded lat, or returns ctx's error if the run was cancelled.
func (r *runner) result(lat [][]time.Duration, elapsed time.Duration) (Result, error) {
	if err := r.ctx.Err(); err != nil {
		return Result{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	res := Result{
		Clients: r.clients,
		Ops:     len(all),
		Errors:  int(r.errCount.Load()),
		Elapsed: elapsed,
		Latency: Summarize(all),
	}
	if e := r.firstErr.Load(); e != nil {
		res.FirstErr = (*e).Error()
	}
	return res, nil
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
