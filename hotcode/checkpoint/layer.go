package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/hotcode/deploy"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
)

// Limits.
const (
	// MaxCheckpoints is how many checkpoints are kept; creating one more
	// is refused until one is deleted.
	MaxCheckpoints = 50
	// MaxStateBytes bounds the captured states of one checkpoint (bytes,
	// all processes together): the record travels in one Raft entry and
	// one gRPC answer (transport.MaxMessageSize, 16 MiB, with room for
	// the rest).
	MaxStateBytes = 8 << 20
	// MaxNameLen bounds a checkpoint's name.
	MaxNameLen = 64
	// gatherTimeout bounds one node's answer to CheckpointStates.
	gatherTimeout = 10 * time.Second
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

// Layer is the checkpoint layer of one node.
type Layer struct {
	rt     *actor.Runtime
	coord  *coordination.Layer
	deploy *deploy.Layer
	node   cluster
	logger hclog.Logger
}

// New returns the layer; dep runs the rollback deployments, coord the
// plans that put states back.
func New(rt *actor.Runtime, coord *coordination.Layer, dep *deploy.Layer) *Layer {
	return &Layer{rt: rt, coord: coord, deploy: dep}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "checkpoint" }

// Attach implements node.Plugin.
func (l *Layer) Attach(n node.Host) error {
	l.node = n
	l.logger = n.Logger().Named("checkpoint")
	pb.RegisterCheckpointsServer(n.Server().GRPC(), &service{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{CheckpointStates: l.states})
	return nil
}

// MaxProcessStateBytes is the largest state of one process a checkpoint
// takes: the runtime's message limit, and at most what a replace_state
// operation carries (plan.MaxStateBytes), since a rollback puts it back
// through one.
func (l *Layer) MaxProcessStateBytes() uint64 {
	return uint64(min(l.rt.Config().MaxMessageBytes, plan.MaxStateBytes))
}

// states lists this node's workers running the modules, with their
// states when asked. A process that exits meanwhile is left out; a state
// over the limit refuses the checkpoint.
func (l *Layer) states(ctx context.Context, req *pb.CheckpointStatesRequest) (*pb.CheckpointStatesResponse, error) {
	want := map[string]bool{}
	for _, m := range req.Modules {
		want[m] = true
	}
	out := &pb.CheckpointStatesResponse{}
	sandboxed := map[string]bool{}
	for _, p := range l.rt.Processes() {
		if p.Supervisor {
			continue
		}
		name, version, ok := store.ParseBehavior(p.Behavior)
		if !ok || !want[name] {
			continue
		}
		sb, seen := sandboxed[p.Tree]
		if !seen && p.Tree != "" {
			_, err := l.rt.SandboxStatus(p.Tree)
			sb = err == nil
			sandboxed[p.Tree] = sb
		}
		cp := &pb.CheckpointProcess{Pid: p.PID.String(), Node: l.node.Name(), Tree: p.Tree, ChildId: p.ChildID,
			Module: name, Version: version, ModuleRef: p.Module, Sandboxed: sb}
		if req.WithState {
			sctx, cancel := context.WithTimeout(ctx, gatherTimeout)
			st, err := l.rt.GetState(sctx, p.PID)
			cancel()
			if errors.Is(err, actor.ErrNoProc) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("the state of %s (%s) could not be read: %w", p.PID, p.Behavior, err)
			}
			if uint64(len(st)) > req.MaxProcessStateBytes {
				return nil, fmt.Errorf("%w: the state of %s (%s) is %d bytes, the limit is %d per process", state.ErrLimit, p.PID, p.Behavior, len(st), req.MaxProcessStateBytes)
			}
			cp.State, cp.StateBytes = st, uint64(len(st))
		}
		out.Processes = append(out.Processes, cp)
	}
	return out, nil
}

// gather asks every alive node for its workers running the modules. A
// node that is alive and does not answer refuses the checkpoint: its
// share would be left out.
func (l *Layer) gather(ctx context.Context, modules []string, withState bool) ([]*pb.CheckpointProcess, error) {
	nodes := l.node.AliveNodes()
	sort.Strings(nodes)
	req := &pb.CheckpointStatesRequest{Modules: modules, WithState: withState, MaxProcessStateBytes: l.MaxProcessStateBytes()}
	parts, errs := transport.AskNodes(ctx, l.node, nodes, 2*gatherTimeout,
		func(ctx context.Context, _ string) (*pb.CheckpointStatesResponse, error) { return l.states(ctx, req) },
		func(ctx context.Context, _ string, c pb.InternalClient) (*pb.CheckpointStatesResponse, error) {
			return c.CheckpointStates(ctx, req)
		})
	var out []*pb.CheckpointProcess
	for i, n := range nodes {
		if errs[i] != nil {
			return nil, fmt.Errorf("node %s did not list its processes: %w", n, errs[i])
		}
		out = append(out, parts[i].Processes...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].Pid < out[j].Pid
	})
	return out, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{transport.ErrInvalidRequest}, args...)...)
}

// create reads the active versions, gathers the states and commits the
// checkpoint, on the leader.
func (l *Layer) create(ctx context.Context, req *pb.CreateCheckpointRequest) (*pb.CheckpointRecord, error) {
	if req.Name != "" && (len(req.Name) > MaxNameLen || !spec.ValidName(req.Name)) {
		return nil, bad("checkpoint name %q: letters, digits, '-', '_' and '.', at most %d", req.Name, MaxNameLen)
	}
	st := l.node.State()
	_, existing, err := st.Checkpoints(nil)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxCheckpoints {
		return nil, fmt.Errorf("%w: %d checkpoints are kept, the limit is %d; delete one first (steward checkpoint delete ID)", state.ErrLimit, len(existing), MaxCheckpoints)
	}
	for _, c := range existing {
		if req.Name != "" && (c.Name == req.Name || c.Id == req.Name) {
			return nil, bad("checkpoint %s is already named %q", c.Id, req.Name)
		}
	}
	names := append([]string(nil), req.Modules...)
	if len(names) == 0 {
		_, all, err := st.AllModuleVersions(nil)
		if err != nil {
			return nil, err
		}
		for _, v := range all {
			if len(names) == 0 || names[len(names)-1] != v.Name {
				names = append(names, v.Name)
			}
		}
		if len(names) == 0 {
			return nil, bad("no module is stored: nothing to checkpoint (steward module push)")
		}
	}
	sort.Strings(names)
	rec := &pb.CheckpointRecord{Id: newID(), Name: req.Name, WithState: req.WithState, CreatedBy: req.CreatedBy}
	for i, n := range names {
		if n == "" {
			return nil, bad("an empty module name")
		}
		if i > 0 && names[i-1] == n {
			return nil, bad("module %s named twice", n)
		}
		a, err := st.ModuleActive(n)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, fmt.Errorf("%w: module %q has no active version in the store%s", state.ErrNotFound, n, stored(st, n))
		}
		rec.Modules = append(rec.Modules, &pb.CheckpointModule{Name: n, Version: a.Version})
	}
	if req.WithState {
		procs, err := l.gather(ctx, names, true)
		if err != nil {
			return nil, err
		}
		var total uint64
		for _, p := range procs {
			total += p.StateBytes
		}
		if total > MaxStateBytes {
			return nil, fmt.Errorf("%w: the states of %d processes take %d bytes, the limit is %d per checkpoint; checkpoint fewer modules (--modules)", state.ErrLimit, len(procs), total, MaxStateBytes)
		}
		rec.Processes = procs
	}
	res, err := l.node.Server().Apply(ctx, pb.CommandType_COMMAND_TYPE_CHECKPOINT_CREATE, &pb.CheckpointCreateCommand{
		Checkpoint: rec, MaxCheckpoints: MaxCheckpoints, MaxStateBytes: MaxStateBytes, MaxProcessStateBytes: l.MaxProcessStateBytes()})
	if err != nil {
		return nil, err
	}
	if out, ok := res.Value.(*pb.CheckpointRecord); ok {
		return out, nil
	}
	return rec, nil
}

// stored is " (stored: a, b)" for the module's versions, or "".
func stored(st *state.Store, name string) string {
	_, vs, err := st.ModuleVersions(nil, name)
	if err != nil || len(vs) == 0 {
		return ""
	}
	s := " (stored versions:"
	for _, v := range vs {
		s += " " + v.Version
	}
	return s + ")"
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ckpt-" + hex.EncodeToString(b[:])
}
