// Command cpuwrite measures steward's CPU per write member by member
// (leader, followers: /proc/PID/stat, as the harness does for the
// cluster) under the harness's write load, and optionally takes a CPU
// profile of one member during a run through the agent's /debug/pprof/
// (--enable-debug). One fresh 3-node cluster per invocation; several
// runs per level on it. It serves before/after measurements of the
// write path: run it with one binary, then the other, interleaved.
//
//	cd bench && go run ./cmd/cpuwrite -steward-bin ../bin/steward -clients 64,256 -runs 2
//	cd bench && go run ./cmd/cpuwrite -clients 64 -ops 120000 -runs 1 -profile leader -profile-seconds 20 -profile-dir /tmp/prof
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
)

type flags struct {
	bin, clients, ops, endpoint, workDir string
	runs, keyspace, valueSize            int
	profile, profileDir, label           string
	profileSecs                          int
	jsonOut                              bool
}

func main() {
	var f flags
	flag.StringVar(&f.bin, "steward-bin", "../bin/steward", "steward binary")
	flag.StringVar(&f.clients, "clients", "64,256", "concurrent clients, comma-separated")
	flag.StringVar(&f.ops, "ops", "16000,24000", "measured writes per run (one value, or one per -clients)")
	flag.IntVar(&f.runs, "runs", 2, "runs per level, levels interleaved")
	flag.StringVar(&f.endpoint, "endpoint", "leader", "leader or followers")
	flag.IntVar(&f.keyspace, "keyspace", 10000, "distinct keys")
	flag.IntVar(&f.valueSize, "value-size", 256, "value size (bytes)")
	flag.StringVar(&f.workDir, "work-dir", ".work", "where the data dirs go")
	flag.StringVar(&f.profile, "profile", "", "take a CPU profile of this member during each run: leader or follower (empty: none)")
	flag.IntVar(&f.profileSecs, "profile-seconds", 20, "length of each profile (s); the run must last longer")
	flag.StringVar(&f.profileDir, "profile-dir", "", "where the profiles go (default: the work dir)")
	flag.StringVar(&f.label, "label", "", "label printed with every line (e.g. the commit)")
	flag.BoolVar(&f.jsonOut, "json", false, "print one JSON object per run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "cpuwrite:", err)
		os.Exit(1)
	}
}

func ints(s, what string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: %q is not a positive integer", what, p)
		}
		out = append(out, n)
	}
	return out, nil
}

// line is one run's figures; CPU in µs per successful write.
type line struct {
	Label       string  `json:"label,omitempty"`
	Clients     int     `json:"clients"`
	Run         int     `json:"run"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	WritesPerS  float64 `json:"writes_per_s"`
	P99Ms       float64 `json:"p99_ms"`
	LeaderCPU   float64 `json:"leader_cpu_us_per_op"`
	FollowerCPU float64 `json:"follower_cpu_us_per_op"` // mean of the two
	ClusterCPU  float64 `json:"cluster_cpu_us_per_op"`
	OtherCPUPct float64 `json:"other_cpu_pct"`
	Profile     string  `json:"profile,omitempty"`
}

func run(ctx context.Context, f flags) error {
	clients, err := ints(f.clients, "clients")
	if err != nil {
		return err
	}
	ops, err := ints(f.ops, "ops")
	if err != nil {
		return err
	}
	if len(ops) == 1 {
		for len(ops) < len(clients) {
			ops = append(ops, ops[0])
		}
	}
	if len(ops) != len(clients) {
		return fmt.Errorf("-ops: %d values for %d levels", len(ops), len(clients))
	}
	if f.profile != "" && f.profile != "leader" && f.profile != "follower" {
		return fmt.Errorf("-profile: %q is not leader or follower", f.profile)
	}
	ep := cluster.Endpoint(f.endpoint)
	if ep != cluster.ToLeader && ep != cluster.ToFollowers {
		return fmt.Errorf("-endpoint: %q is not leader or followers", f.endpoint)
	}
	if err := os.MkdirAll(f.workDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(f.workDir, "cpuwrite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if f.profileDir == "" {
		f.profileDir = f.workDir
	}
	bin, err := filepath.Abs(f.bin)
	if err != nil {
		return err
	}
	sys, err := cluster.StartSteward(ctx, cluster.StewardOptions{Bin: bin, Dir: dir, Args: []string{"--enable-debug"}})
	if err != nil {
		return err
	}
	defer sys.Close()
	for r := 1; r <= f.runs; r++ {
		for i, c := range clients {
			l, err := once(ctx, f, sys, ep, c, ops[i], r)
			if err != nil {
				return err
			}
			if f.jsonOut {
				b, _ := json.Marshal(l)
				fmt.Println(string(b))
				continue
			}
			fmt.Printf("%s clients %d run %d: %.0f w/s, p99 %.1f ms, CPU/write leader %.0f µs, follower %.0f µs, cluster %.0f µs, other CPU %.0f%%, errors %d %s\n",
				l.Label, l.Clients, l.Run, l.WritesPerS, l.P99Ms, l.LeaderCPU, l.FollowerCPU, l.ClusterCPU, l.OtherCPUPct, l.Errors, l.Profile)
		}
	}
	return nil
}

func once(ctx context.Context, f flags, sys *cluster.Steward, ep cluster.Endpoint, clients, ops, seq int) (line, error) {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sys.WaitHealthy(hctx)
	cancel()
	if err != nil {
		return line{}, err
	}
	li, err := sys.Leader(ctx)
	if err != nil {
		return line{}, err
	}
	t, err := sys.Target(ctx, ep, clients, 0)
	if err != nil {
		return line{}, err
	}
	defer t.Close()
	spec := load.Spec{Clients: clients, Ops: max(200, 2*clients), ValueSize: f.valueSize, Keyspace: f.keyspace,
		Prefix: "bench/steward/", Timeout: 10 * time.Second, Seed: uint64(seq)}
	if _, err := load.Run(ctx, t, spec); err != nil { // warm-up
		return line{}, err
	}
	spec.Ops = ops
	pids := sys.Pids()
	var followers []int
	for i := range pids {
		if i != li.Index {
			followers = append(followers, i)
		}
	}
	profDone := make(chan string, 1)
	if f.profile != "" {
		m := li.Index
		if f.profile == "follower" {
			m = followers[0]
		}
		path := filepath.Join(f.profileDir, fmt.Sprintf("%s%s-%d-%d.pprof", f.profile, label(f.label), clients, seq))
		go func() { profDone <- fetchProfile(ctx, sys.HTTPAddr(m), f.profileSecs, path) }()
	} else {
		profDone <- ""
	}
	before := make([]cluster.Usage, len(pids))
	for i, p := range pids {
		before[i] = cluster.ProcUsage([]int{p})
	}
	busyBefore := cluster.MachineBusy()
	self0 := selfCPU()
	res, err := load.Run(ctx, t, spec)
	if err != nil {
		return line{}, err
	}
	busy := cluster.MachineBusy() - busyBefore
	self := selfCPU() - self0
	per := func(i int) float64 {
		u := cluster.ProcUsage([]int{pids[i]}).Sub(before[i])
		return float64(u.CPU.Microseconds()) / float64(max(res.Ops, 1))
	}
	l := line{Label: f.label, Clients: clients, Run: seq, Ops: res.Ops, Errors: res.Errors, WritesPerS: res.Throughput(),
		P99Ms: float64(res.Latency.P99.Microseconds()) / 1000}
	l.LeaderCPU = per(li.Index)
	for _, i := range followers {
		l.FollowerCPU += per(i) / float64(len(followers))
	}
	l.ClusterCPU = l.LeaderCPU + l.FollowerCPU*float64(len(followers))
	used := time.Duration(l.ClusterCPU*float64(res.Ops)) * time.Microsecond
	if other := busy - used - self; res.Elapsed > 0 && other > 0 {
		l.OtherCPUPct = 100 * other.Seconds() / res.Elapsed.Seconds()
	}
	l.Profile = <-profDone
	return l, nil
}

func label(s string) string {
	if s == "" {
		return ""
	}
	return "-" + s
}

// fetchProfile takes a CPU profile of secs seconds from the agent's
// /debug/pprof/profile into path; it returns path, or the error as text.
func fetchProfile(ctx context.Context, addr string, secs int, path string) string {
	hc := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return "profile: " + err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "profile: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Sprintf("profile: %s: %s", resp.Status, b)
	}
	out, err := os.Create(path)
	if err != nil {
		return "profile: " + err.Error()
	}
	defer out.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return "profile: " + err.Error()
	}
	return path
}

// selfCPU is this process's CPU time (the load generator's).
func selfCPU() time.Duration {
	return cluster.ProcUsage([]int{os.Getpid()}).CPU
}
