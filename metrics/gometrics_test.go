package metrics

import (
	"testing"
	"time"

	gometrics "github.com/hashicorp/go-metrics/compat"
	dto "github.com/prometheus/client_model/go"
	"github.com/steward/steward/actor"
)

func gather(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func findSeries(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		if len(have) != len(labels) {
			continue
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// What raft and memberlist emit through go-metrics' global sink arrives in
// each agent's registry: memberlist's only in the registry of the node its
// label names, raft's (no node label) in every one; timings in seconds.
func TestBridgeScopesByNode(t *testing.T) {
	a, b := New("bridge-a"), New("bridge-b")
	gometrics.IncrCounterWithLabels([]string{"memberlist", "msg", "suspect"}, 2, MemberlistLabels("bridge-a"))
	gometrics.IncrCounterWithLabels([]string{"memberlist", "msg", "suspect"}, 5, MemberlistLabels("bridge-b"))
	gometrics.AddSampleWithLabels([]string{"raft", "replication", "heartbeat"}, 250, []gometrics.Label{{Name: "peer_id", Value: "bridge-peer"}})
	gometrics.IncrCounter([]string{"raft", "state", "candidate"}, 1)
	gometrics.IncrCounter([]string{"some", "unmapped", "key"}, 1)

	for _, tc := range []struct {
		r       *Registry
		suspect float64
	}{{a, 2}, {b, 5}} {
		fams := gather(t, tc.r)
		m := findSeries(fams["steward_memberlist_messages_total"], map[string]string{"type": "suspect"})
		if m == nil || m.GetCounter().GetValue() != tc.suspect {
			t.Errorf("%s: suspect messages %v, want %v", tc.r.Node(), m, tc.suspect)
		}
		h := findSeries(fams["steward_raft_replication_heartbeat_seconds"], map[string]string{"peer_id": "bridge-peer"})
		if h == nil || h.GetHistogram().GetSampleCount() < 1 || h.GetHistogram().GetSampleSum() < 0.25 {
			t.Errorf("%s: heartbeat histogram %v, want a 0.25 s sample", tc.r.Node(), h)
		}
		if c := findSeries(fams["steward_raft_state_transitions_total"], map[string]string{"state": "candidate"}); c == nil || c.GetCounter().GetValue() < 1 {
			t.Errorf("%s: candidate transitions %v", tc.r.Node(), c)
		}
		for name := range fams {
			if name == "some_unmapped_key" || name == "steward_some_unmapped_key" {
				t.Errorf("an unmapped key became %s", name)
			}
		}
	}
}

// ObserveApply counts per command label (lower case, no COMMAND_TYPE_)
// and result, and times every apply.
func TestObserveApply(t *testing.T) {
	r := New("apply")
	r.ObserveApply("COMMAND_TYPE_KV_PUT", time.Millisecond, false)
	r.ObserveApply("COMMAND_TYPE_KV_PUT", time.Millisecond, true)
	r.ObserveApply("COMMAND_TYPE_KV_PUT", time.Millisecond, false)
	fams := gather(t, r)
	if m := findSeries(fams["steward_fsm_applied_total"], map[string]string{"command": "kv_put", "result": "ok"}); m == nil || m.GetCounter().GetValue() != 2 {
		t.Errorf("ok applies: %v", m)
	}
	if m := findSeries(fams["steward_fsm_applied_total"], map[string]string{"command": "kv_put", "result": "refused"}); m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("refused applies: %v", m)
	}
	if m := findSeries(fams["steward_fsm_apply_seconds"], map[string]string{"command": "kv_put"}); m == nil || m.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("apply timings: %v", m)
	}
}

func TestExitReasonClass(t *testing.T) {
	for r, want := range map[string]string{
		"normal": "normal", "shutdown": "shutdown", "{shutdown,tree}": "shutdown", "kill": "killed", "killed": "killed",
		"noconnection": "noconnection", "sandbox_violation": "sandbox", "message_deadline": "sandbox", "boom": "error",
	} {
		if got := ExitReasonClass(actor.Reason(r)); got != want {
			t.Errorf("%q: %s, want %s", r, got, want)
		}
	}
}

// Repeated observations of one label set add up in one series; another
// label value is another series.
func TestBridgeSameSeriesAcrossCalls(t *testing.T) {
	r := New("bridge-repeat")
	for i := 0; i < 3; i++ {
		gometrics.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 2, []gometrics.Label{{Name: "peer_id", Value: "repeat-p1"}})
	}
	gometrics.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 1, []gometrics.Label{{Name: "peer_id", Value: "repeat-p2"}})
	for i := 0; i < 4; i++ {
		gometrics.IncrCounterWithLabels([]string{"memberlist", "msg", "dead"}, 1, MemberlistLabels("bridge-repeat"))
	}
	fams := gather(t, r)
	for _, tc := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"steward_raft_replication_append_entries_logs_total", map[string]string{"peer_id": "repeat-p1"}, 6},
		{"steward_raft_replication_append_entries_logs_total", map[string]string{"peer_id": "repeat-p2"}, 1},
		{"steward_memberlist_messages_total", map[string]string{"type": "dead"}, 4},
	} {
		if m := findSeries(fams[tc.family], tc.labels); m == nil || m.GetCounter().GetValue() != tc.want {
			t.Errorf("%s%v: %v, want %v", tc.family, tc.labels, m, tc.want)
		}
	}
}

// BenchmarkBridgeRecord is what raft's per-write metrics cost the sink:
// raft.apply (no labels) and a replication timing with a peer label.
func BenchmarkBridgeRecord(b *testing.B) {
	installBridge()
	peer := []gometrics.Label{{Name: "peer_id", Value: "bench-peer"}}
	b.ReportAllocs()
	for b.Loop() {
		sink.IncrCounter([]string{"raft", "apply"}, 1)
		sink.AddSampleWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, 0.5, peer)
		sink.IncrCounter([]string{"raft", "unbridged", "key"}, 1)
	}
}

// BenchmarkObserveApply is the FSM's per-entry metrics cost on every
// node.
func BenchmarkObserveApply(b *testing.B) {
	r := New("bench-apply")
	b.ReportAllocs()
	for b.Loop() {
		r.ObserveApply("COMMAND_TYPE_KV_PUT", 20*time.Microsecond, false)
	}
}
