package snapshot_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/testkit"
)

// A restore imports the saved states with one import_states per tree and
// node, not one operation per process, and all in one plan; a process
// whose behavior changed since the capture keeps its state (reported,
// with why), and the others of its tree are imported all the same.
func TestRestoreImportsStatesPerTree(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, `{"name":"a","node":"n1","children":[
	 {"id":"s","type":"supervisor","children":[{"id":"w1","behavior":"counter"},{"id":"w2","behavior":"counter"},{"id":"w3","behavior":"counter"}]}]}`)
	sc.applyTree(t, `{"name":"b","node":"n2","children":[{"id":"x1","behavior":"counter"},{"id":"x2","behavior":"counter"}]}`)
	ctx := testkit.Ctx(t, time.Minute)
	rt1, rt2 := sc.layer("n1").Runtime(), sc.layer("n2").Runtime()
	set := func(rt *actor.Runtime, pid actor.PID, n int) {
		t.Helper()
		if err := rt.ReplaceState(ctx, pid, fmt.Appendf(nil, `{"count":%d}`, n)); err != nil {
			t.Fatal(err)
		}
	}
	w := map[string]actor.PID{}
	for i, path := range []string{"s/w1", "s/w2", "s/w3"} {
		w[path] = sc.pid(t, "n1", "a", path)
		set(rt1, w[path], 11+i)
	}
	for i, path := range []string{"x1", "x2"} {
		w[path] = sc.pid(t, "n2", "b", path)
		set(rt2, w[path], 21+i)
	}
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true})

	// Damage: every counter back to 0, and w2 moved onto another behavior
	// (as a deployment would), keeping its pid.
	for _, path := range []string{"s/w1", "s/w3"} {
		set(rt1, w[path], 0)
	}
	for _, path := range []string{"x1", "x2"} {
		set(rt2, w[path], 0)
	}
	if _, err := rt1.ChangeCode(ctx, w["s/w2"], "echo"); err != nil {
		t.Fatal(err)
	}

	resp, rep := sc.restore(t, 0, 30*time.Second, &pb.RestoreRequest{Id: rec.Id})
	var ops []string
	for _, op := range rep.Operations {
		ops = append(ops, fmt.Sprintf("%d %s %s %s", op.Stage, op.Type, op.Node, op.Target))
	}
	sort.Strings(ops)
	if want := "[2 import_states n1 a 2 import_states n2 b]"; fmt.Sprint(ops) != want {
		t.Fatalf("operations %v, want %s", ops, want)
	}
	if len(resp.PlanIds) != 1 {
		t.Fatalf("restore plans %v, want one", resp.PlanIds)
	}
	var changed []string
	for _, nr := range rep.NotRestored {
		changed = append(changed, nr.Subject+": "+nr.Reason)
	}
	want := "state of process " + w["s/w2"].String() + " in a/s/w2: its process " + w["s/w2"].String() + ` runs behavior "echo" now, not "counter" as captured`
	if len(changed) != 1 || !strings.HasPrefix(changed[0], want) {
		t.Fatalf("not restored %q, want one: %q", changed, want)
	}
	sc.Eventually(30*time.Second, func() error {
		r, _, _ := sc.Leader().State().Plan(nil, resp.PlanIds[0])
		if r == nil || !state.PlanFinished(r.Status) {
			return errors.New("restore plan running")
		}
		if r.Status != state.PlanSucceeded {
			return fmt.Errorf("restore plan %s: %s", r.Status, r.Reason)
		}
		return nil
	}, "restore plan")
	for path, want := range map[string]int{"s/w1": 11, "s/w3": 13} {
		if c := count(t, rt1, w[path]); c != want {
			t.Fatalf("a/%s counts %d after the restore, want %d", path, c, want)
		}
	}
	for path, want := range map[string]int{"x1": 21, "x2": 22} {
		if c := count(t, rt2, w[path]); c != want {
			t.Fatalf("b/%s counts %d after the restore, want %d", path, c, want)
		}
	}
	if info, err := rt1.Process(w["s/w2"]); err != nil || info.Behavior != "echo" {
		t.Fatalf("w2 after the restore: %+v, %v; want it left on echo", info, err)
	}
}
