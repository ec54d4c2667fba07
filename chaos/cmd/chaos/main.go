// Command chaos runs steward's chaos harness (package chaos): N agents in
// network namespaces under a seeded nemesis, their histories checked.
//
//	chaos -bin bin/steward -out chaos/results -nodes 5 -duration 20m -faults 120 -seed 7
//
// It writes <out>/<time>.json and <time>.txt and exits 0 when every check
// passed, 1 when one failed or the run could not be made, 2 on a usage
// error. scripts/chaos.sh builds the binaries and runs it as root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/chaos"
)

func main() { os.Exit(run()) }

func run() int {
	o := chaos.DefaultOptions()
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.StringVar(&o.Bin, "bin", "", "steward binary under test (required)")
	fs.StringVar(&o.Out, "out", "chaos/results", "directory of the reports")
	fs.StringVar(&o.Dir, "dir", "", "directory of the agents' data dirs and logs (default: a temporary one, removed after a passing run)")
	fs.IntVar(&o.Nodes, "nodes", o.Nodes, "agents: 3 or 5")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of the fault schedule (faults and the healthy gaps between them)")
	fs.IntVar(&o.Faults, "faults", o.Faults, "faults in the schedule")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the fault schedule and the workload")
	kinds := fs.String("kinds", "all", "comma-separated fault kinds, or all")
	fs.IntVar(&o.Keys, "keys", o.Keys, "kv registers")
	fs.IntVar(&o.RegWorkers, "register-clients", o.RegWorkers, "clients of the register workload")
	fs.IntVar(&o.SetWorkers, "set-clients", o.SetWorkers, "clients of the set workload")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "operations per second per client, at most")
	fs.DurationVar(&o.OpTimeout, "op-timeout", o.OpTimeout, "a client's wait for one operation (then its outcome is unknown)")
	fs.DurationVar(&o.CheckBudget, "check-budget", o.CheckBudget, "porcupine's time budget; running out counts as a failure")
	fs.BoolVar(&o.Loopback, "loopback", false, "run on loopback without namespaces (process faults only)")
	fs.BoolVar(&o.Deployments, "deployments", o.Deployments, "run the deployment workload (counter v1 <-> v2 under the nemesis)")
	fs.BoolVar(&o.Experiments, "experiments", o.Experiments, "run the experiment workload (two-sandbox experiments under the nemesis)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chaos: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if o.Kinds, err = chaos.ParseKinds(*kinds); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: -kinds:", err)
		return 2
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	o.Logger = hclog.New(&hclog.LoggerOptions{Name: "chaos", Level: hclog.Info, Output: os.Stderr})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := chaos.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	fmt.Print(r.Summary())
	if !r.Passed {
		return 1
	}
	return 0
}
