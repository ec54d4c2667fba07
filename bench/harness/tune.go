package harness

import (
	"context"
	"fmt"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/report"
)

// Variant is one tuning experiment: a steward cluster started with a raft
// {} block, compared in pairs with the default cluster.
type Variant struct {
	Name string
	// Raft is the config file's raft {} block (HCL values: quote
	// durations).
	Raft map[string]string
	// Endpoint is where the clients talk.
	Endpoint cluster.Endpoint
	// Clients picks the concurrencies to compare (nil: none, for a
	// failover-only variant).
	Clients []int
	// Failover also measures leader kills on the variant.
	Failover bool
	// Steady also makes a fault-free steady run on the variant and counts
	// its elections (when the plan has a steady duration).
	Steady bool
	// Conns, with no Raft settings, is a client-side variant: the same
	// cluster, the load sharing this many connections instead of one per
	// client.
	Conns int
	// LogStore is the variant's --raft-log-store, BaseLogStore the
	// defaults cluster's ("": the run's -raft-log-store, else the agent's
	// default).
	LogStore     string
	BaseLogStore string
	Note         string
}

// ClientSide reports whether the variant changes only the clients.
func (v Variant) ClientSide() bool { return len(v.Raft) == 0 && v.Conns > 0 && v.LogStore == "" }

// WithConns makes every Target of sys share conns connections, whatever
// the plan says.
func WithConns(sys System, conns int) System { return connsOverride{System: sys, conns: conns} }

type connsOverride struct {
	System
	conns int
}

func (c connsOverride) Target(ctx context.Context, ep cluster.Endpoint, clients, _ int) (cluster.Target, error) {
	return c.System.Target(ctx, ep, clients, c.conns)
}

// DefaultVariants are the knobs the agent config file exposes that bear on
// write throughput, latency and failover.
func DefaultVariants() []Variant {
	tput := []int{1, 64, 256}
	return []Variant{
		{Name: "max_append_entries=256", Raft: map[string]string{"max_append_entries": "256"}, Endpoint: cluster.ToLeader, Clients: tput,
			Note: "bigger batches per leader disk write (BatchApplyCh takes up to MaxAppendEntries) and per AppendEntries RPC"},
		{Name: "max_append_entries=1024", Raft: map[string]string{"max_append_entries": "1024"}, Endpoint: cluster.ToLeader, Clients: tput,
			Note: "the largest the agent accepts"},
		{Name: "commit_timeout=5ms", Raft: map[string]string{"commit_timeout": `"5ms"`}, Endpoint: cluster.ToFollowers, Clients: tput,
			Note: "how soon an idle leader tells followers the commit index; requests forwarded through a follower are answered by the leader, so little is expected"},
		{Name: "shared-conns=8", Conns: 8, Endpoint: cluster.ToLeader, Clients: []int{64, 256},
			Note: "client side, same cluster: the clients share 8 gRPC connections instead of one each (HTTP/2 multiplexing; fewer, fuller writes per syscall)"},
		{Name: "log-store=wal", LogStore: "wal", BaseLogStore: "boltdb", Endpoint: cluster.ToLeader, Clients: []int{1, 16, 64, 256},
			Note: "--raft-log-store wal (hashicorp/raft-wal) against --raft-log-store boltdb (raft-boltdb/v2), two fresh clusters"},
		timing("election-300ms", "300ms", "300ms", "150ms", []int{1, 64},
			"failover detection: each follower notices a dead leader 1-3x heartbeat_timeout after its last contact; with pre-vote the second follower's notice elects"),
		timing("election-250ms", "250ms", "250ms", "125ms", nil, "failover and steady only"),
		timing("election-250ms-lease250", "250ms", "250ms", "250ms", nil,
			"failover and steady only: the lease at the heartbeat timeout, so that a leader starved of CPU for 125-250 ms keeps leading (hashicorp/raft uses the lease only to step down, never for reads)"),
		timing("election-200ms", "200ms", "200ms", "100ms", nil, "failover and steady only"),
		timing("election-300ms-lease300", "300ms", "300ms", "300ms", nil, "failover and steady only: 300 ms with the lease at the heartbeat timeout"),
		timing("election-500ms", "500ms", "500ms", "250ms", nil, "failover and steady only: the defaults before 250 ms (hashicorp/raft's halved)"),
	}
}

// timing is a variant of the three Raft timeouts, with failover and a
// steady run measured.
func timing(name, hb, election, lease string, clients []int, note string) Variant {
	return Variant{Name: name, Raft: map[string]string{"heartbeat_timeout": `"` + hb + `"`, "election_timeout": `"` + election + `"`, "leader_lease_timeout": `"` + lease + `"`},
		Endpoint: cluster.ToLeader, Clients: clients, Failover: true, Steady: true, Note: note}
}

// TimingVariants are the DefaultVariants that change the Raft timeouts.
func TimingVariants() []Variant {
	var out []Variant
	for _, v := range DefaultVariants() {
		if _, ok := v.Raft["heartbeat_timeout"]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Named wraps a System under another name (for a tuned variant).
type Named struct {
	System
	Label string
}

// Name is the label.
func (n Named) Name() string { return n.Label }

// Tune compares variant (A) with base (B) at the variant's concurrencies
// and, when asked, measures the variant's failover interleaved with the
// base's (a kill on each in turn), and a steady run on each (sp nil: none).
func Tune(ctx context.Context, base, variant System, v Variant, p Plan, fp FailoverPlan, sp *SteadyPlan, timeouts, baseTimeouts map[string]string) (report.Tuning, error) {
	t := report.Tuning{Name: v.Name, Raft: v.Raft, Conns: v.Conns, LogStore: v.LogStore, BaseLogStore: v.BaseLogStore, Endpoint: string(v.Endpoint), Note: v.Note}
	if len(v.Clients) > 0 {
		sub := p
		sub.Clients, sub.Ops = nil, nil
		for _, c := range v.Clients {
			for i, pc := range p.Clients {
				if pc == c {
					sub.Clients = append(sub.Clients, c)
					sub.Ops = append(sub.Ops, p.Ops[i])
				}
			}
		}
		if len(sub.Clients) == 0 {
			return t, fmt.Errorf("variant %s: none of its concurrencies %v is in the plan %v", v.Name, v.Clients, p.Clients)
		}
		pairs, err := ComparePairs(ctx, variant, base, v.Endpoint, sub)
		if err != nil {
			return t, err
		}
		for i, c := range sub.Clients {
			t.Levels = append(t.Levels, report.NewTuningLevel(c, pairs[i]))
		}
	}
	if v.Failover {
		fa := report.Failover{System: variant.Name(), Timeouts: timeouts}
		fb := report.Failover{System: base.Name(), Timeouts: baseTimeouts}
		for i := 0; i < fp.Runs && ctx.Err() == nil; i++ {
			one := fp
			one.Runs, one.First, one.Total = 1, i, fp.Runs
			fa.Runs = append(fa.Runs, Failover(ctx, variant, one, nil).Runs...)
			fb.Runs = append(fb.Runs, Failover(ctx, base, one, nil).Runs...)
		}
		SummarizeFailover(&fa)
		SummarizeFailover(&fb)
		t.Failover, t.BaseFailover = &fa, &fb
	}
	if v.Steady && sp != nil {
		sa, err := Steady(ctx, variant, *sp, timeouts)
		if err != nil {
			return t, err
		}
		sb, err := Steady(ctx, base, *sp, baseTimeouts)
		if err != nil {
			return t, err
		}
		t.Steady, t.BaseSteady = &sa, &sb
	}
	return t, nil
}
