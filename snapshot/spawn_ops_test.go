package snapshot

import (
	"fmt"
	"strings"
	"testing"

	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
)

// The first stage spawns each unsupervised process of a catalog behavior
// that no longer runs, with its captured args, state and name; it names
// what it cannot spawn, or what a spawn does not bring back, with the
// reason.
func TestSpawnOps(t *testing.T) {
	big := `"` + strings.Repeat("x", plan.MaxStateBytes) + `"`
	part := &Part{Version: PartVersion, Node: "n1", Processes: []Process{
		{PID: "n1/1", Tree: "web", ChildID: "c1", Behavior: "counter"},
		{PID: "n1/2", Behavior: "counter", Args: map[string]string{"start": "3"}, RegisteredName: "tally", State: []byte(`{"count":7}`)},
		{PID: "n1/3", Behavior: "echo"},
		{PID: "n1/4", Behavior: "go-thing"},
		{PID: "n1/5", Behavior: "echo", RegisteredName: "taken"},
		{PID: "n1/6", Behavior: "counter", State: []byte(big), Links: []string{"n2/9"}},
		{PID: "n1/7", Behavior: "counter", StateError: "timeout"},
		{PID: "n1/8", Behavior: "echo", State: []byte{0xff}},
		{PID: "n1/9", Behavior: "echo"},
	}}
	lv := &liveOf{byPID: map[string]*pb.ProcessInfo{
		"n1/9":  {Pid: "n1/9"}, // still running since the capture
		"n1/30": {Pid: "n1/30", RegisteredName: "taken"},
	}}
	rep := &RestoreReport{}
	s1 := &stageOne{spawned: map[string]string{}, skip: map[string]bool{}}
	seq := 0
	ops := spawnOps(rep, "n1", part, lv, behaviors.NewCatalog(), s1, func(k string) string { seq++; return fmt.Sprintf("%s-%d", k, seq) })
	var got []string
	for _, op := range ops {
		got = append(got, fmt.Sprintf("%s %s %s %s name=%q args=%v state=%d", s1.spawned[op.ID], op.Type, op.Node, op.Params.Behavior, op.Params.Name, op.Params.Args, len(op.Params.State)))
		if err := plan.Validate(&plan.Plan{Operations: []plan.Operation{op}}, plan.Options{}); err != nil {
			t.Errorf("%s: %v", op.ID, err)
		}
	}
	want := []string{
		`n1/2 spawn n1 counter name="tally" args=map[start:3] state=11`,
		`n1/3 spawn n1 echo name="" args=map[] state=0`,
		`n1/6 spawn n1 counter name="" args=map[] state=0`,
		`n1/7 spawn n1 counter name="" args=map[] state=0`,
		`n1/8 spawn n1 echo name="" args=map[] state=0`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("spawns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ops[0].Params.State != `{"count":7}` {
		t.Errorf("tally's state %q", ops[0].Params.State)
	}
	why := map[string]string{}
	for _, nr := range rep.NotRestored {
		why[nr.Subject] = nr.Reason
	}
	for subject, reason := range map[string]string{
		"process n1/4 (go-thing)":                      `its behavior "go-thing" is not in the catalog (a Go implementation spawned directly): nothing can start it again`,
		"process n1/5 (echo)":                          `its name "taken" is registered to n1/30 now: restore does not take a name from a live process, so it is not spawned again`,
		"state of process n1/6 (counter)":              fmt.Sprintf("%d bytes, over the %d a plan operation carries; it is spawned again with the state its init gives", len(big), plan.MaxStateBytes),
		"links and monitors of process n1/6 (counter)": "its 1 links and 0 monitors at the capture are not made again",
		"state of process n1/7 (counter)":              "it could not be read at the capture (timeout); it is spawned again with the state its init gives",
		"state of process n1/8 (echo)":                 "not valid UTF-8: a plan carries a state as text",
	} {
		if !strings.Contains(why[subject], reason) {
			t.Errorf("%s: %q, want %q", subject, why[subject], reason)
		}
	}
	if len(rep.NotRestored) != 6 {
		t.Errorf("not restored: %+v", rep.NotRestored)
	}
	if !s1.skip["n1/4"] || !s1.skip["n1/5"] || s1.skip["n1/2"] {
		t.Errorf("skip %v", s1.skip)
	}

	// A part of format 2 recorded no spawn args: said so.
	rep = &RestoreReport{}
	part = &Part{Version: 2, Node: "n1", Processes: []Process{{PID: "n1/3", Behavior: "echo"}}}
	if ops := spawnOps(rep, "n1", part, &liveOf{byPID: map[string]*pb.ProcessInfo{}}, behaviors.NewCatalog(), s1, func(k string) string { return k }); len(ops) != 1 ||
		len(rep.NotRestored) != 1 || rep.NotRestored[0].Subject != "spawn args of process n1/3 (echo)" ||
		!strings.Contains(rep.NotRestored[0].Reason, "part format 2 did not record the args of unsupervised processes: it is spawned again without args") {
		t.Errorf("format 2: %+v, %+v", ops, rep.NotRestored)
	}
}
