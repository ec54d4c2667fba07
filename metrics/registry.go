package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every steward metric family.
const Namespace = "steward"

// Registry is one agent's metrics.
type Registry struct {
	reg  *prometheus.Registry
	node string

	fsmApply    *prometheus.HistogramVec
	fsmApplied  *prometheus.CounterVec
	grpcHandled *prometheus.CounterVec
	grpcSeconds *prometheus.HistogramVec
	grpcStarted *prometheus.CounterVec
	// grpcCache holds each unary method's resolved series
	// (grpcSeriesKey -> *grpcSeries).
	grpcCache sync.Map
	// applyCache holds each command's FSM series (command name ->
	// *applySeries).
	applyCache sync.Map
}

// New returns the registry of the agent named node, holding the FSM and
// gRPC families, the Go runtime and process collectors and the
// process-wide go-metrics bridge (gometrics.go).
func New(node string) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), node: node}
	r.fsmApply = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "fsm", Name: "apply_seconds",
		Help:    "Time the FSM took to apply one committed command, by command type.",
		Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5},
	}, []string{"command"})
	r.fsmApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "fsm", Name: "applied_total",
		Help: "Committed commands the FSM applied, by command type and result (ok, refused: the command's domain rules or payload refused it, the same on every node).",
	}, []string{"command", "result"})
	r.grpcStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "grpc_server", Name: "started_total",
		Help: "gRPC calls started on this agent, by service, method and type (unary, client_stream, server_stream, bidi_stream).",
	}, []string{"service", "method", "type"})
	r.grpcHandled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "grpc_server", Name: "handled_total",
		Help: "gRPC calls completed on this agent, by service, method, type and status code.",
	}, []string{"service", "method", "type", "code"})
	r.grpcSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "grpc_server", Name: "handling_seconds",
		Help:    "Time from a gRPC call's arrival to its completion (a stream's whole life), by service, method and type.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"service", "method", "type"})
	r.reg.MustRegister(r.fsmApply, r.fsmApplied, r.grpcStarted, r.grpcHandled, r.grpcSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		bridgeFor(node))
	return r
}

// Node is the agent's name.
func (r *Registry) Node() string { return r.node }

// Register adds collectors (a layer's own families). A family registered
// twice is an error naming it.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Gatherer is the registry, for tests and handlers.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus text (or negotiated)
// exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// commandLabels caches CommandLabel's answers.
var commandLabels sync.Map

// commandLabel is a command type's name as a label value: the enum's name
// without COMMAND_TYPE_, in lower case (COMMAND_TYPE_KV_PUT is kv_put).
func commandLabel(name string) string {
	if v, ok := commandLabels.Load(name); ok {
		return v.(string)
	}
	l := strings.ToLower(strings.TrimPrefix(name, "COMMAND_TYPE_"))
	commandLabels.Store(name, l)
	return l
}

// ObserveApply records one FSM apply (fsm.Config.OnApply): its command
// type's name, how long it took, and whether it was refused.
// Every node calls it for every committed entry, so each command's series
// are resolved once (applySeries) rather than hashed per call; the
// commands are the FSM's registered types, a bounded set.
func (r *Registry) ObserveApply(command string, d time.Duration, refused bool) {
	s := r.applySeriesFor(command)
	s.seconds.Observe(d.Seconds())
	if refused {
		s.refused.Inc()
	} else {
		s.ok.Inc()
	}
}

// applySeries are one command type's FSM series.
type applySeries struct {
	seconds     prometheus.Observer
	ok, refused prometheus.Counter
}

func (r *Registry) applySeriesFor(command string) *applySeries {
	if v, ok := r.applyCache.Load(command); ok {
		return v.(*applySeries)
	}
	l := commandLabel(command)
	s := &applySeries{
		seconds: r.fsmApply.WithLabelValues(l),
		ok:      r.fsmApplied.WithLabelValues(l, "ok"),
		refused: r.fsmApplied.WithLabelValues(l, "refused"),
	}
	v, _ := r.applyCache.LoadOrStore(command, s)
	return v.(*applySeries)
}
