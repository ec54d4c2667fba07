package main

import (
	"time"

	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
)

// schema is the version of the JSON document; fields are only added.
const schema = 1

// The kinds of cluster a write run is made on.
const (
	// kindClients: 3 servers and k client agents.
	kindClients = "clients"
	// kindAllRaft: 3+k servers, every agent a Raft member (up to 5
	// voters, the rest non-voters): the cluster of the same size as it
	// is built without client agents.
	kindAllRaft = "all-raft"
	// kindBaseline: 3 servers alone, run beside every size.
	kindBaseline = "baseline-3"
)

// document is everything one run of clientbench measured.
type document struct {
	Schema       int            `json:"schema"`
	StartedAt    time.Time      `json:"started_at"`
	FinishedAt   time.Time      `json:"finished_at"`
	Label        string         `json:"label,omitempty"`
	Machine      report.Machine `json:"machine"`
	Settings     settings       `json:"settings"`
	Runs         []writeRun     `json:"runs"`
	Sizes        []sizeSummary  `json:"sizes"`
	TreeStart    []*treeStart   `json:"tree_start,omitempty"`
	Memory       *memory        `json:"memory,omitempty"`
	LoadAvgStart string         `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string         `json:"loadavg_end,omitempty"`
	Notes        []string       `json:"notes,omitempty"`
}

type settings struct {
	Sizes      []int   `json:"client_counts"`
	Pairs      int     `json:"pairs"`
	Writers    int     `json:"writers"`
	DurationS  float64 `json:"duration_s"`
	WarmupS    float64 `json:"warmup_s"`
	ValueSize  int     `json:"value_size_bytes"`
	Keyspace   int     `json:"keyspace"`
	Endpoint   string  `json:"endpoint"`
	Interleave string  `json:"interleave"`
	AgentArgs  string  `json:"agent_args"`
	Trees      int     `json:"trees_per_placement"`
	TreeAgents string  `json:"tree_cluster"`
	IdleS      float64 `json:"idle_window_s"`
}

// writeRun is one fixed-duration write load on one cluster.
type writeRun struct {
	Kind    string `json:"kind"`
	K       int    `json:"k"` // the size's client count
	Pair    int    `json:"pair"`
	Servers int    `json:"servers"`
	Clients int    `json:"clients"`
	Voters  uint32 `json:"voters"`
	// Nonvoters as the leader's configuration holds them.
	Nonvoters  uint32  `json:"nonvoters"`
	Leader     string  `json:"leader"`
	ReadyS     float64 `json:"ready_s"`
	Writers    int     `json:"writers"`
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	ElapsedS   float64 `json:"elapsed_s"`
	WritesPerS float64 `json:"writes_per_s"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	// CPU per successful write (user+system, /proc/PID/stat), µs: the
	// leader's process, all servers', all client agents', the load
	// generator's.
	LeaderCPUUs  float64 `json:"leader_cpu_us_per_write"`
	ServersCPUUs float64 `json:"servers_cpu_us_per_write"`
	ClientsCPUUs float64 `json:"clients_cpu_us_per_write"`
	GenCPUUs     float64 `json:"generator_cpu_us_per_write"`
	// LeaderCPUPct is the leader's CPU over the run, in percent of one
	// core; OtherCPUPct what the rest of the machine used (all CPU busy
	// time minus the agents' and the generator's).
	LeaderCPUPct float64 `json:"leader_cpu_pct"`
	OtherCPUPct  float64 `json:"other_cpu_pct"`
	// Median RSS (VmRSS) of the servers and of the clients when the
	// cluster was ready, before the load (MiB).
	ServerRSSMiB float64 `json:"server_rss_mib_at_ready"`
	ClientRSSMiB float64 `json:"client_rss_mib_at_ready,omitempty"`
	LeaderMoved  bool    `json:"leader_moved,omitempty"`
}

// sizeSummary is one client count: medians of its runs and of its pairs'
// ratios.
type sizeSummary struct {
	K      int `json:"k"`
	Agents int `json:"agents"`
	// Medians over the pairs.
	ClientsWps   float64 `json:"clients_writes_per_s"`
	AllRaftWps   float64 `json:"all_raft_writes_per_s"`
	BaselineWps  float64 `json:"baseline_3_writes_per_s"`
	ClientsCPU   float64 `json:"clients_leader_cpu_us_per_write"`
	AllRaftCPU   float64 `json:"all_raft_leader_cpu_us_per_write"`
	BaselineCPU  float64 `json:"baseline_3_leader_cpu_us_per_write"`
	ClientsAgent float64 `json:"clients_client_agents_cpu_us_per_write"`
	// Medians of the pairs' ratios. For k = 0 the baseline is the
	// all-raft run (the same 3-server cluster).
	WpsVsBaseline float64 `json:"writes_ratio_vs_baseline_3"`
	WpsVsAllRaft  float64 `json:"writes_ratio_vs_all_raft"`
	CPUVsBaseline float64 `json:"leader_cpu_ratio_vs_baseline_3"`
	CPUVsAllRaft  float64 `json:"leader_cpu_ratio_vs_all_raft"`
}

// treeStart is the time from a tree's commit being acknowledged to the
// tree running on its node.
type treeStart struct {
	// Variant is "defaults" or the servers' raft settings that differ
	// from them (a diagnostic of where the time goes).
	Variant  string    `json:"variant"`
	Servers  int       `json:"servers"`
	Clients  int       `json:"clients"`
	Method   string    `json:"method"`
	OnClient placement `json:"on_client"`
	// OnClient split by the server the client streamed from: the leader
	// (it applies first) or a follower (it learns of the commit from the
	// leader's next AppendEntries).
	OnClientViaLeader   placement `json:"on_client_streaming_from_leader"`
	OnClientViaFollower placement `json:"on_client_streaming_from_follower"`
	OnServer            placement `json:"on_follower_server"`
	// P99Ratio is on_client's ack→start p99 over on_follower_server's.
	P99Ratio float64 `json:"p99_ratio_client_vs_server"`
}

type placement struct {
	Trees int `json:"trees"`
	// AckToStart: from the ApplyTree response (the commit acknowledged)
	// to the tree_started event's own timestamp on the node.
	AckToStart dist `json:"ack_to_start_ms"`
	// AckToSeen: from the response to the event reaching the harness.
	AckToSeen dist `json:"ack_to_seen_ms"`
	// Apply: the ApplyTree call itself (request to response).
	Apply dist `json:"apply_ms"`
	// Early counts trees that started before their ApplyTree response
	// reached the harness (negative ack→start).
	Early int `json:"started_before_ack"`
}

type dist struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func distOf(d []time.Duration) dist {
	s := load.Summarize(d)
	return dist{Min: load.Ms(s.Min), P50: load.Ms(s.P50), P90: load.Ms(s.P90), P99: load.Ms(s.P99), Max: load.Ms(s.Max), Mean: load.Ms(s.Mean)}
}

// memory is the RSS of idle agents (MiB).
type memory struct {
	Servers int     `json:"servers"`
	Clients int     `json:"clients"`
	IdleS   float64 `json:"idle_s"`
	// Median, smallest and largest over the client agents.
	ClientMedian float64 `json:"client_median_mib"`
	ClientMin    float64 `json:"client_min_mib"`
	ClientMax    float64 `json:"client_max_mib"`
	Leader       float64 `json:"leader_mib"`
	// FollowerMedian is over the servers that do not lead.
	FollowerMedian float64 `json:"follower_median_mib"`
	// ClientVsFollower is ClientMedian / FollowerMedian.
	ClientVsFollower float64 `json:"client_vs_follower_ratio"`
	// CPU over the idle window, in percent of one core: per client agent
	// (median), the leader, per follower (median).
	ClientIdleCPUPct   float64 `json:"client_idle_cpu_pct"`
	LeaderIdleCPUPct   float64 `json:"leader_idle_cpu_pct"`
	FollowerIdleCPUPct float64 `json:"follower_idle_cpu_pct"`
}

func (d *document) write(dir string) (string, error) {
	return report.WriteJSON(dir, report.FileName(d.StartedAt, d.Label), d)
}
