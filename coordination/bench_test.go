package coordination_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/testkit"
)

// benchCluster is a 3-node cluster with one tree of 34 counters per node,
// so that up to 102 operations have distinct targets.
// Its executors record the events of their steps in tr (nil: not traced).
func benchCluster(b *testing.B, tr *stepTraces) *testkit.Cluster {
	b.Helper()
	c := testkit.NewCluster(b, 3, testkit.WithStack(func(string) stack.Config {
		ccfg := coordination.DefaultConfig()
		if tr != nil {
			ccfg.Trace = tr.record
		}
		return stack.Config{Runtime: actor.DefaultConfig(), Supervision: supervision.DefaultConfig(), Coordination: &ccfg}
	}))
	sup := pb.NewSupervisionClient(c.Conn(0))
	for n := 1; n <= 3; n++ {
		var kids []string
		for i := 0; i < 34; i++ {
			kids = append(kids, fmt.Sprintf(`{"id":"c%d","behavior":"counter"}`, i))
		}
		spec := fmt.Sprintf(`{"name":"t%d","node":"n%d","children":[%s]}`, n, n, strings.Join(kids, ","))
		if _, err := sup.ApplyTree(testkit.Ctx(b, 10*time.Second), &pb.ApplyTreeRequest{Spec: []byte(spec)}); err != nil {
			b.Fatal(err)
		}
	}
	testkit.Eventually(b, 20*time.Second, func() error {
		resp, err := sup.ListTrees(testkit.Ctx(b, 5*time.Second), &pb.ListTreesRequest{Live: true})
		if err != nil {
			return err
		}
		for _, t := range resp.Trees {
			if t.Status != "running" || t.AppliedIndex != t.ModifyIndex {
				return fmt.Errorf("%s is %s", t.Name, t.Status)
			}
		}
		if len(resp.Trees) != 3 {
			return fmt.Errorf("%d trees", len(resp.Trees))
		}
		return nil
	}, "trees running")
	return c
}

// stepTraces holds the executors' step events: plan -> stage -> node ->
// event -> when.
type stepTraces struct {
	mu sync.Mutex
	m  map[string]map[string]map[string]map[coordination.StepEvent]time.Time
	// changed is closed, and replaced, at each event.
	changed chan struct{}
}

func (t *stepTraces) record(planID, stage, node string, ev coordination.StepEvent, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]map[string]map[string]map[coordination.StepEvent]time.Time{}
	}
	if t.m[planID] == nil {
		t.m[planID] = map[string]map[string]map[coordination.StepEvent]time.Time{}
	}
	if t.m[planID][stage] == nil {
		t.m[planID][stage] = map[string]map[coordination.StepEvent]time.Time{}
	}
	if t.m[planID][stage][node] == nil {
		t.m[planID][stage][node] = map[coordination.StepEvent]time.Time{}
	}
	t.m[planID][stage][node][ev] = at
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
}

// reported waits until each stage of rec has a step whose report the
// executor saw committed (the plan may look finished before the last
// reporter's answer comes back).
func (t *stepTraces) reported(ctx context.Context, rec *pb.PlanRecord) error {
	for {
		t.mu.Lock()
		missing := ""
		for _, st := range rec.Stages {
			ok := false
			for _, evs := range t.m[rec.Id][st.Key] {
				ok = ok || !evs[coordination.StepReported].IsZero()
			}
			if !ok {
				missing = st.Key
				break
			}
		}
		if missing == "" {
			t.mu.Unlock()
			return nil
		}
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("plan %s %s: no report seen: %w", rec.Id, missing, ctx.Err())
		}
	}
}

// phaseBreakdown is where a plan's phases spent their time, summed over
// its phases, along each phase's critical step (the one whose report was
// committed last): notice, from the end of the phase before (or from the
// plan's commit) until the step's executor took it on; start, until its
// start was committed; run, its checks and operations; hint, telling the
// next phase's nodes ahead (and, for a handoff, getting their nonces);
// report, until its report was committed.
type phaseBreakdown struct {
	notice, start, run, hint, report time.Duration
	phases                           int
	// refused counts the steps taken on ahead whose start landed before
	// the report that started their stage.
	refused int
}

func (t *stepTraces) breakdown(rec *pb.PlanRecord, committed time.Time) (phaseBreakdown, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out phaseBreakdown
	prev := committed
	for _, st := range rec.Stages {
		var crit map[coordination.StepEvent]time.Time
		for _, evs := range t.m[rec.Id][st.Key] {
			if crit == nil || evs[coordination.StepReported].After(crit[coordination.StepReported]) {
				crit = evs
			}
		}
		for _, ev := range []coordination.StepEvent{coordination.StepNoticed, coordination.StepStarted, coordination.StepChecked, coordination.StepHinted, coordination.StepReported} {
			if crit[ev].IsZero() {
				return out, fmt.Errorf("plan %s %s: no %s event", rec.Id, st.Key, ev)
			}
		}
		// The leader's executor may take phase 0 on before Apply answers.
		out.notice += max(0, crit[coordination.StepNoticed].Sub(prev))
		out.start += crit[coordination.StepStarted].Sub(crit[coordination.StepNoticed])
		out.run += crit[coordination.StepChecked].Sub(crit[coordination.StepStarted])
		out.hint += crit[coordination.StepHinted].Sub(crit[coordination.StepChecked])
		out.report += crit[coordination.StepReported].Sub(crit[coordination.StepHinted])
		out.phases++
		prev = crit[coordination.StepReported]
		for _, evs := range t.m[rec.Id][st.Key] {
			if !evs[coordination.StepAheadRefused].IsZero() {
				out.refused++
			}
		}
	}
	delete(t.m, rec.Id)
	return out, nil
}

func (b phaseBreakdown) add(o phaseBreakdown) phaseBreakdown {
	return phaseBreakdown{b.notice + o.notice, b.start + o.start, b.run + o.run, b.hint + o.hint, b.report + o.report, b.phases + o.phases, b.refused + o.refused}
}

// independentPlan is n send_message operations on distinct counters, spread
// round-robin over the three nodes.
func independentPlan(level string, n int) []byte {
	var ops []string
	for i := 0; i < n; i++ {
		ops = append(ops, fmt.Sprintf(`{"id":"o%d","type":"send_message","target":{"supervisor":"t%d","child_id":"c%d"},"params":{"message":"inc"}}`,
			i, i%3+1, i/3))
	}
	return []byte(fmt.Sprintf(`{"safety_level":%q,"timeout":"5m","operations":[%s]}`, level, strings.Join(ops, ",")))
}

// waitPlan waits on the replicated state (memdb watches, no polling) until
// the plan finishes.
func waitPlan(ctx context.Context, n *node.Node, id string) (*pb.PlanRecord, error) {
	for {
		st := n.State()
		ws := memdb.NewWatchSet()
		rec, _, err := st.Plan(ws, id)
		if err != nil {
			return nil, err
		}
		if rec != nil && state.PlanFinished(rec.Status) {
			return rec, nil
		}
		ws.Add(st.AbandonCh())
		if err := ws.WatchCtx(ctx); err != nil {
			return nil, fmt.Errorf("plan %s: %w", id, err)
		}
	}
}

// BenchmarkPlanToCompletion measures the time from apply to the end of a
// plan of 1, 10 and 100 independent operations over three nodes, per safety
// level, beside the time to make as many single kv commits one after the
// other in the same cluster. Per phase, it reports where the time went
// along the phase's critical step (phaseBreakdown), in ms: notice-ms,
// start-ms, run-ms, hint-ms and report-ms.
func BenchmarkPlanToCompletion(b *testing.B) {
	tr := &stepTraces{}
	c := benchCluster(b, tr)
	coord := pb.NewCoordinationClient(c.Conn(0))
	kv := pb.NewKVClient(c.Conn(0))
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("kv-commits/ops=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					if _, err := kv.Put(testkit.Ctx(b, 10*time.Second), &pb.KVPutRequest{Key: fmt.Sprintf("bench/%d", j), Value: []byte("x")}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		for _, level := range []string{"permissive", "moderate", "strict"} {
			body := independentPlan(level, n)
			b.Run(fmt.Sprintf("%s/ops=%d", level, n), func(b *testing.B) {
				phases := 0
				var sum phaseBreakdown
				for i := 0; i < b.N; i++ {
					resp, err := coord.Apply(testkit.Ctx(b, 60*time.Second), &pb.ApplyPlanRequest{Plan: body})
					if err != nil {
						b.Fatal(err)
					}
					committed := time.Now()
					rec, err := waitPlan(testkit.Ctx(b, 5*time.Minute), c.Node(0), resp.Id)
					if err != nil {
						b.Fatal(err)
					}
					if rec.Status != state.PlanSucceeded {
						b.Fatalf("plan %s %s: %s", resp.Id, rec.Status, rec.Reason)
					}
					phases = len(rec.Stages)
					if err := tr.reported(testkit.Ctx(b, 30*time.Second), rec); err != nil {
						b.Fatal(err)
					}
					bd, err := tr.breakdown(rec, committed)
					if err != nil {
						b.Fatal(err)
					}
					sum = sum.add(bd)
				}
				b.ReportMetric(float64(phases), "phases")
				if sum.phases > 0 {
					per := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(sum.phases) }
					b.ReportMetric(per(sum.notice), "notice-ms")
					b.ReportMetric(per(sum.start), "start-ms")
					b.ReportMetric(per(sum.run), "run-ms")
					b.ReportMetric(per(sum.hint), "hint-ms")
					b.ReportMetric(per(sum.report), "report-ms")
					b.ReportMetric(float64(sum.refused)/float64(sum.phases), "ahead-refused/phase")
				}
			})
		}
	}
}
