package metrics

import (
	"context"

	"github.com/hashicorp/go-memdb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

var durationBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Finished counts plans, their stages (phases), deployments and cluster
// snapshots as they finish in the committed state, with their durations
// (from the records' committed start and finish times). It reads the
// node's replica, so every server counts the same finishes; counting
// starts with the watch: records already finished then are not counted.
type Finished struct {
	plans, deployments, snapshots *prometheus.CounterVec
	planSeconds, stageSeconds     *prometheus.HistogramVec
	deploySeconds, snapSeconds    *prometheus.HistogramVec
}

// WatchFinished registers the families on r and watches st (the node's
// current store) until ctx ends.
func WatchFinished(ctx context.Context, r *Registry, st func() *state.Store) error {
	f := &Finished{
		plans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "plans_finished_total",
			Help: "Coordinated plans that finished, by final status (succeeded, failed, rolled_back, cancelled, ...)."}, []string{"status"}),
		planSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "plan_duration_seconds",
			Help: "Plans' time from creation to finish, by final status.", Buckets: durationBuckets}, []string{"status"}),
		stageSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "plan_stage_duration_seconds",
			Help: "Plan stages' (phases, their checks and rollbacks) time from start to finish, by kind and final status.", Buckets: durationBuckets}, []string{"kind", "status"}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "deployments_finished_total",
			Help: "Hot-code deployments that finished, by final status."}, []string{"status"}),
		deploySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "deployment_duration_seconds",
			Help: "Deployments' time from creation to finish, by final status.", Buckets: durationBuckets}, []string{"status"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "snapshots_finished_total",
			Help: "Cluster snapshots that finished, by final status."}, []string{"status"}),
		snapSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "snapshot_duration_seconds",
			Help: "Cluster snapshots' time from creation to finish, by final status.", Buckets: durationBuckets}, []string{"status"}),
	}
	if err := r.Register(f.plans, f.planSeconds, f.stageSeconds, f.deployments, f.deploySeconds, f.snapshots, f.snapSeconds); err != nil {
		return err
	}
	w := &finishedWatch{f: f, st: st, plans: map[string]*planSeen{}, seen: map[string]bool{}, first: true}
	// The first pass runs before WatchFinished returns: what is finished
	// by then is not counted, what finishes later is.
	ws := w.pass()
	if ws == nil {
		return nil
	}
	go func() {
		for ws != nil && ws.WatchCtx(ctx) == nil {
			ws = w.pass()
		}
	}()
	return nil
}

type finishedWatch struct {
	f  *Finished
	st func() *state.Store
	// plans is what was counted of each plan the store held at the last
	// pass; seen, the deployments and snapshots counted as finished.
	plans map[string]*planSeen
	seen  map[string]bool
	first bool
	prev  *state.Store
}

// planSeen is what a pass counted of one plan: the record it read and the
// stages it found finished. The state machine never changes a stored
// record in place (an update stores a copy), so a plan whose record is the
// one read last time has nothing new, and a pass reads the stages only of
// the plans the commits since the last pass changed: every step command
// changes a plan, and a pass per step command over every stage of every
// plan the store keeps was a sixth of a strict plan's CPU.
type planSeen struct {
	rec    *pb.PlanRecord
	stages map[string]bool
	done   bool
}

func seconds(from, to int64) float64 {
	if from == 0 || to < from {
		return 0
	}
	return float64(to-from) / 1e9
}

// pass counts what finished since the previous pass and returns the
// watch set of the next (nil: no store).
func (w *finishedWatch) pass() memdb.WatchSet {
	f := w.f
	store := w.st()
	if store == nil {
		return nil
	}
	if store != w.prev {
		// A fresh store (a restore): what it holds finished is not a new
		// finish.
		w.first, w.prev = true, store
	}
	seen, first := w.seen, w.first
	ws := memdb.NewWatchSet()
	ws.Add(store.AbandonCh())
	now := map[string]bool{}
	mark := func(key string) bool {
		now[key] = true
		if seen[key] {
			return false
		}
		return !first
	}
	if _, plans, err := store.Plans(ws); err == nil {
		counted := make(map[string]*planSeen, len(plans))
		for _, p := range plans {
			ps := w.plans[p.Id]
			if ps != nil && ps.rec == p {
				counted[p.Id] = ps
				continue
			}
			if ps == nil || first {
				ps = &planSeen{stages: map[string]bool{}}
			}
			ps.rec = p
			for _, s := range p.Stages {
				if s.FinishedAtUnixNano == 0 || ps.stages[s.Key] {
					continue
				}
				ps.stages[s.Key] = true
				if !first {
					f.stageSeconds.WithLabelValues(s.Kind, s.Status).Observe(seconds(s.StartedAtUnixNano, s.FinishedAtUnixNano))
				}
			}
			if p.FinishedAtUnixNano != 0 && !ps.done {
				ps.done = true
				if !first {
					f.plans.WithLabelValues(p.Status).Inc()
					f.planSeconds.WithLabelValues(p.Status).Observe(seconds(p.CreatedAtUnixNano, p.FinishedAtUnixNano))
				}
			}
			counted[p.Id] = ps
		}
		// Forget what the store no longer holds.
		w.plans = counted
	}
	if _, deps, err := store.Deployments(ws, ""); err == nil {
		for _, d := range deps {
			if d.FinishedAtUnixNano != 0 && mark("d/"+d.Id) {
				f.deployments.WithLabelValues(d.Status).Inc()
				f.deploySeconds.WithLabelValues(d.Status).Observe(seconds(d.CreatedAtUnixNano, d.FinishedAtUnixNano))
			}
		}
	}
	if _, snaps, err := store.Snapshots(ws); err == nil {
		for _, s := range snaps {
			if s.FinishedAtUnixNano != 0 && mark("s/"+s.Id) {
				f.snapshots.WithLabelValues(s.Status).Inc()
				f.snapSeconds.WithLabelValues(s.Status).Observe(seconds(s.CreatedAtUnixNano, s.FinishedAtUnixNano))
			}
		}
	}
	// Forget what the store no longer holds: seen stays bounded by it.
	w.seen, w.first = now, false
	return ws
}
