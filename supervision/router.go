package supervision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/runtime"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// router sends messages to processes on other nodes through their Runtime
// service's Deliver.
type router struct{ l *Layer }

var (
	_ runtime.Router        = (*router)(nil)
	_ runtime.CallRouter    = (*router)(nil)
	_ runtime.CheckedRouter = (*router)(nil)
)

func (r *router) conn(nodeName string) (*grpc.ClientConn, error) {
	addr, ok := r.l.node.PeerGRPCAddr(nodeName)
	if !ok {
		return nil, fmt.Errorf("%w: node %q is not a member of this cluster", runtime.ErrUnknownPID, nodeName)
	}
	return r.l.node.Pool().Get(addr)
}

func (r *router) deliver(ctx context.Context, to runtime.PID, msg runtime.Message, checked bool, timeout time.Duration) ([]byte, error) {
	c, err := r.conn(to.Node)
	if err != nil {
		return nil, err
	}
	req := &pb.DeliverRequest{
		To: to.String(), Kind: msg.Kind.String(), Body: msg.Body, Ref: msg.Ref, Checked: checked,
		TimeoutMs: uint32(timeout / time.Millisecond),
	}
	if !msg.From.IsZero() {
		req.From = msg.From.String()
	}
	resp, err := pb.NewRuntimeClient(c).Deliver(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.Reply, nil
}

// Route implements runtime.Router: an unchecked send (dropped silently if
// the target is gone, as a local send is).
func (r *router) Route(ctx context.Context, to runtime.PID, msg runtime.Message) error {
	_, err := r.deliver(ctx, to, msg, false, 0)
	return err
}

// RouteChecked implements runtime.CheckedRouter.
func (r *router) RouteChecked(ctx context.Context, to runtime.PID, msg runtime.Message) error {
	_, err := r.deliver(ctx, to, msg, true, 0)
	return err
}

// RouteCall implements runtime.CallRouter.
func (r *router) RouteCall(ctx context.Context, to runtime.PID, msg runtime.Message) ([]byte, error) {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return r.deliver(ctx, to, msg, true, timeout)
}

// deliverLocal is the receiving side of the router.
func (l *Layer) deliverLocal(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverResponse, error) {
	to, err := runtime.ParsePID(req.To)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	if to.Node != l.node.Name() {
		return nil, fmt.Errorf("%w: pid %s is not on node %s", transport.ErrInvalidRequest, to, l.node.Name())
	}
	kind, err := runtime.ParseKind(req.Kind)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	msg := runtime.Message{Kind: kind, Body: req.Body, Ref: req.Ref}
	if req.From != "" {
		if msg.From, err = runtime.ParsePID(req.From); err != nil {
			return nil, fmt.Errorf("%w: from: %v", transport.ErrInvalidRequest, err)
		}
	}
	switch {
	case kind == runtime.KindCall:
		cctx := ctx
		if req.TimeoutMs > 0 {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMs)*time.Millisecond)
			defer cancel()
		}
		reply, err := l.rt.Call(cctx, to, msg)
		if err != nil {
			return nil, err
		}
		return &pb.DeliverResponse{Reply: reply}, nil
	case req.Checked:
		return &pb.DeliverResponse{}, l.rt.SendChecked(to, msg)
	default:
		return &pb.DeliverResponse{}, l.rt.Send(to, msg)
	}
}

// fromStatus maps a remote runtime error back to the runtime's sentinels,
// so that callers test remote and local failures the same way.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, e := range runtimeCodes {
		if st.Code() == e.code && strings.Contains(st.Message(), e.err.Error()) {
			return fmt.Errorf("%w: %s", e.err, st.Message())
		}
	}
	return err
}

// runtimeCodes maps the runtime's sentinel errors to gRPC codes, both ways:
// the services answer with these codes, and the router turns a remote
// node's answer back into the same sentinel.
var runtimeCodes = []struct {
	err  error
	code codes.Code
}{
	{runtime.ErrNoProc, codes.NotFound},
	{runtime.ErrUnknownPID, codes.NotFound},
	{runtime.ErrNameNotFound, codes.NotFound},
	{runtime.ErrTreeNotFound, codes.NotFound},
	{runtime.ErrChildNotFound, codes.NotFound},
	{runtime.ErrMailboxFull, codes.ResourceExhausted},
	{runtime.ErrMessageTooLarge, codes.InvalidArgument},
	{runtime.ErrCallTimeout, codes.DeadlineExceeded},
	{runtime.ErrBadTarget, codes.InvalidArgument},
	{runtime.ErrBadPID, codes.InvalidArgument},
	{runtime.ErrBadKind, codes.InvalidArgument},
	{runtime.ErrBadArgs, codes.InvalidArgument},
	{runtime.ErrInvalidSpec, codes.InvalidArgument},
	{runtime.ErrRemoteUnsupported, codes.InvalidArgument},
	{runtime.ErrNotSupervisor, codes.FailedPrecondition},
	{runtime.ErrNotSupported, codes.FailedPrecondition},
	{runtime.ErrChildRunning, codes.FailedPrecondition},
	{runtime.ErrChildNotRunning, codes.FailedPrecondition},
	{runtime.ErrTreeFailed, codes.FailedPrecondition},
	{runtime.ErrRefused, codes.FailedPrecondition},
	{runtime.ErrCallSelf, codes.FailedPrecondition},
	{runtime.ErrStartFailed, codes.FailedPrecondition},
	{runtime.ErrNoRoute, codes.Unavailable},
	{runtime.ErrStopped, codes.Unavailable},
}

func init() {
	for _, e := range runtimeCodes {
		transport.RegisterCode(e.err, e.code)
	}
}
