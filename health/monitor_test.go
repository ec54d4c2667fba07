package health

import (
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/state"
)

func TestEvaluateTransitions(t *testing.T) {
	th := state.DefaultThresholds()
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration, s Sample) Sample { s.Time = t0.Add(d); return s }

	// Within every limit: nothing.
	cur, tr := evaluate(nil, at(0, Sample{MemoryBytes: 10, ProcessCount: 10, QueueMax: 10, CPUPercent: 10, CPUAvailable: true}), th)
	if len(cur) != 0 || len(tr) != 0 {
		t.Fatalf("within limits: %v %v", cur, tr)
	}
	// Two metrics over: two exceeded transitions, since the sample's time.
	cur, tr = evaluate(cur, at(time.Second, Sample{MemoryBytes: 2_000_000_000, ProcessCount: 10, QueueMax: 1001, CPUAvailable: false}), th)
	if len(cur) != 2 || len(tr) != 2 || !tr[0].exceeded || !tr[1].exceeded {
		t.Fatalf("over: %v %v", cur, tr)
	}
	if v := cur[MetricMemory]; v.Value != 2e9 || v.Limit != 1e9 || !v.Since.Equal(t0.Add(time.Second)) {
		t.Fatalf("memory violation: %+v", v)
	}
	if d := tr[0].detail(t0); d != "memory_bytes 2000000000 over the limit of 1000000000" {
		t.Fatalf("detail: %q", d)
	}
	// Still over: no transition, the value follows, since stays.
	cur, tr = evaluate(cur, at(2*time.Second, Sample{MemoryBytes: 3_000_000_000, QueueMax: 5000}), th)
	if len(tr) != 0 || cur[MetricMemory].Value != 3e9 || !cur[MetricMemory].Since.Equal(t0.Add(time.Second)) {
		t.Fatalf("still over: %v %v", cur, tr)
	}
	// Memory back within: cleared, with its value; the queue stays over.
	cur, tr = evaluate(cur, at(3*time.Second, Sample{MemoryBytes: 5, QueueMax: 5000}), th)
	if len(tr) != 1 || tr[0].exceeded || tr[0].v.Metric != MetricMemory || len(cur) != 1 {
		t.Fatalf("cleared: %v %v", cur, tr)
	}
	if d := tr[0].detail(t0.Add(3 * time.Second)); !strings.Contains(d, "memory_bytes 5 within the limit of 1000000000 again (over for 2s)") {
		t.Fatalf("cleared detail: %q", d)
	}
	// A limit of 0 turns the check off: the queue violation clears.
	off := state.DefaultThresholds()
	off.MaxMessageQueueLength = 0
	cur, tr = evaluate(cur, at(4*time.Second, Sample{QueueMax: 5000}), off)
	if len(cur) != 0 || len(tr) != 1 || tr[0].exceeded || !strings.Contains(tr[0].detail(t0.Add(4*time.Second)), "check turned off") {
		t.Fatalf("turned off: %v %v", cur, tr)
	}
	// CPU: over when measured; an unmeasured sample keeps the state.
	cur, tr = evaluate(cur, at(5*time.Second, Sample{CPUPercent: 95.5, CPUAvailable: true}), th)
	if len(tr) != 1 || tr[0].detail(t0) != "cpu_percent 95.5% over the limit of 80.0%" {
		t.Fatalf("cpu over: %v %v", cur, tr)
	}
	cur, tr = evaluate(cur, at(6*time.Second, Sample{}), th)
	if len(tr) != 0 || len(cur) != 1 {
		t.Fatalf("cpu unmeasured: %v %v", cur, tr)
	}
	cur, tr = evaluate(cur, at(7*time.Second, Sample{CPUPercent: 20, CPUAvailable: true}), th)
	if len(tr) != 1 || tr[0].exceeded || len(cur) != 0 {
		t.Fatalf("cpu cleared: %v %v", cur, tr)
	}
	// Exactly at the limit is within it.
	_, tr = evaluate(nil, at(0, Sample{ProcessCount: 10_000}), th)
	if len(tr) != 0 {
		t.Fatalf("at the limit: %v", tr)
	}
}

func TestCPUMeter(t *testing.T) {
	cpu := time.Duration(0)
	ok := true
	m := &cpuMeter{read: func() (time.Duration, bool) { return cpu, ok }, cores: 2}
	t0 := time.Unix(0, 0)
	if _, avail := m.percent(t0); avail {
		t.Fatal("first reading has no difference to take")
	}
	cpu = time.Second // one core busy for the whole second of two cores
	if p, avail := m.percent(t0.Add(time.Second)); !avail || p != 50 {
		t.Fatalf("got %v %v, want 50%%", p, avail)
	}
	cpu = 5 * time.Second // 4 s over 2 s of 2 cores: 100%
	if p, avail := m.percent(t0.Add(3 * time.Second)); !avail || p != 100 {
		t.Fatalf("got %v %v, want 100%%", p, avail)
	}
	// Readings closer than the kernel's tick resolution allows give the
	// last percentage, and the window stays open until it is long enough.
	cpu += 10 * time.Millisecond // one tick, over 0.2 ms: 2500% if taken
	if p, avail := m.percent(t0.Add(3*time.Second + 200*time.Microsecond)); !avail || p != 100 {
		t.Fatalf("a reading within the window: got %v %v, want the last, 100%%", p, avail)
	}
	cpu += 90 * time.Millisecond // 100 ms over the 200 ms since the window began, of 2 cores
	if p, avail := m.percent(t0.Add(3*time.Second + 200*time.Millisecond)); !avail || p != 25 {
		t.Fatalf("got %v %v, want 25%%", p, avail)
	}
	// A percentage is never over 100 nor under 0.
	cpu += 2 * time.Second
	if p, avail := m.percent(t0.Add(3*time.Second + 700*time.Millisecond)); !avail || p != 100 {
		t.Fatalf("got %v %v, want 100%% at most", p, avail)
	}
	ok = false
	if _, avail := m.percent(t0.Add(4 * time.Second)); avail {
		t.Fatal("an unreadable CPU time is unavailable")
	}
}
