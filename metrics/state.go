package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/steward/steward/state"
)

var (
	descPlans       = prometheus.NewDesc("steward_plans", "Coordinated plans in this node's replica of the committed state, by status.", []string{"status"}, nil)
	descDeployments = prometheus.NewDesc("steward_deployments", "Hot-code deployments in this node's replica of the committed state, by status.", []string{"status"}, nil)
	descSnapshots   = prometheus.NewDesc("steward_snapshots", "Cluster snapshots in this node's replica of the committed state, by status.", []string{"status"}, nil)
	descSandboxes   = prometheus.NewDesc("steward_sandboxes", "Sandboxes in this node's replica of the committed state, by status.", []string{"status"}, nil)
	descStateIndex  = prometheus.NewDesc("steward_state_index", "The latest Raft index this node's replica of the committed state holds.", nil, nil)
)

// StateCollector counts the records of the committed state by status
// when scraped: plans, deployments, snapshots, sandboxes. Every server
// holds the whole replica, so every server reports the same counts once
// caught up; a client agent holds only the records that concern it. st
// returns the current store (it changes on a restore).
func StateCollector(st func() *state.Store) prometheus.Collector { return stateCollector{st: st} }

type stateCollector struct{ st func() *state.Store }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPlans, descDeployments, descSnapshots, descSandboxes, descStateIndex} {
		ch <- d
	}
}

func emitCounts(ch chan<- prometheus.Metric, d *prometheus.Desc, counts map[string]int) {
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), s)
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.st()
	if st == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descStateIndex, prometheus.GaugeValue, float64(st.LatestIndex()))
	if _, plans, err := st.Plans(nil); err == nil {
		counts := map[string]int{}
		for _, p := range plans {
			counts[p.Status]++
		}
		emitCounts(ch, descPlans, counts)
	}
	if _, deps, err := st.Deployments(nil, ""); err == nil {
		counts := map[string]int{}
		for _, d := range deps {
			counts[d.Status]++
		}
		emitCounts(ch, descDeployments, counts)
	}
	if _, snaps, err := st.Snapshots(nil); err == nil {
		counts := map[string]int{}
		for _, s := range snaps {
			counts[s.Status]++
		}
		emitCounts(ch, descSnapshots, counts)
	}
	if _, sbs, err := st.Sandboxes(nil, ""); err == nil {
		counts := map[string]int{}
		for _, s := range sbs {
			counts[s.Status]++
		}
		emitCounts(ch, descSandboxes, counts)
	}
}
