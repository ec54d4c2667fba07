package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The deployment workload (issue 18: "a deployment under faults ends
// successful or reverted, never mixed"). At set-up it pushes the example
// counter module's two versions (examples/modules/counter-v1.wasm and
// counter-v2.wasm; v2 declares a downgrade, so deployments go both ways)
// and applies, on every node, a tree DeployTreePrefix+<node> of
// DeployChildren children following the module's active version. Then,
// one deployment at a time until the run ends, it deploys the version
// that is not active (v1 -> v2 -> v1 ...), moderate with auto-revert, and
// waits for it to end. After each end, and again after healing, every
// node's runtime must run the deployment trees on one version: the
// module's active version, which is the version of the last successful
// deployment.
const (
	DeployModule     = "counter"
	DeployTreePrefix = "chaosdeploy-"
	DeployChildren   = 2
	// DeployWait is how long a deployment may take to end while the
	// nemesis runs; past it the workload stops waiting (the deployment is
	// checked again after healing).
	DeployWait = 3 * time.Minute
	// DeployConverge is how long, after a deployment ended, the nodes
	// that answer may take to run the deployment trees on one version,
	// the active one; past it the deployment counts as mixed.
	DeployConverge = 30 * time.Second
	// DeployGap is the pause between two deployments (the plan workload
	// waits while a deployment's plan runs).
	DeployGap = 3 * time.Second
)

// deployOptions: 2 processes per batch, a short health gate, deadlines
// generous enough for a loaded machine but short beside the run.
func deployRequest(version string) *pb.DeployRequest {
	return &pb.DeployRequest{Module: DeployModule + "@" + version, Safety: "moderate",
		Options:        &pb.DeployOptions{MaxParallel: 2, AutoRevert: true, MinHealthyTimeMs: 500, HealthyDeadlineMs: 10_000, ProgressDeadlineMs: 30_000},
		HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true}
}

func deployTreeSpec(node string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tree %q {\n  node = %q\n  strategy = \"one_for_one\"\n  max_restarts = 10\n  max_seconds = 10\n", DeployTreePrefix+node, node)
	for i := 1; i <= DeployChildren; i++ {
		fmt.Fprintf(&b, "  child \"d%d\" {\n    module = %q\n  }\n", i, DeployModule)
	}
	b.WriteString("}\n")
	return b.String()
}

// ModulesDir finds examples/modules: dir when set, else beside the
// results directory (out is <repo>/chaos/results), else under the
// working directory.
func ModulesDir(dir, out string) (string, error) {
	cands := []string{dir}
	if dir == "" {
		cands = []string{filepath.Join(out, "..", "..", "examples", "modules"), filepath.Join("examples", "modules")}
	}
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "counter-v1.wasm")); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("the deployment workload needs examples/modules: no counter-v1.wasm in %s (run from the repository, or with -deployments=false)", strings.Join(cands, " or "))
}

// DeployRecord is one deployment of the workload.
type DeployRecord struct {
	// ID is empty when no deployment was committed (refused, or an
	// unknown submit that no listing showed).
	ID   string `json:"id,omitempty"`
	From string `json:"from"`
	To   string `json:"to"`
	// Submit: ok, refused (nothing committed), unknown (found or not in
	// the listing), or adopted (listed after healing, never seen
	// during the run).
	Submit string `json:"submit"`
	// Status when the workload stopped waiting, and after healing.
	Status      string `json:"status,omitempty"`
	FinalStatus string `json:"final_status,omitempty"`
	// Reason is the status description (why it failed or reverted);
	// Steps what its plan's steps reported failing.
	Reason string   `json:"reason,omitempty"`
	Steps  []string `json:"failed_steps,omitempty"`
	// Mixed: after it ended, the nodes that answered did not converge
	// on the active version within DeployConverge; Observed is what
	// they ran (node: versions).
	Mixed    bool   `json:"mixed,omitempty"`
	Observed string `json:"observed,omitempty"`
	Error    string `json:"error,omitempty"`
	Index    uint64 `json:"create_index,omitempty"`
}

// DeployResult is the deployment workload's check.
type DeployResult struct {
	Deployments int `json:"deployments"`
	Successful  int `json:"successful"`
	Reverted    int `json:"reverted"`
	// Failed counts failed and cancelled ones.
	Failed int `json:"failed"`
	Stuck  int `json:"stuck"`
	// Pruned: seen ended, then no longer listed (the state keeps the
	// newest state.MaxDeploymentHistory ended deployments); counted by
	// the status seen.
	Pruned  int `json:"pruned"`
	Mixed   int `json:"mixed"`
	Refused int `json:"refused"`
	// FinalMixed: after healing, a node's runtime ran a deployment
	// tree's processes on another version than the expected one, or
	// not all of them, or the replicas' active versions differed.
	FinalMixed bool `json:"final_mixed"`
	// Expected is the version of the last successful deployment (v1
	// when none); Active the replicas' active version, by node.
	Expected string            `json:"expected_version"`
	Active   map[string]string `json:"active_by_node,omitempty"`
	// Final is what every node's runtime ran after healing.
	Final    map[string][]string `json:"final_runtime,omitempty"`
	Records  []DeployRecord      `json:"records"`
	Problems []string            `json:"problems,omitempty"`
}

// Deploy runs the deployment workload.
type Deploy struct {
	c  *Cluster
	mu sync.Mutex
	// recs in submit order.
	recs []DeployRecord
	// busy while a deployment is submitted or runs.
	busy atomic.Bool
}

// Busy reports whether a deployment is being submitted or runs. The
// experiment workload waits meanwhile: a deployment's no_side_effects
// check fails its phase when any process on a target node exits (a
// sandbox destroyed there), and the deployment then reverts for a reason
// that is not the nemesis.
func (d *Deploy) Busy() bool { return d != nil && d.busy.Load() }

// SetupDeploy pushes counter@1 and counter@2 from dir and applies a
// deployment tree on every node, then waits until every node runs it on
// v1.
func SetupDeploy(ctx context.Context, c *Cluster, dir string) (*Deploy, error) {
	for _, v := range []string{"1", "2"} {
		bin, err := os.ReadFile(filepath.Join(dir, "counter-v"+v+".wasm"))
		if err != nil {
			return nil, err
		}
		if err := pushModule(ctx, c, DeployModule, v, bin); err != nil {
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := poll(ctx, time.Second, func() error {
			var last error
			for _, via := range c.Nodes {
				actx, cancel := context.WithTimeout(ctx, 15*time.Second)
				_, err := pb.NewSupervisionClient(via.Client().Conn()).ApplyTree(actx, &pb.ApplyTreeRequest{Spec: []byte(deployTreeSpec(n.Name)), Filename: "chaosdeploy.hcl"})
				cancel()
				if err == nil || strings.Contains(err.Error(), "exists") {
					return nil
				}
				last = err
			}
			return fmt.Errorf("apply tree %s%s: %w", DeployTreePrefix, n.Name, last)
		}); err != nil {
			return nil, err
		}
	}
	d := &Deploy{c: c}
	err := poll(ctx, time.Second, func() error {
		views, err := d.runtime(ctx, true)
		if err != nil {
			return err
		}
		return uniform(views, "1", DeployChildren)
	})
	if err != nil {
		return nil, fmt.Errorf("deployment trees on v1: %w", err)
	}
	return d, nil
}

// pushModule stores name@version (idempotent: sent again after any error).
func pushModule(ctx context.Context, c *Cluster, name, version string, bin []byte) error {
	i := 0
	return poll(ctx, time.Second, func() error {
		n := c.Nodes[i%len(c.Nodes)]
		i++
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		up, err := pb.NewModulesClient(n.Client().Conn()).Push(pctx)
		if err != nil {
			return err
		}
		if err := up.Send(&pb.ModulePushChunk{Name: name, Version: version, Safety: "moderate", PushedBy: "chaos", Data: bin}); err != nil {
			return err
		}
		if _, err := up.CloseAndRecv(); err != nil {
			if status.Code(err) == codes.InvalidArgument {
				return permanent(fmt.Errorf("push %s@%s: %w", name, version, err))
			}
			return fmt.Errorf("push %s@%s through %s: %w", name, version, n.Name, err)
		}
		return nil
	})
}

// versionOf is the module version a behavior "wasm:counter@V" runs ("" for another behavior).
func versionOf(behavior string) string {
	v, ok := strings.CutPrefix(behavior, "wasm:"+DeployModule+"@")
	if !ok {
		return ""
	}
	return v
}

// NodeVersions is one node's runtime as the deployment check reads it:
// the version of each running process of the deployment trees, by
// "tree/child" (a process of another behavior shows as "?"+behavior).
type NodeVersions map[string]string

// runtime reads every node's own processes of the deployment trees
// (node-local ListProcesses). all: a node that does not answer is an
// error; otherwise it is left out.
func (d *Deploy) runtime(ctx context.Context, all bool) (map[string]NodeVersions, error) {
	out := map[string]NodeVersions{}
	for _, n := range d.c.Nodes {
		if !n.proc.Up() {
			if all {
				return nil, fmt.Errorf("%s is down", n.Name)
			}
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := pb.NewRuntimeClient(n.Client().Conn()).ListProcesses(lctx, &pb.ListProcessesRequest{Node: n.Name, Tree: DeployTreePrefix + n.Name})
		cancel()
		if err != nil {
			if all {
				return nil, fmt.Errorf("%s: list processes: %w", n.Name, err)
			}
			continue
		}
		nv := NodeVersions{}
		for _, p := range resp.Processes {
			if p.Supervisor || p.Status != "running" {
				continue
			}
			v := versionOf(p.Behavior)
			if v == "" {
				v = "?" + p.Behavior
			}
			nv[p.Tree+"/"+p.ChildId] = v
		}
		out[n.Name] = nv
	}
	return out, nil
}

// uniform checks that every node's deployment tree runs version want:
// with children > 0, exactly that many processes on each node; with 0,
// whatever runs (a node restarting shows fewer).
func uniform(views map[string]NodeVersions, want string, children int) error {
	var bad []string
	nodes := make([]string, 0, len(views))
	for n := range views {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		nv := views[n]
		if children > 0 && len(nv) != children {
			bad = append(bad, fmt.Sprintf("%s runs %d of %d processes", n, len(nv), children))
		}
		keys := make([]string, 0, len(nv))
		for k := range nv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if nv[k] != want {
				bad = append(bad, fmt.Sprintf("%s %s on %s", n, k, nv[k]))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("want every process on %s: %s", want, strings.Join(bad, "; "))
	}
	return nil
}

// describe is the views in one line: node: versions.
func describe(views map[string]NodeVersions) string {
	var parts []string
	for n, nv := range views {
		var vs []string
		for k, v := range nv {
			vs = append(vs, k+"="+v)
		}
		sort.Strings(vs)
		parts = append(parts, n+": "+strings.Join(vs, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// active is the module's active version, read linearizably through any node.
func (d *Deploy) active(ctx context.Context) (string, error) {
	resp, err := throughAny(ctx, d.c, 5*time.Second, func(ctx context.Context, n *Node) (*pb.ListModulesResponse, error) {
		return pb.NewModulesClient(n.Client().Conn()).List(ctx, &pb.ListModulesRequest{})
	})
	if err != nil {
		return "", err
	}
	for _, m := range resp.Modules {
		if m.Name == DeployModule {
			return m.Active, nil
		}
	}
	return "", fmt.Errorf("module %s not listed", DeployModule)
}

// list is the module's deployments, linearizable, through any node.
func (d *Deploy) list(ctx context.Context) ([]*pb.DeploymentRecord, error) {
	resp, err := throughAny(ctx, d.c, 5*time.Second, func(ctx context.Context, n *Node) (*pb.ListDeploymentsResponse, error) {
		return pb.NewDeploymentsClient(n.Client().Conn()).List(ctx, &pb.ListDeploymentsRequest{Module: DeployModule})
	})
	if err != nil {
		return nil, err
	}
	var out []*pb.DeploymentRecord
	for _, v := range resp.Deployments {
		out = append(out, v.Deployment)
	}
	return out, nil
}

// get is one deployment with its plan, linearizable, through any node.
func (d *Deploy) get(ctx context.Context, id string) (*pb.DeploymentView, error) {
	return throughAny(ctx, d.c, 5*time.Second, func(ctx context.Context, n *Node) (*pb.DeploymentView, error) {
		return pb.NewDeploymentsClient(n.Client().Conn()).Get(ctx, &pb.GetDeploymentRequest{Id: id})
	})
}

// stepFailures is what a deployment's plan steps reported failing (at
// most 5), the evidence of why it failed or reverted.
func stepFailures(p *pb.PlanRecord) []string {
	var out []string
	add := func(s string) {
		if len(out) < 5 {
			out = append(out, s)
		}
	}
	for _, st := range p.GetStages() {
		for _, step := range st.Steps {
			if step.Error != "" {
				add(st.Key + "@" + step.Node + ": " + step.Error)
			}
			for _, c := range append(slices.Clone(step.PreChecks), step.PostChecks...) {
				if !c.Ok {
					add(fmt.Sprintf("%s@%s: %s: %s", st.Key, step.Node, c.Kind, strings.Join(c.Failures, "; ")))
				}
			}
			for _, o := range step.Operations {
				if o.Ran && !o.Ok {
					add(fmt.Sprintf("%s@%s: %s %s: %s", st.Key, step.Node, o.Op, o.Pid, o.Error))
				}
			}
		}
		if st.StatusCode == pb.StageStatus_STAGE_STATUS_FAILED && st.Reason != "" {
			add(st.Key + ": " + st.Reason)
		}
	}
	return out
}

func (d *Deploy) known() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[string]bool{}
	for _, r := range d.recs {
		if r.ID != "" {
			m[r.ID] = true
		}
	}
	return m
}

// Run deploys, one deployment after the other, until ctx ends.
func (d *Deploy) Run(ctx context.Context) {
	for ctx.Err() == nil {
		d.one(ctx)
		hold(ctx, DeployGap)
	}
}

func (d *Deploy) add(r DeployRecord) {
	d.mu.Lock()
	d.recs = append(d.recs, r)
	d.mu.Unlock()
}

func (d *Deploy) one(ctx context.Context) {
	d.busy.Store(true)
	defer d.busy.Store(false)
	from, err := d.active(ctx)
	if err != nil {
		hold(ctx, time.Second)
		return
	}
	to := "2"
	if from == "2" {
		to = "1"
	}
	r := DeployRecord{From: from, To: to}
	var last error
	for _, n := range d.c.Nodes {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v, err := pb.NewDeploymentsClient(n.Client().Conn()).Submit(sctx, deployRequest(to))
		cancel()
		last = err
		if err == nil {
			r.ID, r.Submit, r.Index = v.Deployment.Id, "ok", v.Deployment.CreateIndex
			break
		}
		if classify(err) != Fail {
			break
		}
	}
	if r.ID == "" {
		if ctx.Err() != nil {
			return // cut short by the end of the run
		}
		r.Error = last.Error()
		switch status.Code(last) {
		case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound:
			// Refused before anything was committed (a node alive but
			// not answering, another deployment running, ...).
			r.Submit = "refused"
			d.add(r)
			return
		}
		if classify(last) == Fail {
			r.Submit = "refused"
			d.add(r)
			return
		}
		// Unknown: a deployment this workload has not seen is its own.
		r.Submit = "unknown"
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_ = poll(lctx, time.Second, func() error {
			recs, err := d.list(lctx)
			if err != nil {
				return err
			}
			known := d.known()
			for _, rec := range recs {
				if !known[rec.Id] {
					r.ID, r.Index = rec.Id, rec.CreateIndex
					return nil
				}
			}
			return errors.New("no new deployment listed")
		})
		cancel()
		if r.ID == "" {
			d.add(r)
			return
		}
	}
	// Wait for its end.
	var rec *pb.DeploymentRecord
	wctx, cancel := context.WithTimeout(ctx, DeployWait)
	err = poll(wctx, 500*time.Millisecond, func() error {
		v, err := d.get(wctx, r.ID)
		if err != nil {
			return err
		}
		rec = v.Deployment
		r.Steps = stepFailures(v.Plan)
		if !state.DeploymentDone(rec) {
			return fmt.Errorf("deployment %s %s", r.ID, rec.Status)
		}
		return nil
	})
	cancel()
	if rec != nil {
		r.Status, r.Reason = rec.Status, rec.StatusDescription
	}
	if err != nil {
		r.Error = err.Error()
		d.add(r)
		return
	}
	// Once it ended, the nodes that answer converge on the active version.
	var views map[string]NodeVersions
	cctx, cancel := context.WithTimeout(ctx, DeployConverge)
	err = poll(cctx, time.Second, func() error {
		want, err := d.active(cctx)
		if err != nil {
			return err
		}
		if views, err = d.runtime(cctx, false); err != nil {
			return err
		}
		return uniform(views, want, 0)
	})
	cancel()
	if err != nil && ctx.Err() == nil {
		r.Mixed, r.Observed, r.Error = true, describe(views), err.Error()
	}
	d.add(r)
}

// DeployView is what the final check reads: the deployments (as the
// leader lists them, each polled to its end), the active version on each
// node's replica (a stale, node-local read) and each node's runtime.
type DeployView struct {
	Listed  []*pb.DeploymentRecord
	Active  map[string]string
	Runtime map[string]NodeVersions
	// Nodes is every node's name: each must appear in Active and Runtime.
	Nodes []string
}

// Check waits (within ctx) for every deployment to end and for the nodes
// to agree, then checks.
func (d *Deploy) Check(ctx context.Context) DeployResult {
	var v DeployView
	for _, n := range d.c.Nodes {
		v.Nodes = append(v.Nodes, n.Name)
	}
	var problems []string
	err := poll(ctx, time.Second, func() error {
		recs, err := d.list(ctx)
		if err != nil {
			return err
		}
		v.Listed = recs
		for _, rec := range recs {
			if !state.DeploymentDone(rec) {
				return fmt.Errorf("deployment %s %s", rec.Id, rec.Status)
			}
		}
		return nil
	})
	if err != nil {
		problems = append(problems, "waiting for every deployment to end: "+err.Error())
	}
	// The replicas and runtimes, until they agree with the expectation
	// (a restarted node's tree may still be starting).
	err = poll(ctx, time.Second, func() error {
		v.Active = map[string]string{}
		for _, n := range d.c.Nodes {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := pb.NewModulesClient(n.Client().Conn()).List(lctx, &pb.ListModulesRequest{Read: &pb.ReadOptions{Stale: true}})
			cancel()
			if err != nil {
				return fmt.Errorf("%s: modules: %w", n.Name, err)
			}
			for _, m := range resp.Modules {
				if m.Name == DeployModule {
					v.Active[n.Name] = m.Active
				}
			}
		}
		var err error
		if v.Runtime, err = d.runtime(ctx, true); err != nil {
			return err
		}
		r := CheckDeployments(nil, v)
		if r.FinalMixed {
			return errors.New(strings.Join(r.Problems, "; "))
		}
		return nil
	})
	if err != nil {
		problems = append(problems, "after healing: "+err.Error())
	}
	d.mu.Lock()
	recs := slices.Clone(d.recs)
	d.mu.Unlock()
	r := CheckDeployments(recs, v)
	r.Problems = append(problems, r.Problems...)
	return r
}

// expectedVersion is the version of the last successful deployment by
// create index, among those listed after healing and those the workload
// saw end successful (since pruned, perhaps), v1 when none.
func expectedVersion(listed []*pb.DeploymentRecord, seen []DeployRecord) string {
	want, at := "1", uint64(0)
	for _, rec := range listed {
		if state.DeploymentStatusOf(rec) == pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL && rec.CreateIndex >= at {
			want, at = rec.Version, rec.CreateIndex
		}
	}
	for _, rec := range seen {
		if rec.FinalStatus == "pruned" && rec.Status == "successful" && rec.Index >= at {
			want, at = rec.To, rec.Index
		}
	}
	return want
}

// prunable reports whether the state may have pruned rec: the listing
// holds the most ended deployments it keeps, each created after rec.
func prunable(rec DeployRecord, listed []*pb.DeploymentRecord) bool {
	n := 0
	for _, l := range listed {
		if !state.DeploymentDone(l) {
			continue
		}
		if rec.Index != 0 && l.CreateIndex <= rec.Index {
			return false
		}
		n++
	}
	return n >= state.MaxDeploymentHistory
}

// seenEnded reports whether the workload saw the deployment end (the
// state's own notion of an end, by the status name it saw).
func seenEnded(rec DeployRecord) bool {
	return state.DeploymentDone(&pb.DeploymentRecord{Status: rec.Status})
}

// CheckDeployments is the deployment check, a pure function of the
// workload's records and the view after healing: each listed deployment
// is matched to its record (one listed but never seen is adopted); a
// deployment not ended is stuck; a record marked mixed counts; the
// replicas' active versions and every node's runtime must all be the
// version of the last successful deployment, with every process of each
// node's tree running. A recorded deployment the listing does not hold
// counts as stuck.
func CheckDeployments(recs []DeployRecord, v DeployView) DeployResult {
	r := DeployResult{Active: v.Active, Final: map[string][]string{}}
	byID := map[string]*pb.DeploymentRecord{}
	for _, rec := range v.Listed {
		byID[rec.Id] = rec
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		if rec.ID == "" {
			if rec.Submit == "refused" {
				r.Refused++
			}
			r.Records = append(r.Records, rec)
			continue
		}
		seen[rec.ID] = true
		r.Records = append(r.Records, rec)
	}
	for _, l := range v.Listed {
		if !seen[l.Id] {
			r.Records = append(r.Records, DeployRecord{ID: l.Id, From: strings.Join(l.FromVersions, ","), To: l.Version, Submit: "adopted", Index: l.CreateIndex})
		}
	}
	for i := range r.Records {
		rec := &r.Records[i]
		if rec.ID == "" {
			continue
		}
		r.Deployments++
		var status pb.DeploymentStatus
		switch l := byID[rec.ID]; {
		case l != nil:
			rec.FinalStatus, rec.Reason = l.Status, l.StatusDescription
			status = state.DeploymentStatusOf(l)
		case seenEnded(*rec) && prunable(*rec, v.Listed):
			// Seen ended, since pruned: the state keeps the newest
			// state.MaxDeploymentHistory ended deployments. Counted by
			// the status seen.
			r.Pruned++
			rec.FinalStatus = "pruned"
			status = state.DeploymentStatusOf(&pb.DeploymentRecord{Status: rec.Status})
		default:
			// Committed (its id was returned or listed), now gone, and
			// never seen ended: not ended either.
			r.Stuck++
			rec.FinalStatus = "missing"
			r.Problems = append(r.Problems, fmt.Sprintf("deployment %s (%s -> %s, submit %s) is not listed after healing", rec.ID, rec.From, rec.To, rec.Submit))
			continue
		}
		switch status {
		case pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL:
			r.Successful++
		case pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED:
			r.Reverted++
		case pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED, pb.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
			r.Failed++
		default:
			r.Stuck++
			r.Problems = append(r.Problems, fmt.Sprintf("deployment %s (%s -> %s) stuck %s: %s", rec.ID, rec.From, rec.To, rec.FinalStatus, rec.Reason))
		}
		if rec.Mixed {
			r.Mixed++
			r.Problems = append(r.Problems, fmt.Sprintf("deployment %s (%s -> %s) ended %s, then mixed: %s", rec.ID, rec.From, rec.To, rec.Status, rec.Observed))
		}
	}
	r.Expected = expectedVersion(v.Listed, r.Records)
	for _, n := range v.Nodes {
		a, ok := v.Active[n]
		switch {
		case !ok:
			r.FinalMixed = true
			r.Problems = append(r.Problems, fmt.Sprintf("%s: no active version read", n))
		case a != r.Expected:
			r.FinalMixed = true
			r.Problems = append(r.Problems, fmt.Sprintf("%s: active version %q, the last successful deployment's is %s", n, a, r.Expected))
		}
		nv, ok := v.Runtime[n]
		if !ok {
			r.FinalMixed = true
			r.Problems = append(r.Problems, fmt.Sprintf("%s: runtime not read", n))
			continue
		}
		for k, ver := range nv {
			r.Final[n] = append(r.Final[n], k+"="+ver)
		}
		sort.Strings(r.Final[n])
		if err := uniform(map[string]NodeVersions{n: nv}, r.Expected, DeployChildren); err != nil {
			r.FinalMixed = true
			r.Problems = append(r.Problems, err.Error())
		}
	}
	return r
}
