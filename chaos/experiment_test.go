package chaos

import (
	"strings"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/state"
	"google.golang.org/protobuf/proto"
)

func expView(name, status string, nodes ...string) *pb.ExperimentView {
	v := &pb.ExperimentView{Experiment: &pb.ExperimentRecord{Id: "id-" + name, Name: name, Status: status, CreateIndex: 7}}
	if status == state.ExperimentRunning {
		for i, n := range nodes {
			sb := name + "-" + string(rune('a'+i))
			v.Sandboxes = append(v.Sandboxes, &pb.SandboxRecord{Name: sb, Node: n, Experiment: v.Experiment.Id, Status: "running"})
			v.Experiment.Parts = append(v.Experiment.Parts, &pb.ExperimentPart{Sandbox: sb, Node: n, Status: "running"})
		}
	}
	return v
}

// cleanExperiments: x0 acknowledged and running (parts on n1 and n3), x1
// acknowledged then destroyed, x2 certainly failed, x3 unknown and failed
// on every node (the record kept), x4 rejected and absent.
func cleanExperiments() ([]ExperimentRecord, []ExperimentNodeView) {
	recs := []ExperimentRecord{
		{Name: "chaosx-0", Outcome: ExpAcknowledged},
		{Name: "chaosx-1", Outcome: ExpAcknowledged, Destroy: "ok"},
		{Name: "chaosx-2", Outcome: ExpFailed},
		{Name: "chaosx-3", Outcome: ExpUnknown},
		{Name: "chaosx-4", Outcome: ExpRejected},
	}
	var views []ExperimentNodeView
	for _, n := range []string{"n1", "n2", "n3"} {
		v := ExperimentNodeView{Node: n, Experiments: map[string]*pb.ExperimentView{
			"chaosx-0": expView("chaosx-0", state.ExperimentRunning, "n1", "n3"),
			"chaosx-3": expView("chaosx-3", state.ExperimentFailed),
		}}
		switch n {
		case "n1":
			v.Running = []string{"chaosx-0-a"}
		case "n3":
			v.Running = []string{"chaosx-0-b"}
		}
		views = append(views, v)
	}
	return recs, views
}

func TestCheckExperimentsClean(t *testing.T) {
	recs, views := cleanExperiments()
	r := CheckExperiments(recs, views)
	if r.Created != 5 || r.Acknowledged != 2 || r.Failed != 1 || r.Unknown != 1 || r.Rejected != 1 || r.Destroyed != 1 {
		t.Errorf("counts %+v", r)
	}
	if r.Whole != 2 || r.Absent != 3 || r.Partial != 0 || r.RuntimeMismatch != 0 || r.AcknowledgedMissing != 0 || r.FailedPresent != 0 || r.RejectedRunning != 0 {
		t.Errorf("clean: %+v", r)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems %v", r.Problems)
	}
}

func TestCheckExperimentsPartial(t *testing.T) {
	// On two nodes of three.
	recs, views := cleanExperiments()
	delete(views[1].Experiments, "chaosx-0")
	if r := CheckExperiments(recs, views); r.Partial != 1 || !strings.Contains(strings.Join(r.Problems, "\n"), "chaosx-0: on 2 of 3 nodes") {
		t.Errorf("on 2 of 3: partial %d, problems %v", r.Partial, r.Problems)
	}
	// The first node lacks it, the others hold it.
	recs, views = cleanExperiments()
	delete(views[0].Experiments, "chaosx-0")
	if r := CheckExperiments(recs, views); r.Partial != 1 {
		t.Errorf("missing on n1 only: %+v", r)
	}
	// The same name, different records: a sandbox missing on one node.
	recs, views = cleanExperiments()
	other := proto.Clone(views[2].Experiments["chaosx-0"]).(*pb.ExperimentView)
	other.Sandboxes = other.Sandboxes[:1]
	views[2].Experiments["chaosx-0"] = other
	if r := CheckExperiments(recs, views); r.Partial != 1 {
		t.Errorf("n3 lacks a sandbox record: %+v", r)
	}
	// A failed record present on one node only.
	recs, views = cleanExperiments()
	views[1].Experiments["chaosx-2"] = expView("chaosx-2", state.ExperimentFailed)
	if r := CheckExperiments(recs, views); r.Partial != 1 {
		t.Errorf("chaosx-2 on n2 only: %+v", r)
	}
	// A node not read: nothing is whole.
	recs, views = cleanExperiments()
	views[2] = ExperimentNodeView{Node: "n3", Err: "connection refused"}
	if r := CheckExperiments(recs, views); r.Partial != len(recs) || r.Whole != 0 {
		t.Errorf("n3 not read: %+v", r)
	}
}

func TestCheckExperimentsOutcomes(t *testing.T) {
	// Acknowledged, not destroyed, absent everywhere.
	recs, views := cleanExperiments()
	for i := range views {
		delete(views[i].Experiments, "chaosx-0")
		views[i].Running = nil
	}
	if r := CheckExperiments(recs, views); r.AcknowledgedMissing != 1 || r.Partial != 0 {
		t.Errorf("acknowledged, gone: %+v", r)
	}
	// Acknowledged, failed on every node since.
	recs, views = cleanExperiments()
	for i := range views {
		views[i].Experiments["chaosx-0"] = expView("chaosx-0", state.ExperimentFailed)
		views[i].Running = nil
	}
	if r := CheckExperiments(recs, views); r.AcknowledgedMissing != 1 {
		t.Errorf("acknowledged, failed since: %+v", r)
	}
	// A certainly failed create present, whole.
	recs, views = cleanExperiments()
	for i := range views {
		views[i].Experiments["chaosx-2"] = expView("chaosx-2", state.ExperimentFailed)
	}
	if r := CheckExperiments(recs, views); r.FailedPresent != 1 || r.Partial != 0 {
		t.Errorf("failed create present: %+v", r)
	}
	// An acknowledged destroy, still present.
	recs, views = cleanExperiments()
	for i := range views {
		views[i].Experiments["chaosx-1"] = expView("chaosx-1", state.ExperimentFailed)
	}
	if r := CheckExperiments(recs, views); r.FailedPresent != 1 {
		t.Errorf("destroyed, present: %+v", r)
	}
	// A rejected create running.
	recs, views = cleanExperiments()
	for i := range views {
		views[i].Experiments["chaosx-4"] = expView("chaosx-4", state.ExperimentRunning, "n2")
	}
	views[1].Running = []string{"chaosx-4-a"}
	if r := CheckExperiments(recs, views); r.RejectedRunning != 1 || r.RuntimeMismatch != 0 {
		t.Errorf("rejected, running: %+v", r)
	}
	// An experiment no record names.
	recs, views = cleanExperiments()
	for i := range views {
		views[i].Experiments["chaosx-99"] = expView("chaosx-99", state.ExperimentFailed)
	}
	if r := CheckExperiments(recs, views); r.Whole != 3 || !strings.Contains(strings.Join(r.Problems, "\n"), "chaosx-99") {
		t.Errorf("an unknown experiment: %+v", r)
	}
}

func TestCheckExperimentsRuntime(t *testing.T) {
	// A node still runs a destroyed experiment's sandbox.
	recs, views := cleanExperiments()
	views[1].Running = []string{"chaosx-1-a"}
	if r := CheckExperiments(recs, views); r.RuntimeMismatch != 1 || !strings.Contains(strings.Join(r.Problems, "\n"), "n2 runs sandboxes [chaosx-1-a]") {
		t.Errorf("orphan sandbox: %+v", r)
	}
	// A node does not run a part placed on it.
	recs, views = cleanExperiments()
	views[2].Running = nil
	if r := CheckExperiments(recs, views); r.RuntimeMismatch != 1 {
		t.Errorf("part not running: %+v", r)
	}
}

// The workload's file is a valid experiment of two auto-placed parts.
func TestExperimentFileParses(t *testing.T) {
	x, err := sandbox.ParseExperiment(experimentFile("chaosx-7"), "chaosx-7.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if x.Name != "chaosx-7" || len(x.Sandboxes) != 2 || x.Deadline != ExperimentDeadline {
		t.Errorf("parsed %+v", x)
	}
}
