package health_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/health"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func i64(v int64) *int64         { return &v }
func f64(v float64) *float64     { return &v }
func u64p(v uint64) *uint64      { return &v }
func tick(h hNode, at time.Time) { h.ticks <- at }

// events returns the node's events of a type, oldest first.
func events(rt *actor.Runtime, typ actor.EventType) []actor.Event {
	var out []actor.Event
	for _, e := range rt.Events(0) {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Thresholds are replicated state: bad input is refused with the field
// names and nothing is committed; only the given fields change; a stale
// cas is refused.
func TestThresholdsSetAndGet(t *testing.T) {
	h := newHCluster(t, 3)
	hc := h.healthClient(1) // a follower or the leader: forwarded either way
	ctx := testkit.Ctx(t, 20*time.Second)

	got, err := h.healthClient(2).GetThresholds(ctx, &pb.GetThresholdsRequest{})
	if err != nil || !got.IsDefault || got.Thresholds.MaxMemoryBytes != 1_000_000_000 || got.Thresholds.MaxProcessCount != 10_000 ||
		got.Thresholds.MaxMessageQueueLength != 1_000 || got.Thresholds.MaxCpuPercent != 80 {
		t.Fatalf("defaults: %+v %v", got, err)
	}

	_, err = hc.SetThresholds(ctx, &pb.SetThresholdsRequest{MaxMemoryBytes: i64(-5), MaxCpuPercent: f64(120)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "max_memory_bytes") || !strings.Contains(err.Error(), "max_cpu_percent") {
		t.Fatalf("bad input: %v", err)
	}
	if _, err = hc.SetThresholds(ctx, &pb.SetThresholdsRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("nothing to set: %v", err)
	}
	if got, _ := hc.GetThresholds(ctx, &pb.GetThresholdsRequest{}); !got.IsDefault {
		t.Fatalf("a refused set committed something: %+v", got)
	}

	set, err := hc.SetThresholds(ctx, &pb.SetThresholdsRequest{MaxProcessCount: i64(100)})
	if err != nil || set.Thresholds.MaxProcessCount != 100 || set.Thresholds.MaxMemoryBytes != 1_000_000_000 || set.WriteMeta.Index == 0 {
		t.Fatalf("set: %+v %v", set, err)
	}
	idx := set.Thresholds.ModifyIndex
	set2, err := h.healthClient(0).SetThresholds(ctx, &pb.SetThresholdsRequest{MaxCpuPercent: f64(50), Cas: u64p(idx)})
	if err != nil || set2.Thresholds.MaxProcessCount != 100 || set2.Thresholds.MaxCpuPercent != 50 {
		t.Fatalf("set with cas: %+v %v", set2, err)
	}
	if _, err := hc.SetThresholds(ctx, &pb.SetThresholdsRequest{MaxCpuPercent: f64(60), Cas: u64p(idx)}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("stale cas: %v", err)
	}
	got, err = h.healthClient(2).GetThresholds(ctx, &pb.GetThresholdsRequest{})
	if err != nil || got.IsDefault || got.Thresholds.MaxCpuPercent != 50 || got.Thresholds.MaxProcessCount != 100 || got.Thresholds.UpdatedBy == "" {
		t.Fatalf("read back: %+v %v", got, err)
	}
}

// Injected samples over a threshold raise a violation (an event, the
// node's status, its gossip seen in every member's list); a threshold
// raised above the value clears it at once, without a new sample; a sample
// back within clears another.
func TestThresholdViolationsRaisedAndCleared(t *testing.T) {
	h := newHCluster(t, 2)
	hc := h.healthClient(0)
	ctx := testkit.Ctx(t, 30*time.Second)
	if _, err := hc.SetThresholds(ctx, &pb.SetThresholdsRequest{MaxProcessCount: i64(100), MaxCpuPercent: f64(50)}); err != nil {
		t.Fatal(err)
	}
	n2 := h.layers("n2")
	// Wait for n2 to hold the new thresholds (it watches the table).
	h.Eventually(10*time.Second, func() error {
		resp, err := h.healthClient(h.Index("n2")).NodeHealth(ctx, &pb.NodeHealthRequest{})
		if err != nil || resp.Thresholds.MaxProcessCount != 100 {
			return fmt.Errorf("n2 thresholds: %+v %v", resp.GetThresholds(), err)
		}
		return nil
	}, "n2 follows the committed thresholds")

	t0 := time.Now()
	n2.samples.set(health.Sample{Time: t0, MemoryBytes: 1000, ProcessCount: 150, QueueMax: 3, CPUPercent: 75, CPUAvailable: true})
	tick(n2, t0)
	rt := n2.sup.Runtime()
	h.Eventually(10*time.Second, func() error {
		if ev := events(rt, health.EventThresholdExceeded); len(ev) != 2 {
			return fmt.Errorf("%d exceeded events", len(ev))
		}
		return nil
	}, "threshold_exceeded events")
	ex := events(rt, health.EventThresholdExceeded)
	details := []string{ex[0].Detail, ex[1].Detail}
	slices.Sort(details)
	if details[0] != "cpu_percent 75.0% over the limit of 50.0%" || details[1] != "process_count 150 over the limit of 100" {
		t.Fatalf("event details: %q", details)
	}

	st := h.Node(h.Index("n2")).Status()
	if len(st.Violations) != 2 || st.Violations[0].Metric != health.MetricCPU || st.Violations[1].Metric != health.MetricProcessCount ||
		st.Violations[1].Value != 150 || st.Violations[1].Limit != 100 || st.Violations[1].SinceUnixNano != t0.UnixNano() {
		t.Fatalf("status violations: %+v", st.Violations)
	}
	// n1 learns it through gossip, without asking n2.
	h.Eventually(10*time.Second, func() error {
		for _, m := range h.Node(h.Index("n1")).Members() {
			if m.Name == "n2" {
				if !slices.Equal(m.Violations, []string{health.MetricCPU, health.MetricProcessCount}) {
					return fmt.Errorf("n1 sees n2's violations as %v", m.Violations)
				}
				return nil
			}
		}
		return fmt.Errorf("n2 not a member")
	}, "violations gossiped")
	if v := h.Node(h.Index("n1")).Status().Violations; len(v) != 0 {
		t.Fatalf("n1 has violations of its own: %v", v)
	}
	nh, err := hc.NodeHealth(ctx, &pb.NodeHealthRequest{Node: "n2"})
	if err != nil || nh.Node != "n2" || len(nh.Violations) != 2 || nh.Sample.GetProcessCount() != 150 {
		t.Fatalf("node health of n2 through n1: %+v %v", nh, err)
	}

	// Raising the limit over the value clears it at once.
	if _, err := hc.SetThresholds(ctx, &pb.SetThresholdsRequest{MaxProcessCount: i64(1000)}); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func() error {
		if ev := events(rt, health.EventThresholdCleared); len(ev) != 1 || !strings.HasPrefix(ev[0].Detail, "process_count 150 within the limit of 1000 again") {
			return fmt.Errorf("cleared events: %v", ev)
		}
		return nil
	}, "cleared by a threshold change")

	// A sample back within clears the CPU violation.
	n2.samples.set(health.Sample{Time: t0.Add(time.Second), ProcessCount: 150, CPUPercent: 10, CPUAvailable: true})
	tick(n2, t0.Add(time.Second))
	h.Eventually(10*time.Second, func() error {
		if ev := events(rt, health.EventThresholdCleared); len(ev) != 2 {
			return fmt.Errorf("%d cleared events", len(ev))
		}
		if v := h.Node(h.Index("n2")).Status().Violations; len(v) != 0 {
			return fmt.Errorf("status still has %v", v)
		}
		for _, m := range h.Node(h.Index("n1")).Members() {
			if m.Name == "n2" && len(m.Violations) != 0 {
				return fmt.Errorf("n1 still sees %v", m.Violations)
			}
		}
		return nil
	}, "all cleared")
	if n := len(events(rt, health.EventThresholdExceeded)); n != 2 {
		t.Fatalf("%d exceeded events, want 2 (one per transition)", n)
	}
}
