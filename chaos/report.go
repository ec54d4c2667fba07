package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Checks are the verdicts after healing. A pointer is nil when its
// workload did not run (listed in Report.NotChecked).
type Checks struct {
	Linearizable bool `json:"linearizable"`
	// AcknowledgedLost: acknowledged set writes missing at the end.
	AcknowledgedLost int `json:"acknowledged_lost"`
	// FailedWritesApplied: set writes reported as not applied, present.
	FailedWritesApplied int `json:"failed_writes_applied"`
	// StepsRunTwice: plan steps whose effect was counted more than once.
	StepsRunTwice *int `json:"steps_run_twice"`
	// StepsLost: plan steps reported done whose effect was not counted.
	StepsLost *int `json:"steps_lost,omitempty"`
	// StatesEqual: every node's state digest equal at one index.
	StatesEqual bool `json:"states_equal"`
	// LeaderAfterHealMs: after the last fault healed, until a majority
	// named one leader (-1: none within a minute).
	LeaderAfterHealMs int64 `json:"leader_after_heal_ms"`
	// MaxLeaderAfterHealMs is the longest over every fault.
	MaxLeaderAfterHealMs int64 `json:"max_leader_after_heal_ms"`
	// ValidateConsistent: `validate` of the supervision workload's tree.
	ValidateConsistent *bool `json:"validate_consistent"`
	// Recovered: after the run every node was a voter and caught up.
	Recovered bool `json:"recovered"`
	// DeploymentsMixed: deployments after whose end the nodes ran the
	// deployment trees on more than one version (or not the active
	// one), plus one when that held after healing; DeploymentsStuck:
	// deployments not ended after healing.
	DeploymentsMixed *int `json:"deployments_mixed,omitempty"`
	DeploymentsStuck *int `json:"deployments_stuck,omitempty"`
	// ExperimentsPartial: experiments not whole on every node nor absent
	// from all, plus nodes whose runtime runs other sandboxes of the
	// workload than the running experiments place there;
	// ExperimentsAcknowledgedMissing: acknowledged, not destroyed, not
	// running; ExperimentsFailedPresent: a certainly failed create or
	// an acknowledged destroy present, or a rejected create running.
	ExperimentsPartial             *int `json:"experiments_partial,omitempty"`
	ExperimentsAcknowledgedMissing *int `json:"experiments_acknowledged_missing,omitempty"`
	ExperimentsFailedPresent       *int `json:"experiments_failed_present,omitempty"`
}

// LeaderAfterHealLimit is the longest a leader may take after the last heal.
const LeaderAfterHealLimit = 10 * time.Second

// Report is a run's result, written as chaos/results/<time>.json.
type Report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seed     int64     `json:"seed"`
	Nodes    int       `json:"nodes"`
	// Steward is what the binary under test says of itself (steward version).
	Steward string `json:"steward"`
	// Topology is netns or loopback; TopologyNote says why loopback.
	Topology     string   `json:"topology"`
	TopologyNote string   `json:"topology_note,omitempty"`
	Duration     string   `json:"duration"`
	Kinds        []string `json:"kinds"`
	Planned      int      `json:"faults_planned"`
	Faults       []Fault  `json:"faults"`
	// FaultsByKind counts the faults run, per kind.
	FaultsByKind    map[string]int        `json:"faults_by_kind"`
	Checks          Checks                `json:"checks"`
	Passed          bool                  `json:"passed"`
	Failures        []string              `json:"failures,omitempty"`
	NotChecked      []string              `json:"not_checked,omitempty"`
	Linearizability LinearizabilityResult `json:"linearizability"`
	Set             SetResult             `json:"set"`
	Supervision     *SupervisionResult    `json:"supervision,omitempty"`
	Plans           *PlanResult           `json:"plans,omitempty"`
	Deployments     *DeployResult         `json:"deployments,omitempty"`
	Experiments     *ExperimentResult     `json:"experiments,omitempty"`
	Digests         []Digest              `json:"digests"`
	Rates           Rates                 `json:"rates"`
	Workload        map[string]string     `json:"workload"`
	// Machine describes the host: CPUs and load, which bear on timings.
	Machine string `json:"machine"`
	// Files written beside the report (history, visualization, logs).
	Files []string `json:"files,omitempty"`
}

// Evaluate sets Passed and Failures from the checks.
func (r *Report) Evaluate() {
	c := r.Checks
	var f []string
	if !c.Linearizable {
		f = append(f, fmt.Sprintf("linearizable: porcupine says %s over %d operations", r.Linearizability.Result, r.Linearizability.Operations))
	}
	if c.AcknowledgedLost != 0 {
		f = append(f, fmt.Sprintf("acknowledged_lost: %d acknowledged writes missing", c.AcknowledgedLost))
	}
	if c.FailedWritesApplied != 0 {
		f = append(f, fmt.Sprintf("failed_writes_applied: %d writes reported not applied are present", c.FailedWritesApplied))
	}
	if c.StepsRunTwice != nil && *c.StepsRunTwice != 0 {
		f = append(f, fmt.Sprintf("steps_run_twice: %d", *c.StepsRunTwice))
	}
	if c.StepsLost != nil && *c.StepsLost != 0 {
		f = append(f, fmt.Sprintf("steps_lost: %d", *c.StepsLost))
	}
	if !c.StatesEqual {
		f = append(f, "states_equal: the nodes' state digests differ or never met at one index")
	}
	if c.LeaderAfterHealMs < 0 || c.LeaderAfterHealMs > LeaderAfterHealLimit.Milliseconds() {
		f = append(f, fmt.Sprintf("leader_after_heal_ms: %d, limit %d", c.LeaderAfterHealMs, LeaderAfterHealLimit.Milliseconds()))
	}
	if c.ValidateConsistent != nil && !*c.ValidateConsistent {
		f = append(f, "validate_consistent: validate found violations")
	}
	if c.DeploymentsMixed != nil && *c.DeploymentsMixed != 0 {
		f = append(f, fmt.Sprintf("deployments_mixed: %d", *c.DeploymentsMixed))
	}
	if c.DeploymentsStuck != nil && *c.DeploymentsStuck != 0 {
		f = append(f, fmt.Sprintf("deployments_stuck: %d deployments not ended after healing", *c.DeploymentsStuck))
	}
	if c.ExperimentsPartial != nil && *c.ExperimentsPartial != 0 {
		f = append(f, fmt.Sprintf("experiments_partial: %d", *c.ExperimentsPartial))
	}
	if c.ExperimentsAcknowledgedMissing != nil && *c.ExperimentsAcknowledgedMissing != 0 {
		f = append(f, fmt.Sprintf("experiments_acknowledged_missing: %d acknowledged experiments not running", *c.ExperimentsAcknowledgedMissing))
	}
	if c.ExperimentsFailedPresent != nil && *c.ExperimentsFailedPresent != 0 {
		f = append(f, fmt.Sprintf("experiments_failed_present: %d", *c.ExperimentsFailedPresent))
	}
	if !c.Recovered {
		f = append(f, "recovered: the cluster did not get every node back as a caught-up voter")
	}
	for _, flt := range r.Faults {
		if flt.Error != "" {
			f = append(f, fmt.Sprintf("nemesis: %s on %v: %s", flt.Kind, flt.Nodes, flt.Error))
		}
	}
	r.Failures, r.Passed = f, len(f) == 0
}

// Write writes the report as indented JSON.
func (r *Report) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Summary is the report in a few lines.
func (r *Report) Summary() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "chaos %s: %d nodes (%s), seed %d, %d faults of %d planned in %s\n", verdict, r.Nodes, r.Topology, r.Seed, len(r.Faults), r.Planned, r.Finished.Sub(r.Started).Round(time.Second))
	if r.Steward != "" {
		fmt.Fprintf(&b, "  under test: %s\n", r.Steward)
	}
	if r.TopologyNote != "" {
		fmt.Fprintf(&b, "  topology: %s\n", r.TopologyNote)
	}
	var kinds []string
	for _, k := range AllKinds {
		if n := r.FaultsByKind[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
	}
	fmt.Fprintf(&b, "  faults: %s\n", strings.Join(kinds, ", "))
	c := r.Checks
	fmt.Fprintf(&b, "  linearizable %v (%s, %d ops, %d ms)  acknowledged_lost %d  failed_writes_applied %d  states_equal %v\n",
		c.Linearizable, r.Linearizability.Result, r.Linearizability.Operations, r.Linearizability.CheckMs, c.AcknowledgedLost, c.FailedWritesApplied, c.StatesEqual)
	fmt.Fprintf(&b, "  leader_after_heal_ms %d (max over faults %d)  recovered %v  steps_run_twice %s  validate_consistent %s\n",
		c.LeaderAfterHealMs, c.MaxLeaderAfterHealMs, c.Recovered, intOrNone(c.StepsRunTwice), boolOrNone(c.ValidateConsistent))
	if p := r.Plans; p != nil {
		fmt.Fprintf(&b, "  plans %d: %d succeeded, %d failed, %d inconclusive; steps run twice %d, lost %d\n", p.Plans, p.Succeeded, p.Failed, p.Inconclusive, p.StepsRunTwice, p.StepsLost)
	}
	if s := r.Supervision; s != nil {
		fmt.Fprintf(&b, "  supervision: %d children killed (%d kills refused), validate consistent %v\n", s.Kills, s.KillsFailed, s.Consistent)
	}
	if d := r.Deployments; d != nil {
		fmt.Fprintf(&b, "  deployments %d: %d successful, %d reverted, %d failed, %d stuck, %d mixed (after healing %v), %d refused, %d pruned from the history; v%s expected\n",
			d.Deployments, d.Successful, d.Reverted, d.Failed, d.Stuck, d.Mixed, d.FinalMixed, d.Refused, d.Pruned, d.Expected)
	}
	if x := r.Experiments; x != nil {
		fmt.Fprintf(&b, "  experiments %d: %d acknowledged, %d failed, %d rejected, %d unknown, %d destroyed; %d whole, %d absent, %d partial, %d runtimes mismatched, %d acknowledged missing, %d failed present\n",
			x.Created, x.Acknowledged, x.Failed, x.Rejected, x.Unknown, x.Destroyed, x.Whole, x.Absent, x.Partial, x.RuntimeMismatch, x.AcknowledgedMissing, x.FailedPresent+x.RejectedRunning)
	}
	fmt.Fprintf(&b, "  ops %d: success %.1f%% outside fault windows (%d ops), %.1f%% inside (%d ops); set: %d acknowledged, %d failed, %d unknown\n",
		r.Rates.Ops, 100*r.Rates.OutsideSuccess, r.Rates.OutsideOps, 100*r.Rates.InsideSuccess, r.Rates.InsideOps, r.Set.Acknowledged, r.Set.Failed, r.Set.Unknown)
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "  FAILED %s\n", f)
	}
	for _, n := range r.NotChecked {
		fmt.Fprintf(&b, "  not checked: %s\n", n)
	}
	return b.String()
}

func intOrNone(p *int) string {
	if p == nil {
		return "not run"
	}
	return fmt.Sprint(*p)
}

func boolOrNone(p *bool) string {
	if p == nil {
		return "not run"
	}
	return fmt.Sprint(*p)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
