package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// Verify (issue 16, item 5; the seed's verify_code_safety) checks a module
// version against the processes a deployment of it would move, and moves
// nothing. The leader chooses the targets exactly as Submit does (gather,
// then pick with the same selector and default), compares the version's
// manifest and stored capability report with each running version's, and
// asks each target's node (Internal VerifyCode) to convert a copy of each
// target's live state: read between two messages (GetState, a system
// message: the process is neither suspended nor changed), converted by
// hotcode.Migrate on a throwaway instance of the new version — the same
// CodeChange the upgrade would run, up or down — then exported.

// VerifyStateTimeout bounds the read of one target's live state.
const VerifyStateTimeout = 5 * time.Second

// Verify is the Deployments service's Verify, on the leader.
func (s *service) Verify(ctx context.Context, req *pb.VerifyRequest) (*pb.VerifyResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.VerifyRequest) (*pb.VerifyResponse, error) {
			return pb.NewDeploymentsClient(c).Verify(ctx, r)
		},
		func(ctx context.Context, r *pb.VerifyRequest) (*pb.VerifyResponse, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			return s.l.verify(ctx, r)
		})
}

// verify chooses the targets as submit does, checks the manifests and has
// every target's node try the migration.
func (l *Layer) verify(ctx context.Context, req *pb.VerifyRequest) (*pb.VerifyResponse, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{transport.ErrInvalidRequest}, args...)...)
	}
	name, version, ok := strings.Cut(req.Module, "@")
	if !ok || name == "" || version == "" {
		return nil, bad("module %q is not NAME@VERSION", req.Module)
	}
	sel, err := ParseSelector(req.Targets)
	if err != nil {
		return nil, bad("%v", err)
	}
	st := l.node.State()
	v, err := st.ModuleVersion(name, version)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%w: module %s@%s is not stored (steward module push)", transport.ErrNotFound, name, version)
	}
	man, err := hotcode.ParseManifest(v.ManifestJson)
	if err != nil {
		return nil, fmt.Errorf("module %s@%s: its manifest: %w", name, version, err)
	}
	all, err := l.gather(ctx, name)
	if err != nil {
		return nil, err
	}
	targets, err := pick(all, sel, name, version)
	if err != nil {
		return nil, err
	}
	if len(targets) > MaxTargets {
		return nil, bad("%d processes match, more than the limit of %d per deployment; narrow --targets", len(targets), MaxTargets)
	}
	out := &pb.VerifyResponse{Module: name, Version: version, Capabilities: v.Capabilities, Safety: v.Safety}
	for _, w := range v.Warnings {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s@%s: stored validation (%s): %s", name, version, v.Safety, w))
	}
	froms := map[string]bool{}
	for _, t := range targets {
		froms[t.Version] = true
	}
	for f := range froms {
		out.FromVersions = append(out.FromVersions, f)
	}
	sort.Strings(out.FromVersions)
	for _, from := range out.FromVersions {
		ov, err := st.ModuleVersion(name, from)
		if err != nil {
			return nil, err
		}
		var old *hotcode.Manifest
		if ov != nil {
			if old, err = hotcode.ParseManifest(ov.ManifestJson); err != nil {
				return nil, fmt.Errorf("module %s@%s: its manifest: %w", name, from, err)
			}
		}
		errs, warns := compatible(man, v, old, ov, from)
		out.Errors = append(out.Errors, errs...)
		out.Warnings = append(out.Warnings, warns...)
	}
	out.Processes = l.verifyTargets(ctx, name, version, targets)
	out.Ok = len(out.Errors) == 0
	for _, p := range out.Processes {
		out.Ok = out.Ok && p.Ok
	}
	return out, nil
}

// verifyTargets asks each target's node to try the migration of its
// targets; a node that does not answer fails its targets. The results are
// in the targets' order.
func (l *Layer) verifyTargets(ctx context.Context, name, version string, targets []*pb.CodeTarget) []*pb.CodeVerification {
	byNode := map[string][]*pb.CodeTarget{}
	var nodes []string
	for _, t := range targets {
		if byNode[t.Node] == nil {
			nodes = append(nodes, t.Node)
		}
		byNode[t.Node] = append(byNode[t.Node], t)
	}
	req := func(n string) *pb.VerifyCodeRequest {
		return &pb.VerifyCodeRequest{Module: name, Version: version, Targets: byNode[n]}
	}
	resps, errs := transport.AskNodes(ctx, l.node, nodes, 0,
		func(ctx context.Context, n string) (*pb.VerifyCodeResponse, error) { return l.verifyCode(ctx, req(n)) },
		func(ctx context.Context, n string, c pb.InternalClient) (*pb.VerifyCodeResponse, error) {
			return c.VerifyCode(ctx, req(n))
		})
	results := map[string]*pb.CodeVerification{}
	for i, n := range nodes {
		if errs[i] != nil {
			err := fmt.Errorf("node %s did not verify its processes: %w", n, errs[i])
			for _, t := range byNode[n] {
				results[t.Pid] = failed(t, err)
			}
			continue
		}
		for _, r := range resps[i].Results {
			results[r.Pid] = r
		}
	}
	out := make([]*pb.CodeVerification, 0, len(targets))
	for _, t := range targets {
		r := results[t.Pid]
		if r == nil {
			r = failed(t, fmt.Errorf("node %s did not report it", t.Node))
		}
		out = append(out, r)
	}
	return out
}

func failed(t *pb.CodeTarget, err error) *pb.CodeVerification {
	return &pb.CodeVerification{Pid: t.Pid, Node: t.Node, Tree: t.Tree, ChildId: t.ChildId, FromVersion: t.Version, Error: err.Error()}
}

// verifyCode is this node's VerifyCode: for each of its listed workers,
// the trial migration of a copy of its live state onto the version.
func (l *Layer) verifyCode(ctx context.Context, req *pb.VerifyCodeRequest) (*pb.VerifyCodeResponse, error) {
	if req.Module == "" || req.Version == "" {
		return nil, fmt.Errorf("%w: no module or version", transport.ErrInvalidRequest)
	}
	if len(req.Targets) > MaxTargets {
		return nil, fmt.Errorf("%w: %d targets, more than %d", transport.ErrInvalidRequest, len(req.Targets), MaxTargets)
	}
	behavior := store.BehaviorName(req.Module, req.Version)
	entry, lookupErr := l.rt.Catalog().Lookup(behavior)
	if lookupErr != nil {
		lookupErr = fmt.Errorf("%s@%s is not loaded on node %s (no behavior %s in its catalog)", req.Module, req.Version, l.node.Name(), behavior)
	}
	out := &pb.VerifyCodeResponse{}
	for _, t := range req.Targets {
		r := &pb.CodeVerification{Pid: t.Pid, Node: l.node.Name(), Tree: t.Tree, ChildId: t.ChildId, FromVersion: t.Version}
		if err := lookupErr; err != nil {
			r.Error = err.Error()
		} else if err := l.tryMigration(ctx, entry, t, r); err != nil {
			r.Error = err.Error()
		} else {
			r.Ok = true
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

// tryMigration reads one worker's live state and converts a copy on a
// throwaway instance built by the version's catalog entry (the behavior
// the code change would install).
func (l *Layer) tryMigration(ctx context.Context, entry actor.Entry, t *pb.CodeTarget, r *pb.CodeVerification) error {
	pid, err := actor.ParsePID(t.Pid)
	if err != nil {
		return fmt.Errorf("%w: pid %q", transport.ErrInvalidRequest, t.Pid)
	}
	if pid.Node != l.node.Name() {
		return fmt.Errorf("%s is not a process of node %s", pid, l.node.Name())
	}
	info, err := l.rt.Process(pid)
	if err != nil {
		return err
	}
	if info.Behavior != t.Behavior {
		return fmt.Errorf("%s runs %s now, not %s: listed again, it would be moved from there", pid, info.Behavior, t.Behavior)
	}
	r.FromVersion = info.Version
	sctx, cancel := context.WithTimeout(ctx, VerifyStateTimeout)
	state, err := l.rt.GetState(sctx, pid)
	cancel()
	if err != nil {
		return fmt.Errorf("read the live state: %w", err)
	}
	r.StateBytesBefore = uint64(len(state))
	nb, err := entry.New(nil)
	if err != nil {
		return err
	}
	start := time.Now()
	after, err := hotcode.Migrate(ctx, nb, info.Version, state)
	r.DurationUs = time.Since(start).Microseconds()
	if err != nil {
		if errors.Is(err, hotcode.ErrBadOptions) {
			return fmt.Errorf("%s is not a module's behavior on node %s: %w", entry.Name, l.node.Name(), err)
		}
		return err
	}
	r.StateBytesAfter = uint64(len(after))
	return nil
}

// compatible compares the version's manifest and capability report (man,
// v) with those of a version the targets run (old, ov: nil when that
// version is not stored). Errors are what makes a deployment fail;
// warnings what may matter.
func compatible(man *hotcode.Manifest, v *pb.ModuleVersion, old *hotcode.Manifest, ov *pb.ModuleVersion, from string) (errs, warns []string) {
	to := hotcode.Ref(man.Name, man.Version)
	pre := hotcode.Ref(v.Name, from) + " -> " + to + ": "
	if man.Name != v.Name {
		errs = append(errs, fmt.Sprintf("%sthe manifest names module %q", pre, man.Name))
	}
	if man.ABI != hotcode.ABIVersion {
		errs = append(errs, fmt.Sprintf("%sABI %d, this cluster runs ABI %d", pre, man.ABI, hotcode.ABIVersion))
	}
	if old == nil {
		warns = append(warns, fmt.Sprintf("%s%s is not stored: its manifest is not compared", pre, hotcode.Ref(v.Name, from)))
		return errs, warns
	}
	if old.Name != man.Name {
		errs = append(errs, fmt.Sprintf("%sthe running manifest names module %q, the new %q", pre, old.Name, man.Name))
	}
	if old.ABI != man.ABI {
		warns = append(warns, fmt.Sprintf("%sthe ABI changes from %d to %d", pre, old.ABI, man.ABI))
	}
	cmp, cerr := hotcode.CompareVersions(from, man.Version)
	switch {
	case cerr != nil:
		warns = append(warns, fmt.Sprintf("%sversions not comparable (%v): the change runs as an upgrade", pre, cerr))
	case cmp > 0 && !old.SupportsDowngrade:
		errs = append(errs, fmt.Sprintf("%sa downgrade, and %s does not support downgrade (its code_change down)", pre, hotcode.Ref(v.Name, from)))
	case cmp < 0 && !man.SupportsDowngrade:
		warns = append(warns, fmt.Sprintf("%s%s does not support downgrade: a revert restores the state captured before the upgrade", pre, to))
	}
	oldFns := map[string]bool{}
	for _, u := range ov.Capabilities {
		oldFns[u.Function] = true
	}
	for _, f := range old.HostFunctions {
		oldFns[hostFn(f)] = true
	}
	newFns := map[string]string{}
	for _, u := range v.Capabilities {
		newFns[u.Function] = u.Class
	}
	for _, f := range man.HostFunctions {
		if _, ok := newFns[hostFn(f)]; !ok {
			newFns[hostFn(f)] = ""
		}
	}
	var added []string
	for f, class := range newFns {
		if !oldFns[f] {
			if class != "" {
				f += " (" + class + ")"
			}
			added = append(added, f)
		}
	}
	if len(added) > 0 {
		sort.Strings(added)
		warns = append(warns, fmt.Sprintf("%simports host functions %s does not: %s", pre, hotcode.Ref(v.Name, from), strings.Join(added, ", ")))
	}
	if _, nw := man.WASI(); nw {
		if _, ow := old.WASI(); !ow {
			warns = append(warns, fmt.Sprintf("%sdeclares the wasi capability, which %s does not", pre, hotcode.Ref(v.Name, from)))
		}
	}
	if man.Args != nil {
		var gone []string
		for _, a := range old.Args {
			if !slices.Contains(man.Args, a) {
				gone = append(gone, a)
			}
		}
		switch {
		case old.Args == nil:
			warns = append(warns, fmt.Sprintf("%saccepts only the args %s (a spec giving another is refused at its next start)", pre, strings.Join(man.Args, ", ")))
		case len(gone) > 0:
			warns = append(warns, fmt.Sprintf("%sno longer accepts the args %s (a spec giving one is refused at its next start)", pre, strings.Join(gone, ", ")))
		}
	}
	return errs, warns
}

// hostFn is a manifest's host function as the capability report names it
// ("steward.NAME").
func hostFn(f string) string {
	if strings.Contains(f, ".") {
		return f
	}
	return hotcode.HostModule + "." + f
}
