package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/pb"
)

// Fault is one fault as it ran: its kind, the nodes it hit, when it began
// and when it healed (wall clock, and the history's monotonic clock).
type Fault struct {
	Kind  string    `json:"kind"`
	Nodes []string  `json:"nodes"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// StartNs and EndNs are on the history's clock (Op.Call, Op.Return).
	StartNs int64 `json:"start_ns"`
	EndNs   int64 `json:"end_ns"`
	// Note says what was done; Error what went wrong doing it.
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
	// HealthyBefore: the cluster was healthy (every node a voter, caught
	// up) when the fault began; false when it did not get there in time.
	HealthyBefore bool `json:"healthy_before"`
	// LeaderAfterMs is how long after the heal a majority named one leader
	// (-1: none within LeaderWait).
	LeaderAfterMs int64 `json:"leader_after_heal_ms"`
}

// LeaderWait is how long after a heal the nemesis waits for a leader.
const LeaderWait = 60 * time.Second

// Nemesis injects the faults of a schedule into a cluster.
type Nemesis struct {
	c      *Cluster
	h      *History
	logger hclog.Logger

	mu     sync.Mutex
	faults []Fault
}

// NewNemesis is a nemesis for c, its times on h's clock.
func NewNemesis(c *Cluster, h *History, logger hclog.Logger) *Nemesis {
	return &Nemesis{c: c, h: h, logger: logger}
}

// Faults are the faults run so far.
func (nm *Nemesis) Faults() []Fault {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	return slices.Clone(nm.faults)
}

// LastHeal is when the last fault healed, on the history's clock (0: none).
func (nm *Nemesis) LastHeal() int64 {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	var last int64
	for _, f := range nm.faults {
		last = max(last, f.EndNs)
	}
	return last
}

// Run runs the schedule: before each fault it waits (up to a minute) for
// the cluster to be healthy, then applies the fault, holds it, heals it and
// waits out the gap. It stops early when ctx ends, healing what it did.
func (nm *Nemesis) Run(ctx context.Context, plan []Planned) {
	for i, p := range plan {
		if ctx.Err() != nil {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, herr := nm.c.WaitHealthy(hctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		f := nm.one(ctx, p)
		f.LeaderAfterMs = nm.leaderAfter(ctx, f.EndNs)
		f.HealthyBefore = herr == nil
		if herr != nil {
			f.Note = fmt.Sprintf("cluster not healthy before: %v; %s", herr, f.Note)
		}
		nm.mu.Lock()
		nm.faults = append(nm.faults, f)
		nm.mu.Unlock()
		nm.logger.Info("fault", "n", i+1, "of", len(plan), "kind", f.Kind, "nodes", f.Nodes,
			"held", f.End.Sub(f.Start).Round(time.Millisecond), "note", f.Note, "error", f.Error)
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Gap):
		}
	}
}

// hold waits d, or less when ctx ends.
func hold(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// leaderOr is the leader, waited for up to 10 s, or else the node pick
// chooses (noted).
func (nm *Nemesis) leaderOr(ctx context.Context, pick uint32, note *string) int {
	var l int
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := poll(wctx, 200*time.Millisecond, func() error {
		var err error
		l, err = nm.c.Leader(wctx)
		return err
	})
	if err != nil {
		*note = "no leader found, a random node instead"
		return int(pick % uint32(len(nm.c.Nodes)))
	}
	return l
}

// perm is a permutation of the node indexes from pick.
func (nm *Nemesis) perm(pick uint32) []int {
	return rand.New(rand.NewSource(int64(pick))).Perm(len(nm.c.Nodes))
}

func (nm *Nemesis) names(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, nm.c.Nodes[i].Name)
	}
	return out
}

func errString(errs []error) string {
	if err := errors.Join(errs...); err != nil {
		return err.Error()
	}
	return ""
}

// one applies, holds and heals p; the fault's end is when the heal is done.
func (nm *Nemesis) one(ctx context.Context, p Planned) Fault {
	c, net := nm.c, nm.c.Net
	f := Fault{Kind: p.Kind}
	var errs []error
	begin := func(idx ...int) {
		f.Nodes = nm.names(idx...)
		f.Start, f.StartNs = time.Now().UTC(), nm.h.Now()
	}
	end := func() { f.End, f.EndNs = time.Now().UTC(), nm.h.Now() }
	defer func() { f.Error = errString(errs) }()
	if net == nil && NetworkKind(p.Kind) {
		begin()
		end()
		errs = append(errs, fmt.Errorf("%s needs network namespaces (loopback run)", p.Kind))
		return f
	}
	others := func(x int) []int {
		var out []int
		for j := range c.Nodes {
			if j != x {
				out = append(out, j)
			}
		}
		return out
	}
	healAll := func(idx ...int) {
		for _, i := range idx {
			if err := net.Heal(ctx, i); err != nil {
				errs = append(errs, err)
			}
		}
	}
	switch p.Kind {
	case KillLeader, KillRandom:
		x := int(p.Pick % uint32(len(c.Nodes)))
		if p.Kind == KillLeader {
			x = nm.leaderOr(ctx, p.Pick, &f.Note)
		}
		begin(x)
		errs = append(errs, c.Nodes[x].proc.Kill())
		hold(ctx, p.Hold)
		errs = append(errs, c.Restart(x))
		end()
	case PauseLeader, PauseRandom:
		x := int(p.Pick % uint32(len(c.Nodes)))
		if p.Kind == PauseLeader {
			x = nm.leaderOr(ctx, p.Pick, &f.Note)
		}
		begin(x)
		errs = append(errs, c.Nodes[x].proc.Signal(syscall.SIGSTOP))
		hold(ctx, p.Hold)
		errs = append(errs, c.Nodes[x].proc.Signal(syscall.SIGCONT))
		end()
	case PartitionLeader:
		x := nm.leaderOr(ctx, p.Pick, &f.Note)
		begin(x)
		for _, j := range others(x) {
			errs = append(errs, net.Drop(ctx, x, j, true, true))
		}
		hold(ctx, p.Hold)
		healAll(x)
		end()
	case PartitionHalves:
		order := nm.perm(p.Pick)
		minority, majority := order[:len(order)/2], order[len(order)/2:]
		begin(minority...)
		f.Note = fmt.Sprintf("minority %v cut off from majority %v", nm.names(minority...), nm.names(majority...))
		for _, m := range minority {
			for _, j := range majority {
				errs = append(errs, net.Drop(ctx, m, j, true, true))
			}
		}
		hold(ctx, p.Hold)
		healAll(minority...)
		end()
	case PartitionBridge:
		order := nm.perm(p.Pick)
		k := len(order) / 2
		a, bridge, b := order[:k], order[k], order[k+1:]
		if len(order) < 3 {
			a, b = order[:1], order[1:]
		}
		begin(bridge)
		f.Note = fmt.Sprintf("%v and %v cut off from each other; %s sees both", nm.names(a...), nm.names(b...), c.Nodes[bridge].Name)
		for _, i := range a {
			for _, j := range b {
				errs = append(errs, net.Drop(ctx, i, j, true, true))
			}
		}
		hold(ctx, p.Hold)
		healAll(a...)
		end()
	case OneWayLoss:
		x := int(p.Pick % uint32(len(c.Nodes)))
		begin(x)
		f.Note = "drops every packet from its peers; what it sends arrives"
		for _, j := range others(x) {
			errs = append(errs, net.Drop(ctx, x, j, true, false))
		}
		hold(ctx, p.Hold)
		healAll(x)
		end()
	case PacketLoss:
		x := int(p.Pick % uint32(len(c.Nodes)))
		begin(x)
		f.Note = "30% of packets to and from its peers dropped at random (iptables statistic; this kernel has no netem)"
		for _, j := range others(x) {
			errs = append(errs, net.Loss(ctx, x, j, 0.3))
		}
		hold(ctx, p.Hold)
		healAll(x)
		end()
	case Throttle:
		x := int(p.Pick % uint32(len(c.Nodes)))
		begin(x)
		f.Note = "egress limited to 512kbit/s with up to 200ms of queue (tbf; this kernel has no netem delay)"
		errs = append(errs, net.Throttle(ctx, x, "512kbit", "200ms"))
		hold(ctx, p.Hold)
		healAll(x)
		end()
	case NetemDelay:
		x := int(p.Pick % uint32(len(c.Nodes)))
		begin(x)
		how, err := net.NetemOn(ctx, x, 100*time.Millisecond, 50*time.Millisecond, 0.1, int64(p.Pick))
		errs = append(errs, err)
		f.Note = "100ms delay, 50ms jitter, 10% loss on what it sends: " + how
		hold(ctx, p.Hold)
		healAll(x)
		end()
		if st, ok := net.LastDelay(x); ok && err == nil {
			f.Note += fmt.Sprintf(" (%d packets: %d dropped, %d delayed; %d dropped by the kernel before the delayer)", st.Seen, st.Dropped, st.Accepted, st.KernelDropped)
		}
	case RemovePeer:
		x := nm.follower(ctx, p.Pick, &f.Note)
		begin(x)
		errs = append(errs, c.Nodes[x].proc.Kill())
		idx, err := nm.removePeer(ctx, x, max(p.Hold, 45*time.Second))
		if err != nil {
			errs = append(errs, err)
		} else {
			f.Note += fmt.Sprintf("removed from the Raft configuration at index %d", idx)
		}
		hold(ctx, p.Hold)
		errs = append(errs, c.Restart(x))
		end()
	case LeaveLeader, LeaveRandom:
		var x int
		if p.Kind == LeaveLeader {
			x = nm.leaderOr(ctx, p.Pick, &f.Note)
		} else {
			x = nm.follower(ctx, p.Pick, &f.Note)
		}
		begin(x)
		if err := c.Nodes[x].proc.Stop(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
		hold(ctx, p.Hold)
		errs = append(errs, c.Restart(x))
		end()
	case RestartAll:
		all := nm.perm(p.Pick)
		slices.Sort(all)
		begin(all...)
		var wg sync.WaitGroup
		kerrs := make([]error, len(all))
		for _, i := range all {
			wg.Add(1)
			go func() { defer wg.Done(); kerrs[i] = c.Nodes[i].proc.Kill() }()
		}
		wg.Wait()
		errs = append(errs, kerrs...)
		hold(ctx, min(p.Hold, 5*time.Second))
		for _, i := range all {
			errs = append(errs, c.Restart(i))
		}
		end()
	default:
		begin()
		end()
		errs = append(errs, fmt.Errorf("unknown fault kind %q", p.Kind))
	}
	return f
}

// follower is a node other than the leader, chosen by pick.
func (nm *Nemesis) follower(ctx context.Context, pick uint32, note *string) int {
	l := nm.leaderOr(ctx, pick, note)
	n := len(nm.c.Nodes)
	x := int(pick % uint32(n))
	if x == l && n > 1 {
		x = (x + 1) % n
	}
	return x
}

// removePeer removes node x (already dead) from the Raft configuration
// through the leader's RemovePeer, retrying while gossip still has it
// alive or the leader changes, for up to d.
func (nm *Nemesis) removePeer(ctx context.Context, x int, d time.Duration) (uint64, error) {
	var idx uint64
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := poll(wctx, 500*time.Millisecond, func() error {
		l, err := nm.c.Leader(wctx)
		if err != nil {
			return err
		}
		rctx, rcancel := context.WithTimeout(wctx, 5*time.Second)
		defer rcancel()
		resp, err := nm.c.Nodes[l].Client().Cluster.RemovePeer(rctx, &pb.RemovePeerRequest{Node: nm.c.Nodes[x].Name})
		if err != nil {
			return err
		}
		idx = resp.Index
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("remove %s: %w", nm.c.Nodes[x].Name, err)
	}
	return idx, nil
}

// leaderAfter waits for a quorum leader and returns the time since healed
// (history clock) in milliseconds, -1 when none came within LeaderWait.
func (nm *Nemesis) leaderAfter(ctx context.Context, healed int64) int64 {
	wctx, cancel := context.WithTimeout(ctx, LeaderWait)
	defer cancel()
	err := poll(wctx, 50*time.Millisecond, func() error {
		_, err := nm.c.QuorumLeader(wctx)
		return err
	})
	if err != nil {
		return -1
	}
	return (nm.h.Now() - healed) / int64(time.Millisecond)
}
