package coordination

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
)

// prepared is a plan planned on the leader, ready to commit.
type prepared struct {
	plan   *plan.Plan
	facts  *plan.Facts
	result *plan.Result
	// checkIndex is the index of the state the plan was made against.
	checkIndex uint64
}

// checkTables are the tables whose change invalidates a dry run.
var checkTables = []string{"trees", "nodes", "plans"}

// prepare parses and validates a plan, completes each operation's node from
// the replicated placement of its tree, gathers facts from the nodes and
// builds the phases. A plan that is invalid, or whose conflicts refuse it,
// comes back with an error (and, for conflicts, the result to show).
// skipChecks are the checks the operator skips (plan.SkippableChecks
// names); an unknown one refuses the request.
func (l *Layer) prepare(ctx context.Context, data []byte, filename string, skipChecks []string, now time.Time) (*prepared, error) {
	skip, err := plan.ParseSkipChecks(skipChecks)
	if err != nil {
		return nil, fmt.Errorf("%w: skip_checks: %v", transport.ErrInvalidRequest, err)
	}
	p, err := plan.Parse(data, filename)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	return l.preparePlan(ctx, p, plan.Options{Now: now, KnownBehavior: l.knownBehavior, SkipChecks: skip})
}

// preparePlan is prepare of a parsed plan.
func (l *Layer) preparePlan(ctx context.Context, p *plan.Plan, opts plan.Options) (*prepared, error) {
	st := l.node.State()
	out := &prepared{checkIndex: st.TableIndex(checkTables...)}
	if err := plan.Validate(p, opts); err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	for i := range p.Operations {
		op := &p.Operations[i]
		if op.Node != "" || op.Target.Supervisor == "" {
			continue
		}
		rec, err := st.Tree(op.Target.Supervisor)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, fmt.Errorf("%w: operations[%d] (%s): tree %q is not in the desired state; name the node it runs on", transport.ErrInvalidRequest, i, op.ID, op.Target.Supervisor)
		}
		op.Node = rec.Node
	}
	for i, op := range p.Operations {
		if err := l.checkNode(op.Node); err != nil {
			return nil, fmt.Errorf("%w: operations[%d] (%s): %v", transport.ErrInvalidRequest, i, op.ID, err)
		}
	}
	out.plan = p
	out.facts = l.gatherFacts(ctx, p)
	res, err := plan.Build(p, out.facts, opts)
	out.result = res
	if err != nil {
		return out, fmt.Errorf("%w: %v", transport.ErrConflict, err)
	}
	return out, nil
}

func (l *Layer) knownBehavior(name string) bool {
	_, err := l.rt.Catalog().Lookup(name)
	return err == nil
}

// checkNode refuses node names the cluster never had.
func (l *Layer) checkNode(name string) error {
	if l.node.MemberStatus(name) != "" {
		return nil
	}
	if rec, _ := l.node.State().Node(name); rec != nil {
		return nil
	}
	return fmt.Errorf("node %q is not a member of this cluster", name)
}

// gatherFacts asks every node an operation targets for the facts of its
// operations, in parallel. A node that cannot be asked is recorded as not
// alive, which the planner reports as a conflict.
func (l *Layer) gatherFacts(ctx context.Context, p *plan.Plan) *plan.Facts {
	byNode := map[string][]plan.Operation{}
	for _, op := range p.Operations {
		byNode[op.Node] = append(byNode[op.Node], op)
	}
	nodes := make([]string, 0, len(byNode))
	for n := range byNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	parts := make([]*plan.Facts, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func(i int, n string) {
			defer wg.Done()
			f, err := l.factsFrom(ctx, n, byNode[n])
			if err != nil {
				l.logger.Warn("cannot gather facts", "node", n, "error", err)
				f = &plan.Facts{Nodes: []plan.NodeFacts{{Node: n, Alive: false}}}
				for _, op := range byNode[n] {
					f.Operations = append(f.Operations, plan.OperationFacts{OpID: op.ID, Target: plan.ProcessFacts{Node: n}})
				}
			}
			parts[i] = f
		}(i, n)
	}
	wg.Wait()
	facts := &plan.Facts{}
	for _, f := range parts {
		facts.Operations = append(facts.Operations, f.Operations...)
		facts.Nodes = append(facts.Nodes, f.Nodes...)
	}
	facts.ActivePlans = l.activePlans()
	return facts
}

func (l *Layer) factsFrom(ctx context.Context, nodeName string, ops []plan.Operation) (*plan.Facts, error) {
	if nodeName == l.node.Name() {
		return l.localFacts(ops), nil
	}
	if s := l.node.MemberStatus(nodeName); s != "alive" && s != "suspect" {
		return nil, fmt.Errorf("node %s is %s", nodeName, s)
	}
	addr, ok := l.node.PeerGRPCAddr(nodeName)
	if !ok {
		return nil, fmt.Errorf("no address for node %s", nodeName)
	}
	conn, err := l.node.Pool().Get(addr)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithTimeout(ctx, l.cfg.FactsTimeout)
	defer cancel()
	resp, err := pb.NewInternalClient(conn).Facts(fctx, &pb.FactsRequest{OperationsJson: body})
	if err != nil {
		return nil, err
	}
	var f plan.Facts
	if err := json.Unmarshal(resp.FactsJson, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// activePlans describes the plans committed and not finished.
func (l *Layer) activePlans() []plan.ActivePlan {
	_, recs, err := l.node.State().Plans(nil)
	if err != nil {
		return nil
	}
	var out []plan.ActivePlan
	for _, rec := range recs {
		if state.PlanDone(rec) {
			continue
		}
		_, spec, _ := l.node.State().Plan(nil, rec.Id)
		if spec == nil {
			continue
		}
		res, err := state.DecodePlanResult(spec)
		if err != nil {
			continue
		}
		ap := plan.ActivePlan{ID: rec.Id, Group: res.Group}
		if res.Window != nil {
			ap.Window = *res.Window
		} else {
			ap.Window = plan.Window{NotBefore: time.Unix(0, rec.CreatedAtUnixNano).UTC(), NotAfter: time.Unix(0, rec.DeadlineUnixNano).UTC()}
		}
		nodes, targets := map[string]bool{}, map[string]bool{}
		for _, op := range res.Operations {
			nodes[op.Node] = true
			switch {
			case op.Target.Supervisor != "":
				targets[op.Target.Supervisor] = true
			case op.Target.PID != "":
				targets[op.Target.PID] = true
			}
		}
		ap.Nodes, ap.Targets = keys(nodes), keys(targets)
		out = append(out, ap)
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newPlanID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "plan-" + hex.EncodeToString(b[:])
}
