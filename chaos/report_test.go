package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The report carries the keys issue 18 asks for, with these names.
func TestReportJSONShape(t *testing.T) {
	zero := 0
	yes := true
	start := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	r := &Report{Started: start, Finished: start.Add(time.Minute), Seed: 3, Nodes: 3, Topology: "netns",
		Faults:          []Fault{{Kind: KillLeader, Nodes: []string{"n1"}, Start: start, End: start.Add(5 * time.Second), LeaderAfterMs: 900}},
		Checks:          Checks{Linearizable: true, StepsRunTwice: &zero, StepsLost: &zero, StatesEqual: true, LeaderAfterHealMs: 900, ValidateConsistent: &yes, Recovered: true},
		Linearizability: LinearizabilityResult{Result: "Ok", Linearizable: true}}
	r.Evaluate()
	if !r.Passed || len(r.Failures) != 0 {
		t.Fatalf("passed %v, failures %v", r.Passed, r.Failures)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.Write(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	faults, ok := m["faults"].([]any)
	if !ok || len(faults) != 1 {
		t.Fatalf("faults: %v", m["faults"])
	}
	f := faults[0].(map[string]any)
	for _, k := range []string{"kind", "nodes", "start", "end"} {
		if _, ok := f[k]; !ok {
			t.Errorf("fault has no %q: %v", k, f)
		}
	}
	if f["kind"] != KillLeader || f["start"] != "2026-12-01T22:00:00Z" {
		t.Errorf("fault %v", f)
	}
	checks, ok := m["checks"].(map[string]any)
	if !ok {
		t.Fatalf("checks: %v", m["checks"])
	}
	want := map[string]any{"linearizable": true, "acknowledged_lost": 0.0, "steps_run_twice": 0.0, "states_equal": true,
		"leader_after_heal_ms": 900.0, "validate_consistent": true}
	for k, v := range want {
		if checks[k] != v {
			t.Errorf("checks.%s = %v, want %v", k, checks[k], v)
		}
	}
}

// Every failing check fails the report, naming itself.
func TestReportEvaluateFailures(t *testing.T) {
	two := 2
	no := false
	r := &Report{Checks: Checks{Linearizable: false, AcknowledgedLost: 1, FailedWritesApplied: 1, StepsRunTwice: &two, StepsLost: &two,
		StatesEqual: false, LeaderAfterHealMs: 10001, ValidateConsistent: &no, Recovered: false,
		DeploymentsMixed: &two, DeploymentsStuck: &two, ExperimentsPartial: &two, ExperimentsAcknowledgedMissing: &two, ExperimentsFailedPresent: &two},
		Faults:          []Fault{{Kind: PartitionLeader, Error: "iptables: boom"}},
		Linearizability: LinearizabilityResult{Result: "Unknown"}}
	r.Evaluate()
	if r.Passed {
		t.Fatal("passed")
	}
	all := strings.Join(r.Failures, "\n")
	for _, k := range []string{"linearizable", "acknowledged_lost", "failed_writes_applied", "steps_run_twice", "steps_lost",
		"states_equal", "leader_after_heal_ms", "validate_consistent", "recovered", "nemesis",
		"deployments_mixed", "deployments_stuck", "experiments_partial", "experiments_acknowledged_missing", "experiments_failed_present"} {
		if !strings.Contains(all, k) {
			t.Errorf("no failure names %s:\n%s", k, all)
		}
	}
	// No leader at all after the heal is a failure too.
	r = &Report{Checks: Checks{Linearizable: true, StatesEqual: true, Recovered: true, LeaderAfterHealMs: -1}}
	r.Evaluate()
	if r.Passed {
		t.Error("no leader after the heal passed")
	}
	if s := r.Summary(); !strings.Contains(s, "FAIL") || !strings.Contains(s, "steps_run_twice not run") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestSuccessRatesSplitByFaultWindows(t *testing.T) {
	faults := []Fault{{StartNs: 100, EndNs: 200}}
	all := []span{
		{call: 0, ret: 50, ok: true},     // before
		{call: 90, ret: 110, ok: false},  // overlaps the start
		{call: 150, ret: 160, ok: false}, // inside
		{call: 190, ret: 260, ok: true},  // overlaps the end
		{call: 300, ret: 310, ok: false}, // after
		{call: 310, ret: 320, ok: true},  // after
	}
	r := successRates(all, faults)
	if r.Ops != 6 || r.InsideOps != 3 || r.OutsideOps != 3 {
		t.Fatalf("%+v", r)
	}
	if r.InsideSuccess != 1.0/3 || r.OutsideSuccess != 2.0/3 {
		t.Errorf("%+v", r)
	}
}

func TestClassify(t *testing.T) {
	notApplied, err := status.New(codes.Unavailable, "not the leader").WithDetails(&pb.NotApplied{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want Outcome
	}{
		{"nil", nil, OK},
		{"cas conflict", transport.ToStatus(fmt.Errorf("%w: key %q is at modify index 7, not 3", state.ErrCASConflict, "k")), Fail},
		{"not applied", notApplied.Err(), Fail},
		{"no connection", status.Error(codes.Unavailable, "connection error: Error while dialing: connect: connection refused"), Fail},
		{"timeout", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), Unknown},
		{"cut mid-call", status.Error(codes.Unavailable, "error reading from server: EOF"), Unknown},
		{"leadership lost", transport.ToStatus(transport.ErrLeadershipLost), Unknown},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("%s: %v is %s, want %s", c.name, c.err, got, c.want)
		}
	}
}

// Each deployment and experiment check fails the run alone, and the
// sections and their keys are in the report and its summary.
func TestReportDeploymentsExperiments(t *testing.T) {
	zero, one := 0, 1
	base := func() *Report {
		return &Report{Checks: Checks{Linearizable: true, StatesEqual: true, Recovered: true,
			DeploymentsMixed: &zero, DeploymentsStuck: &zero, ExperimentsPartial: &zero, ExperimentsAcknowledgedMissing: &zero, ExperimentsFailedPresent: &zero},
			Deployments: &DeployResult{Deployments: 3, Successful: 2, Reverted: 1, Expected: "1"},
			Experiments: &ExperimentResult{Created: 4, Acknowledged: 4, Whole: 1, Absent: 3}}
	}
	r := base()
	r.Evaluate()
	if !r.Passed {
		t.Fatalf("clean: %v", r.Failures)
	}
	for _, c := range []struct {
		name string
		set  func(*Checks)
	}{
		{"deployments_mixed", func(c *Checks) { c.DeploymentsMixed = &one }},
		{"deployments_stuck", func(c *Checks) { c.DeploymentsStuck = &one }},
		{"experiments_partial", func(c *Checks) { c.ExperimentsPartial = &one }},
		{"experiments_acknowledged_missing", func(c *Checks) { c.ExperimentsAcknowledgedMissing = &one }},
		{"experiments_failed_present", func(c *Checks) { c.ExperimentsFailedPresent = &one }},
	} {
		r := base()
		c.set(&r.Checks)
		r.Evaluate()
		if r.Passed || len(r.Failures) != 1 || !strings.HasPrefix(r.Failures[0], c.name+":") {
			t.Errorf("%s = 1: passed %v, failures %v", c.name, r.Passed, r.Failures)
		}
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := base().Write(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]any{}
	for _, k := range []string{"checks", "deployments", "experiments"} {
		var v map[string]any
		if err := json.Unmarshal(top[k], &v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		m[k] = v
	}
	for _, k := range []string{"deployments_mixed", "deployments_stuck", "experiments_partial", "experiments_acknowledged_missing", "experiments_failed_present"} {
		if m["checks"][k] != 0.0 {
			t.Errorf("checks.%s = %v", k, m["checks"][k])
		}
	}
	for _, k := range []string{"deployments", "successful", "reverted", "failed", "stuck", "mixed", "final_mixed", "expected_version", "records"} {
		if _, ok := m["deployments"][k]; !ok {
			t.Errorf("deployments has no %q: %v", k, m["deployments"])
		}
	}
	for _, k := range []string{"created", "acknowledged", "whole", "absent", "partial", "runtime_mismatch", "acknowledged_missing", "failed_present"} {
		if _, ok := m["experiments"][k]; !ok {
			t.Errorf("experiments has no %q: %v", k, m["experiments"])
		}
	}
	s := base().Summary()
	if !strings.Contains(s, "deployments 3: 2 successful, 1 reverted") || !strings.Contains(s, "experiments 4: 4 acknowledged") {
		t.Errorf("summary:\n%s", s)
	}
	// Off: the keys are left out.
	r = &Report{}
	if err := r.Write(path); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), "deployments") || strings.Contains(string(b), "experiments") {
		t.Errorf("workloads off, yet in the report: %s", b)
	}
}
