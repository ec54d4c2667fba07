package supervision

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/transport"
)

// supervisorNode is the node that runs the tree a supervisor request names.
func (l *Layer) supervisorNode(ctx context.Context, req *pb.SupervisorRequest) (string, error) {
	if req.Tree == "" {
		return "", fmt.Errorf("%w: tree name is empty", transport.ErrInvalidRequest)
	}
	if req.Node != "" {
		return req.Node, nil
	}
	return l.treeNode(ctx, req.Tree)
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

// supervisorAt resolves a tree's root (path empty) or nested supervisor on
// this node.
func (l *Layer) supervisorAt(tree, path string) (actor.PID, error) {
	if _, err := l.rt.Tree(tree); err != nil {
		return actor.PID{}, err
	}
	return l.rt.Resolve(actor.Target{Tree: tree, Path: path})
}

// whichChildren is OTP's which_children, in its order: the child started
// last first.
func (l *Layer) whichChildren(_ context.Context, req *pb.SupervisorRequest) (*pb.WhichChildrenResponse, error) {
	pid, err := l.supervisorAt(req.Tree, req.Path)
	if err != nil {
		return nil, err
	}
	kids, err := l.rt.WhichChildren(pid)
	if err != nil {
		return nil, err
	}
	resp := &pb.WhichChildrenResponse{Tree: req.Tree, Node: l.node.Name(), Path: req.Path, SupervisorPid: pid.String(),
		Children: make([]*pb.SupervisedChild, 0, len(kids))}
	if pol, err := l.rt.SupervisorPolicy(pid); err == nil {
		resp.Strategy = string(pol.Strategy)
	}
	for i := len(kids) - 1; i >= 0; i-- {
		k := kids[i]
		resp.Children = append(resp.Children, &pb.SupervisedChild{
			Id: k.ID, Pid: pidString(k.PID), Type: string(k.Type), Behavior: k.Behavior, Module: k.Module,
			Restart: string(k.Restart), State: k.State, Restarts: uint32(k.Restarts), Dynamic: k.Dynamic,
		})
	}
	return resp, nil
}

func (l *Layer) countChildren(_ context.Context, req *pb.SupervisorRequest) (*pb.CountChildrenResponse, error) {
	pid, err := l.supervisorAt(req.Tree, req.Path)
	if err != nil {
		return nil, err
	}
	n, err := l.rt.CountChildren(pid)
	if err != nil {
		return nil, err
	}
	return &pb.CountChildrenResponse{Tree: req.Tree, Node: l.node.Name(), Path: req.Path, SupervisorPid: pid.String(),
		Specs: uint32(n.Specs), Active: uint32(n.Active), Supervisors: uint32(n.Supervisors), Workers: uint32(n.Workers)}, nil
}

func (l *Layer) getChildSpec(_ context.Context, req *pb.ChildSpecRequest) (*pb.ChildSpecResponse, error) {
	sup := req.GetSupervisor()
	if req.Id == "" {
		return nil, fmt.Errorf("%w: child id is empty", transport.ErrInvalidRequest)
	}
	pid, err := l.supervisorAt(sup.GetTree(), sup.GetPath())
	if err != nil {
		return nil, err
	}
	cs, err := l.rt.GetChildSpec(pid, req.Id)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", sup.GetTree(), joinPath(sup.GetPath(), req.Id), err)
	}
	body, err := json.Marshal(cs)
	if err != nil {
		return nil, err
	}
	return &pb.ChildSpecResponse{Tree: sup.GetTree(), Node: l.node.Name(), Path: sup.GetPath(), Id: req.Id, SpecJson: body}, nil
}

func joinPath(path, id string) string {
	if path == "" {
		return id
	}
	return path + "/" + id
}
