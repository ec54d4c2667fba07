// Command loadone starts one 3-node cluster (steward or etcd) as real
// processes, writes the members' process ids to a file, and drives it
// with the benchmark's load generator at one concurrency, printing the
// result. bench/profile.sh uses it to record a CPU profile of one system
// under load.
//
//	cd bench && go run ./cmd/loadone -system steward -clients 256 -ops 100000 -pids pids.txt
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/harness"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/bench/report"
)

func main() {
	system := flag.String("system", "steward", "steward or etcd")
	stewardBin := flag.String("steward-bin", "../bin/steward", "steward binary")
	etcdBin := flag.String("etcd-bin", "etcd", "etcd binary")
	clients := flag.Int("clients", 256, "concurrent clients")
	ops := flag.Int("ops", 100000, "measured writes")
	conns := flag.Int("conns", 0, "connections shared by the clients (0: one per client)")
	endpoint := flag.String("endpoint", "leader", "leader or followers")
	valueSize := flag.Int("value-size", 256, "value size (bytes)")
	raft := flag.String("raft", "", "steward raft {} settings, comma-separated key=value (HCL values)")
	pids := flag.String("pids", "", "file to write \"leader PID\" and \"follower PID\" lines to once the cluster is up")
	workDir := flag.String("work-dir", ".work", "where the data dirs go")
	keyspace := flag.Int("keyspace", 10000, "distinct keys the measured writes overwrite at random")
	fill := flag.Int("fill", 0, "keys written once before measuring (unmeasured), to measure with a large state; use with -keyspace of the same size")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	o := opts{clients: *clients, ops: *ops, conns: *conns, ep: cluster.Endpoint(*endpoint), valueSize: *valueSize, keyspace: *keyspace, fill: *fill}
	if err := run(ctx, *system, *stewardBin, *etcdBin, o, *raft, *pids, *workDir); err != nil {
		fmt.Fprintln(os.Stderr, "loadone:", err)
		os.Exit(1)
	}
}

type system interface {
	harness.System
	Close()
}

type opts struct {
	clients, ops, conns int
	ep                  cluster.Endpoint
	valueSize           int
	keyspace, fill      int
}

func run(ctx context.Context, name, stewardBin, etcdBin string, o opts, raft, pidsFile, workDir string) error {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(workDir, "loadone-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var sys system
	switch name {
	case "steward":
		bin, err := filepath.Abs(stewardBin)
		if err != nil {
			return err
		}
		settings := map[string]string{}
		for _, kv := range strings.Split(raft, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		sys, err = cluster.StartSteward(ctx, cluster.StewardOptions{Bin: bin, Dir: dir, Raft: settings})
		if err != nil {
			return err
		}
	case "etcd":
		sys, err = cluster.StartEtcd(ctx, cluster.EtcdOptions{Bin: etcdBin, Dir: dir})
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("-system: %q is not steward or etcd", name)
	}
	defer sys.Close()
	li, err := sys.Leader(ctx)
	if err != nil {
		return err
	}
	if pidsFile != "" {
		var b strings.Builder
		for i, pid := range sys.Pids() {
			role := "follower"
			if i == li.Index {
				role = "leader"
			}
			fmt.Fprintf(&b, "%s %d\n", role, pid)
		}
		if err := os.WriteFile(pidsFile, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if o.fill > 0 {
		start := time.Now()
		t, err := sys.Target(ctx, o.ep, 64, 0)
		if err != nil {
			return err
		}
		_, err = load.Run(ctx, t, load.Spec{Clients: 64, Ops: o.fill, ValueSize: o.valueSize, Prefix: "bench/" + sys.Name() + "/", Timeout: 10 * time.Second})
		t.Close()
		if err != nil {
			return err
		}
		fmt.Printf("filled %d keys in %s\n", o.fill, time.Since(start).Round(time.Second))
	}
	p := harness.Plan{Clients: []int{o.clients}, Ops: []int{o.ops}, Pairs: 1, ValueSize: o.valueSize, Keyspace: o.keyspace, Conns: o.conns, Timeout: 10 * time.Second, Warmup: 200}
	r, err := harness.RunOnce(ctx, sys, o.ep, p, o.clients, o.ops, 1)
	if err != nil {
		return err
	}
	printRun(r)
	return nil
}

func printRun(r report.Run) {
	fmt.Printf("%s clients %d: %.0f writes/s, p50 %.2f ms, p99 %.2f ms, max %.1f ms; servers %.0f µs CPU/write, client %.0f µs CPU/write, %.0f disk bytes/write, other CPU %.0f%%, errors %d\n",
		r.System, r.Clients, r.WritesPerS, r.P50Ms, r.P99Ms, r.MaxMs, r.CPUUsPerOp, r.ClientCPUUsPerOp, r.DiskBytesPerOp, r.OtherCPUPct, r.Errors)
}
