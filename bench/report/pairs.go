package report

import (
	"math"

	"github.com/steward/steward/bench/load"
)

// Pair is two runs made back to back at the same concurrency: A is the
// system being judged (steward, or the tuned cluster), B the reference
// (etcd, or the defaults). First says which of the two ran first; pairs
// alternate, so that a drift of the machine over time cancels in the median.
type Pair struct {
	A     Run    `json:"a"`
	B     Run    `json:"b"`
	First string `json:"first"`
	// RatioThroughput is A's writes/s over B's; RatioP99 is A's p99 over
	// B's (below 1: A is faster).
	RatioThroughput float64 `json:"ratio_throughput"`
	RatioP99        float64 `json:"ratio_p99"`
}

// NewPair computes the pair's ratios.
func NewPair(a, b Run, first string) Pair {
	return Pair{A: a, B: b, First: first, RatioThroughput: ratio(a.Throughput(), b.Throughput()), RatioP99: ratio(a.P99Ms, b.P99Ms)}
}

// ratio is a/b, or 0 when b is 0 (JSON has no NaN).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Level is one concurrency of the steward/etcd comparison. The per-system
// figures are medians over the pairs' runs (max: the largest of all);
// the ratios are medians of the pairs' ratios.
type Level struct {
	Clients           int     `json:"clients"`
	Endpoint          string  `json:"endpoint"`
	StewardWritesPerS float64 `json:"steward_writes_per_s"`
	EtcdWritesPerS    float64 `json:"etcd_writes_per_s"`
	RatioThroughput   float64 `json:"ratio_throughput"`
	StewardP50Ms      float64 `json:"steward_p50_ms"`
	StewardP99Ms      float64 `json:"steward_p99_ms"`
	StewardMaxMs      float64 `json:"steward_max_ms"`
	EtcdP50Ms         float64 `json:"etcd_p50_ms"`
	EtcdP99Ms         float64 `json:"etcd_p99_ms"`
	EtcdMaxMs         float64 `json:"etcd_max_ms"`
	RatioP99          float64 `json:"ratio_p99"`
	StewardErrors     int     `json:"steward_errors"`
	EtcdErrors        int     `json:"etcd_errors"`
	// CPU per write, summed over the cluster's nodes (µs), medians.
	StewardCPUUsPerOp float64 `json:"steward_cpu_us_per_op,omitempty"`
	EtcdCPUUsPerOp    float64 `json:"etcd_cpu_us_per_op,omitempty"`
	// Bytes written to disk per write, summed over the nodes, medians.
	StewardDiskBytesPerOp float64 `json:"steward_disk_bytes_per_op,omitempty"`
	EtcdDiskBytesPerOp    float64 `json:"etcd_disk_bytes_per_op,omitempty"`
	// P50 latency over the fsync floor (floor.fsync_p50_ms); 0 when no
	// floor was measured.
	StewardP50OverFsync float64 `json:"steward_p50_over_fsync,omitempty"`
	EtcdP50OverFsync    float64 `json:"etcd_p50_over_fsync,omitempty"`
	Pairs               []Pair  `json:"pairs"`
}

// Summary is the medians of a set of pairs.
type Summary struct {
	// AWritesPerS and BWritesPerS are the medians of the runs' throughput
	// (writes, or reads in read pairs).
	AWritesPerS, BWritesPerS float64
	AP50, BP50, AP99, BP99   float64
	AMax, BMax               float64
	AErrors, BErrors         int
	ACPU, BCPU               float64
	ADisk, BDisk             float64
	RatioThroughput          float64
	RatioP99                 float64
}

// Summarize reduces pairs to medians: per-system figures are the medians
// of the runs, the ratios the medians of the pairs' ratios (not the ratio
// of the medians).
func Summarize(pairs []Pair) Summary {
	var s Summary
	col := func(f func(Pair) float64) float64 {
		v := make([]float64, 0, len(pairs))
		for _, p := range pairs {
			if x := f(p); !math.IsNaN(x) {
				v = append(v, x)
			}
		}
		return zeroNaN(load.Median(v))
	}
	s.AWritesPerS = col(func(p Pair) float64 { return p.A.Throughput() })
	s.BWritesPerS = col(func(p Pair) float64 { return p.B.Throughput() })
	s.AP50 = col(func(p Pair) float64 { return p.A.P50Ms })
	s.BP50 = col(func(p Pair) float64 { return p.B.P50Ms })
	s.AP99 = col(func(p Pair) float64 { return p.A.P99Ms })
	s.BP99 = col(func(p Pair) float64 { return p.B.P99Ms })
	s.ACPU = col(func(p Pair) float64 { return p.A.CPUUsPerOp })
	s.BCPU = col(func(p Pair) float64 { return p.B.CPUUsPerOp })
	s.ADisk = col(func(p Pair) float64 { return p.A.DiskBytesPerOp })
	s.BDisk = col(func(p Pair) float64 { return p.B.DiskBytesPerOp })
	s.RatioThroughput = col(func(p Pair) float64 { return p.RatioThroughput })
	s.RatioP99 = col(func(p Pair) float64 { return p.RatioP99 })
	for _, p := range pairs {
		s.AMax = math.Max(s.AMax, p.A.MaxMs)
		s.BMax = math.Max(s.BMax, p.B.MaxMs)
		s.AErrors += p.A.Errors
		s.BErrors += p.B.Errors
	}
	return s
}

// NewLevel builds a steward (A) / etcd (B) comparison level from its pairs.
// fsyncP50 is the floor's fsync median (ms), 0 if unknown.
func NewLevel(clients int, endpoint string, pairs []Pair, fsyncP50 float64) Level {
	s := Summarize(pairs)
	l := Level{
		Clients: clients, Endpoint: endpoint,
		StewardWritesPerS: s.AWritesPerS, EtcdWritesPerS: s.BWritesPerS, RatioThroughput: s.RatioThroughput,
		StewardP50Ms: s.AP50, StewardP99Ms: s.AP99, StewardMaxMs: s.AMax,
		EtcdP50Ms: s.BP50, EtcdP99Ms: s.BP99, EtcdMaxMs: s.BMax,
		RatioP99:      s.RatioP99,
		StewardErrors: s.AErrors, EtcdErrors: s.BErrors,
		StewardCPUUsPerOp: s.ACPU, EtcdCPUUsPerOp: s.BCPU,
		StewardDiskBytesPerOp: s.ADisk, EtcdDiskBytesPerOp: s.BDisk,
		Pairs: pairs,
	}
	if fsyncP50 > 0 {
		l.StewardP50OverFsync = s.AP50 / fsyncP50
		l.EtcdP50OverFsync = s.BP50 / fsyncP50
	}
	return l
}

// NewTuningLevel builds a tuned (A) / defaults (B) level from its pairs.
func NewTuningLevel(clients int, pairs []Pair) TuningLevel {
	s := Summarize(pairs)
	return TuningLevel{
		Clients:          clients,
		BeforeWritesPerS: s.BWritesPerS, AfterWritesPerS: s.AWritesPerS, RatioThroughput: s.RatioThroughput,
		BeforeP99Ms: s.BP99, AfterP99Ms: s.AP99, RatioP99: s.RatioP99,
		BeforeDiskBytesPerOp: s.BDisk, AfterDiskBytesPerOp: s.ADisk,
		Pairs: pairs,
	}
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// ReadLevel is one concurrency of a steward/etcd read comparison: steward's
// read of one consistency (A) against etcd's of the matching one (B). The
// per-system figures are medians over the pairs' runs (max: the largest);
// the ratios are medians of the pairs' ratios.
type ReadLevel struct {
	Clients  int    `json:"clients"`
	Endpoint string `json:"endpoint"`
	// StewardRead is "linearizable" (read-index on the leader, the KV
	// Get's default) or "stale" (ReadOptions{Stale: true}); EtcdRead
	// "linearizable" (Range's default) or "serializable".
	StewardRead      string  `json:"steward_read"`
	EtcdRead         string  `json:"etcd_read"`
	StewardReadsPerS float64 `json:"steward_reads_per_s"`
	EtcdReadsPerS    float64 `json:"etcd_reads_per_s"`
	RatioThroughput  float64 `json:"ratio_throughput"`
	StewardP50Ms     float64 `json:"steward_p50_ms"`
	StewardP99Ms     float64 `json:"steward_p99_ms"`
	StewardMaxMs     float64 `json:"steward_max_ms"`
	EtcdP50Ms        float64 `json:"etcd_p50_ms"`
	EtcdP99Ms        float64 `json:"etcd_p99_ms"`
	EtcdMaxMs        float64 `json:"etcd_max_ms"`
	RatioP99         float64 `json:"ratio_p99"`
	StewardErrors    int     `json:"steward_errors"`
	EtcdErrors       int     `json:"etcd_errors"`
	// CPU per read, summed over the cluster's nodes (µs), medians.
	StewardCPUUsPerOp float64 `json:"steward_cpu_us_per_op,omitempty"`
	EtcdCPUUsPerOp    float64 `json:"etcd_cpu_us_per_op,omitempty"`
	Pairs             []Pair  `json:"pairs"`
}

// NewReadLevel builds a read comparison level from its pairs.
func NewReadLevel(clients int, endpoint, stewardRead, etcdRead string, pairs []Pair) ReadLevel {
	s := Summarize(pairs)
	return ReadLevel{
		Clients: clients, Endpoint: endpoint, StewardRead: stewardRead, EtcdRead: etcdRead,
		StewardReadsPerS: s.AWritesPerS, EtcdReadsPerS: s.BWritesPerS, RatioThroughput: s.RatioThroughput,
		StewardP50Ms: s.AP50, StewardP99Ms: s.AP99, StewardMaxMs: s.AMax,
		EtcdP50Ms: s.BP50, EtcdP99Ms: s.BP99, EtcdMaxMs: s.BMax,
		RatioP99:      s.RatioP99,
		StewardErrors: s.AErrors, EtcdErrors: s.BErrors,
		StewardCPUUsPerOp: s.ACPU, EtcdCPUUsPerOp: s.BCPU,
		Pairs: pairs,
	}
}
