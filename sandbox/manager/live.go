package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/state"
	"github.com/steward/steward/supervision"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// The live views of a sandbox are answered by the node that runs it: a
// node that receives one for a sandbox placed elsewhere forwards it there
// once (the request then names the node).

type liveFunc func(ctx context.Context, sb *pb.SandboxRecord, req *pb.SandboxLiveRequest) (any, error)

type remoteLive func(ctx context.Context, c pb.SandboxesClient, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error)

// live answers req on the sandbox's node: here with local, elsewhere
// through remote. The record is read consistently (on the leader, after a
// read barrier), so a view asked right after a create or a destroy
// answers for what was committed; the node it is forwarded to first waits
// until its own replica holds that record.
func (l *Layer) live(ctx context.Context, req *pb.SandboxLiveRequest, remote remoteLive, local liveFunc) (*pb.SandboxLiveResponse, error) {
	self := l.node.Name()
	var sb *pb.SandboxRecord
	if req.Node != "" {
		if req.Node != self {
			return nil, transport.ToStatus(fmt.Errorf("%w: a view of sandbox %q forwarded to %s reached %s", transport.ErrConflict, req.Name, req.Node, self))
		}
		var err error
		if sb, err = l.awaitRecord(ctx, req.Name, req.MinIndex); err != nil {
			return nil, transport.ToStatus(err)
		}
	} else {
		v, err := (&sandboxService{l: l}).Get(ctx, &pb.GetSandboxRequest{Name: req.Name})
		if err != nil {
			return nil, err
		}
		sb = v.Sandbox
	}
	if sb.Node != self {
		addr, ok := l.node.PeerGRPCAddr(sb.Node)
		if !ok {
			return nil, transport.ToStatus(fmt.Errorf("%w: sandbox %q runs on node %s, whose address is not known", transport.ErrNotFound, req.Name, sb.Node))
		}
		conn, err := l.node.Pool().Get(addr)
		if err != nil {
			return nil, transport.ToStatus(err)
		}
		fwd := proto.Clone(req).(*pb.SandboxLiveRequest)
		fwd.Node, fwd.MinIndex = sb.Node, sb.ModifyIndex
		return remote(ctx, pb.NewSandboxesClient(conn), fwd)
	}
	v, err := local(ctx, sb, req)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	s, err := toStruct(v)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	return &pb.SandboxLiveResponse{Node: self, View: s}, nil
}

// replicaWait bounds how long a node waits for its replica to catch up
// with a record another node read.
const replicaWait = 10 * time.Second

// awaitRecord returns the sandbox from this node's replica once it holds
// the record at modify index min or later. A record that is gone, or
// moved to another node, by then is answered as such.
func (l *Layer) awaitRecord(ctx context.Context, name string, min uint64) (*pb.SandboxRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, replicaWait)
	defer cancel()
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, _, _ = st.Sandboxes(ws, "")
		sb, err := st.Sandbox(name)
		if err != nil {
			return nil, err
		}
		if sb != nil && sb.ModifyIndex >= min {
			return sb, nil
		}
		if err := st.WaitChange(ctx, ws, time.Time{}); err != nil {
			if sb == nil {
				return nil, fmt.Errorf("%w: no sandbox %q on %s's replica (waited %s for index %d)", state.ErrNotFound, name, l.node.Name(), replicaWait, min)
			}
			return nil, fmt.Errorf("%w: sandbox %q: %s's replica is at modify index %d, not %d, after %s", transport.ErrConflict, name, l.node.Name(), sb.ModifyIndex, min, replicaWait)
		}
	}
}

// Inspection is `sandbox inspect`: the record's status and the runtime's
// usage against each limit.
type Inspection struct {
	Name      string               `json:"name"`
	Node      string               `json:"node"`
	Status    string               `json:"status"`
	Reason    string               `json:"reason,omitempty"`
	Running   bool                 `json:"running"`
	Tree      *actor.TreeInfo      `json:"tree,omitempty"`
	Sandbox   *actor.SandboxStatus `json:"sandbox,omitempty"`
	Processes []actor.ProcessInfo  `json:"processes"`
}

func (l *Layer) inspect(_ context.Context, sb *pb.SandboxRecord, _ *pb.SandboxLiveRequest) (any, error) {
	rt := l.sup.Runtime()
	out := Inspection{Name: sb.Name, Node: sb.Node, Status: sb.Status, Reason: sb.Reason, Processes: []actor.ProcessInfo{}}
	ti, err := rt.Tree(sb.Name)
	if err != nil {
		return out, nil // committed, not running here (yet, or any more)
	}
	out.Tree = &ti
	out.Running = ti.Status == actor.TreeRunning
	st, err := rt.SandboxStatus(sb.Name)
	if err != nil {
		return nil, fmt.Errorf("sandbox %q: its usage cannot be read: %w", sb.Name, err)
	}
	out.Sandbox = &st
	for _, p := range rt.Processes() {
		if p.Tree == sb.Name {
			out.Processes = append(out.Processes, p)
		}
	}
	return out, nil
}

// Violations is `sandbox violations`.
type Violations struct {
	Name       string                   `json:"name"`
	Node       string                   `json:"node"`
	Total      uint64                   `json:"total"`
	Violations []actor.SandboxViolation `json:"violations"`
}

func (l *Layer) violations(_ context.Context, sb *pb.SandboxRecord, _ *pb.SandboxLiveRequest) (any, error) {
	rt := l.sup.Runtime()
	vs, err := rt.SandboxViolations(sb.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: sandbox %q is not running on %s: %v", state.ErrNotFound, sb.Name, sb.Node, err)
	}
	st, err := rt.SandboxStatus(sb.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: sandbox %q is not running on %s: %v", state.ErrNotFound, sb.Name, sb.Node, err)
	}
	if vs == nil {
		vs = []actor.SandboxViolation{}
	}
	return Violations{Name: sb.Name, Node: sb.Node, Total: st.Violations, Violations: vs}, nil
}

func (s *sandboxService) Inspect(ctx context.Context, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
	return s.l.live(ctx, req, func(ctx context.Context, c pb.SandboxesClient, r *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
		return c.Inspect(ctx, r)
	}, s.l.inspect)
}

func (s *sandboxService) Violations(ctx context.Context, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
	return s.l.live(ctx, req, func(ctx context.Context, c pb.SandboxesClient, r *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
		return c.Violations(ctx, r)
	}, s.l.violations)
}

// observe reads the sandbox's records from the local runtime beside what
// was committed: its tree, policy and the module versions it may run.
func (l *Layer) observe(sb *pb.SandboxRecord) (sandbox.Observation, error) {
	t, p, err := supervision.DecodeSandbox(sb)
	if err != nil {
		return sandbox.Observation{}, err
	}
	allowed := map[string][]string{}
	for _, m := range sb.Modules {
		allowed[m.Name] = m.Versions
	}
	if _, err := l.sup.Runtime().Tree(sb.Name); err != nil {
		return sandbox.Observation{}, fmt.Errorf("%w: sandbox %q does not run on %s (%s): %v", state.ErrNotFound, sb.Name, sb.Node, sb.Status, err)
	}
	return sandbox.Observe(l.sup.Runtime(), sb.Name, *t, p, allowed)
}

func (l *Layer) interactions(_ context.Context, sb *pb.SandboxRecord, _ *pb.SandboxLiveRequest) (any, error) {
	obs, err := l.observe(sb)
	if err != nil {
		return nil, err
	}
	return sandbox.Interactions(obs), nil
}

func (l *Layer) verify(_ context.Context, sb *pb.SandboxRecord, _ *pb.SandboxLiveRequest) (any, error) {
	obs, err := l.observe(sb)
	if err != nil {
		return nil, err
	}
	return sandbox.Verify(obs), nil
}

func (l *Layer) trace(_ context.Context, sb *pb.SandboxRecord, req *pb.SandboxLiveRequest) (any, error) {
	kind, err := sandbox.ParseTraceKind(req.Type)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	d, err := sandbox.ReadTrace(l.sup.Runtime(), sb.Name, kind)
	if err != nil {
		return nil, fmt.Errorf("%w: sandbox %q on %s: %v", state.ErrNotFound, sb.Name, sb.Node, err)
	}
	return d, nil
}

func (s *sandboxService) Interactions(ctx context.Context, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
	return s.l.live(ctx, req, func(ctx context.Context, c pb.SandboxesClient, r *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
		return c.Interactions(ctx, r)
	}, s.l.interactions)
}

func (s *sandboxService) Trace(ctx context.Context, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
	return s.l.live(ctx, req, func(ctx context.Context, c pb.SandboxesClient, r *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
		return c.Trace(ctx, r)
	}, s.l.trace)
}

func (s *sandboxService) Verify(ctx context.Context, req *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
	return s.l.live(ctx, req, func(ctx context.Context, c pb.SandboxesClient, r *pb.SandboxLiveRequest) (*pb.SandboxLiveResponse, error) {
		return c.Verify(ctx, r)
	}, s.l.verify)
}
