package chaos

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"time"
)

// Fault kinds. A kind that needs network namespaces is refused on loopback.
const (
	KillLeader      = "kill-leader"      // SIGKILL the leader, restart it from its data dir
	KillRandom      = "kill-random"      // SIGKILL a random node, restart it
	PauseLeader     = "pause-leader"     // SIGSTOP the leader longer than the election timeout, SIGCONT
	PauseRandom     = "pause-random"     // SIGSTOP a random node, SIGCONT
	PartitionLeader = "partition-leader" // the leader cut off from every other node
	PartitionHalves = "partition-halves" // a random minority cut off from the majority
	PartitionBridge = "partition-bridge" // two sides that only one node (the bridge) sees both of
	OneWayLoss      = "one-way-loss"     // a node drops every packet from its peers, sends its own
	PacketLoss      = "packet-loss"      // a node drops 30% of its packets each way (random)
	Throttle        = "throttle"         // a node's link limited to 512 kbit/s, 200 ms of queue (delay)
	NetemDelay      = "netem"            // 100 ms delay, 50 ms jitter, 10% loss on what a node sends: the netem qdisc, or a Delayer where the kernel has none
	RemovePeer      = "remove-peer"      // SIGKILL a follower, remove it through the leader's RemovePeer API, restart it (added back)
	LeaveLeader     = "leave-leader"     // SIGTERM the leader (graceful leave: out of the Raft configuration), restart it
	LeaveRandom     = "leave-random"     // SIGTERM a follower (graceful leave), restart it
	RestartAll      = "restart-all"      // SIGKILL every node, restart them all
)

// AllKinds are the fault kinds, in the order a schedule cycles through them.
var AllKinds = []string{KillLeader, KillRandom, PauseLeader, PauseRandom, PartitionLeader, PartitionHalves,
	PartitionBridge, OneWayLoss, PacketLoss, Throttle, NetemDelay, RemovePeer, LeaveLeader, LeaveRandom, RestartAll}

// ProcessKinds are the kinds that need no network namespace.
var ProcessKinds = []string{KillLeader, KillRandom, PauseLeader, PauseRandom, RemovePeer, LeaveLeader, LeaveRandom, RestartAll}

// NetworkKind reports whether kind needs network namespaces.
func NetworkKind(kind string) bool { return !slices.Contains(ProcessKinds, kind) }

// Planned is one fault of a schedule: its kind, a random number that picks
// its nodes among those the kind allows (the leader is found at run time),
// how long it holds before it heals and how long the cluster then runs
// healthy before the next fault.
type Planned struct {
	Kind string        `json:"kind"`
	Pick uint32        `json:"pick"`
	Hold time.Duration `json:"hold_ns"`
	Gap  time.Duration `json:"gap_ns"`
}

// Schedule limits.
const (
	// MinHold is a fault's shortest hold: six of the agents' default
	// election timeouts (250 ms), so that a pause or a partition of the
	// leader deposes it.
	MinHold = 1500 * time.Millisecond
	// MinGap is the shortest healthy time after a fault heals (the
	// nemesis also waits for the cluster to be healthy before the next).
	MinGap = time.Second
)

// ParseKinds reads a comma-separated list of kinds ("" or "all": every kind).
func ParseKinds(s string) ([]string, error) {
	if s == "" || s == "all" {
		return slices.Clone(AllKinds), nil
	}
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(AllKinds, k) {
			return nil, fmt.Errorf("unknown fault kind %q; the kinds are: %s", k, strings.Join(AllKinds, ", "))
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// NewSchedule plans faults over duration: the kinds in a seeded shuffled
// round-robin (every kind appears once per round), each fault holding for
// 55-75% of its slot (at least MinHold) and the rest healthy (at least
// MinGap). The same seed, kinds, count and duration give the same schedule.
func NewSchedule(seed int64, kinds []string, faults int, duration time.Duration) ([]Planned, error) {
	if len(kinds) == 0 {
		return nil, fmt.Errorf("no fault kinds")
	}
	if faults < 0 {
		return nil, fmt.Errorf("faults %d: must not be negative", faults)
	}
	if faults == 0 {
		return nil, nil
	}
	slot := duration / time.Duration(faults)
	if slot < MinHold+MinGap {
		return nil, fmt.Errorf("%d faults in %s leave %s each; at least %s each (hold %s + gap %s): fewer faults or a longer duration", faults, duration, slot, MinHold+MinGap, MinHold, MinGap)
	}
	rng := rand.New(rand.NewSource(seed))
	var out []Planned
	var round []string
	for len(out) < faults {
		if len(round) == 0 {
			round = slices.Clone(kinds)
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		hold := time.Duration(float64(slot) * (0.55 + 0.2*rng.Float64())).Truncate(time.Millisecond)
		hold = max(hold, MinHold)
		if slot-hold < MinGap {
			hold = slot - MinGap
		}
		out = append(out, Planned{Kind: round[0], Pick: rng.Uint32(), Hold: hold, Gap: slot - hold})
		round = round[1:]
	}
	return out, nil
}
