package actor

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Callback latency of a sandbox: every callback's running time (the time
// CPU accounting charges) counted in a log-linear histogram, so that
// experiments can put two sandboxes' p50 and p99 side by side. Buckets
// split each power of two into latencySub parts: a quantile is exact to
// within 1/latencySub (12.5 %) of its value.

const (
	latencySubBits = 3
	latencySub     = 1 << latencySubBits
	latencyBuckets = 64 * latencySub
)

// SandboxLatency summarizes a sandbox's callback latencies since it
// started: how many callbacks ran, and the 50th and 99th percentiles and
// the maximum of their running time, in nanoseconds.
type SandboxLatency struct {
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

type latencyHist struct {
	buckets [latencyBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

func latencyBucket(ns uint64) int {
	if ns < latencySub {
		return int(ns)
	}
	exp := bits.Len64(ns) - 1 // ns in [2^exp, 2^(exp+1))
	mant := (ns >> (exp - latencySubBits)) & (latencySub - 1)
	return (exp-latencySubBits+1)*latencySub + int(mant)
}

// latencyUpper is the largest value that falls in bucket i.
func latencyUpper(i int) uint64 {
	if i < latencySub {
		return uint64(i)
	}
	exp := i/latencySub + latencySubBits - 1
	mant := uint64(i % latencySub)
	lo := (uint64(latencySub) + mant) << (exp - latencySubBits)
	return lo + (uint64(1) << (exp - latencySubBits)) - 1
}

func (h *latencyHist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.buckets[latencyBucket(uint64(d))].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *latencyHist) summary() SandboxLatency {
	var counts [latencyBuckets]uint64
	var n uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		n += counts[i]
	}
	out := SandboxLatency{Count: n, Max: time.Duration(h.max.Load())}
	if n == 0 {
		return out
	}
	q := func(p float64) time.Duration {
		rank := uint64(p*float64(n-1)) + 1
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank {
				return min(time.Duration(latencyUpper(i)), out.Max)
			}
		}
		return out.Max
	}
	out.P50, out.P99 = q(0.50), q(0.99)
	return out
}
