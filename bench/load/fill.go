package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Reader is a system read from under load.
type Reader interface {
	// Get reads key as client and returns once the system answered; a
	// key without a value is an error.
	Get(ctx context.Context, client int, key string) error
}

// Reads turns a Reader into a Target whose every operation reads the key
// it is handed (the value is not used), so that Run and RunFor measure
// reads with the same clients, key choice and statistics as writes.
func Reads(r Reader) Target { return readTarget{r} }

type readTarget struct{ r Reader }

func (t readTarget) Put(ctx context.Context, client int, key string, _ []byte) error {
	return t.r.Get(ctx, client, key)
}

// FillSpec is the population of a keyspace before reads.
type FillSpec struct {
	// Keyspace is the number of keys: prefix + %08d of 0 .. Keyspace-1,
	// the keys Run draws from with the same Prefix and Keyspace.
	Keyspace int
	Prefix   string
	// Clients write concurrently (at least 1).
	Clients   int
	ValueSize int
	// Timeout bounds one write (0: 10 s).
	Timeout time.Duration
	// Attempts is how often a failed write is tried in all (0: 3).
	Attempts int
}

// Fill writes every key of the keyspace once, so that a read run finds a
// value under every key it draws. It fails, naming the key, when a write
// still fails after its attempts.
func Fill(ctx context.Context, t Target, s FillSpec) error {
	if s.Keyspace < 1 {
		return fmt.Errorf("keyspace: must be at least 1 to fill, got %d", s.Keyspace)
	}
	if s.ValueSize < 0 {
		return fmt.Errorf("value_size: must not be negative, got %d", s.ValueSize)
	}
	clients := max(min(s.Clients, s.Keyspace), 1)
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	value := make([]byte, s.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var next atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(next.Add(1) - 1)
				if n >= s.Keyspace {
					return
				}
				key := fmt.Sprintf("%s%08d", s.Prefix, n)
				var err error
				for a := 0; a < attempts && ctx.Err() == nil; a++ {
					rctx, cancel := context.WithTimeout(ctx, timeout)
					err = t.Put(rctx, c, key, value)
					cancel()
					if err == nil {
						break
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("fill %s: %w", key, err))
					mu.Unlock()
					next.Store(int64(s.Keyspace)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
