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
	// Conns, with no Raft settings, is a client-side variant: the same
	// cluster, the load sharing this many connections instead of one per
	// client.
	Conns int
	Note  string
}

// ClientSide reports whether the variant changes only the clients.
func (v Variant) ClientSide() bool { return len(v.Raft) == 0 && v.Conns > 0 }

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
		{Name: "fast-election", Raft: map[string]string{"heartbeat_timeout": `"300ms"`, "election_timeout": `"300ms"`, "leader_lease_timeout": `"150ms"`},
			Endpoint: cluster.ToLeader, Clients: []int{1, 64}, Failover: true,
			Note: "failover detection: followers notice a dead leader after heartbeat_timeout (randomized up to 2x), then elect"},
		{Name: "election-500ms", Raft: map[string]string{"heartbeat_timeout": `"500ms"`, "election_timeout": `"500ms"`, "leader_lease_timeout": `"250ms"`},
			Endpoint: cluster.ToLeader, Failover: true,
			Note: "failover only: half the default timings, more margin than 300ms for GC or disk stalls"},
	}
}

// Named wraps a System under another name (for a tuned variant).
type Named struct {
	System
	Label string
}

// Name is the label.
func (n Named) Name() string { return n.Label }

// Tune compares variant (A) with base (B) at the variant's concurrencies
// and, when asked, measures the variant's failover.
func Tune(ctx context.Context, base, variant System, v Variant, p Plan, fp FailoverPlan, timeouts map[string]string) (report.Tuning, error) {
	t := report.Tuning{Name: v.Name, Raft: v.Raft, Conns: v.Conns, Endpoint: string(v.Endpoint), Note: v.Note}
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
		f := Failover(ctx, variant, fp, timeouts)
		t.Failover = &f
	}
	return t, nil
}
