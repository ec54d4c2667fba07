package actor

import (
	"testing"
	"time"
)

// Every value falls in a bucket whose upper bound is at least the value
// and within 1/latencySub of it; quantiles come out of the right bucket.
func TestLatencyBuckets(t *testing.T) {
	for _, ns := range []uint64{0, 1, 7, 8, 9, 15, 16, 100, 1000, 12345, 1 << 20, 999_999_999, 1 << 40} {
		i := latencyBucket(ns)
		up := latencyUpper(i)
		if up < ns || float64(up-ns) > float64(ns)/latencySub+1 {
			t.Fatalf("%d ns: bucket %d with upper bound %d", ns, i, up)
		}
		if i > 0 && latencyUpper(i-1) >= ns {
			t.Fatalf("%d ns: bucket %d, but the bucket before ends at %d", ns, i, latencyUpper(i-1))
		}
	}
	var h latencyHist
	for i := 0; i < 98; i++ {
		h.add(time.Millisecond)
	}
	h.add(time.Second)
	h.add(2 * time.Second)
	s := h.summary()
	if s.Count != 100 || s.Max != 2*time.Second {
		t.Fatalf("summary %+v", s)
	}
	if s.P50 < time.Millisecond || s.P50 > time.Millisecond*9/8 {
		t.Fatalf("p50 %s, want about 1ms", s.P50)
	}
	if s.P99 < time.Second || s.P99 > time.Second*9/8 {
		t.Fatalf("p99 %s, want about 1s", s.P99)
	}
}
