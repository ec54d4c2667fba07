package supervision

import (
	"context"
	"fmt"
	"strings"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// forwardedKey marks a Runtime request forwarded by another node: the
// receiver answers it itself, even if its own replica places the tree
// elsewhere, so a request never bounces between nodes that disagree.
const forwardedKey = "steward-runtime-forwarded"

func forwarded(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(forwardedKey)) > 0
}

func forwardContext(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, forwardedKey, "1")
}

// onNode runs a request on nodeName: here when it names this node (or the
// request was already forwarded), else through that node's Runtime service.
// Errors come back as gRPC statuses.
func onNode[Req, Resp any](ctx context.Context, l *Layer, nodeName string, req Req,
	remote func(context.Context, pb.RuntimeClient, Req) (Resp, error),
	local func(context.Context, Req) (Resp, error),
) (Resp, error) {
	var zero Resp
	if forwarded(ctx) {
		nodeName = ""
	}
	c, err := l.peer(nodeName)
	if err != nil {
		return zero, transport.ToStatus(err)
	}
	if c != nil {
		resp, err := remote(forwardContext(ctx), c, req)
		if err != nil {
			return zero, peerError(nodeName, err)
		}
		return resp, nil
	}
	resp, err := local(ctx, req)
	if err != nil {
		return zero, transport.ToStatus(err)
	}
	return resp, nil
}

// onProcess is onNode for a request about one process: it runs on the node
// that owns the process ref names.
func onProcess[Req, Resp any](ctx context.Context, l *Layer, ref *pb.ProcessRef, req Req,
	remote func(context.Context, pb.RuntimeClient, Req) (Resp, error),
	local func(context.Context, Req) (Resp, error),
) (Resp, error) {
	nodeName, err := l.refNode(ctx, ref)
	if err != nil {
		var zero Resp
		return zero, transport.ToStatus(err)
	}
	return onNode(ctx, l, nodeName, req, remote, local)
}

// peerError says which node failed when the connection to it did, so the
// CLI does not blame the agent it talks to.
func peerError(nodeName string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return transport.ToStatus(err)
	}
	msg := st.Message()
	if st.Code() == codes.Unavailable && (strings.Contains(msg, "dial") || strings.Contains(msg, "connection")) {
		return status.Errorf(codes.Unavailable, "node %s is unreachable (its gRPC connection failed)", nodeName)
	}
	return err
}

// refNode says which node owns the process a ref names: the node part of a
// PID, the node given with a registered name, or the node the replicated
// state places a tree on (unless the ref names one).
func (l *Layer) refNode(ctx context.Context, ref *pb.ProcessRef) (string, error) {
	if _, err := refTarget(ref); err != nil {
		return "", err
	}
	switch {
	case ref.Pid != "":
		pid, _ := actor.ParsePID(ref.Pid)
		if ref.Node != "" && ref.Node != pid.Node {
			return "", fmt.Errorf("%w: pid %s is not on node %s", actor.ErrBadTarget, pid, ref.Node)
		}
		return pid.Node, nil
	case ref.Name != "":
		if ref.Node == "" {
			return "", fmt.Errorf("%w: registered name %q needs a node (names are per node)", actor.ErrBadTarget, ref.Name)
		}
		return ref.Node, nil
	case ref.Node != "":
		return ref.Node, nil
	default:
		return l.treeNode(ctx, ref.Tree)
	}
}

// refTarget checks a ref's syntax and turns it into a runtime target.
func refTarget(ref *pb.ProcessRef) (actor.Target, error) {
	if ref == nil {
		return actor.Target{}, fmt.Errorf("%w: no process named: set a pid, a name (with its node) or a tree", actor.ErrBadTarget)
	}
	set := 0
	for _, s := range []string{ref.Pid, ref.Name, ref.Tree} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return actor.Target{}, fmt.Errorf("%w: set exactly one of pid, name or tree", actor.ErrBadTarget)
	}
	if ref.Path != "" && ref.Tree == "" {
		return actor.Target{}, fmt.Errorf("%w: a path %q needs a tree", actor.ErrBadTarget, ref.Path)
	}
	switch {
	case ref.Pid != "":
		pid, err := actor.ParsePID(ref.Pid)
		if err != nil {
			return actor.Target{}, fmt.Errorf("%w: %w", actor.ErrBadTarget, err)
		}
		return actor.Target{PID: pid}, nil
	case ref.Name != "":
		if !spec.ValidRegisteredName(ref.Name) {
			return actor.Target{}, fmt.Errorf("%w: %q is not a valid registered name", actor.ErrBadTarget, ref.Name)
		}
		return actor.Target{Name: ref.Name}, nil
	default:
		t := "tree:" + ref.Tree
		if ref.Path != "" {
			t += "/" + ref.Path
		}
		return actor.ParseTarget(t)
	}
}

// resolve finds the live local process a ref names.
func (l *Layer) resolve(ref *pb.ProcessRef) (actor.PID, error) {
	t, err := refTarget(ref)
	if err != nil {
		return actor.PID{}, err
	}
	return l.rt.Resolve(t)
}
