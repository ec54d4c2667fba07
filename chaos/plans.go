package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/steward/steward/pb"
)

// The plan workload: plans of PlanSteps send_message steps, one at a time,
// each step adding one to the counter child "k" of tree PlanTree, which
// nothing else touches. The counter is read before a plan and, once the
// plan has finished, again until it is stable: the difference is how many
// steps ran. A succeeded plan must have added exactly PlanSteps; no plan
// may add more than PlanSteps. A sample where the counter's process
// changed (restarted with its node) says nothing and is counted apart.
const (
	PlanTree  = "chaosplan"
	PlanSteps = 5
)

func planTreeSpec() string {
	return fmt.Sprintf("tree %q {\n  strategy = \"one_for_one\"\n  max_restarts = 10\n  max_seconds = 10\n  child \"k\" {\n    behavior = \"counter\"\n  }\n}\n", PlanTree)
}

func planFile(n int) []byte {
	type target struct {
		Supervisor string `json:"supervisor"`
		ChildID    string `json:"child_id"`
	}
	type op struct {
		ID     string            `json:"id"`
		Type   string            `json:"type"`
		Target target            `json:"target"`
		Params map[string]string `json:"params"`
	}
	var ops []op
	for i := 0; i < PlanSteps; i++ {
		ops = append(ops, op{ID: fmt.Sprintf("p%d-s%d", n, i), Type: "send_message",
			Target: target{Supervisor: PlanTree, ChildID: "k"}, Params: map[string]string{"message": "inc"}})
	}
	b, _ := json.Marshal(map[string]any{"safety_level": "permissive", "timeout": "60s", "operations": ops})
	return b
}

// PlanResult is what the plan workload counted.
type PlanResult struct {
	Plans     int `json:"plans"`
	Succeeded int `json:"succeeded"`
	// Failed plans ended failed, rolled back or cancelled.
	Failed int `json:"failed"`
	// Inconclusive samples: the apply's outcome unknown, the counter
	// restarted, or it could not be read.
	Inconclusive int `json:"inconclusive"`
	// StepsRunTwice: counted beyond the plan's steps.
	StepsRunTwice int `json:"steps_run_twice"`
	// StepsLost: steps of succeeded plans not counted.
	StepsLost int      `json:"steps_lost"`
	Problems  []string `json:"problems,omitempty"`
}

// Plans runs the plan workload.
type Plans struct {
	c  *Cluster
	mu sync.Mutex
	r  PlanResult
}

// ApplyPlanTree commits the counter's tree.
func ApplyPlanTree(ctx context.Context, c *Cluster) (*Plans, error) {
	if err := applyTree(ctx, c, planTreeSpec(), "chaosplan.hcl"); err != nil {
		return nil, err
	}
	return &Plans{c: c}, nil
}

func applyTree(ctx context.Context, c *Cluster, spec, file string) error {
	return poll(ctx, time.Second, func() error {
		var last error
		for _, n := range c.Nodes {
			actx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err := pb.NewSupervisionClient(n.Client().Conn()).ApplyTree(actx, &pb.ApplyTreeRequest{Spec: []byte(spec), Filename: file, Node: "auto"})
			cancel()
			if err == nil {
				return nil
			}
			last = err
		}
		return fmt.Errorf("apply %s: %w", file, last)
	})
}

// counter reads the counter's identity (pid and start time: a pid may
// come again after its node restarts) and count through any node; the
// identity is read before and after the state and must not change.
func (p *Plans) counter(ctx context.Context) (string, int64, error) {
	var errs []error
	ref := &pb.ProcessRef{Tree: PlanTree, Path: "k"}
	for _, n := range p.c.Nodes {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rt := pb.NewRuntimeClient(n.Client().Conn())
		id := func() (string, error) {
			info, err := rt.GetProcess(rctx, &pb.ProcessRequest{Ref: ref})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s@%d", info.Pid, info.StartedAtUnixNano), nil
		}
		id1, err := id()
		var resp *pb.ProcessStateResponse
		if err == nil {
			resp, err = rt.GetState(rctx, &pb.ProcessRequest{Ref: ref})
		}
		var id2 string
		if err == nil {
			id2, err = id()
		}
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if id1 != id2 {
			return "", 0, fmt.Errorf("the counter restarted while read (%s, %s)", id1, id2)
		}
		var st struct {
			Count int64 `json:"count"`
		}
		if err := json.Unmarshal(resp.State, &st); err != nil {
			return "", 0, fmt.Errorf("counter state %q: %w", resp.State, err)
		}
		return id1, st.Count, nil
	}
	return "", 0, errors.Join(errs...)
}

// stable reads the counter until two reads a second apart agree (up to
// 15 s, so that messages in flight arrive).
func (p *Plans) stable(ctx context.Context) (string, int64, error) {
	pid, n, err := p.counter(ctx)
	for i := 0; i < 15 && ctx.Err() == nil; i++ {
		hold(ctx, time.Second)
		pid2, n2, err2 := p.counter(ctx)
		if err == nil && err2 == nil && pid2 == pid && n2 == n {
			return pid, n, nil
		}
		pid, n, err = pid2, n2, err2
	}
	if err == nil {
		err = errors.New("counter never stable")
	}
	return pid, n, err
}

// idle waits until no plan runs (an earlier apply of unknown outcome may
// have started one).
func (p *Plans) idle(ctx context.Context) error {
	return poll(ctx, time.Second, func() error {
		var last error
		for _, n := range p.c.Nodes {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := pb.NewCoordinationClient(n.Client().Conn()).List(lctx, &pb.ListPlansRequest{Filter: "running"})
			cancel()
			if err != nil {
				last = err
				continue
			}
			if len(resp.Plans) > 0 {
				return fmt.Errorf("%d plans running", len(resp.Plans))
			}
			return nil
		}
		return last
	})
}

func (p *Plans) inconclusive(why string) {
	p.mu.Lock()
	p.r.Inconclusive++
	if len(p.r.Problems) < 50 {
		p.r.Problems = append(p.r.Problems, "inconclusive: "+why)
	}
	p.mu.Unlock()
}

// Run applies plans one after the other until ctx ends.
func (p *Plans) Run(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		p.one(ctx, n)
	}
}

// Result is the counts so far.
func (p *Plans) Result() PlanResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.r
	r.Problems = append([]string(nil), p.r.Problems...)
	return r
}

func (p *Plans) one(ctx context.Context, n int) {
	if err := p.idle(ctx); err != nil {
		return
	}
	pid, before, err := p.stable(ctx)
	if err != nil {
		hold(ctx, time.Second)
		return
	}
	p.mu.Lock()
	p.r.Plans++
	p.mu.Unlock()
	var id string
	var last error
	for _, nd := range p.c.Nodes {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		resp, err := pb.NewCoordinationClient(nd.Client().Conn()).Apply(actx, &pb.ApplyPlanRequest{Plan: planFile(n), Filename: fmt.Sprintf("chaos-%d.json", n)})
		cancel()
		if err == nil {
			id = resp.Id
			break
		}
		last = err
		if classify(err) != Fail {
			break // may have been committed: do not send it twice
		}
	}
	if id == "" {
		p.inconclusive(fmt.Sprintf("plan %d: apply: %v", n, last))
		return
	}
	// Wait for the plan to end (its timeout is 60 s).
	var rec *pb.PlanRecord
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err = poll(wctx, 500*time.Millisecond, func() error {
		var last error
		for _, nd := range p.c.Nodes {
			gctx, gcancel := context.WithTimeout(wctx, 5*time.Second)
			resp, err := pb.NewCoordinationClient(nd.Client().Conn()).Get(gctx, &pb.GetPlanRequest{Id: id})
			gcancel()
			if err != nil {
				last = err
				continue
			}
			rec = resp.Plan
			switch rec.StatusCode {
			case pb.PlanStatus_PLAN_STATUS_RUNNING, pb.PlanStatus_PLAN_STATUS_ROLLING_BACK:
				return fmt.Errorf("plan %s %s", id, rec.Status)
			}
			return nil
		}
		return last
	})
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			p.inconclusive(fmt.Sprintf("plan %s never finished: %v", id, err))
		}
		return
	}
	pid2, after, err := p.stable(ctx)
	switch {
	case err != nil:
		p.inconclusive(fmt.Sprintf("plan %s: counter after: %v", id, err))
		return
	case pid2 != pid:
		p.inconclusive(fmt.Sprintf("plan %s: the counter restarted (%s -> %s)", id, pid, pid2))
		return
	}
	delta := after - before
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := rec.StatusCode == pb.PlanStatus_PLAN_STATUS_SUCCEEDED
	if ok {
		p.r.Succeeded++
	} else {
		p.r.Failed++
	}
	if delta > PlanSteps {
		p.r.StepsRunTwice += int(delta - PlanSteps)
		p.r.Problems = append(p.r.Problems, fmt.Sprintf("plan %s (%s): counter %d -> %d, %d steps", id, rec.Status, before, after, PlanSteps))
	}
	if ok && delta < PlanSteps {
		p.r.StepsLost += int(PlanSteps - delta)
		p.r.Problems = append(p.r.Problems, fmt.Sprintf("plan %s succeeded: counter %d -> %d, %d steps", id, before, after, PlanSteps))
	}
	if !ok && len(p.r.Problems) < 50 {
		p.r.Problems = append(p.r.Problems, fmt.Sprintf("plan %s %s (%s): counter +%d; %s", id, rec.Status, strings.TrimSpace(rec.Reason), delta, strings.Join(stepFailures(rec), "; ")))
	}
}
