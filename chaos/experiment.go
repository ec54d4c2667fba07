package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The experiment workload (issue 18: "an experiment created under faults
// exists whole on every node or not at all"). It creates, one after the
// other, experiments ExperimentPrefix+<seq> of two auto-placed sandboxes
// (the cheapest that still spans nodes: one native echo child each,
// tracing off), and destroys the oldest once more than ExperimentsLive
// are kept, within docs/SANDBOXES.md's limits (32 sandboxes per node, 256
// in the cluster); it waits while the deployment workload deploys (see
// Deploy.Busy). After healing, every node's replica (a stale,
// node-local read) must hold the same record of each experiment, or none;
// an acknowledged one must be running, a certainly failed create absent;
// and each node's runtime must run exactly the sandboxes of the running
// experiments placed on it.
const (
	ExperimentPrefix = "chaosx-"
	ExperimentsLive  = 6
	// ExperimentInterval paces the creates.
	ExperimentInterval = 2 * time.Second
	// ExperimentDeadline is each experiment's start deadline (its file's).
	ExperimentDeadline = 20 * time.Second
)

func experimentFile(name string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %q\ndeadline = %q\n", name, ExperimentDeadline.String())
	for _, part := range []string{"a", "b"} {
		fmt.Fprintf(&b, "sandbox %q {\n  node = \"auto\"\n  trace {\n    messages = false\n    states = false\n  }\n  limits { max_processes = 5 }\n  tree {\n    child \"e\" { behavior = \"echo\" }\n  }\n}\n", name+"-"+part)
	}
	return []byte(b.String())
}

// Experiment outcomes of a create.
const (
	// ExpAcknowledged: Create returned the experiment running.
	ExpAcknowledged = "acknowledged"
	// ExpFailed: certainly not committed (NotApplied, no connection).
	ExpFailed = "failed"
	// ExpRejected: refused or failed after its commit (a part that could
	// not start, a lost node, the deadline): it must not be running.
	ExpRejected = "rejected"
	// ExpUnknown: the outcome is not known (a timeout, a lost leader).
	ExpUnknown = "unknown"
)

// ExperimentRecord is one experiment of the workload.
type ExperimentRecord struct {
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// Destroy: "" not asked, ok (acknowledged: it must be gone), or
	// unknown.
	Destroy string `json:"destroy,omitempty"`
}

// ExperimentResult is the experiment workload's check.
type ExperimentResult struct {
	Created      int `json:"created"`
	Acknowledged int `json:"acknowledged"`
	Failed       int `json:"failed"`
	Rejected     int `json:"rejected"`
	Unknown      int `json:"unknown"`
	Destroyed    int `json:"destroyed"`
	// Whole: the same record on every node; Absent: on none; Partial:
	// on some, or different records, or a runtime that runs another
	// set of its sandboxes than the record says.
	Whole   int `json:"whole"`
	Absent  int `json:"absent"`
	Partial int `json:"partial"`
	// RuntimeMismatch: nodes whose runtime runs other sandboxes of the
	// workload than the running experiments place there.
	RuntimeMismatch int `json:"runtime_mismatch"`
	// AcknowledgedMissing: acknowledged, not destroyed, and not
	// running everywhere; FailedPresent: a certainly failed (or
	// acknowledged destroyed) one present; RejectedRunning: a rejected
	// create running.
	AcknowledgedMissing int `json:"acknowledged_missing"`
	FailedPresent       int `json:"failed_present"`
	RejectedRunning     int `json:"rejected_running"`
	// Skipped rounds: a deployment ran.
	Skipped  int                `json:"rounds_skipped"`
	Records  []ExperimentRecord `json:"records"`
	Problems []string           `json:"problems,omitempty"`
}

// Experiments runs the experiment workload.
type Experiments struct {
	c *Cluster
	// hold, when set, says to skip a round (a deployment runs).
	hold func() bool
	mu   sync.Mutex
	recs []ExperimentRecord
	// skipped rounds.
	skipped int
}

// NewExperiments is the workload on c; while hold (when not nil) says so,
// it neither creates nor destroys.
func NewExperiments(c *Cluster, hold func() bool) *Experiments {
	return &Experiments{c: c, hold: hold}
}

// Run creates experiments until ctx ends.
func (x *Experiments) Run(ctx context.Context) {
	t := time.NewTicker(ExperimentInterval)
	defer t.Stop()
	var live []int // indexes of records that may exist, oldest first
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if x.hold != nil && x.hold() {
			x.mu.Lock()
			x.skipped++
			x.mu.Unlock()
			continue
		}
		for len(live) >= ExperimentsLive && ctx.Err() == nil {
			x.destroy(ctx, live[0])
			live = live[1:]
		}
		i, ok := x.create(ctx, fmt.Sprintf("%s%d", ExperimentPrefix, seq))
		if ok {
			live = append(live, i)
		}
	}
}

func (x *Experiments) create(ctx context.Context, name string) (int, bool) {
	r := ExperimentRecord{Name: name, Outcome: ExpFailed}
	for _, n := range x.c.Nodes {
		cctx, cancel := context.WithTimeout(ctx, ExperimentDeadline+15*time.Second)
		v, err := pb.NewExperimentsClient(n.Client().Conn()).Create(cctx, &pb.CreateExperimentRequest{File: experimentFile(name), Filename: name + ".hcl"})
		cancel()
		if err == nil {
			r.Outcome, r.Error = ExpAcknowledged, ""
			if v.Experiment.GetStatus() != state.ExperimentRunning {
				r.Outcome, r.Error = ExpRejected, "created "+v.Experiment.GetStatus()
			}
			break
		}
		r.Error = err.Error()
		switch classify(err) {
		case Fail:
			continue // not committed: another node
		case Unknown:
			r.Outcome = ExpUnknown
			switch status.Code(err) {
			case codes.FailedPrecondition, codes.InvalidArgument, codes.ResourceExhausted, codes.AlreadyExists:
				r.Outcome = ExpRejected
			}
		}
		break
	}
	if ctx.Err() != nil && r.Outcome != ExpAcknowledged {
		r.Outcome = ExpUnknown // cut short by the end of the run
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.recs = append(x.recs, r)
	return len(x.recs) - 1, r.Outcome != ExpFailed
}

func (x *Experiments) destroy(ctx context.Context, i int) {
	x.mu.Lock()
	name := x.recs[i].Name
	x.mu.Unlock()
	out := "unknown"
	for _, n := range x.c.Nodes {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := pb.NewExperimentsClient(n.Client().Conn()).Destroy(dctx, &pb.GetExperimentRequest{Id: name})
		cancel()
		if err == nil || status.Code(err) == codes.NotFound {
			// NotFound: the leader, past its read barrier, holds none.
			out = "ok"
			break
		}
		if classify(err) != Fail {
			break
		}
	}
	x.mu.Lock()
	x.recs[i].Destroy = out
	x.mu.Unlock()
}

// ExperimentNodeView is one node's view: its replica's experiments of the
// workload by name (a stale, node-local read), and the sandbox trees of
// the workload its runtime runs.
type ExperimentNodeView struct {
	Node        string
	Experiments map[string]*pb.ExperimentView
	// Running: the trees named ExperimentPrefix* with a running process.
	Running []string
	Err     string
}

// views reads every node.
func (x *Experiments) views(ctx context.Context) []ExperimentNodeView {
	var out []ExperimentNodeView
	for _, n := range x.c.Nodes {
		nv := ExperimentNodeView{Node: n.Name, Experiments: map[string]*pb.ExperimentView{}}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := pb.NewExperimentsClient(n.Client().Conn()).List(lctx, &pb.ListExperimentsRequest{Read: &pb.ReadOptions{Stale: true}})
		if err == nil {
			for _, e := range resp.Experiments {
				if strings.HasPrefix(e.Experiment.GetName(), ExperimentPrefix) {
					nv.Experiments[e.Experiment.Name] = e
				}
			}
			var ps *pb.ListProcessesResponse
			ps, err = pb.NewRuntimeClient(n.Client().Conn()).ListProcesses(lctx, &pb.ListProcessesRequest{Node: n.Name})
			if err == nil {
				trees := map[string]bool{}
				for _, p := range ps.Processes {
					if strings.HasPrefix(p.Tree, ExperimentPrefix) && p.Status == "running" {
						trees[p.Tree] = true
					}
				}
				for t := range trees {
					nv.Running = append(nv.Running, t)
				}
				sort.Strings(nv.Running)
			}
		}
		cancel()
		if err != nil {
			nv.Err = err.Error()
		}
		out = append(out, nv)
	}
	return out
}

// Check reads every node until the views agree and no experiment is
// pending (or ctx ends), then checks.
func (x *Experiments) Check(ctx context.Context) ExperimentResult {
	x.mu.Lock()
	recs, skipped := slices.Clone(x.recs), x.skipped
	x.mu.Unlock()
	var views []ExperimentNodeView
	err := poll(ctx, time.Second, func() error {
		views = x.views(ctx)
		for _, v := range views {
			if v.Err != "" {
				return fmt.Errorf("%s: %s", v.Node, v.Err)
			}
			for name, e := range v.Experiments {
				if e.Experiment.Status == state.ExperimentPending {
					return fmt.Errorf("%s: %s pending", v.Node, name)
				}
			}
		}
		if r := CheckExperiments(recs, views); r.Partial+r.RuntimeMismatch > 0 {
			return errors.New(strings.Join(r.Problems, "; "))
		}
		return nil
	})
	r := CheckExperiments(recs, views)
	r.Skipped = skipped
	if err != nil {
		r.Problems = append([]string{"views never settled: " + err.Error()}, r.Problems...)
	}
	return r
}

// CheckExperiments is the experiment check, a pure function of the
// records and the nodes' views. A node whose view could not be read makes
// every experiment partial (nothing can be said to be whole).
func CheckExperiments(recs []ExperimentRecord, views []ExperimentNodeView) ExperimentResult {
	r := ExperimentResult{Records: recs}
	names := map[string]bool{}
	for _, rec := range recs {
		names[rec.Name] = true
		r.Created++
		switch rec.Outcome {
		case ExpAcknowledged:
			r.Acknowledged++
		case ExpFailed:
			r.Failed++
		case ExpRejected:
			r.Rejected++
		default:
			r.Unknown++
		}
		if rec.Destroy == "ok" {
			r.Destroyed++
		}
	}
	// Experiments the nodes hold that no record names count too.
	for _, v := range views {
		for name := range v.Experiments {
			if !names[name] {
				names[name] = true
				recs = append(recs, ExperimentRecord{Name: name, Outcome: ExpUnknown})
				r.Problems = append(r.Problems, fmt.Sprintf("%s: %s was never created by this run", v.Node, name))
			}
		}
	}
	// The sandboxes each node should run: those of running experiments
	// placed on it, by the first node's record (all equal when whole).
	want := map[string]map[string]bool{}
	for _, v := range views {
		want[v.Node] = map[string]bool{}
	}
	for _, rec := range recs {
		var first *pb.ExperimentView
		present, partial := 0, false
		for i, v := range views {
			if v.Err != "" {
				partial = true
				continue
			}
			e := v.Experiments[rec.Name]
			if e != nil {
				present++
			}
			if i == 0 {
				first = e
				continue
			}
			if (e == nil) != (first == nil) || e != nil && !proto.Equal(e, first) {
				partial = true
			}
		}
		switch {
		case partial || present != 0 && present != len(views):
			r.Partial++
			r.Problems = append(r.Problems, fmt.Sprintf("%s: on %d of %d nodes, or different records", rec.Name, present, len(views)))
			continue
		case present == 0:
			r.Absent++
		default:
			r.Whole++
		}
		running := first != nil && first.Experiment.Status == state.ExperimentRunning
		if running {
			for _, sb := range first.Sandboxes {
				if m, ok := want[sb.Node]; ok {
					m[sb.Name] = true
				}
			}
		}
		switch {
		case rec.Outcome == ExpAcknowledged && rec.Destroy != "ok" && !running:
			r.AcknowledgedMissing++
			r.Problems = append(r.Problems, fmt.Sprintf("%s: acknowledged running, now %s", rec.Name, statusOf(first)))
		case (rec.Outcome == ExpFailed || rec.Destroy == "ok") && first != nil:
			r.FailedPresent++
			r.Problems = append(r.Problems, fmt.Sprintf("%s: create %s, destroy %q, yet present (%s)", rec.Name, rec.Outcome, rec.Destroy, statusOf(first)))
		case rec.Outcome == ExpRejected && running:
			r.RejectedRunning++
			r.Problems = append(r.Problems, fmt.Sprintf("%s: create rejected (%s), yet running", rec.Name, rec.Error))
		}
	}
	// Each node's runtime runs exactly its share.
	for _, v := range views {
		if v.Err != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %s", v.Node, v.Err))
			continue
		}
		var extra, missing []string
		for _, t := range v.Running {
			if !want[v.Node][t] {
				extra = append(extra, t)
			}
		}
		for t := range want[v.Node] {
			if !slices.Contains(v.Running, t) {
				missing = append(missing, t)
			}
		}
		sort.Strings(missing)
		if len(extra)+len(missing) > 0 {
			r.RuntimeMismatch++
			r.Problems = append(r.Problems, fmt.Sprintf("%s runs sandboxes %v that no running experiment places there, and not %v that one does", v.Node, extra, missing))
		}
	}
	return r
}

func statusOf(v *pb.ExperimentView) string {
	if v == nil {
		return "absent"
	}
	return v.Experiment.Status + " " + v.Experiment.Reason
}
