package supervision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/transport"
)

// supervisorNode is the node that runs the tree a supervisor request names.
func (l *Layer) supervisorNode(req *pb.SupervisorRequest) (string, error) {
	if req.Tree == "" {
		return "", fmt.Errorf("%w: tree name is empty", transport.ErrInvalidRequest)
	}
	if req.Node != "" {
		return req.Node, nil
	}
	return l.treeNode(req.Tree)
}

// restartSupervisor restarts a tree's root (the whole tree, from the spec
// the runtime last applied, keeping its tracing) or a nested supervisor
// (terminated and restarted by its parent, with its children).
func (l *Layer) restartSupervisor(ctx context.Context, req *pb.SupervisorRequest) (*pb.OpResponse, error) {
	ctx, cancel := l.opContext(ctx)
	defer cancel()
	if req.Path == "" {
		return l.restartTree(ctx, req.Tree)
	}
	return l.restartNested(ctx, req.Tree, req.Path)
}

func (l *Layer) restartTree(ctx context.Context, tree string) (*pb.OpResponse, error) {
	ti, err := l.rt.Tree(tree)
	if err != nil {
		return nil, err
	}
	if err := l.rt.StopTree(ctx, tree); err != nil {
		return nil, fmt.Errorf("restart tree %q: stop: %w", tree, err)
	}
	if err := l.rt.ApplyTree(ctx, ti.Spec); err != nil {
		return nil, fmt.Errorf("restart tree %q: start: %w", tree, err)
	}
	if ti.Tracing.Flow || ti.Tracing.History {
		if err := l.rt.SetTracing(tree, ti.Tracing); err != nil {
			return nil, fmt.Errorf("restart tree %q: tracing: %w", tree, err)
		}
	}
	now, err := l.rt.Tree(tree)
	if err != nil {
		return nil, err
	}
	return &pb.OpResponse{Pid: now.Root.String(), Detail: fmt.Sprintf("tree %s restarted (was %s, root %s)", tree, ti.Status, ti.Root)}, nil
}

func (l *Layer) restartNested(ctx context.Context, tree, path string) (*pb.OpResponse, error) {
	parentPath, id := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		parentPath, id = path[:i], path[i+1:]
	}
	parent, err := l.rt.Resolve(actor.Target{Tree: tree, Path: parentPath})
	if err != nil {
		return nil, err
	}
	kids, err := l.rt.WhichChildren(parent)
	if err != nil {
		return nil, err
	}
	var child *actor.ChildInfo
	for i := range kids {
		if kids[i].ID == id {
			child = &kids[i]
		}
	}
	switch {
	case child == nil:
		return nil, fmt.Errorf("%w: %s/%s", actor.ErrChildNotFound, tree, path)
	case child.Type != spec.Supervisor:
		return nil, fmt.Errorf("%w: %s/%s is a worker (%s); kill it to have it restarted", actor.ErrNotSupervisor, tree, path, child.Behavior)
	case child.Dynamic:
		return nil, fmt.Errorf("%w: %s/%s is a simple_one_for_one instance", actor.ErrNotSupported, tree, path)
	}
	// In place: a temporary supervisor's spec would be deleted by a
	// terminate_child.
	pid, err := l.rt.RestartInPlace(ctx, parent, id)
	if err != nil {
		return nil, fmt.Errorf("restart %s/%s: %w", tree, path, err)
	}
	return &pb.OpResponse{Pid: pid.String(), Detail: fmt.Sprintf("supervisor %s/%s restarted by %s", tree, path, parent)}, nil
}

func (l *Layer) setTracing(_ context.Context, req *pb.SetTracingRequest) (*pb.OpResponse, error) {
	tr := actor.Tracing{Flow: req.Flow, History: req.History, HistoryInterval: time.Duration(req.HistoryIntervalMs) * time.Millisecond}
	if err := l.rt.SetTracing(req.Tree, tr); err != nil {
		return nil, err
	}
	ti, err := l.rt.Tree(req.Tree)
	if err != nil {
		return nil, err
	}
	return &pb.OpResponse{Pid: pidString(ti.Root), Detail: fmt.Sprintf("tree %s on %s: flow %s, history %s",
		req.Tree, l.node.Name(), onOff(req.Flow), onOff(req.History))}, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (l *Layer) flow(_ context.Context, req *pb.SupervisorRequest) (*pb.FlowResponse, error) {
	g, err := l.rt.FlowGraph(req.Tree)
	if err != nil {
		return nil, err
	}
	return flowToPB(g, l.node.Name()), nil
}
