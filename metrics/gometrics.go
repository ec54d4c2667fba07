package metrics

import (
	"sort"
	"strings"
	"sync"

	gometrics "github.com/hashicorp/go-metrics/compat"
	"github.com/prometheus/client_golang/prometheus"
)

// The go-metrics bridge. hashicorp/raft and memberlist report through
// go-metrics' global sink (the compat package: armon/go-metrics unless
// built with the hashicorpmetrics tag), which is process-wide. bridgeFor
// installs, once per process, a sink that keeps the keys listed in
// bridged as Prometheus families. Its series are scoped as follows:
//
//   - memberlist's carry the node's name (node.Config sets memberlist's
//     MetricLabels to node=<name>), and an agent's registry shows only its
//     own;
//   - raft's carry no node: hashicorp/raft v1.7.3 labels nothing with the
//     local server, so an agent's registry shows the whole process's. In
//     production one agent runs per process and they are its own; in a
//     test process running several agents they are the sum of all of
//     them. Per-node Raft values (state, leader, last contact, indexes)
//     come from RaftCollector, which reads the node's own raft.Raft.
//
// Timings arrive in milliseconds and are exposed in seconds.

// BridgeNodeLabel is the label memberlist's series carry to name their
// node (memberlist.Config.MetricLabels).
const BridgeNodeLabel = "node"

type bridgeKind int

const (
	kindCounter bridgeKind = iota
	kindGauge
	kindSeconds // a timing sample in ms, a histogram in seconds
	kindSample  // a plain sample, a histogram of the value
)

// bridgeFamily is the Prometheus family one go-metrics key becomes.
type bridgeFamily struct {
	name, help string
	kind       bridgeKind
	// fixed are label pairs the key implies (the state of
	// raft.state.leader).
	fixed [][2]string
	// labels are the go-metrics labels kept, in order (peer_id).
	labels []string
}

var timingBuckets = []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// bridged maps go-metrics keys (joined by '.') to families.
var bridged = map[string]*bridgeFamily{
	"raft.commitTime":                      {name: "steward_raft_commit_seconds", help: "Leader: time from a log entry's dispatch to its commit (raft.commitTime).", kind: kindSeconds},
	"raft.fsm.apply":                       {name: "steward_raft_fsm_apply_seconds", help: "Time raft's FSM loop took to apply a committed entry (raft.fsm.apply).", kind: kindSeconds},
	"raft.fsm.enqueue":                     {name: "steward_raft_fsm_enqueue_seconds", help: "Time committed entries waited to be handed to the FSM (raft.fsm.enqueue).", kind: kindSeconds},
	"raft.fsm.snapshot":                    {name: "steward_raft_fsm_snapshot_seconds", help: "Time the FSM took to capture a Raft snapshot (raft.fsm.snapshot).", kind: kindSeconds},
	"raft.fsm.restore":                     {name: "steward_raft_fsm_restore_seconds", help: "Time the FSM took to restore a Raft snapshot (raft.fsm.restore).", kind: kindSeconds},
	"raft.snapshot.persist":                {name: "steward_raft_snapshot_persist_seconds", help: "Time to write a Raft snapshot to disk (raft.snapshot.persist).", kind: kindSeconds},
	"raft.snapshot.takeSnapshot":           {name: "steward_raft_snapshot_take_seconds", help: "Time to take a Raft snapshot, capture and persist (raft.snapshot.takeSnapshot).", kind: kindSeconds},
	"raft.leader.dispatchLog":              {name: "steward_raft_leader_dispatch_log_seconds", help: "Leader: time to write a batch of entries to its own log (raft.leader.dispatchLog).", kind: kindSeconds},
	"raft.leader.lastContact":              {name: "steward_raft_leader_last_contact_seconds", help: "Leader: time since it last heard from each follower, sampled at every lease check (raft.leader.lastContact).", kind: kindSeconds},
	"raft.replication.appendEntries.rpc":   {name: "steward_raft_replication_append_entries_seconds", help: "Leader: time of an AppendEntries round trip to a follower (raft.replication.appendEntries.rpc).", kind: kindSeconds, labels: []string{"peer_id"}},
	"raft.replication.heartbeat":           {name: "steward_raft_replication_heartbeat_seconds", help: "Leader: time of a heartbeat round trip to a follower (raft.replication.heartbeat).", kind: kindSeconds, labels: []string{"peer_id"}},
	"raft.replication.installSnapshot":     {name: "steward_raft_replication_install_snapshot_seconds", help: "Leader: time to send a snapshot to a follower (raft.replication.installSnapshot).", kind: kindSeconds, labels: []string{"peer_id"}},
	"raft.replication.appendEntries.logs":  {name: "steward_raft_replication_append_entries_logs_total", help: "Leader: log entries replicated to each follower (raft.replication.appendEntries.logs).", kind: kindCounter, labels: []string{"peer_id"}},
	"raft.apply":                           {name: "steward_raft_apply_total", help: "Leader: commands handed to raft.Apply (raft.apply).", kind: kindCounter},
	"raft.barrier":                         {name: "steward_raft_barrier_total", help: "Leader: barriers handed to raft (raft.barrier).", kind: kindCounter},
	"raft.state.leader":                    {name: "steward_raft_state_transitions_total", help: "Transitions into a Raft state (raft.state.*).", kind: kindCounter, fixed: [][2]string{{"state", "leader"}}},
	"raft.state.follower":                  {name: "steward_raft_state_transitions_total", kind: kindCounter, fixed: [][2]string{{"state", "follower"}}},
	"raft.state.candidate":                 {name: "steward_raft_state_transitions_total", kind: kindCounter, fixed: [][2]string{{"state", "candidate"}}},
	"raft.transition.heartbeat_timeout":    {name: "steward_raft_heartbeat_timeouts_total", help: "Followers that heard no heartbeat in time and became candidates (raft.transition.heartbeat_timeout).", kind: kindCounter},
	"raft.transition.leader_lease_timeout": {name: "steward_raft_leader_lease_timeouts_total", help: "Leaders that heard from no quorum within the lease and stepped down (raft.transition.leader_lease_timeout).", kind: kindCounter},
	"raft.restore":                         {name: "steward_raft_user_restores_total", help: "User snapshots restored (raft.restore).", kind: kindCounter},

	"memberlist.probeNode":        {name: "steward_memberlist_probe_seconds", help: "Time of one failure-detector probe (memberlist.probeNode).", kind: kindSeconds},
	"memberlist.gossip":           {name: "steward_memberlist_gossip_seconds", help: "Time of one gossip round (memberlist.gossip).", kind: kindSeconds},
	"memberlist.pushPullNode":     {name: "steward_memberlist_push_pull_seconds", help: "Time of one full state exchange with a member (memberlist.pushPullNode).", kind: kindSeconds},
	"memberlist.msg.alive":        {name: "steward_memberlist_messages_total", help: "Membership messages handled, by type (memberlist.msg.*).", kind: kindCounter, fixed: [][2]string{{"type", "alive"}}},
	"memberlist.msg.suspect":      {name: "steward_memberlist_messages_total", kind: kindCounter, fixed: [][2]string{{"type", "suspect"}}},
	"memberlist.msg.dead":         {name: "steward_memberlist_messages_total", kind: kindCounter, fixed: [][2]string{{"type", "dead"}}},
	"memberlist.degraded.probe":   {name: "steward_memberlist_degraded_total", help: "Probes that degraded the health score, by cause (memberlist.degraded.*).", kind: kindCounter, fixed: [][2]string{{"cause", "probe"}}},
	"memberlist.degraded.timeout": {name: "steward_memberlist_degraded_total", kind: kindCounter, fixed: [][2]string{{"cause", "timeout"}}},
	"memberlist.udp.sent":         {name: "steward_memberlist_udp_sent_bytes_total", help: "Bytes sent over gossip UDP (memberlist.udp.sent).", kind: kindCounter},
	"memberlist.udp.received":     {name: "steward_memberlist_udp_received_bytes_total", help: "Bytes received over gossip UDP (memberlist.udp.received).", kind: kindCounter},
	"memberlist.tcp.sent":         {name: "steward_memberlist_tcp_sent_bytes_total", help: "Bytes sent over gossip TCP (memberlist.tcp.sent).", kind: kindCounter},
}

// familyInfo is what every key of one family shares.
type familyInfo struct {
	help   string
	kind   bridgeKind
	labels []string // fixed label names, then kept ones
	desc   *prometheus.Desc
}

var families = func() map[string]*familyInfo {
	out := map[string]*familyInfo{}
	for _, f := range bridged {
		fi := out[f.name]
		if fi == nil {
			fi = &familyInfo{kind: f.kind}
			for _, p := range f.fixed {
				fi.labels = append(fi.labels, p[0])
			}
			fi.labels = append(fi.labels, f.labels...)
			out[f.name] = fi
		}
		if f.help != "" {
			fi.help = f.help
		}
	}
	for name, fi := range out {
		fi.desc = prometheus.NewDesc(name, fi.help, fi.labels, nil)
	}
	return out
}()

// series is one label set's value.
type series struct {
	family *familyInfo
	node   string
	values []string
	value  float64 // counter or gauge
	count  uint64
	sum    float64
	bucket []uint64 // cumulative at collect time; per-bucket here
}

// bridgeSink is the process-wide go-metrics sink.
type bridgeSink struct {
	mu     sync.Mutex
	series map[string]*series
}

var (
	bridgeOnce sync.Once
	sink       = &bridgeSink{series: map[string]*series{}}
)

// installBridge makes sink go-metrics' global sink, once per process.
func installBridge() {
	bridgeOnce.Do(func() {
		c := gometrics.DefaultConfig("")
		c.EnableHostname = false
		c.EnableHostnameLabel = false
		c.EnableRuntimeMetrics = false
		c.EnableServiceLabel = false
		c.EnableTypePrefix = false
		_, _ = gometrics.NewGlobal(c, sink)
	})
}

// record adds one go-metrics observation to its series. Raft reports
// several per write (raft.apply on every Apply), so the lookups build
// their keys in a stack buffer (a map index with string(bytes) does not
// allocate): memory is allocated only for a series seen the first time.
func (s *bridgeSink) record(key []string, val float32, labels []gometrics.Label) {
	var kb [128]byte
	k := kb[:0]
	for i, part := range key {
		if i > 0 {
			k = append(k, '.')
		}
		k = append(k, part...)
	}
	f := bridged[string(k)]
	if f == nil {
		return
	}
	fi := families[f.name]
	node := ""
	for _, l := range labels {
		if l.Name == BridgeNodeLabel {
			node = l.Value
		}
	}
	// The series' id: family, node and label values, \xff-separated.
	var ib [256]byte
	id := append(append(append(ib[:0], f.name...), '\xff'), node...)
	id = append(id, '\xff')
	nv := 0
	value := func(i int) string {
		if i < len(f.fixed) {
			return f.fixed[i][1]
		}
		name, v := f.labels[i-len(f.fixed)], ""
		for _, l := range labels {
			if l.Name == name {
				v = l.Value
			}
		}
		return v
	}
	for i := 0; i < len(f.fixed)+len(f.labels); i++ {
		if nv > 0 {
			id = append(id, '\xff')
		}
		id = append(id, value(i)...)
		nv++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series[string(id)]
	if sr == nil {
		values := make([]string, 0, len(fi.labels))
		for i := 0; i < len(f.fixed)+len(f.labels); i++ {
			values = append(values, value(i))
		}
		sr = &series{family: fi, node: node, values: values}
		if fi.kind == kindSeconds || fi.kind == kindSample {
			sr.bucket = make([]uint64, len(timingBuckets))
		}
		s.series[string(id)] = sr
	}
	v := float64(val)
	switch fi.kind {
	case kindCounter:
		sr.value += v
	case kindGauge:
		sr.value = v
	case kindSeconds, kindSample:
		if fi.kind == kindSeconds {
			v /= 1000
		}
		sr.count++
		sr.sum += v
		for i, b := range timingBuckets {
			if v <= b {
				sr.bucket[i]++
				break
			}
		}
	}
}

func (s *bridgeSink) SetGauge(key []string, val float32) { s.record(key, val, nil) }
func (s *bridgeSink) SetGaugeWithLabels(key []string, val float32, labels []gometrics.Label) {
	s.record(key, val, labels)
}
func (s *bridgeSink) SetPrecisionGauge(key []string, val float64) { s.record(key, float32(val), nil) }
func (s *bridgeSink) SetPrecisionGaugeWithLabels(key []string, val float64, labels []gometrics.Label) {
	s.record(key, float32(val), labels)
}
func (s *bridgeSink) EmitKey(key []string, val float32)     {}
func (s *bridgeSink) IncrCounter(key []string, val float32) { s.record(key, val, nil) }
func (s *bridgeSink) IncrCounterWithLabels(key []string, val float32, labels []gometrics.Label) {
	s.record(key, val, labels)
}
func (s *bridgeSink) AddSample(key []string, val float32) { s.record(key, val, nil) }
func (s *bridgeSink) AddSampleWithLabels(key []string, val float32, labels []gometrics.Label) {
	s.record(key, val, labels)
}

var _ gometrics.MetricSink = (*bridgeSink)(nil)

// bridgeView is one agent's view of the sink: the series of no node and
// those of its own.
type bridgeView struct{ node string }

// Bridge installs the go-metrics bridge (once per process) and returns
// node's view of it, a collector.
func bridgeFor(node string) prometheus.Collector {
	installBridge()
	return bridgeView{node: node}
}

func (v bridgeView) Describe(ch chan<- *prometheus.Desc) {
	for _, fi := range families {
		ch <- fi.desc
	}
}

func (v bridgeView) Collect(ch chan<- prometheus.Metric) {
	sink.mu.Lock()
	list := make([]*series, 0, len(sink.series))
	for _, sr := range sink.series {
		if sr.node == "" || sr.node == v.node {
			list = append(list, sr)
		}
	}
	// Copy under the lock, emit after.
	type out struct {
		fi     *familyInfo
		values []string
		value  float64
		count  uint64
		sum    float64
		bucket map[float64]uint64
	}
	outs := make([]out, 0, len(list))
	for _, sr := range list {
		o := out{fi: sr.family, values: sr.values, value: sr.value, count: sr.count, sum: sr.sum}
		if sr.bucket != nil {
			o.bucket = make(map[float64]uint64, len(timingBuckets))
			var cum uint64
			for i, b := range timingBuckets {
				cum += sr.bucket[i]
				o.bucket[b] = cum
			}
		}
		outs = append(outs, o)
	}
	sink.mu.Unlock()
	sort.Slice(outs, func(i, j int) bool { return strings.Join(outs[i].values, ",") < strings.Join(outs[j].values, ",") })
	for _, o := range outs {
		switch o.fi.kind {
		case kindCounter:
			ch <- prometheus.MustNewConstMetric(o.fi.desc, prometheus.CounterValue, o.value, o.values...)
		case kindGauge:
			ch <- prometheus.MustNewConstMetric(o.fi.desc, prometheus.GaugeValue, o.value, o.values...)
		default:
			ch <- prometheus.MustNewConstHistogram(o.fi.desc, o.count, o.sum, o.bucket, o.values...)
		}
	}
}

// MemberlistLabels are the labels to set as memberlist.Config.MetricLabels
// so that the node's memberlist series are scoped to it.
func MemberlistLabels(node string) []gometrics.Label {
	return []gometrics.Label{{Name: BridgeNodeLabel, Value: node}}
}
