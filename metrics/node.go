package metrics

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// RaftSource is what RaftCollector reads: a *raft.Raft.
type RaftSource interface {
	State() raft.RaftState
	LastContact() time.Time
	CurrentTerm() uint64
	CommitIndex() uint64
	AppliedIndex() uint64
	LastIndex() uint64
}

var raftStates = []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown}

var (
	descRaftLeader      = prometheus.NewDesc("steward_raft_leader", "1 while this node is the Raft leader, 0 otherwise.", nil, nil)
	descRaftState       = prometheus.NewDesc("steward_raft_state", "1 for this node's current Raft state, 0 for the others.", []string{"state"}, nil)
	descRaftTerm        = prometheus.NewDesc("steward_raft_term", "This node's current Raft term.", nil, nil)
	descRaftCommit      = prometheus.NewDesc("steward_raft_commit_index", "The highest log index this node knows committed.", nil, nil)
	descRaftApplied     = prometheus.NewDesc("steward_raft_applied_index", "The highest log index this node's FSM applied.", nil, nil)
	descRaftLast        = prometheus.NewDesc("steward_raft_last_log_index", "The last index in this node's Raft log.", nil, nil)
	descRaftLastContact = prometheus.NewDesc("steward_raft_last_contact_seconds", "Follower: time since it last heard from the leader (absent on the leader and before any contact).", nil, nil)
)

// RaftCollector reads one node's Raft when scraped: its state, whether it
// leads, its term and indexes, and a follower's time since its leader's
// last contact. now is the clock (time.Now if nil).
func RaftCollector(r RaftSource, now func() time.Time) prometheus.Collector {
	if now == nil {
		now = time.Now
	}
	return &raftCollector{r: r, now: now}
}

type raftCollector struct {
	r   RaftSource
	now func() time.Time
}

func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftLeader, descRaftState, descRaftTerm, descRaftCommit, descRaftApplied, descRaftLast, descRaftLastContact} {
		ch <- d
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.State()
	ch <- prometheus.MustNewConstMetric(descRaftLeader, prometheus.GaugeValue, boolGauge(st == raft.Leader))
	for _, s := range raftStates {
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, boolGauge(st == s), stateName(s))
	}
	ch <- prometheus.MustNewConstMetric(descRaftTerm, prometheus.GaugeValue, float64(c.r.CurrentTerm()))
	ch <- prometheus.MustNewConstMetric(descRaftCommit, prometheus.GaugeValue, float64(c.r.CommitIndex()))
	ch <- prometheus.MustNewConstMetric(descRaftApplied, prometheus.GaugeValue, float64(c.r.AppliedIndex()))
	ch <- prometheus.MustNewConstMetric(descRaftLast, prometheus.GaugeValue, float64(c.r.LastIndex()))
	if lc := c.r.LastContact(); st == raft.Follower && !lc.IsZero() {
		ch <- prometheus.MustNewConstMetric(descRaftLastContact, prometheus.GaugeValue, c.now().Sub(lc).Seconds())
	}
}

func stateName(s raft.RaftState) string {
	switch s {
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	case raft.Leader:
		return "leader"
	}
	return "shutdown"
}

// MemberStatuses are the gossip statuses steward_gossip_members always
// reports (0 when none), besides any other a member shows.
var MemberStatuses = []string{"alive", "suspect", "failed", "left"}

var (
	descMembers     = prometheus.NewDesc("steward_gossip_members", "Gossip members this node knows, by status (itself included).", []string{"status"}, nil)
	descHealthScore = prometheus.NewDesc("steward_gossip_health_score", "memberlist's awareness health score of this node: 0 is healthy; it rises when this node misses probe acks or is told it is suspected.", nil, nil)
	descReady       = prometheus.NewDesc("steward_ready", "1 while this node knows a leader (the condition of /v1/health/ready and the gRPC steward.ready health service).", nil, nil)
)

// NodeSource is what NodeCollector reads from a node.
type NodeSource struct {
	// MemberStatuses returns each member's gossip status.
	MemberStatuses func() []string
	// HealthScore is memberlist's GetHealthScore.
	HealthScore func() int
	// Ready reports whether the node knows a leader.
	Ready func() bool
}

// NodeCollector reads a node's gossip view and readiness when scraped.
func NodeCollector(s NodeSource) prometheus.Collector { return &nodeCollector{s: s} }

type nodeCollector struct{ s NodeSource }

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMembers
	ch <- descHealthScore
	ch <- descReady
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{}
	for _, s := range MemberStatuses {
		counts[s] = 0
	}
	for _, s := range c.s.MemberStatuses() {
		counts[s]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(n), s)
	}
	ch <- prometheus.MustNewConstMetric(descHealthScore, prometheus.GaugeValue, float64(c.s.HealthScore()))
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, boolGauge(c.s.Ready()))
}
