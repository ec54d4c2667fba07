package metrics

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/steward/steward/actor"
)

// RuntimeEventBuffer is how many runtime events the runtime watcher
// buffers; events it misses when the buffer is full are counted in
// steward_runtime_events_dropped_total rather than slowing the runtime.
const RuntimeEventBuffer = 4096

// ExitReasonClass is the class an exit reason is counted under in
// steward_runtime_exits_total: normal, shutdown (and {shutdown,_}),
// killed (kill, killed), noconnection, sandbox (a sandbox violation or
// message deadline), or error (any other reason).
func ExitReasonClass(r actor.Reason) string {
	switch {
	case r == actor.Normal:
		return "normal"
	case r == actor.Shutdown || strings.HasPrefix(string(r), "{shutdown"):
		return "shutdown"
	case r == actor.Kill || r == actor.Killed:
		return "killed"
	case r == actor.NoConnection:
		return "noconnection"
	case r == actor.ReasonSandboxViolation || r == actor.ReasonMessageDeadline:
		return "sandbox"
	}
	return "error"
}

// Runtime is the watcher of one node's process runtime: counters fed by
// its events and gauges read from its introspection when scraped.
type Runtime struct {
	rt  *actor.Runtime
	sub *actor.Subscription

	events     *prometheus.CounterVec
	exits      *prometheus.CounterVec
	restarts   prometheus.Counter
	violations *prometheus.CounterVec
	stopOnce   sync.Once
	done       chan struct{}
}

var (
	descProcesses   = prometheus.NewDesc("steward_runtime_processes", "Live local processes (supervisors included).", nil, nil)
	descSupervisors = prometheus.NewDesc("steward_runtime_supervisors", "Live local supervisors.", nil, nil)
	descTrees       = prometheus.NewDesc("steward_runtime_trees", "Supervision trees this node runs.", nil, nil)
	descQueueTotal  = prometheus.NewDesc("steward_runtime_mailbox_messages", "Queued user messages summed over every local process.", nil, nil)
	descQueueMax    = prometheus.NewDesc("steward_runtime_mailbox_longest_messages", "The longest mailbox of a local process, in queued user messages.", nil, nil)
	descMemory      = prometheus.NewDesc("steward_runtime_memory_bytes", "Estimated memory held by local processes (mailboxes and states).", nil, nil)
	descSpawned     = prometheus.NewDesc("steward_runtime_spawned_total", "Processes spawned on this node since it started.", nil, nil)
	descDropped     = prometheus.NewDesc("steward_runtime_dropped_sends_total", "Unchecked sends to dead or unknown local processes.", nil, nil)
	descEvDropped   = prometheus.NewDesc("steward_runtime_events_dropped_total", "Runtime events the metrics watcher missed (its buffer was full); the event counters are short by as many.", nil, nil)
)

// WatchRuntime starts counting rt's events into families registered on r
// (steward_runtime_*, steward_sandbox_violations_total). Stop ends it.
func WatchRuntime(r *Registry, rt *actor.Runtime) (*Runtime, error) {
	w := &Runtime{
		rt: rt,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "runtime", Name: "events_total",
			Help: "Runtime events, by type (spawned, exited, restarted, start_failed, supervisor_escalated, ...).",
		}, []string{"type"}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "runtime", Name: "exits_total",
			Help: "Local process exits, by reason class (normal, shutdown, killed, noconnection, sandbox, error).",
		}, []string{"reason_class"}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "runtime", Name: "restarts_total",
			Help: "Children restarted by their supervisor on this node.",
		}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "sandbox", Name: "violations_total",
			Help: "Sandbox rule violations detected on this node, by kind (boundary, outside_targets, outside_links, max_processes, max_mailbox, ...).",
		}, []string{"kind"}),
		done: make(chan struct{}),
	}
	for _, c := range []string{"normal", "shutdown", "killed", "noconnection", "sandbox", "error"} {
		w.exits.WithLabelValues(c)
	}
	if err := r.Register(w.events, w.exits, w.restarts, w.violations, runtimeGauges{w}); err != nil {
		return nil, err
	}
	w.sub = rt.Subscribe(RuntimeEventBuffer)
	go w.loop()
	return w, nil
}

func (w *Runtime) loop() {
	defer close(w.done)
	for e := range w.sub.C {
		w.events.WithLabelValues(string(e.Type)).Inc()
		switch e.Type {
		case actor.EventExited:
			w.exits.WithLabelValues(ExitReasonClass(e.Reason)).Inc()
		case actor.EventRestarted:
			w.restarts.Inc()
		case actor.EventSandboxViolation:
			kind := string(e.Reason)
			if e.Violation != nil {
				kind = string(e.Violation.Kind)
			}
			w.violations.WithLabelValues(kind).Inc()
		}
	}
}

// Stop ends the watch; the families stay registered with their last
// values.
func (w *Runtime) Stop() {
	w.stopOnce.Do(func() {
		w.sub.Close()
		<-w.done
	})
}

type runtimeGauges struct{ w *Runtime }

func (g runtimeGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProcesses, descSupervisors, descTrees, descQueueTotal, descQueueMax, descMemory, descSpawned, descDropped, descEvDropped} {
		ch <- d
	}
}

func (g runtimeGauges) Collect(ch chan<- prometheus.Metric) {
	rt := g.w.rt
	st := rt.Stats()
	longest := 0
	for _, p := range rt.Processes() {
		if p.QueueLen > longest {
			longest = p.QueueLen
		}
	}
	ch <- prometheus.MustNewConstMetric(descProcesses, prometheus.GaugeValue, float64(st.Processes))
	ch <- prometheus.MustNewConstMetric(descSupervisors, prometheus.GaugeValue, float64(st.Supervisors))
	ch <- prometheus.MustNewConstMetric(descTrees, prometheus.GaugeValue, float64(st.Trees))
	ch <- prometheus.MustNewConstMetric(descQueueTotal, prometheus.GaugeValue, float64(st.QueueTotal))
	ch <- prometheus.MustNewConstMetric(descQueueMax, prometheus.GaugeValue, float64(longest))
	ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(st.MemoryBytes))
	ch <- prometheus.MustNewConstMetric(descSpawned, prometheus.CounterValue, float64(st.Spawned))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.DroppedSends))
	ch <- prometheus.MustNewConstMetric(descEvDropped, prometheus.CounterValue, float64(g.w.sub.Dropped()))
}
