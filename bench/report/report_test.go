package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func run(system string, wps, p99 float64) Run {
	return Run{System: system, WritesPerS: wps, P50Ms: p99 / 2, P99Ms: p99, MaxMs: p99 * 2, Ops: 100}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNewPairRatios(t *testing.T) {
	p := NewPair(run("steward", 500, 4), run("etcd", 1000, 2), "etcd")
	if !near(p.RatioThroughput, 0.5) || !near(p.RatioP99, 2) || p.First != "etcd" {
		t.Fatalf("pair %+v", p)
	}
	z := NewPair(run("steward", 500, 4), run("etcd", 0, 0), "steward")
	if z.RatioThroughput != 0 || z.RatioP99 != 0 {
		t.Fatalf("division by zero should give 0 (JSON has no NaN): %+v", z)
	}
}

// The reported ratio is the median of the pairs' ratios, which cancels a
// drift that the ratio of the medians would not.
func TestSummarizeTakesTheMedianOfPairRatios(t *testing.T) {
	pairs := []Pair{
		NewPair(run("steward", 100, 10), run("etcd", 200, 5), "steward"),   // 0.5
		NewPair(run("steward", 300, 10), run("etcd", 400, 5), "etcd"),      // 0.75
		NewPair(run("steward", 1000, 10), run("etcd", 1100, 5), "steward"), // 0.909
	}
	s := Summarize(pairs)
	if !near(s.RatioThroughput, 0.75) {
		t.Fatalf("ratio %v, want the median pair ratio 0.75", s.RatioThroughput)
	}
	if !near(s.AWritesPerS, 300) || !near(s.BWritesPerS, 400) {
		t.Fatalf("medians %v / %v, want 300 / 400", s.AWritesPerS, s.BWritesPerS)
	}
	if !near(s.RatioP99, 2) || !near(s.AMax, 20) || !near(s.BMax, 10) {
		t.Fatalf("p99 ratio %v, max %v/%v", s.RatioP99, s.AMax, s.BMax)
	}
	even := Summarize(pairs[:2])
	if !near(even.RatioThroughput, 0.625) {
		t.Fatalf("even count: ratio %v, want the mean of the middle two 0.625", even.RatioThroughput)
	}
	if (Summarize(nil) != Summary{}) {
		t.Fatalf("no pairs: %+v, want zeros", Summarize(nil))
	}
}

func TestNewLevelAgainstTheFloor(t *testing.T) {
	l := NewLevel(16, "leader", []Pair{NewPair(run("steward", 100, 4), run("etcd", 200, 2), "steward")}, 0.5)
	if l.Clients != 16 || l.Endpoint != "leader" || !near(l.StewardP50Ms, 2) || !near(l.StewardP50OverFsync, 4) || !near(l.EtcdP50OverFsync, 2) {
		t.Fatalf("level %+v", l)
	}
	if l2 := NewLevel(16, "leader", l.Pairs, 0); l2.StewardP50OverFsync != 0 {
		t.Fatal("no floor should leave the multiple at 0")
	}
}

func TestNewTuningLevel(t *testing.T) {
	tl := NewTuningLevel(64, []Pair{NewPair(run("tuned", 1200, 3), run("steward", 1000, 4), "tuned")})
	if tl.Clients != 64 || !near(tl.BeforeWritesPerS, 1000) || !near(tl.AfterWritesPerS, 1200) || !near(tl.RatioThroughput, 1.2) || !near(tl.RatioP99, 0.75) {
		t.Fatalf("tuning level %+v", tl)
	}
}

// The JSON document keeps the field names later runs are compared by.
func TestJSONShape(t *testing.T) {
	pairs := []Pair{NewPair(run("steward", 100, 4), run("etcd", 200, 2), "steward")}
	r := &Report{
		Schema: Schema, StartedAt: time.Unix(0, 0), FinishedAt: time.Unix(60, 0),
		Machine:  Machine{CPUModel: "cpu", Cores: 2, MemoryMiB: 1024, Kernel: "k", Filesystem: "ext4", GoVersion: "go1.26", EtcdVersion: "3.4.23", StewardCommit: "abc"},
		Settings: Settings{ValueSize: 256, Clients: []int{1}, OpsPerRun: []int{10}, Pairs: 1},
		Floor:    &Floor{FsyncP50Ms: 0.1, TCPRTTP50Us: 14},
		Levels:   []Level{NewLevel(1, "leader", pairs, 0.1)},
		Failover: []Failover{{System: "steward", Timeouts: map[string]string{"election_timeout": "1s"}, Runs: []FailoverRun{{OldLeader: "s1", NewLeader: "s2", ToNewLeaderMs: 1500}}, MedianMs: 1500, MaxMs: 1500}},
		Tuning:   []Tuning{{Name: "x", Raft: map[string]string{"max_append_entries": "256"}, Levels: []TuningLevel{NewTuningLevel(1, pairs)}}},
	}
	dir := t.TempDir()
	path, err := r.Write(dir, FileName(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "test"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "20260102-030405-test.json" {
		t.Fatalf("file name %s", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "machine", "settings", "floor", "levels", "failover", "tuning"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("top-level key %q missing", k)
		}
	}
	m := doc["machine"].(map[string]any)
	for _, k := range []string{"cpu_model", "cores", "memory_mib", "kernel", "filesystem", "go_version", "etcd_version", "steward_commit"} {
		if _, ok := m[k]; !ok {
			t.Errorf("machine key %q missing", k)
		}
	}
	level := doc["levels"].([]any)[0].(map[string]any)
	for _, k := range []string{"clients", "steward_writes_per_s", "etcd_writes_per_s", "ratio_throughput", "steward_p99_ms", "etcd_p99_ms", "steward_p50_ms", "etcd_p50_ms", "ratio_p99", "pairs"} {
		if _, ok := level[k]; !ok {
			t.Errorf("level key %q missing", k)
		}
	}
	if level["ratio_throughput"].(float64) != 0.5 || level["clients"].(float64) != 1 {
		t.Errorf("level values %v", level)
	}
	f := doc["failover"].([]any)[0].(map[string]any)
	for _, k := range []string{"system", "timeouts", "runs", "median_ms", "max_ms"} {
		if _, ok := f[k]; !ok {
			t.Errorf("failover key %q missing", k)
		}
	}
}

func TestPrintTable(t *testing.T) {
	pairs := []Pair{NewPair(run("steward", 1234, 4), run("etcd", 2468, 2), "steward")}
	r := &Report{
		Levels:   []Level{NewLevel(64, "leader", pairs, 0)},
		Failover: []Failover{{System: "etcd", MedianMs: 1111, MaxMs: 2222, Runs: make([]FailoverRun, 3)}},
		Floor:    &Floor{FsyncP50Ms: 0.125},
		Tuning:   []Tuning{{Name: "mae", Raft: map[string]string{"max_append_entries": "256"}, Levels: []TuningLevel{NewTuningLevel(64, pairs)}}},
		Machine:  Machine{StewardCommit: strings.Repeat("a", 40) + "+dirty"},
	}
	var buf bytes.Buffer
	r.PrintTable(&buf)
	out := buf.String()
	for _, want := range []string{"1234", "2468", "0.50", "1111", "2222", "0.125", "max_append_entries=256", "aaaaaaaaaaaa+dirty"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func readRun(system, op string, rps, p99 float64) Run {
	return Run{System: system, Op: op, OpsPerS: rps, P50Ms: p99 / 2, P99Ms: p99, MaxMs: p99 * 2, Ops: 100}
}

func TestReadsAndSteadyJSONAndTable(t *testing.T) {
	pairs := []Pair{NewPair(readRun("steward", "read-stale", 3000, 2), readRun("etcd", "read-stale", 2000, 4), "etcd")}
	if !near(pairs[0].RatioThroughput, 1.5) || !near(pairs[0].RatioP99, 0.5) {
		t.Fatalf("read pair ratios %+v: they must use ops_per_s", pairs[0])
	}
	r := &Report{
		Reads: []ReadLevel{NewReadLevel(16, "leader", "stale", "serializable", pairs)},
		Steady: []Steady{{System: "steward", Clients: 64, DurationS: 300, Writes: 9000, TermStart: 2, TermEnd: 3, SpuriousElections: 1, LeaderChanges: 1,
			Leaders: []string{"s1", "s2"}, RaftCounters: map[string]float64{"steward_raft_leader_lease_timeouts_total": 1}}},
		Tuning: []Tuning{{Name: "log-store=wal", LogStore: "wal", BaseLogStore: "boltdb",
			Failover: &Failover{MedianMs: 500}, BaseFailover: &Failover{MedianMs: 1000}}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	rl := doc["reads"].([]any)[0].(map[string]any)
	for _, k := range []string{"clients", "endpoint", "steward_read", "etcd_read", "steward_reads_per_s", "etcd_reads_per_s", "ratio_throughput", "steward_p99_ms", "etcd_p99_ms", "ratio_p99", "pairs"} {
		if _, ok := rl[k]; !ok {
			t.Errorf("reads key %q missing", k)
		}
	}
	if rl["steward_reads_per_s"].(float64) != 3000 || rl["etcd_read"] != "serializable" {
		t.Errorf("read level %v", rl)
	}
	st := doc["steady"].([]any)[0].(map[string]any)
	for _, k := range []string{"system", "clients", "duration_s", "writes", "term_start", "term_end", "spurious_elections", "leader_changes", "leaders", "raft_counters"} {
		if _, ok := st[k]; !ok {
			t.Errorf("steady key %q missing", k)
		}
	}
	tu := doc["tuning"].([]any)[0].(map[string]any)
	for _, k := range []string{"log_store", "base_log_store", "failover", "base_failover"} {
		if _, ok := tu[k]; !ok {
			t.Errorf("tuning key %q missing", k)
		}
	}
	var buf bytes.Buffer
	r.PrintTable(&buf)
	out := buf.String()
	for _, want := range []string{"serializable", "3000", "2000", "1.50", "spurious elections", "2→3", "lease timeouts 1", "--raft-log-store wal vs boltdb", "ratio of medians 0.50"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
