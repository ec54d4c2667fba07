package coordination_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// handoffPlan is a strict plan (one operation per phase) whose phases go
// to nodes in the given order, each sending "inc" to that node's counter;
// it returns the plan and how many messages each counter should get.
func handoffPlan(order []string) (string, map[string]int) {
	var ops []string
	want := map[string]int{}
	for i, n := range order {
		ops = append(ops, fmt.Sprintf(`{"id":"s%d","type":"send_message","target":{"supervisor":"t-%s","child_id":"count"},"params":{"message":"inc"}}`, i, n))
		want[n]++
	}
	return `{"safety_level":"strict","timeout":"60s","operations":[` + strings.Join(ops, ",") + `]}`, want
}

// handedOff counts the phases after the first whose every step was
// started by the entry that ended the phase before (a handoff: the start
// carries that entry's time).
func handedOff(rec *pb.PlanRecord) int {
	n := 0
	for i := 1; i < len(rec.Stages); i++ {
		prev, st := rec.Stages[i-1], rec.Stages[i]
		all := len(st.Steps) > 0
		for _, s := range st.Steps {
			all = all && s.StartedAtUnixNano == prev.FinishedAtUnixNano
		}
		if all {
			n++
		}
	}
	return n
}

// counters starts a tree with one counter on each node.
func (pc *pcluster) counters(t *testing.T) map[string]actor.PID {
	t.Helper()
	out := map[string]actor.PID{}
	for _, n := range []string{"n1", "n2", "n3"} {
		pc.tree(t, fmt.Sprintf(`{"name":"t-%s","node":%q,"children":[{"id":"count","behavior":"counter"}]}`, n, n))
		out[n] = pc.pid(t, n, "t-"+n, "count")
	}
	return out
}

// checkCounts fails unless every counter got exactly its messages and
// every step succeeded: no step ran twice, none was lost.
func (pc *pcluster) checkCounts(t *testing.T, rec *pb.PlanRecord, pids map[string]actor.PID, want map[string]int) {
	t.Helper()
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan did not succeed:\n%s", report(rec))
	}
	for n, pid := range pids {
		if v := counterValue(t, pc.rt(n), pid); v != want[n] {
			t.Fatalf("counter on %s = %d, want %d: a step ran twice or not at all\n%s", n, v, want[n], report(rec))
		}
	}
}

// gate waits until every node sees the handoff gate as open (want) or
// shut.
func (pc *pcluster) gate(t *testing.T, want bool) {
	t.Helper()
	pc.Eventually(20*time.Second, func() error {
		for _, n := range pc.Live() {
			if got := n.ServersGossip(coordination.HandoffGossipKey); got != want {
				return fmt.Errorf("%s sees the handoff gate open=%v", n.Name(), got)
			}
		}
		return nil
	}, "handoff gate open=%v", want)
}

// A strict plan whose phases move between the nodes (the leader among
// them) and stay on one node for two phases in a row: once every server
// gossips that it applies handoffs, each phase after the first is started
// by the report that ended the one before (PLAN_STEP_HANDOFF), and every
// operation still runs exactly once.
func TestStrictPlanHandsOffPhases(t *testing.T) {
	// Every node answers for its nonce however slow the machine: here
	// the nodes' answer, not its timing, is under test.
	pc := newPClusterWith(t, 3, func(c *coordination.Config) { c.HandoffTimeout = time.Minute })
	pids := pc.counters(t)
	pc.gate(t, true)
	body, want := handoffPlan([]string{"n1", "n2", "n2", "n3", "n1", "n1", "n3", "n2", "n3", "n1"})
	rec := pc.wait(t, pc.apply(t, 1, body), 60*time.Second)
	pc.checkCounts(t, rec, pids, want)
	if got, phases := handedOff(rec), len(rec.Stages)-1; got != phases {
		t.Fatalf("%d of the %d phases after the first were started by the report before them\n%s", got, phases, report(rec))
	}
	// The executors forget the steps of a finished plan.
	pc.Eventually(20*time.Second, func() error {
		for _, n := range []string{"n1", "n2", "n3"} {
			if c := pc.Stack(n).Coordination.Claims(); c != 0 {
				return fmt.Errorf("%s holds %d claims after the plan finished", n, c)
			}
		}
		return nil
	}, "claims of the finished plan dropped")
}

// While one server does not gossip that it applies handoffs (an earlier
// version, during a rolling upgrade), no report carries a start: every
// step is started by its own executor's PLAN_STEP_START, as before, and
// the plan still runs each operation once.
func TestNoHandoffWhileAServerCannotApplyIt(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pids := pc.counters(t)
	pc.gate(t, true)
	pc.Node(2).SetGossipMeta(coordination.HandoffGossipKey, "")
	pc.gate(t, false)
	body, want := handoffPlan([]string{"n1", "n2", "n3", "n3", "n1", "n2"})
	rec := pc.wait(t, pc.apply(t, 0, body), 60*time.Second)
	pc.checkCounts(t, rec, pids, want)
	if got := handedOff(rec); got != 0 {
		t.Fatalf("%d phases were started by a handoff while a server could not apply one\n%s", got, report(rec))
	}
}
