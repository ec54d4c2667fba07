package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
)

func init() {
	transport.RegisterCode("state.deploy_state", state.ErrDeployState, codes.FailedPrecondition)
}

// Defaults of a deployment's options, Nomad's update block's where it has
// one.
var Defaults = pb.DeployOptions{
	MaxParallel:        1,
	MinHealthyTimeMs:   (10 * time.Second).Milliseconds(),
	HealthyDeadlineMs:  (5 * time.Minute).Milliseconds(),
	ProgressDeadlineMs: (10 * time.Minute).Milliseconds(),
}

// Limits.
const (
	// MaxTargets bounds the processes one deployment moves (the plan
	// engine's operation limit).
	MaxTargets = plan.MaxOperations
	// MaxDeadline bounds healthy_deadline and progress_deadline.
	MaxDeadline = time.Hour
	// HealthyMaxQueue: a process with this many messages queued or more is
	// not healthy (the seed's threshold).
	HealthyMaxQueue = 100
	// ProbeFactor and ProbeSlack: a health probe may answer up to
	// ProbeFactor times slower than before the batch, plus ProbeSlack
	// (timing noise on a busy machine).
	ProbeFactor = 2.0
	ProbeSlack  = 5 * time.Millisecond
	// Lifetime bounds a deployment's run, pauses included: a batch that
	// starts later fails at once.
	Lifetime = 24 * time.Hour
)

// cluster is what the layer needs of its node.
type cluster interface {
	Name() string
	State() *state.Store
	Server() *transport.Server
	Pool() *transport.Pool
	AliveNodes() []string
	PeerGRPCAddr(name string) (string, bool)
}

// Layer is the deployment layer of one node.
type Layer struct {
	rt     *actor.Runtime
	coord  *coordination.Layer
	snaps  Snapshotter
	node   cluster
	logger hclog.Logger
	mu     sync.Mutex
	conv   *converger
}

// Snapshotter captures a cluster snapshot from within the leader and waits
// for it to end (snapshot.Layer): a strict deployment takes one first.
type Snapshotter interface {
	CaptureAndWait(ctx context.Context) (id, status string, err error)
}

// New returns the layer; coord plans and runs the batches; snaps, when
// set, captures the snapshot a strict deployment takes first (without it a
// strict deployment is refused).
func New(rt *actor.Runtime, coord *coordination.Layer, snaps Snapshotter) *Layer {
	l := &Layer{rt: rt, coord: coord, snaps: snaps}
	l.conv = newConverger(l)
	return l
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "deploy" }

// Attach implements node.Plugin.
func (l *Layer) Attach(n node.Host) error {
	l.node = n
	l.logger = n.Logger().Named("deploy")
	pb.RegisterDeploymentsServer(n.Server().GRPC(), &service{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{CodeTargets: l.codeTargets, VerifyCode: l.verifyCode})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.converge(ctx)
	}()
	n.OnShutdown(func() {
		cancel()
		<-done
	})
	return nil
}

// codeTargets lists this node's workers running module.
func (l *Layer) codeTargets(_ context.Context, req *pb.CodeTargetsRequest) (*pb.CodeTargetsResponse, error) {
	out := &pb.CodeTargetsResponse{}
	sandboxed := sandboxedTrees(l.rt)
	for _, p := range l.rt.Processes() {
		if p.Supervisor {
			continue
		}
		name, version, ok := store.ParseBehavior(p.Behavior)
		if !ok || name != req.Module {
			continue
		}
		sb := sandboxed(p.Tree)
		out.Targets = append(out.Targets, &pb.CodeTarget{
			Pid: p.PID.String(), Node: l.node.Name(), Tree: p.Tree, ChildId: p.ChildID,
			Behavior: p.Behavior, Version: version, ModuleRef: p.Module, Sandboxed: sb, Status: string(p.Status),
		})
	}
	return out, nil
}

// sandboxedTrees reports whether a tree of this node runs in a sandbox,
// asking the runtime once per tree ("" is no tree: false).
func sandboxedTrees(rt *actor.Runtime) func(tree string) bool {
	seen := map[string]bool{}
	return func(tree string) bool {
		if tree == "" {
			return false
		}
		sb, ok := seen[tree]
		if !ok {
			_, err := rt.SandboxStatus(tree)
			sb = err == nil
			seen[tree] = sb
		}
		return sb
	}
}

// gather asks every alive node for its workers running module. A node
// that is alive and does not answer refuses the deployment: its share
// would be left out.
func (l *Layer) gather(ctx context.Context, module string) ([]*pb.CodeTarget, error) {
	nodes := l.node.AliveNodes()
	sort.Strings(nodes)
	req := &pb.CodeTargetsRequest{Module: module}
	parts, errs := transport.AskNodes(ctx, l.node, nodes, 5*time.Second,
		func(ctx context.Context, _ string) (*pb.CodeTargetsResponse, error) { return l.codeTargets(ctx, req) },
		func(ctx context.Context, _ string, c pb.InternalClient) (*pb.CodeTargetsResponse, error) {
			return c.CodeTargets(ctx, req)
		})
	var out []*pb.CodeTarget
	for i, n := range nodes {
		if errs[i] != nil {
			return nil, fmt.Errorf("node %s did not list its processes: %w", n, errs[i])
		}
		out = append(out, parts[i].Targets...)
	}
	return out, nil
}

// Submit plans and commits a deployment from within the leader (another
// layer's request, such as a checkpoint rollback), exactly as the
// Deployments service's Submit does; a dry run answers nil.
func (l *Layer) Submit(ctx context.Context, req *pb.DeployRequest) (*pb.DeploymentRecord, error) {
	d, _, err := l.submit(ctx, req)
	return d, err
}

// submit plans and commits a deployment, on the leader.
func (l *Layer) submit(ctx context.Context, req *pb.DeployRequest) (*pb.DeploymentRecord, *plan.Result, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{transport.ErrInvalidRequest}, args...)...)
	}
	safety := req.Safety
	if safety == "" {
		safety = "moderate"
	}
	if safety != "strict" && safety != "moderate" && safety != "permissive" {
		return nil, nil, bad("safety %q is not strict, moderate or permissive", safety)
	}
	opts, err := options(req)
	if err != nil {
		return nil, nil, bad("%v", err)
	}
	sel, err := ParseSelector(req.Targets)
	if err != nil {
		return nil, nil, bad("%v", err)
	}
	mods, err := l.modules(append([]string{req.Module}, req.Also...))
	if err != nil {
		return nil, nil, err
	}
	p := &plan.Plan{SafetyLevel: plan.SafetyLevel(safety), Timeout: Lifetime.String()}
	total := 0
	for k, m := range mods {
		all, err := l.gather(ctx, m.Module)
		if err != nil {
			return nil, nil, err
		}
		targets, err := pick(all, sel, m.Module, m.Version)
		if err != nil {
			return nil, nil, err
		}
		if total += len(targets); total > MaxTargets {
			return nil, nil, bad("%d processes match, more than the limit of %d per deployment; narrow --targets", total, MaxTargets)
		}
		canary := 0
		if k == 0 {
			canary = int(opts.Canary)
			if canary > len(targets) {
				return nil, nil, bad("canary %d is more than the %d targets of %s", opts.Canary, len(targets), m.Module)
			}
		}
		to := store.BehaviorName(m.Module, m.Version)
		froms := map[string]bool{}
		for _, t := range targets {
			froms[t.Version] = true
			p.Operations = append(p.Operations, plan.Operation{
				ID: fmt.Sprintf("up-%d", len(p.Operations)), Type: plan.UpgradeCode, Node: t.Node, Target: plan.Target{PID: t.Pid},
				Params: plan.Params{Behavior: to, From: t.Behavior, Revert: m.RevertMode, Slot: slotOf(t)},
			})
		}
		m.FromVersions = slices.Sorted(maps.Keys(froms))
		m.Targets = uint32(len(targets))
		// One module's batches after another's, in dependency order.
		p.Batches = append(p.Batches, batches(len(targets), canary, int(opts.MaxParallel), safety)...)
	}
	if safety != "permissive" {
		p.Health = &plan.HealthGate{MinHealthyMS: opts.MinHealthyTimeMs, HealthyDeadlineMS: opts.HealthyDeadlineMs,
			MaxQueueLength: HealthyMaxQueue, ProbeFactor: ProbeFactor, ProbeSlackMS: ProbeSlack.Milliseconds()}
	}
	id := newID()
	now := time.Now()
	pc, res, err := l.coord.PlanDeployment(ctx, p, id, now.Add(Lifetime), time.Duration(opts.ProgressDeadlineMs)*time.Millisecond)
	if err != nil {
		return nil, res, err
	}
	if req.DryRun {
		return nil, res, nil
	}
	var snapshotID string
	if safety == "strict" {
		if l.snaps == nil {
			return nil, res, bad("a strict deployment takes a cluster snapshot first, and this cluster runs no snapshot layer")
		}
		sid, st, err := l.snaps.CaptureAndWait(ctx)
		if err != nil {
			return nil, res, fmt.Errorf("strict: the cluster snapshot before the deployment: %w", err)
		}
		if st != state.SnapshotComplete {
			return nil, res, fmt.Errorf("strict: the cluster snapshot %s before the deployment is %s, not complete; nothing was deployed", sid, st)
		}
		snapshotID = sid
	}
	first := mods[0]
	rec := &pb.DeploymentRecord{
		Id: id, Module: first.Module, Version: first.Version, FromVersions: first.FromVersions, RevertMode: first.RevertMode,
		Targets: first.Targets, MovesActive: first.MovesActive, Also: mods[1:],
		Safety: safety, Options: opts, SubmittedBy: l.node.Name(), SnapshotId: snapshotID,
	}
	if opts.Canary > 0 {
		rec.CanaryPhases = 1
	}
	out, err := l.node.Server().Apply(ctx, pb.CommandType_COMMAND_TYPE_DEPLOY_CREATE, &pb.DeployCreateCommand{Deployment: rec, Plan: pc})
	if err != nil {
		return nil, res, err
	}
	if d, ok := out.Value.(*pb.DeploymentRecord); ok {
		return d, res, nil
	}
	return rec, res, nil
}

// modules reads the NAME@VERSION refs of a deployment: each stored, named
// once, ordered by their manifests' dependencies (a dependency first),
// with how each is reverted (down when the new version declares
// downgrade, else by the captured states).
func (l *Layer) modules(refs []string) ([]*pb.DeployModule, error) {
	st := l.node.State()
	var mods []*pb.DeployModule
	var mans []*hotcode.Manifest
	seen := map[string]bool{}
	for _, ref := range refs {
		name, version, ok := strings.Cut(ref, "@")
		if !ok || name == "" || version == "" {
			return nil, fmt.Errorf("%w: module %q is not NAME@VERSION", transport.ErrInvalidRequest, ref)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: module %s is named twice", transport.ErrInvalidRequest, name)
		}
		seen[name] = true
		v, err := st.ModuleVersion(name, version)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("%w: module %s@%s is not stored (steward module push)", state.ErrNotFound, name, version)
		}
		man, err := hotcode.ParseManifest(v.ManifestJson)
		if err != nil {
			return nil, fmt.Errorf("module %s@%s: its manifest: %w", name, version, err)
		}
		m := &pb.DeployModule{Module: name, Version: version, RevertMode: plan.RevertRestore}
		if man.SupportsDowngrade {
			m.RevertMode = plan.RevertDown
		}
		active, err := st.ModuleActive(name)
		if err != nil {
			return nil, err
		}
		m.MovesActive = active == nil || active.Version != version
		mods, mans = append(mods, m), append(mans, man)
	}
	out := make([]*pb.DeployModule, 0, len(mods))
	for _, i := range hotcode.DependencyOrder(mans) {
		out = append(out, mods[i])
	}
	return out, nil
}

// pick selects the targets among the workers running the module: with no
// selector, those whose spec follows the module's active version, outside
// sandboxes; with one, every worker it matches. Processes already on the
// version are left out. Sorted by node, tree, child path and pid.
func pick(all []*pb.CodeTarget, sel Selector, name, version string) ([]*pb.CodeTarget, error) {
	var out []*pb.CodeTarget
	matched := 0
	for _, t := range all {
		if sel.Empty() {
			if t.ModuleRef != name || t.Sandboxed {
				continue
			}
		} else if !sel.Match(t) {
			continue
		}
		matched++
		if t.Version != version {
			out = append(out, t)
		}
	}
	switch {
	case matched == 0 && sel.Empty():
		return nil, fmt.Errorf("%w: no process follows module %s's active version (a spec with module = %q); name pinned or sandboxed ones with --targets", transport.ErrInvalidRequest, name, name)
	case matched == 0:
		return nil, fmt.Errorf("%w: --targets matches no process running module %s", transport.ErrInvalidRequest, name)
	case len(out) == 0:
		return nil, fmt.Errorf("%w: every matching process already runs %s@%s", transport.ErrInvalidRequest, name, version)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Tree != b.Tree {
			return a.Tree < b.Tree
		}
		if a.ChildId != b.ChildId {
			return a.ChildId < b.ChildId
		}
		return a.Pid < b.Pid
	})
	return out, nil
}

// slotOf is a supervised target's slot, "tree/child/path".
func slotOf(t *pb.CodeTarget) string {
	if t.Tree == "" || t.ChildId == "" {
		return ""
	}
	return t.Tree + "/" + t.ChildId
}

// batches sizes the phases: the canaries, then max_parallel at a time
// (permissive: the rest at once).
func batches(n, canary, maxPar int, safety string) []int {
	var out []int
	if canary > 0 {
		out = append(out, canary)
		n -= canary
	}
	if safety == "permissive" || maxPar <= 0 {
		maxPar = n
	}
	for n > 0 {
		b := min(maxPar, n)
		out = append(out, b)
		n -= b
	}
	return out
}

// options fills the defaults and checks the ranges.
func options(req *pb.DeployRequest) (*pb.DeployOptions, error) {
	o := &pb.DeployOptions{}
	if req.Options != nil {
		o.MaxParallel, o.Canary, o.AutoRevert, o.AutoPromote = req.Options.MaxParallel, req.Options.Canary, req.Options.AutoRevert, req.Options.AutoPromote
		o.MinHealthyTimeMs, o.HealthyDeadlineMs, o.ProgressDeadlineMs = req.Options.MinHealthyTimeMs, req.Options.HealthyDeadlineMs, req.Options.ProgressDeadlineMs
	}
	if !req.HasMaxParallel {
		o.MaxParallel = Defaults.MaxParallel
	}
	if !req.HasMinHealthyTime {
		o.MinHealthyTimeMs = Defaults.MinHealthyTimeMs
	}
	if !req.HasHealthyDeadline {
		o.HealthyDeadlineMs = Defaults.HealthyDeadlineMs
	}
	if !req.HasProgressDeadline {
		o.ProgressDeadlineMs = Defaults.ProgressDeadlineMs
	}
	maxMS := MaxDeadline.Milliseconds()
	switch {
	case o.MaxParallel < 1:
		return nil, fmt.Errorf("max_parallel must be at least 1")
	case o.MaxParallel > MaxTargets:
		return nil, fmt.Errorf("max_parallel %d is more than %d", o.MaxParallel, MaxTargets)
	case o.MinHealthyTimeMs < 0 || o.HealthyDeadlineMs <= 0 || o.ProgressDeadlineMs <= 0:
		return nil, fmt.Errorf("min_healthy_time must not be negative, healthy_deadline and progress_deadline must be positive")
	case o.HealthyDeadlineMs > maxMS || o.ProgressDeadlineMs > maxMS:
		return nil, fmt.Errorf("healthy_deadline and progress_deadline are at most %s", MaxDeadline)
	case o.MinHealthyTimeMs >= o.HealthyDeadlineMs:
		return nil, fmt.Errorf("min_healthy_time (%s) must be less than healthy_deadline (%s)", ms(o.MinHealthyTimeMs), ms(o.HealthyDeadlineMs))
	case o.ProgressDeadlineMs <= o.HealthyDeadlineMs:
		return nil, fmt.Errorf("progress_deadline (%s) must be more than healthy_deadline (%s)", ms(o.ProgressDeadlineMs), ms(o.HealthyDeadlineMs))
	}
	return o, nil
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "deploy-" + hex.EncodeToString(b[:])
}
