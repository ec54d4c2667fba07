package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"time"

	"github.com/steward/steward/pb"
)

// SupervisionTree is the tree of the supervision workload: counters under
// a one_for_one supervisor whose restart intensity the child kills stay
// well inside (the killer kills one child per KillInterval).
const SupervisionTree = "chaos"

// SupervisionChildren is how many children the tree has.
const SupervisionChildren = 4

// KillInterval is how often the supervision workload kills a child.
const KillInterval = 2 * time.Second

func supervisionSpec() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tree %q {\n  strategy = \"one_for_one\"\n  max_restarts = 50\n  max_seconds = 10\n", SupervisionTree)
	for i := 1; i <= SupervisionChildren; i++ {
		fmt.Fprintf(&b, "  child \"c%d\" {\n    behavior = \"counter\"\n  }\n", i)
	}
	b.WriteString("}\n")
	return b.String()
}

// Supervision applies the tree, kills its children while the run lasts,
// and validates the runtime against the desired state at the end.
type Supervision struct {
	c      *Cluster
	kills  atomic.Int64
	failed atomic.Int64
}

// SupervisionResult is what the supervision workload saw.
type SupervisionResult struct {
	Kills       int64    `json:"kills"`
	KillsFailed int64    `json:"kills_failed"`
	Consistent  bool     `json:"consistent"`
	Violations  []string `json:"violations,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// ApplySupervision commits the tree (placed by the leader), retried
// through the nodes until one takes it.
func ApplySupervision(ctx context.Context, c *Cluster) (*Supervision, error) {
	spec := []byte(supervisionSpec())
	err := poll(ctx, time.Second, func() error {
		var last error
		for _, n := range c.Nodes {
			actx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err := pb.NewSupervisionClient(n.Client().Conn()).ApplyTree(actx, &pb.ApplyTreeRequest{Spec: spec, Filename: "chaos.hcl", Node: "auto"})
			cancel()
			if err == nil {
				return nil
			}
			last = err
		}
		return last
	})
	if err != nil {
		return nil, fmt.Errorf("apply tree %s: %w", SupervisionTree, err)
	}
	return &Supervision{c: c}, nil
}

// Run kills a random child every KillInterval until ctx ends.
func (s *Supervision) Run(ctx context.Context, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	t := time.NewTicker(KillInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := s.c.Nodes[rng.Intn(len(s.c.Nodes))]
		ref := &pb.ProcessRef{Tree: SupervisionTree, Path: fmt.Sprintf("c%d", 1+rng.Intn(SupervisionChildren))}
		kctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := pb.NewRuntimeClient(n.Client().Conn()).Kill(kctx, &pb.KillRequest{Ref: ref, Reason: "chaos"})
		cancel()
		if err != nil {
			s.failed.Add(1)
		} else {
			s.kills.Add(1)
		}
	}
}

// Validate runs `validate` (every node, linearizable) until it reports
// the runtime consistent with the desired state or ctx ends; the last
// violations are kept.
func (s *Supervision) Validate(ctx context.Context) SupervisionResult {
	r := SupervisionResult{Kills: s.kills.Load(), KillsFailed: s.failed.Load()}
	i := 0
	err := poll(ctx, 2*time.Second, func() error {
		n := s.c.Nodes[i%len(s.c.Nodes)]
		i++
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		resp, err := pb.NewHealthClient(n.Client().Conn()).Validate(vctx, &pb.ValidateRequest{SettleMs: 5000})
		if err != nil {
			return fmt.Errorf("%s: validate: %w", n.Name, err)
		}
		r.Violations = nil
		for _, v := range resp.Violations {
			r.Violations = append(r.Violations, fmt.Sprintf("%s %s %s: %s", v.Node, v.Kind, v.Subject, v.Detail))
		}
		if !resp.Consistent {
			return fmt.Errorf("%d violations", len(resp.Violations))
		}
		return nil
	})
	r.Consistent = err == nil
	if err != nil {
		r.Error = err.Error()
	}
	return r
}
