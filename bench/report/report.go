package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/steward/steward/bench/load"
)

// Schema is the version of the JSON document. Fields are only ever added;
// a change of meaning bumps it.
const Schema = 1

// Report is everything one benchmark run measured.
type Report struct {
	Schema     int       `json:"schema"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Label names the run (free text from the command line).
	Label    string   `json:"label,omitempty"`
	Machine  Machine  `json:"machine"`
	Settings Settings `json:"settings"`
	Floor    *Floor   `json:"floor,omitempty"`
	// Levels is the main comparison: both systems' clients talking to the
	// leader, one entry per concurrency.
	Levels []Level `json:"levels"`
	// LevelsViaFollower is the same with every client talking to the
	// followers, which forward to the leader.
	LevelsViaFollower []Level `json:"levels_via_follower,omitempty"`
	// Reads compares reads at the same concurrencies: steward's
	// linearizable reads (read-index on the leader) against etcd's
	// linearizable Range, and steward's stale reads against etcd's
	// serializable Range, over a keyspace filled beforehand.
	Reads    []ReadLevel `json:"reads,omitempty"`
	Failover []Failover  `json:"failover,omitempty"`
	// Steady is a fault-free run of writes per system with the elections
	// (term changes) counted.
	Steady []Steady `json:"steady,omitempty"`
	Tuning []Tuning `json:"tuning,omitempty"`
	// LoadAvg is /proc/loadavg at the start and at the end: other work on
	// the machine skews the figures.
	LoadAvgStart string   `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string   `json:"loadavg_end,omitempty"`
	Notes        []string `json:"notes,omitempty"`
}

// Settings are the parameters every run shared.
type Settings struct {
	ValueSize  int     `json:"value_size_bytes"`
	Clients    []int   `json:"clients"`
	OpsPerRun  []int   `json:"ops_per_run"`
	Warmup     int     `json:"warmup_ops"`
	Pairs      int     `json:"pairs"`
	Keyspace   int     `json:"keyspace"`
	Conns      string  `json:"connections"`
	TimeoutMs  float64 `json:"request_timeout_ms"`
	DataDir    string  `json:"data_dir"`
	Interleave string  `json:"interleave"`
	// Reads lists the read workloads compared ("read-linearizable",
	// "read-stale") and ReadEndpoints where their clients talked.
	Reads         []string `json:"reads,omitempty"`
	ReadEndpoints []string `json:"read_endpoints,omitempty"`
	// SteadyS and SteadyClients describe the steady run (0: none).
	SteadyS       float64 `json:"steady_s,omitempty"`
	SteadyClients int     `json:"steady_clients,omitempty"`
	// RaftLogStore is the --raft-log-store given to the agents ("": the
	// agent's default, no flag).
	RaftLogStore string `json:"raft_log_store,omitempty"`
	// Steward and Etcd describe each cluster as started: size, settings
	// that matter for the comparison (timeouts, sync), versions.
	Steward map[string]string `json:"steward"`
	Etcd    map[string]string `json:"etcd"`
}

// Run is one measured run of one system.
type Run struct {
	System string `json:"system"`
	// Op is what the run did: "" or "write", "read-linearizable",
	// "read-stale" (etcd: serializable).
	Op         string  `json:"op,omitempty"`
	Clients    int     `json:"clients"`
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	ElapsedS   float64 `json:"elapsed_s"`
	// WritesPerS is the throughput of a write run (0 in a read run);
	// OpsPerS that of any run.
	WritesPerS float64 `json:"writes_per_s"`
	OpsPerS    float64 `json:"ops_per_s,omitempty"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	MeanMs     float64 `json:"mean_ms"`
	// CPUUsPerOp is the CPU time (user+system) the cluster's processes
	// spent per successful write, summed over the nodes (µs); 0 when not
	// measured.
	CPUUsPerOp float64 `json:"cpu_us_per_op,omitempty"`
	// DiskBytesPerOp is what the cluster's processes wrote to the block
	// layer per successful write, summed over the nodes (bytes).
	DiskBytesPerOp float64 `json:"disk_bytes_per_op,omitempty"`
	// ClientCPUUsPerOp is the load generator's own CPU time per write (µs).
	ClientCPUUsPerOp float64 `json:"client_cpu_us_per_op,omitempty"`
	// OtherCPUPct is the CPU the rest of the machine used during the run
	// (other processes: noise), in percent of one core.
	OtherCPUPct float64 `json:"other_cpu_pct"`
}

// Throughput is the run's operations per second (OpsPerS, or WritesPerS
// in reports written before OpsPerS existed).
func (r Run) Throughput() float64 {
	if r.OpsPerS > 0 {
		return r.OpsPerS
	}
	return r.WritesPerS
}

// FromResultOp turns a load result of op ("write", "read-…") into a Run;
// only a write run has WritesPerS.
func FromResultOp(system, op string, r load.Result) Run {
	run := FromResult(system, r)
	run.Op = op
	if op != "" && op != "write" {
		run.WritesPerS = 0
	}
	return run
}

// FromResult turns a load result of writes into a Run.
func FromResult(system string, r load.Result) Run {
	return Run{
		System:     system,
		OpsPerS:    r.Throughput(),
		Clients:    r.Clients,
		Ops:        r.Ops,
		Errors:     r.Errors,
		FirstError: r.FirstErr,
		ElapsedS:   r.Elapsed.Seconds(),
		WritesPerS: r.Throughput(),
		P50Ms:      load.Ms(r.Latency.P50),
		P90Ms:      load.Ms(r.Latency.P90),
		P99Ms:      load.Ms(r.Latency.P99),
		P999Ms:     load.Ms(r.Latency.P999),
		MaxMs:      load.Ms(r.Latency.Max),
		MeanMs:     load.Ms(r.Latency.Mean),
	}
}

// Floor is the physical floor measured in the same run.
type Floor struct {
	// Fsync is a small write plus fdatasync into a preallocated file in
	// the data dir (what a write-ahead log pays per commit at best).
	FsyncP50Ms float64 `json:"fsync_p50_ms"`
	FsyncP99Ms float64 `json:"fsync_p99_ms"`
	FsyncMaxMs float64 `json:"fsync_max_ms"`
	FsyncCount int     `json:"fsync_count"`
	// AppendFsync is a small append (file grows) plus fsync.
	AppendFsyncP50Ms float64 `json:"append_fsync_p50_ms"`
	AppendFsyncP99Ms float64 `json:"append_fsync_p99_ms"`
	// BoltCommit is one bbolt read-write transaction storing one ~300 B
	// value, with bbolt's defaults (what raft-boltdb pays per StoreLogs).
	BoltCommitP50Ms float64 `json:"bolt_commit_p50_ms"`
	BoltCommitP99Ms float64 `json:"bolt_commit_p99_ms"`
	// BoltNoFreelistSync is the same with NoFreelistSync and the hashmap
	// freelist (bbolt options raft-boltdb accepts; etcd runs bbolt so).
	BoltNoFreelistSyncP50Ms float64 `json:"bolt_commit_nofreelistsync_p50_ms,omitempty"`
	BoltNoFreelistSyncP99Ms float64 `json:"bolt_commit_nofreelistsync_p99_ms,omitempty"`
	// BoltLog is bbolt used as raft-boltdb uses it (one transaction per
	// appended entry, a range delete after every snapshot), measured at the
	// end of a long run: default options, then NoFreelistSync with the
	// hashmap freelist. Bytes are written to the block layer per commit.
	BoltLogP50Ms            float64 `json:"bolt_log_p50_ms,omitempty"`
	BoltLogP99Ms            float64 `json:"bolt_log_p99_ms,omitempty"`
	BoltLogBytesPerCommit   float64 `json:"bolt_log_bytes_per_commit,omitempty"`
	BoltLogNoFreelistP50Ms  float64 `json:"bolt_log_nofreelistsync_p50_ms,omitempty"`
	BoltLogNoFreelistP99Ms  float64 `json:"bolt_log_nofreelistsync_p99_ms,omitempty"`
	BoltLogNoFreelistBytes  float64 `json:"bolt_log_nofreelistsync_bytes_per_commit,omitempty"`
	FdatasyncBytesPerCommit float64 `json:"fdatasync_bytes_per_commit,omitempty"`
	// BoltLogBurst is the same after a burst: 150000 entries between two
	// snapshots, then truncation to 10240 (only with -floor-burst).
	BoltLogBurstP50Ms           float64 `json:"bolt_log_burst_p50_ms,omitempty"`
	BoltLogBurstP99Ms           float64 `json:"bolt_log_burst_p99_ms,omitempty"`
	BoltLogBurstBytes           float64 `json:"bolt_log_burst_bytes_per_commit,omitempty"`
	BoltLogBurstFreePages       int     `json:"bolt_log_burst_free_pages,omitempty"`
	BoltLogBurstNoFreelistP50Ms float64 `json:"bolt_log_burst_nofreelistsync_p50_ms,omitempty"`
	BoltLogBurstNoFreelistP99Ms float64 `json:"bolt_log_burst_nofreelistsync_p99_ms,omitempty"`
	BoltLogBurstNoFreelistBytes float64 `json:"bolt_log_burst_nofreelistsync_bytes_per_commit,omitempty"`
	// TCPRTT is a 64-byte echo over a loopback TCP connection.
	TCPRTTP50Us float64 `json:"tcp_rtt_p50_us"`
	TCPRTTP99Us float64 `json:"tcp_rtt_p99_us"`
	// GRPCRTT is a unary gRPC health check over loopback.
	GRPCRTTP50Us float64 `json:"grpc_rtt_p50_us"`
	GRPCRTTP99Us float64 `json:"grpc_rtt_p99_us"`
	RTTCount     int     `json:"rtt_count"`
}

// Failover is one system's leader-kill measurements.
type Failover struct {
	System string `json:"system"`
	// Timeouts states the election settings in force.
	Timeouts map[string]string `json:"timeouts"`
	Runs     []FailoverRun     `json:"runs"`
	// Medians and maxima over Runs of the time from the SIGKILL to the
	// first write committed under the new leader, and of the longest gap
	// between two acknowledged writes.
	MedianMs    float64 `json:"median_ms"`
	MaxMs       float64 `json:"max_ms"`
	MedianGapMs float64 `json:"median_gap_ms"`
	MaxGapMs    float64 `json:"max_gap_ms"`
	Failed      int     `json:"failed_runs"`
}

// FailoverRun is one leader kill.
type FailoverRun struct {
	OldLeader string `json:"old_leader"`
	OldTerm   uint64 `json:"old_term"`
	NewLeader string `json:"new_leader"`
	NewTerm   uint64 `json:"new_term"`
	// ToNewLeaderMs is from the kill to the first write committed under
	// the new leader (as the put response says).
	ToNewLeaderMs float64 `json:"to_new_leader_write_ms"`
	// GapMs is the time between the last write acknowledged under the old
	// leader and the first one acknowledged under the new leader: the
	// client's window without writes.
	GapMs float64 `json:"gap_ms"`
	// FailedWrites is the number of writes that failed or timed out
	// meanwhile (each retried with a new key).
	FailedWrites int    `json:"failed_writes"`
	Error        string `json:"error,omitempty"`
}

// Tuning is one before/after experiment on one of steward's settings.
type Tuning struct {
	Name string `json:"name"`
	// Raft is the raft {} block given to the "after" cluster; the
	// "before" cluster runs the defaults.
	Raft map[string]string `json:"raft"`
	// Conns, for a client-side variant, is the connections the "after"
	// clients share (the "before" ones have one each).
	Conns int `json:"shared_connections,omitempty"`
	// LogStore and BaseLogStore are the --raft-log-store of the "after"
	// and "before" clusters ("": the agent's default).
	LogStore     string        `json:"log_store,omitempty"`
	BaseLogStore string        `json:"base_log_store,omitempty"`
	Endpoint     string        `json:"endpoint"`
	Levels       []TuningLevel `json:"levels,omitempty"`
	// Failover, when measured, is the "after" cluster's; BaseFailover the
	// "before" cluster's, its kills interleaved with the "after" ones.
	Failover     *Failover `json:"failover,omitempty"`
	BaseFailover *Failover `json:"base_failover,omitempty"`
	// Steady and BaseSteady are fault-free runs with elections counted,
	// "after" then "before".
	Steady     *Steady `json:"steady,omitempty"`
	BaseSteady *Steady `json:"base_steady,omitempty"`
	Note       string  `json:"note,omitempty"`
}

// TuningLevel compares before and after at one concurrency.
type TuningLevel struct {
	Clients          int     `json:"clients"`
	BeforeWritesPerS float64 `json:"before_writes_per_s"`
	AfterWritesPerS  float64 `json:"after_writes_per_s"`
	RatioThroughput  float64 `json:"ratio_throughput"`
	BeforeP99Ms      float64 `json:"before_p99_ms"`
	AfterP99Ms       float64 `json:"after_p99_ms"`
	RatioP99         float64 `json:"ratio_p99"`
	// Disk bytes written per write, summed over the nodes, medians.
	BeforeDiskBytesPerOp float64 `json:"before_disk_bytes_per_op,omitempty"`
	AfterDiskBytesPerOp  float64 `json:"after_disk_bytes_per_op,omitempty"`
	Pairs                []Pair  `json:"pairs"`
}

// Write writes r as indented JSON to dir/<name>.json and returns the path.
func (r *Report) Write(dir, name string) (string, error) {
	return WriteJSON(dir, name, r)
}

// WriteJSON writes v as indented JSON to dir/<name>.json, making dir if
// need be, and returns the path.
func WriteJSON(dir, name string, v any) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results dir: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// FileName is the default result file name: UTC time and label.
func FileName(t time.Time, label string) string {
	name := t.UTC().Format("20060102-150405")
	if label != "" {
		name += "-" + label
	}
	return name
}

// Steady is a run of writes without faults on one system, with the
// elections that happened meanwhile counted: on a healthy cluster every one
// of them is spurious.
type Steady struct {
	System string `json:"system"`
	// Timeouts states the election settings in force.
	Timeouts  map[string]string `json:"timeouts"`
	Clients   int               `json:"clients"`
	Endpoint  string            `json:"endpoint"`
	DurationS float64           `json:"duration_s"`
	// The writes, as in Run.
	Writes     int     `json:"writes"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	WritesPerS float64 `json:"writes_per_s"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	// TermStart and TermEnd are the highest Raft term a member reported
	// before and after the run (the status APIs: steward's Cluster.Status,
	// etcd's Maintenance Status).
	TermStart uint64 `json:"term_start"`
	TermEnd   uint64 `json:"term_end"`
	// SpuriousElections is TermEnd - TermStart: the elections begun (each
	// raises the term) while nothing was wrong.
	SpuriousElections int `json:"spurious_elections"`
	// LeaderChanges counts the changes of the leader the members named,
	// sampled every PollMs; Leaders is the sequence seen.
	LeaderChanges int      `json:"leader_changes"`
	Leaders       []string `json:"leaders"`
	PollMs        float64  `json:"poll_ms"`
	// PollErrors counts samples at which a member did not answer.
	PollErrors int `json:"poll_errors,omitempty"`
	// RaftCounters are steward's Raft counters over the run, summed over
	// the members (/metrics, raft's go-metrics): heartbeat timeouts count
	// every follower that heard no leader in time (a pre-vote that then
	// failed, which raises no term, included), lease timeouts every leader
	// that stepped down. Absent for etcd.
	RaftCounters map[string]float64 `json:"raft_counters,omitempty"`
}
