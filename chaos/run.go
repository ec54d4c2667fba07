package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options configure a run.
type Options struct {
	// Bin is the steward binary under test.
	Bin string
	// Out is the directory of the reports (chaos/results).
	Out string
	// Dir holds the data dirs and logs ("": a temporary directory).
	Dir string
	// Nodes: 3 or 5.
	Nodes int
	// Duration is the schedule's length (faults plus healthy gaps).
	Duration time.Duration
	// Faults is how many faults the schedule holds.
	Faults int
	Seed   int64
	// Kinds are the fault kinds to draw from.
	Kinds []string
	// Keys is the number of registers; RegWorkers and SetWorkers the
	// clients of each workload; Rate each client's operations per second.
	Keys, RegWorkers, SetWorkers int
	Rate                         float64
	// OpTimeout: a client gives up on an operation (outcome unknown).
	OpTimeout time.Duration
	// CheckBudget is porcupine's time budget; running out is a failure.
	CheckBudget time.Duration
	// Loopback forces the loopback topology (process faults only).
	Loopback bool
	// Deployments and Experiments run those workloads (deploy.go,
	// experiment.go). ModulesDir holds counter-v1.wasm and
	// counter-v2.wasm ("": examples/modules beside Out, else under the
	// working directory).
	Deployments, Experiments bool
	ModulesDir               string
	Logger                   hclog.Logger
}

// DefaultOptions are the defaults of chaos/cmd/chaos.
func DefaultOptions() Options {
	return Options{Nodes: 3, Duration: 90 * time.Second, Faults: 8, Seed: 1, Kinds: AllKinds,
		Keys: 8, RegWorkers: 4, SetWorkers: 2, Rate: 20, OpTimeout: 5 * time.Second, CheckBudget: 3 * time.Minute,
		Deployments: true, Experiments: true}
}

// Validate checks the options, naming the field that is wrong.
func (o Options) Validate() error {
	switch {
	case o.Bin == "":
		return errors.New("Bin: the steward binary is required")
	case o.Out == "":
		return errors.New("Out: the results directory is required")
	case o.Nodes != 3 && o.Nodes != 5:
		return fmt.Errorf("Nodes %d: 3 or 5", o.Nodes)
	case o.Duration <= 0:
		return fmt.Errorf("Duration %s: must be positive", o.Duration)
	case o.Keys < 1 || o.RegWorkers < 1 || o.SetWorkers < 1:
		return fmt.Errorf("Keys %d, RegWorkers %d, SetWorkers %d: at least 1 each", o.Keys, o.RegWorkers, o.SetWorkers)
	case o.Rate <= 0:
		return fmt.Errorf("Rate %g: must be positive", o.Rate)
	case o.OpTimeout <= 0 || o.CheckBudget <= 0:
		return fmt.Errorf("OpTimeout %s, CheckBudget %s: must be positive", o.OpTimeout, o.CheckBudget)
	}
	return nil
}

// Run sets up the topology, starts the cluster, runs the workloads under
// the nemesis, heals, checks, writes the report to Out and returns it.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = hclog.New(&hclog.LoggerOptions{Name: "chaos", Level: hclog.Info})
	}
	plan, err := NewSchedule(o.Seed, o.Kinds, o.Faults, o.Duration)
	if err != nil {
		return nil, err
	}
	release, err := lockRun(o.Loopback)
	if err != nil {
		return nil, err
	}
	defer release()
	stamp := time.Now().UTC().Format("20060102T150405Z")
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "stwchaos-run-"); err != nil {
			return nil, err
		}
	}
	r := &Report{Started: time.Now().UTC(), Seed: o.Seed, Nodes: o.Nodes, Duration: o.Duration.String(),
		Kinds: o.Kinds, Planned: len(plan), FaultsByKind: map[string]int{}, Machine: machine(),
		Workload: map[string]string{
			"registers": fmt.Sprint(o.Keys), "register_clients": fmt.Sprint(o.RegWorkers), "set_clients": fmt.Sprint(o.SetWorkers),
			"rate_per_client": fmt.Sprintf("%g/s", o.Rate), "op_timeout": o.OpTimeout.String(), "check_budget": o.CheckBudget.String(),
			"reads": "linearizable (read-index, the default)", "data_dir": dir,
			"deployments": fmt.Sprint(o.Deployments), "experiments": fmt.Sprint(o.Experiments),
		}}

	if out, err := exec.CommandContext(ctx, o.Bin, "version").Output(); err == nil {
		r.Steward = strings.TrimSpace(string(out))
	}
	var nt *Net
	r.Topology = "loopback"
	if o.Loopback {
		r.TopologyNote = "loopback forced: process faults only"
	} else if err := NetnsAvailable(ctx); err != nil {
		r.TopologyNote = fmt.Sprintf("network namespaces unavailable (%v): loopback, process faults only", err)
	} else if nt, err = SetupNet(ctx, o.Nodes); err != nil {
		return nil, fmt.Errorf("network namespaces: %w", err)
	} else {
		r.Topology = "netns"
		if !nt.iptables {
			r.TopologyNote = "iptables missing: partitions and loss will fail (scripts/chaos.sh installs it)"
		}
		if !nt.Netem() && slices.Contains(o.Kinds, NetemDelay) {
			note := "this kernel has no netem qdisc and no NFQUEUE for the user-space delayer: the netem kind is left out (throttle and packet-loss stand in for delay and loss)"
			r.TopologyNote = strings.TrimPrefix(r.TopologyNote+"; "+note, "; ")
			kinds := slices.DeleteFunc(slices.Clone(o.Kinds), func(k string) bool { return k == NetemDelay })
			if len(kinds) == 0 {
				return nil, errors.New(note)
			}
			r.Kinds = kinds
			if plan, err = NewSchedule(o.Seed, kinds, o.Faults, o.Duration); err != nil {
				return nil, err
			}
			r.Planned = len(plan)
			log.Warn(note)
		}
		defer func() { _ = nt.Close(context.Background()) }()
	}
	if nt == nil {
		var kinds []string
		for _, k := range o.Kinds {
			if !NetworkKind(k) {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) == 0 {
			return nil, fmt.Errorf("%s, and no process fault kind was asked for", r.TopologyNote)
		}
		r.Kinds = kinds
		if plan, err = NewSchedule(o.Seed, kinds, o.Faults, o.Duration); err != nil {
			return nil, err
		}
		r.Planned = len(plan)
		log.Warn(r.TopologyNote)
	}

	log.Info("starting", "nodes", o.Nodes, "topology", r.Topology, "dir", dir, "faults", len(plan), "duration", o.Duration, "seed", o.Seed)
	c, err := StartCluster(ctx, ClusterOptions{Bin: o.Bin, Dir: dir, Size: o.Nodes, Net: nt})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	h := NewHistory()
	w := NewWorkload(c, h, o.Keys, o.OpTimeout, o.Rate, o.Seed)
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	sup, err := ApplySupervision(actx, c)
	var plans *Plans
	if err == nil {
		plans, err = ApplyPlanTree(actx, c)
	}
	var dep *Deploy
	if err == nil && o.Deployments {
		var mods string
		if mods, err = ModulesDir(o.ModulesDir, o.Out); err == nil {
			r.Workload["modules"] = mods
			dep, err = SetupDeploy(actx, c, mods)
		}
	}
	cancel()
	if err != nil {
		return nil, err
	}
	var exps *Experiments
	if o.Experiments {
		exps = NewExperiments(c, dep.Busy)
	}
	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); w.Run(wctx, o.RegWorkers, o.SetWorkers) }()
	go func() { defer wg.Done(); sup.Run(wctx, o.Seed) }()
	go func() { defer wg.Done(); plans.Run(wctx) }()
	if dep != nil {
		wg.Add(1)
		go func() { defer wg.Done(); dep.Run(wctx) }()
	}
	if exps != nil {
		wg.Add(1)
		go func() { defer wg.Done(); exps.Run(wctx) }()
	}

	nm := NewNemesis(c, h, log.Named("nemesis"))
	nm.Run(ctx, plan)
	// A healthy tail, so that operations after the last heal are counted.
	hold(ctx, 5*time.Second)
	stopWork()
	wg.Wait()
	r.Faults = nm.Faults()
	for _, f := range r.Faults {
		r.FaultsByKind[f.Kind]++
		if f.LeaderAfterMs < 0 || f.LeaderAfterMs > r.Checks.MaxLeaderAfterHealMs {
			if r.Checks.MaxLeaderAfterHealMs >= 0 {
				r.Checks.MaxLeaderAfterHealMs = f.LeaderAfterMs
			}
		}
	}
	if n := len(r.Faults); n > 0 {
		r.Checks.LeaderAfterHealMs = r.Faults[n-1].LeaderAfterMs
	}

	log.Info("workload stopped; checking")
	hctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	_, herr := c.WaitHealthy(hctx)
	cancel()
	r.Checks.Recovered = herr == nil
	if herr != nil {
		log.Error("not recovered", "error", herr)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	if err := w.FinalReads(fctx, o.RegWorkers+o.SetWorkers); err != nil {
		log.Error("final reads", "error", err)
	}
	set, serr := w.CheckSet(fctx)
	cancel()
	if serr != nil {
		log.Error("set check", "error", serr)
		r.Checks.AcknowledgedLost = -1
	} else {
		r.Set = set
		r.Checks.AcknowledgedLost = len(set.Lost)
		r.Checks.FailedWritesApplied = len(set.FailedPresent)
	}
	dctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	eq, digests, derr := c.StatesEqual(dctx)
	cancel()
	r.Checks.StatesEqual, r.Digests = eq, digests
	if derr != nil {
		log.Error("state digests", "error", derr)
	}
	vctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	sr := sup.Validate(vctx)
	cancel()
	r.Supervision = &sr
	r.Checks.ValidateConsistent = &sr.Consistent
	pr := plans.Result()
	r.Plans = &pr
	r.Checks.StepsRunTwice, r.Checks.StepsLost = &pr.StepsRunTwice, &pr.StepsLost
	if pr.Succeeded == 0 {
		r.NotChecked = append(r.NotChecked, fmt.Sprintf("plans: no plan succeeded with a conclusive count (%d plans, %d inconclusive)", pr.Plans, pr.Inconclusive))
	}
	if dep != nil {
		// Generous: a deployment's batches wait out their deadlines.
		cctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		dr := dep.Check(cctx)
		cancel()
		r.Deployments = &dr
		mixed := dr.Mixed
		if dr.FinalMixed {
			mixed++
		}
		r.Checks.DeploymentsMixed, r.Checks.DeploymentsStuck = &mixed, &dr.Stuck
		if dr.Successful+dr.Reverted+dr.Failed == 0 {
			r.NotChecked = append(r.NotChecked, fmt.Sprintf("deployments: none ended (%d committed, %d refused)", dr.Deployments, dr.Refused))
		}
	} else {
		r.NotChecked = append(r.NotChecked, "deployments: workload off")
	}
	if exps != nil {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		xr := exps.Check(cctx)
		cancel()
		r.Experiments = &xr
		partial, present := xr.Partial+xr.RuntimeMismatch, xr.FailedPresent+xr.RejectedRunning
		r.Checks.ExperimentsPartial, r.Checks.ExperimentsAcknowledgedMissing, r.Checks.ExperimentsFailedPresent = &partial, &xr.AcknowledgedMissing, &present
		if xr.Acknowledged == 0 {
			r.NotChecked = append(r.NotChecked, fmt.Sprintf("experiments: none acknowledged (%d created)", xr.Created))
		}
	} else {
		r.NotChecked = append(r.NotChecked, "experiments: workload off")
	}

	ops := h.Ops()
	base := filepath.Join(o.Out, stamp)
	lin, lerr := CheckLinearizable(ops, o.CheckBudget, base+".porcupine.html")
	if lerr != nil {
		log.Error("linearizability", "error", lerr)
	}
	r.Linearizability = lin
	r.Checks.Linearizable = lin.Linearizable
	if lin.Visualization != "" {
		r.Files = append(r.Files, filepath.Base(lin.Visualization))
	}
	r.Rates = w.SuccessRates(r.Faults)
	r.Finished = time.Now().UTC()
	r.Evaluate()
	if serr != nil {
		r.Failures = append(r.Failures, "set check: "+serr.Error())
		r.Passed = false
	}
	if !r.Passed {
		// Keep the evidence: the history and where the agents' logs are.
		if err := writeJSON(base+".history.json", ops); err == nil {
			r.Files = append(r.Files, filepath.Base(base+".history.json"))
		}
		r.Files = append(r.Files, "agent logs: "+dir)
	}
	if err := r.Write(base + ".json"); err != nil {
		return r, err
	}
	if err := os.WriteFile(base+".txt", []byte(r.Summary()), 0o644); err != nil {
		return r, err
	}
	if r.Passed && o.Dir == "" {
		defer os.RemoveAll(dir)
	}
	return r, nil
}

func machine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	if len(f) > 3 {
		f = f[:3]
	}
	return fmt.Sprintf("%d CPUs, %s, load %s", runtime.NumCPU(), runtime.Version(), strings.Join(f, " "))
}

// LockFile serializes runs on a machine: they share the namespaces named
// with Prefix, and a run's setup removes what it finds.
func LockFile() string { return filepath.Join(os.TempDir(), "stwchaos.lock") }

// lockRun takes LockFile, unless STWCHAOS_LOCK_HELD says the caller
// (scripts/chaos.sh) holds it or the run is on loopback (forced), which
// touches no namespace: its agents listen on free loopback ports, so it
// may run beside a namespace run.
func lockRun(loopback bool) (func(), error) {
	if loopback || os.Getenv("STWCHAOS_LOCK_HELD") == "1" {
		return func() {}, nil
	}
	f, err := os.OpenFile(LockFile(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another chaos run holds %s (one run per machine: runs share the %s namespaces): %w", LockFile(), Prefix, err)
	}
	return func() { f.Close() }, nil
}
