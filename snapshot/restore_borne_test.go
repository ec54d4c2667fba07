package snapshot_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/testkit"
)

// A restore that creates trees again (deleted since the capture) brings
// their workers' states back with the trees' records: each node starts
// its trees with the states captured (TreeRecord.restore), so no restore
// plan runs, every counter holds its captured count, nested workers too,
// the node's tree view says what its start imported, and the runtimes
// validate clean.
func TestRestoreStartsCreatedTreesWithTheirStates(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, `{"name":"a","node":"n1","children":[{"id":"top","behavior":"counter"},
	 {"id":"s","type":"supervisor","children":[{"id":"w1","behavior":"counter"},{"id":"w2","behavior":"counter"}]}]}`)
	sc.applyTree(t, `{"name":"b","node":"n2","children":[{"id":"x","behavior":"counter"}]}`)
	ctx := testkit.Ctx(t, time.Minute)
	want := map[string]int{"n1|a|top": 4, "n1|a|s/w1": 11, "n1|a|s/w2": 12, "n2|b|x": 21}
	for key, n := range want {
		nodeName, tree, path := split3(key)
		if err := sc.layer(nodeName).Runtime().ReplaceState(ctx, sc.pid(t, nodeName, tree, path), fmt.Appendf(nil, `{"count":%d}`, n)); err != nil {
			t.Fatal(err)
		}
	}
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true})
	for _, name := range []string{"a", "b"} {
		if _, err := pb.NewSupervisionClient(sc.Conn(0)).DeleteTree(ctx, &pb.DeleteTreeRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	sc.Eventually(15*time.Second, func() error {
		for _, n := range []string{"n1", "n2"} {
			if len(sc.layer(n).Runtime().Trees()) != 0 {
				return errors.New(n + " still runs a tree")
			}
		}
		return nil
	}, "trees deleted")

	resp, rep := sc.restore(t, 1, 30*time.Second, &pb.RestoreRequest{Id: rec.Id})
	if len(resp.PlanIds) != 0 || len(rep.Operations) != 0 || len(rep.NotRestored) != 0 {
		t.Fatalf("a restore of created trees planned %v (%+v), not restored %+v", resp.PlanIds, rep.Operations, rep.NotRestored)
	}
	for key, n := range want {
		nodeName, tree, path := split3(key)
		if got := count(t, sc.layer(nodeName).Runtime(), sc.pid(t, nodeName, tree, path)); got != n {
			t.Fatalf("%s holds %d after the restore, want %d", key, got, n)
		}
	}
	for tree, imported := range map[string]uint32{"a": 3, "b": 1} {
		// Asked of the tree's node: another's replica may not hold the
		// tree's new record yet.
		node := map[string]string{"a": "n1", "b": "n2"}[tree]
		v, err := pb.NewRuntimeClient(sc.Conn(sc.Index(node))).TreeView(ctx, &pb.SupervisorRequest{Tree: tree})
		if err != nil {
			t.Fatal(err)
		}
		if v.Restore.GetSnapshotId() != rec.Id || v.Restore.GetImported() != imported || len(v.Restore.GetFailures()) != 0 {
			t.Fatalf("tree view of %s: restore %+v, want %d imported from %s", tree, v.Restore, imported, rec.Id)
		}
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if r := sc.layer(n).Runtime().Validate(ctx); len(r.Violations) != 0 {
			t.Fatalf("%s: %+v", n, r.Violations)
		}
	}
}

// A tree record's restore states are for the restore: a node that starts
// the tree after the record's window (a node restarted later) starts it
// from its spec alone, and its tree view reports no restore.
func TestRestoreStatesExpireWithTheirWindow(t *testing.T) {
	sc := newSCluster(t, 1, "", nil)
	tr := spec.Tree{Name: "late", Node: "n1", SupervisorSpec: spec.SupervisorSpec{
		Strategy: spec.OneForOne, Children: []spec.ChildSpec{{ID: "c", Behavior: "counter"}}}}
	spec.Normalize(&tr)
	canon := spec.CanonicalTree(&tr)
	put := &pb.TreeApplyCommand{Tree: &pb.TreeRecord{Name: "late", Node: "n1", SpecJson: canon, Restore: &pb.TreeRestore{
		SnapshotId: "snap-past", UntilUnixNano: time.Now().Add(-time.Second).UnixNano(),
		States: []*pb.RestoredState{{Path: "c", Behavior: "counter", State: []byte(`{"count":9}`)}}}}}
	idx, err := sc.Leader().Propose(testkit.Ctx(t, 10*time.Second), pb.CommandType_COMMAND_TYPE_TREE_APPLY, put)
	if err != nil {
		t.Fatal(err)
	}
	sc.waitTree(t, "n1", "late", idx)
	if got := count(t, sc.layer("n1").Runtime(), sc.pid(t, "n1", "late", "c")); got != 0 {
		t.Fatalf("c holds %d: a state past its window was imported", got)
	}
	v, err := pb.NewRuntimeClient(sc.Conn(0)).TreeView(testkit.Ctx(t, 10*time.Second), &pb.SupervisorRequest{Tree: "late"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Restore != nil {
		t.Fatalf("tree view reports a restore: %+v", v.Restore)
	}
}

// split3 splits "node|tree|path".
func split3(key string) (string, string, string) {
	p := strings.SplitN(key, "|", 3)
	return p[0], p[1], p[2]
}

// A tree moved to another node since the capture is moved back, with its
// states, and only moved: the node it runs on now is not also told to
// delete it (a tree found in another node's part is in the snapshot).
func TestRestoreMovesATreeBackWithItsStates(t *testing.T) {
	sc := newSCluster(t, 3, "", nil)
	sc.applyTree(t, `{"name":"m","node":"n3","children":[{"id":"c","behavior":"counter"}]}`)
	ctx := testkit.Ctx(t, time.Minute)
	if err := sc.layer("n3").Runtime().ReplaceState(ctx, sc.pid(t, "n3", "m", "c"), []byte(`{"count":33}`)); err != nil {
		t.Fatal(err)
	}
	rec := sc.capture(t, &pb.SnapshotOptions{IncludeState: true})
	sc.applyTree(t, `{"name":"m","node":"n1","children":[{"id":"c","behavior":"counter"}]}`)

	resp, rep := sc.restore(t, 0, 30*time.Second, &pb.RestoreRequest{Id: rec.Id})
	if len(rep.Trees) != 1 || rep.Trees[0].Action != "move" || rep.Trees[0].Node != "n3" || len(resp.PlanIds) != 0 || len(rep.NotRestored) != 0 {
		t.Fatalf("restore: trees %+v, plans %v, not restored %+v", rep.Trees, resp.PlanIds, rep.NotRestored)
	}
	if r, _ := sc.Leader().State().Tree("m"); r == nil || r.Node != "n3" {
		t.Fatalf("tree m's record after the restore: %+v", r)
	}
	sc.Eventually(15*time.Second, func() error {
		if _, err := sc.layer("n1").Runtime().Tree("m"); err == nil {
			return errors.New("n1 still runs m")
		}
		return nil
	}, "m gone from n1")
	if got := count(t, sc.layer("n3").Runtime(), sc.pid(t, "n3", "m", "c")); got != 33 {
		t.Fatalf("m/c holds %d on n3, want 33", got)
	}
}
