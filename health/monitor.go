package health

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

// Metrics compared with the thresholds.
const (
	MetricMemory       = "memory_bytes"
	MetricProcessCount = "process_count"
	MetricQueueLength  = "message_queue_length"
	MetricCPU          = "cpu_percent"
)

// Events the monitor adds to the node's event stream, one per transition.
const (
	// EventThresholdExceeded: a metric went over its threshold (Detail
	// names the metric, its value and the limit).
	EventThresholdExceeded actor.EventType = "threshold_exceeded"
	// EventThresholdCleared: a metric is back within its threshold, or its
	// check was turned off.
	EventThresholdCleared actor.EventType = "threshold_cleared"
)

// Violation is a metric over its threshold.
type Violation struct {
	Metric string    `json:"metric"`
	Value  float64   `json:"value"`
	Limit  float64   `json:"limit"`
	Since  time.Time `json:"since"`
}

// reading is one metric of a sample beside its limit (0: off).
type reading struct {
	metric    string
	value     float64
	limit     float64
	available bool
}

func readings(s Sample, th *pb.ThresholdsRecord) []reading {
	return []reading{
		{MetricMemory, float64(s.MemoryBytes), float64(th.MaxMemoryBytes), true},
		{MetricProcessCount, float64(s.ProcessCount), float64(th.MaxProcessCount), true},
		{MetricQueueLength, float64(s.QueueMax), float64(th.MaxMessageQueueLength), true},
		{MetricCPU, s.CPUPercent, th.MaxCpuPercent, s.CPUAvailable},
	}
}

// transition is a metric going over its threshold or back within it.
type transition struct {
	exceeded bool
	v        Violation
	// value is the metric's value when it cleared.
	value float64
}

// evaluate compares a sample with the thresholds, given the violations
// active before it. A metric is over when its limit is not 0 and its value
// is above the limit. A metric that could not be measured (CPU outside
// Linux) keeps its previous state.
func evaluate(prev map[string]Violation, s Sample, th *pb.ThresholdsRecord) (map[string]Violation, []transition) {
	next := make(map[string]Violation, len(prev))
	var out []transition
	for _, r := range readings(s, th) {
		old, was := prev[r.metric]
		if !r.available {
			if was && r.limit > 0 {
				old.Limit = r.limit
				next[r.metric] = old
			} else if was {
				out = append(out, transition{v: old, value: old.Value})
			}
			continue
		}
		over := r.limit > 0 && r.value > r.limit
		switch {
		case over && !was:
			v := Violation{Metric: r.metric, Value: r.value, Limit: r.limit, Since: s.Time}
			next[r.metric] = v
			out = append(out, transition{exceeded: true, v: v})
		case over:
			old.Value, old.Limit = r.value, r.limit
			next[r.metric] = old
		case was:
			old.Limit = r.limit
			out = append(out, transition{v: old, value: r.value})
		}
	}
	return next, out
}

// formatValue writes a metric's value: whole numbers for counts and bytes,
// one decimal for percentages.
func formatValue(metric string, v float64) string {
	if metric == MetricCPU {
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func (t transition) detail(now time.Time) string {
	m := t.v.Metric
	if t.exceeded {
		return fmt.Sprintf("%s %s over the limit of %s", m, formatValue(m, t.v.Value), formatValue(m, t.v.Limit))
	}
	if t.v.Limit <= 0 {
		return fmt.Sprintf("%s: check turned off (was over for %s)", m, now.Sub(t.v.Since).Round(time.Millisecond))
	}
	return fmt.Sprintf("%s %s within the limit of %s again (over for %s)", m, formatValue(m, t.value),
		formatValue(m, t.v.Limit), now.Sub(t.v.Since).Round(time.Millisecond))
}

// monitor samples the node and follows the committed thresholds.
type monitor struct {
	l       *Layer
	sampler Sampler

	mu         sync.Mutex
	sample     Sample
	sampled    bool
	thresholds *pb.ThresholdsRecord
	violations map[string]Violation
}

func newMonitor(l *Layer, s Sampler) *monitor {
	return &monitor{l: l, sampler: s, thresholds: state.DefaultThresholds(), violations: map[string]Violation{}}
}

func (m *monitor) run() {
	ticks := m.l.cfg.Ticks
	if ticks == nil {
		t := time.NewTicker(m.l.cfg.SampleInterval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		st := m.l.node.State()
		ws := memdb.NewWatchSet()
		if _, th, _, err := st.Thresholds(ws); err != nil {
			m.l.logger.Error("reading the thresholds", "error", err)
		} else {
			m.setThresholds(th)
		}
		ctx, cancel := context.WithCancel(context.Background())
		changed := ws.WatchCh(ctx)
	wait:
		for {
			select {
			case <-changed:
				break wait
			case <-st.AbandonCh():
				break wait
			case <-ticks:
				m.sampleOnce()
			case <-m.l.stopCh:
				cancel()
				return
			}
		}
		cancel()
	}
}

// setThresholds takes new thresholds and, once there is a sample,
// compares it with them at once.
func (m *monitor) setThresholds(th *pb.ThresholdsRecord) {
	m.mu.Lock()
	if proto.Equal(th, m.thresholds) {
		m.mu.Unlock()
		return
	}
	m.thresholds = th
	sampled := m.sampled
	m.mu.Unlock()
	m.l.logger.Info("resource thresholds", "max_memory_bytes", th.MaxMemoryBytes, "max_process_count", th.MaxProcessCount,
		"max_message_queue_length", th.MaxMessageQueueLength, "max_cpu_percent", th.MaxCpuPercent, "index", th.ModifyIndex)
	if sampled {
		m.check()
	}
}

func (m *monitor) sampleOnce() {
	s := m.sampler.Sample()
	if s.Time.IsZero() {
		s.Time = m.l.cfg.Now()
	}
	m.mu.Lock()
	m.sample, m.sampled = s, true
	m.mu.Unlock()
	m.check()
}

// check compares the last sample with the thresholds and publishes the
// transitions.
func (m *monitor) check() {
	m.mu.Lock()
	next, changes := evaluate(m.violations, m.sample, m.thresholds)
	m.violations = next
	list := m.activeLocked()
	m.mu.Unlock()
	if len(changes) == 0 {
		m.publish(list)
		return
	}
	now := m.l.cfg.Now()
	for _, t := range changes {
		typ, detail := EventThresholdCleared, t.detail(now)
		if t.exceeded {
			typ = EventThresholdExceeded
			m.l.logger.Warn("resource threshold exceeded", "metric", t.v.Metric, "value", t.v.Value, "limit", t.v.Limit)
		} else {
			m.l.logger.Info("resource threshold cleared", "metric", t.v.Metric, "value", t.value, "limit", t.v.Limit)
		}
		m.l.rt.Publish(actor.Event{Type: typ, Detail: detail})
	}
	m.publish(list)
}

// gossipKey is the health layer's field in gossip metadata: the names of
// the metrics over their thresholds, sorted, comma-separated, so that
// `members` shows every member's without asking any of them.
const gossipKey = "hv"

// publish announces the active violations' metrics through gossip (the
// full list is in this node's status, through the status hook).
func (m *monitor) publish(list []Violation) {
	names := make([]string, len(list))
	for i, v := range list {
		names[i] = v.Metric
	}
	m.l.node.SetGossipMeta(gossipKey, strings.Join(names, ","))
}

// memberViolations is what a member gossips of its violations.
func memberViolations(meta map[string]string, mb *pb.Member) {
	if s := meta[gossipKey]; s != "" {
		mb.Violations = strings.Split(s, ",")
	}
}

func (m *monitor) activeLocked() []Violation {
	out := make([]Violation, 0, len(m.violations))
	for _, v := range m.violations {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out
}

func (m *monitor) active() []Violation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.activeLocked()
}

func (m *monitor) last() (Sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sample, m.sampled
}

func (m *monitor) current() (*pb.ThresholdsRecord, Sample, bool, []Violation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.thresholds, m.sample, m.sampled, m.activeLocked()
}

func toPB(list []Violation) []*pb.ResourceViolation {
	out := make([]*pb.ResourceViolation, len(list))
	for i, v := range list {
		out[i] = &pb.ResourceViolation{Metric: v.Metric, Value: v.Value, Limit: v.Limit, SinceUnixNano: v.Since.UnixNano()}
	}
	return out
}

func sampleToPB(s Sample) *pb.ResourceSample {
	return &pb.ResourceSample{
		TimeUnixNano: s.Time.UnixNano(),
		MemoryBytes:  s.MemoryBytes,
		HeapBytes:    s.HeapBytes,
		StackBytes:   s.StackBytes,
		RuntimeBytes: s.RuntimeBytes,
		ProcessCount: s.ProcessCount,
		QueueTotal:   s.QueueTotal,
		QueueMax:     s.QueueMax,
		CpuPercent:   s.CPUPercent,
		CpuAvailable: s.CPUAvailable,
	}
}
