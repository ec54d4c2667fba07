package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ThresholdViolation is one resource metric of the node over its
// threshold (the health layer's health.Violation).
type ThresholdViolation struct {
	Metric       string
	Value, Limit float64
	Since        time.Time
}

// ThresholdSource is what ThresholdCollector reads from the health layer.
type ThresholdSource struct {
	// Metrics are the metrics that have thresholds (memory_bytes,
	// process_count, message_queue_length, cpu_percent): each is reported,
	// 0 while within its threshold.
	Metrics []string
	// Violations are the node's metrics over their thresholds now.
	Violations func() []ThresholdViolation
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

var (
	descThExceeded = prometheus.NewDesc("steward_health_threshold_exceeded", "1 while this node's resource metric is over its threshold (the health layer's violations), 0 otherwise.", []string{"metric"}, nil)
	descThSeconds  = prometheus.NewDesc("steward_health_threshold_exceeded_seconds", "How long the metric has been over its threshold (present only while it is).", []string{"metric"}, nil)
	descThValue    = prometheus.NewDesc("steward_health_threshold_value", "The metric's value at the sample that found it over (present only while it is).", []string{"metric"}, nil)
	descThLimit    = prometheus.NewDesc("steward_health_threshold_limit", "The threshold the metric is over (present only while it is).", []string{"metric"}, nil)
)

// ThresholdCollector reports the health layer's threshold state when
// scraped.
func ThresholdCollector(s ThresholdSource) prometheus.Collector {
	if s.Now == nil {
		s.Now = time.Now
	}
	return thresholdCollector{s}
}

type thresholdCollector struct{ s ThresholdSource }

func (c thresholdCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descThExceeded, descThSeconds, descThValue, descThLimit} {
		ch <- d
	}
}

func (c thresholdCollector) Collect(ch chan<- prometheus.Metric) {
	over := map[string]ThresholdViolation{}
	for _, v := range c.s.Violations() {
		over[v.Metric] = v
	}
	seen := map[string]bool{}
	emit := func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		v, ok := over[m]
		ch <- prometheus.MustNewConstMetric(descThExceeded, prometheus.GaugeValue, boolGauge(ok), m)
		if ok {
			ch <- prometheus.MustNewConstMetric(descThSeconds, prometheus.GaugeValue, c.s.Now().Sub(v.Since).Seconds(), m)
			ch <- prometheus.MustNewConstMetric(descThValue, prometheus.GaugeValue, v.Value, m)
			ch <- prometheus.MustNewConstMetric(descThLimit, prometheus.GaugeValue, v.Limit, m)
		}
	}
	for _, m := range c.s.Metrics {
		emit(m)
	}
	for m := range over {
		emit(m)
	}
}
