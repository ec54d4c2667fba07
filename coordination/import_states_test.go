package coordination_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// importTree runs, on n2, counters w1 and w2 under sub, and an echo e1.
const importTree = `{"name":"imp","node":"n2","children":[
 {"id":"sub","type":"supervisor","children":[{"id":"w1","behavior":"counter"},{"id":"w2","behavior":"counter"}]},
 {"id":"e1","behavior":"echo"}]}`

// import_states imports the states of several processes of a tree in one
// operation, by slot and by pid, each read back as imported; the tree's
// processes keep their pids.
func TestImportStatesPlan(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.tree(t, importTree)
	w1, w2, root := pc.pid(t, "n2", "imp", "sub/w1"), pc.pid(t, "n2", "imp", "sub/w2"), pc.pid(t, "n2", "imp", "")
	id := pc.apply(t, 0, `{"safety_level":"strict","operations":[{"id":"states","type":"import_states","target":{"supervisor":"imp"},
	 "params":{"states":[{"child_id":"sub/w1","behavior":"counter","state":"{\"count\":7,\"messages\":2}"},
	                     {"pid":"`+w2.String()+`","behavior":"counter","state":"{\"count\":9}"}]}}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanSucceeded {
		t.Fatalf("plan:\n%s", report(rec))
	}
	rt := pc.rt("n2")
	if c := counterValue(t, rt, w1); c != 7 {
		t.Fatalf("w1 counts %d, want 7", c)
	}
	if c := counterValue(t, rt, w2); c != 9 {
		t.Fatalf("w2 counts %d, want 9", c)
	}
	if pc.pid(t, "n2", "imp", "sub/w1") != w1 || pc.pid(t, "n2", "imp", "sub/w2") != w2 || pc.pid(t, "n2", "imp", "") != root {
		t.Fatal("a process of the tree was restarted by the import")
	}
}

// An import_states that names a process running another behavior than
// its entry says (one whose behavior changed since the states were
// captured) imports nothing: the operation fails saying which and why,
// and every process keeps the state it had.
func TestImportStatesRefusesAChangedBehavior(t *testing.T) {
	pc := newPCluster(t, 3, nil)
	pc.tree(t, importTree)
	rt := pc.rt("n2")
	w1, w2 := pc.pid(t, "n2", "imp", "sub/w1"), pc.pid(t, "n2", "imp", "sub/w2")
	id := pc.apply(t, 0, `{"operations":[{"id":"before","type":"import_states","target":{"supervisor":"imp"},
	 "params":{"states":[{"child_id":"sub/w1","behavior":"counter","state":"{\"count\":3}"},{"child_id":"sub/w2","behavior":"counter","state":"{\"count\":4}"}]}}]}`)
	if rec := pc.wait(t, id, 30*time.Second); rec.Status != state.PlanSucceeded {
		t.Fatalf("plan:\n%s", report(rec))
	}
	id = pc.apply(t, 0, `{"operations":[{"id":"states","type":"import_states","target":{"supervisor":"imp"},
	 "params":{"states":[{"child_id":"sub/w1","behavior":"counter","state":"{\"count\":70}"},
	                     {"child_id":"e1","behavior":"counter","state":"{\"count\":1}"},
	                     {"child_id":"sub/w2","behavior":"counter","state":"{\"count\":90}"},
	                     {"child_id":"sub/gone","behavior":"counter","state":"{\"count\":1}"}]}}]}`)
	rec := pc.wait(t, id, 30*time.Second)
	if rec.Status != state.PlanFailed {
		t.Fatalf("plan %s, want failed:\n%s", rec.Status, report(rec))
	}
	var out *pb.OpOutcome
	for _, st := range rec.Stages {
		for _, s := range st.Steps {
			for _, o := range s.Operations {
				if o.Op == "states" {
					out = o
				}
			}
		}
	}
	if out == nil || out.Ok {
		t.Fatalf("the import's outcome %+v:\n%s", out, report(rec))
	}
	for _, want := range []string{"import_states refused: nothing imported into tree imp: 2 of the 4 processes are not as expected",
		`e1: ` + pc.pid(t, "n2", "imp", "e1").String() + ` runs behavior "echo", not "counter"`, "sub/gone: "} {
		if !strings.Contains(out.Error, want) {
			t.Fatalf("error %q\nwant it to contain %q", out.Error, want)
		}
	}
	if c := counterValue(t, rt, w1); c != 3 {
		t.Fatalf("w1 counts %d after the refused import, want 3 (nothing imported)", c)
	}
	if c := counterValue(t, rt, w2); c != 4 {
		t.Fatalf("w2 counts %d after the refused import, want 4 (nothing imported)", c)
	}
}
