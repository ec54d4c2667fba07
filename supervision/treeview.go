package supervision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
)

// treeNode returns the node a committed tree is placed on.
func (l *Layer) treeNode(ctx context.Context, tree string) (string, error) {
	rec, err := l.node.State().Tree(tree)
	if err != nil {
		return "", err
	}
	if rec == nil {
		// A client agent holds only its own trees: its server knows the
		// others'.
		if nodeName, ok, err := l.serverTreeNode(ctx, tree); err != nil || ok {
			return nodeName, err
		}
		// Not committed (a tree started by a plan or a test): look locally.
		return l.node.Name(), nil
	}
	return rec.Node, nil
}

// serverTreeNode asks, on a client agent, the server it streams from where
// a tree is placed (a stale read of the server's replica: it routes a
// request, like a server's own replica would); ok is false on a server,
// and for a tree the server does not know either.
func (l *Layer) serverTreeNode(ctx context.Context, tree string) (nodeName string, ok bool, err error) {
	addr, err := l.node.Server().Backend().StaleReadsFrom()
	if err != nil || addr == "" {
		return "", false, err
	}
	conn, err := l.node.Pool().Get(addr)
	if err != nil {
		return "", false, err
	}
	// The caller's context: its ACL token goes with the question (the
	// pool's interceptor forwards it), as it would with the request.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := pb.NewSupervisionClient(conn).ListTrees(ctx, &pb.ListTreesRequest{Name: tree, Read: &pb.ReadOptions{Stale: true}})
	if err != nil {
		return "", false, transport.FromStatus(err)
	}
	for _, t := range resp.Trees {
		if t.Name == tree {
			return t.Node, true, nil
		}
	}
	return "", false, nil
}

// treeView describes a tree live, on the node that runs it. With nodeName
// empty the committed placement decides; full adds the children.
func (l *Layer) treeView(ctx context.Context, nodeName, tree, path string, full bool) (*pb.TreeViewResponse, error) {
	if nodeName == "" {
		var err error
		if nodeName, err = l.treeNode(ctx, tree); err != nil {
			return nil, err
		}
	}
	c, err := l.peer(nodeName)
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c.TreeView(ctx, &pb.SupervisorRequest{Tree: tree, Path: path, Full: full})
	}
	return l.localTreeView(tree, path, full)
}

func (l *Layer) localTreeView(tree, path string, full bool) (*pb.TreeViewResponse, error) {
	resp := &pb.TreeViewResponse{Tree: tree, Node: l.node.Name(), AppliedIndex: l.AppliedIndex(tree)}
	resp.Restore = l.rec.restoreOutcome(tree, resp.AppliedIndex)
	ti, err := l.rt.Tree(tree)
	if errors.Is(err, actor.ErrTreeNotFound) {
		resp.Status = "absent"
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	resp.Status, resp.Processes, resp.Reason = string(ti.Status), uint32(ti.Processes), string(ti.Reason)
	root := &pb.TreeNode{Id: tree, Pid: pidString(ti.Root), Type: "supervisor", State: string(ti.Status), Strategy: string(ti.Spec.Strategy)}
	if path != "" {
		pid, err := l.rt.Resolve(actor.Target{Tree: tree, Path: path})
		if err != nil {
			return nil, err
		}
		root = &pb.TreeNode{Id: path[strings.LastIndex(path, "/")+1:], Pid: pid.String(), Type: "supervisor", State: "running"}
	}
	if pol, err := l.rt.SupervisorPolicy(mustPID(root.Pid)); err == nil {
		root.Strategy = string(pol.Strategy)
	}
	resp.Root = root
	if full && ti.Status == actor.TreeRunning {
		if err := l.fillChildren(root, 0); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func mustPID(s string) actor.PID {
	p, _ := actor.ParsePID(s)
	return p
}

func pidString(p actor.PID) string {
	if p.IsZero() {
		return ""
	}
	return p.String()
}

// fillChildren adds a supervisor's children, recursively.
func (l *Layer) fillChildren(n *pb.TreeNode, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%w: tree deeper than 32 levels", transport.ErrInvalidRequest)
	}
	kids, err := l.rt.WhichChildren(mustPID(n.Pid))
	if err != nil {
		// The supervisor may have restarted under us; show what we have.
		return nil
	}
	for _, k := range kids {
		c := &pb.TreeNode{
			Id: k.ID, Pid: pidString(k.PID), Type: string(k.Type), Behavior: k.Behavior, State: k.State,
			Restarts: uint32(k.Restarts), Restart: string(k.Restart), Dynamic: k.Dynamic,
		}
		if k.Type == "supervisor" && !k.PID.IsZero() {
			if pol, err := l.rt.SupervisorPolicy(k.PID); err == nil {
				c.Strategy = string(pol.Strategy)
			}
			if err := l.fillChildren(c, depth+1); err != nil {
				return err
			}
		}
		n.Children = append(n.Children, c)
	}
	return nil
}

// TreeView describes a tree live; forwarded to the node that runs it.
func (s *runtimeService) TreeView(ctx context.Context, req *pb.SupervisorRequest) (*pb.TreeViewResponse, error) {
	if req.Tree == "" {
		return nil, transport.ToStatus(fmt.Errorf("%w: tree name is empty", transport.ErrInvalidRequest))
	}
	nodeName := req.Node
	if nodeName == "" {
		var err error
		if nodeName, err = s.l.treeNode(ctx, req.Tree); err != nil {
			return nil, transport.ToStatus(err)
		}
	}
	return onNode(ctx, s.l, nodeName, req,
		func(ctx context.Context, c pb.RuntimeClient, r *pb.SupervisorRequest) (*pb.TreeViewResponse, error) {
			return c.TreeView(ctx, r)
		},
		func(_ context.Context, r *pb.SupervisorRequest) (*pb.TreeViewResponse, error) {
			return s.l.localTreeView(r.Tree, r.Path, r.Full)
		})
}
