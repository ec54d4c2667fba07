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
	LevelsViaFollower []Level    `json:"levels_via_follower,omitempty"`
	Failover          []Failover `json:"failover,omitempty"`
	Tuning            []Tuning   `json:"tuning,omitempty"`
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
	// Steward and Etcd describe each cluster as started: size, settings
	// that matter for the comparison (timeouts, sync), versions.
	Steward map[string]string `json:"steward"`
	Etcd    map[string]string `json:"etcd"`
}

// Run is one measured run of one system.
type Run struct {
	System     string  `json:"system"`
	Clients    int     `json:"clients"`
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	ElapsedS   float64 `json:"elapsed_s"`
	WritesPerS float64 `json:"writes_per_s"`
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

// FromResult turns a load result into a Run.
func FromResult(system string, r load.Result) Run {
	return Run{
		System:     system,
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
	Conns    int           `json:"shared_connections,omitempty"`
	Endpoint string        `json:"endpoint"`
	Levels   []TuningLevel `json:"levels,omitempty"`
	// Failover, when measured, is the "after" cluster's.
	Failover *Failover `json:"failover,omitempty"`
	Note     string    `json:"note,omitempty"`
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
	Pairs            []Pair  `json:"pairs"`
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
