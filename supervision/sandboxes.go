package supervision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
)

// Sandboxes are trees the reconciler runs under a policy: their records
// (state/sandboxes.go) are read with the trees, keyed by their placement
// index instead of a spec's modify index, started with sandbox.Start, and
// each start or failure to set one up is reported for its placement
// (SANDBOX_STATUS), which is how a sandbox's create learns its outcome.

// reportTimeout bounds one status report's commit.
const reportTimeout = 10 * time.Second

// setSandboxes keeps this pass's sandbox records, by name.
func (r *reconciler) setSandboxes(sbs []*pb.SandboxRecord) {
	m := make(map[string]*pb.SandboxRecord, len(sbs))
	for _, sb := range sbs {
		m[sb.Name] = sb
	}
	r.mu.Lock()
	r.sandboxes = m
	r.mu.Unlock()
}

// sandboxTrees are the sandboxes as the tree records the pass reconciles:
// their spec, node, and placement index as the spec index.
func sandboxTrees(sbs []*pb.SandboxRecord) []*pb.TreeRecord {
	out := make([]*pb.TreeRecord, 0, len(sbs))
	for _, sb := range sbs {
		out = append(out, &pb.TreeRecord{Name: sb.Name, Node: sb.Node, SpecJson: sb.SpecJson, ModifyIndex: sb.PlacedIndex})
	}
	return out
}

func (r *reconciler) sandbox(name string) *pb.SandboxRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sandboxes[name]
}

// DecodeSandbox decodes a sandbox record's tree and policy with this
// binary's rules (a newer policy field this version does not know is an
// error: a sandbox never runs with fewer limits than committed).
func DecodeSandbox(sb *pb.SandboxRecord) (*spec.Tree, sandbox.Policy, error) {
	t, err := state.DecodeTree(&pb.TreeRecord{Name: sb.Name, SpecJson: sb.SpecJson})
	if err != nil {
		return nil, sandbox.Policy{}, err
	}
	p, err := decodePolicy(sb)
	return t, p, err
}

// decodePolicy decodes a sandbox record's policy, named for the sandbox.
func decodePolicy(sb *pb.SandboxRecord) (sandbox.Policy, error) {
	p, err := sandbox.Parse(sb.PolicyJson, "policy.json")
	if err != nil {
		return sandbox.Policy{}, fmt.Errorf("sandbox %q: the committed policy: %w", sb.Name, err)
	}
	p.Name = sb.Name
	return p, nil
}

// startSandbox starts (or updates) a sandbox's tree t, decoded by the
// caller, under its policy.
func (r *reconciler) startSandbox(ctx context.Context, sb *pb.SandboxRecord, t *spec.Tree) error {
	p, err := decodePolicy(sb)
	if err != nil {
		return err
	}
	return sandbox.Start(ctx, r.l.rt, *t, p)
}

// terminated reports whether a failed tree is a sandbox its policy took
// down (terminate_sandbox), which stays down; the first time, the node
// reports it.
func (r *reconciler) terminated(rec *pb.TreeRecord, ti actor.TreeInfo) bool {
	sb := r.sandbox(rec.Name)
	if sb == nil || !strings.Contains(string(ti.Reason), string(actor.ReasonSandboxViolation)) {
		return false
	}
	r.report(sb, state.SandboxTerminated, string(ti.Reason))
	return true
}

// report commits a status for the sandbox's placement, once per placement
// and status.
func (r *reconciler) report(sb *pb.SandboxRecord, status, reason string) {
	if sb.Status == status && sb.StatusIndex == sb.PlacedIndex {
		return
	}
	r.mu.Lock()
	if last, ok := r.reported[sb.Name]; ok && last.placed == sb.PlacedIndex && last.status == status {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	_, err := r.l.node.Propose(ctx, pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS, &pb.SandboxStatusCommand{
		Name: sb.Name, Node: r.l.node.Name(), PlacedIndex: sb.PlacedIndex, Status: status, Reason: reason})
	switch {
	case err == nil, errors.Is(err, state.ErrSandboxState), errors.Is(err, state.ErrNotFound):
		// Committed, or about a placement that is no longer current.
		r.mu.Lock()
		r.reported[sb.Name] = sandboxReport{placed: sb.PlacedIndex, status: status}
		r.mu.Unlock()
	default:
		// Not committed (no leader): the next pass reports again.
		r.l.logger.Warn("sandbox status not reported", "sandbox", sb.Name, "status", status, "error", err)
	}
}
