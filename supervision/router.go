package supervision

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Router routes sends, calls and checked sends to processes on other
// nodes, through their Internal service's Deliver. A runtime is built with
// it (actor.Config.Router); it routes once the supervision layer it is
// handed to is attached to a node, and fails with actor.ErrNoRoute
// before.
type Router struct {
	host atomic.Pointer[peers]
	// self is this node's runtime incarnation, carried with every signal.
	self atomic.Uint64
}

// peers is what a router needs of the node: where the others are.
type peers interface {
	PeerGRPCAddr(name string) (string, bool)
	Pool() *transport.Pool
}

// NewRouter returns a router for a runtime.
func NewRouter() *Router { return &Router{} }

func (r *Router) bind(p peers, incarnation uint64) {
	r.self.Store(incarnation)
	r.host.Store(&p)
}

var (
	_ actor.Router            = (*Router)(nil)
	_ actor.CallRouter        = (*Router)(nil)
	_ actor.CheckedRouter     = (*Router)(nil)
	_ actor.SignalRouter      = (*Router)(nil)
	_ actor.IncarnationRouter = (*Router)(nil)
)

func (r *Router) conn(nodeName string) (*grpc.ClientConn, error) {
	p := r.host.Load()
	if p == nil {
		return nil, fmt.Errorf("%w: node %q: the node is not up yet", actor.ErrNoRoute, nodeName)
	}
	addr, ok := (*p).PeerGRPCAddr(nodeName)
	if !ok {
		return nil, fmt.Errorf("%w: node %q is not a member of this cluster", actor.ErrUnknownPID, nodeName)
	}
	return (*p).Pool().Get(addr)
}

func (r *Router) deliver(ctx context.Context, to actor.PID, msg actor.Message, checked bool, timeout time.Duration) ([]byte, error) {
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
	resp, err := pb.NewInternalClient(c).Deliver(ctx, req)
	if err != nil {
		return nil, transport.FromStatus(err)
	}
	return resp.Reply, nil
}

// Route implements actor.Router: an unchecked send (dropped silently if
// the target is gone, as a local send is).
func (r *Router) Route(ctx context.Context, to actor.PID, msg actor.Message) error {
	_, err := r.deliver(ctx, to, msg, false, 0)
	return err
}

// RouteChecked implements actor.CheckedRouter.
func (r *Router) RouteChecked(ctx context.Context, to actor.PID, msg actor.Message) error {
	_, err := r.deliver(ctx, to, msg, true, 0)
	return err
}

// RouteCall implements actor.CallRouter.
func (r *Router) RouteCall(ctx context.Context, to actor.PID, msg actor.Message) ([]byte, error) {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return r.deliver(ctx, to, msg, true, timeout)
}

// RouteSignal implements actor.SignalRouter, through the receiving node's
// Internal.Signal.
func (r *Router) RouteSignal(ctx context.Context, s actor.Signal) error {
	_, err := r.RouteSignalIncarnation(ctx, s)
	return err
}

// RouteSignalIncarnation implements actor.IncarnationRouter: the signal
// carries this node's incarnation, the answer the receiving node's.
func (r *Router) RouteSignalIncarnation(ctx context.Context, s actor.Signal) (uint64, error) {
	c, err := r.conn(s.To.Node)
	if err != nil {
		return 0, err
	}
	req := &pb.SignalRequest{Kind: string(s.Kind), From: s.From.String(), To: s.To.String(), Ref: s.Ref, Reason: string(s.Reason),
		FromIncarnation: r.self.Load()}
	resp, err := pb.NewInternalClient(c).Signal(ctx, req)
	if err != nil {
		return 0, transport.FromStatus(err)
	}
	return resp.Incarnation, nil
}

// signalLocal is the receiving side of RouteSignal.
func (l *Layer) signalLocal(_ context.Context, req *pb.SignalRequest) (*pb.SignalResponse, error) {
	kind, err := actor.ParseSignalKind(req.Kind)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	s := actor.Signal{Kind: kind, Ref: req.Ref, Reason: actor.Reason(req.Reason), Incarnation: req.FromIncarnation}
	if s.To, err = actor.ParsePID(req.To); err != nil {
		return nil, fmt.Errorf("%w: to: %v", transport.ErrInvalidRequest, err)
	}
	if s.To.Node != l.node.Name() {
		return nil, fmt.Errorf("%w: pid %s is not on node %s", transport.ErrInvalidRequest, s.To, l.node.Name())
	}
	if kind == actor.SigSuspend || kind == actor.SigResume {
		s.From = actor.PID{Node: strings.SplitN(req.From, "/", 2)[0]}
	} else if s.From, err = actor.ParsePID(req.From); err != nil {
		return nil, fmt.Errorf("%w: from: %v", transport.ErrInvalidRequest, err)
	}
	if err := l.rt.HandleSignal(s); err != nil {
		return nil, err
	}
	return &pb.SignalResponse{Incarnation: l.incarnation}, nil
}

// deliverLocal is the receiving side of the router.
func (l *Layer) deliverLocal(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverResponse, error) {
	to, err := actor.ParsePID(req.To)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	if to.Node != l.node.Name() {
		return nil, fmt.Errorf("%w: pid %s is not on node %s", transport.ErrInvalidRequest, to, l.node.Name())
	}
	kind, err := actor.ParseKind(req.Kind)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	msg := actor.Message{Kind: kind, Body: req.Body, Ref: req.Ref}
	if req.From != "" {
		if msg.From, err = actor.ParsePID(req.From); err != nil {
			return nil, fmt.Errorf("%w: from: %v", transport.ErrInvalidRequest, err)
		}
	}
	switch {
	case kind == actor.KindCall:
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

// runtimeCodes maps the runtime's sentinel errors to gRPC codes and
// stable kinds: the services answer with these codes, and
// transport.FromStatus turns a remote node's answer back into the same
// sentinel.
var runtimeCodes = []struct {
	kind string
	err  error
	code codes.Code
}{
	{"runtime.no_proc", actor.ErrNoProc, codes.NotFound},
	{"runtime.unknown_pid", actor.ErrUnknownPID, codes.NotFound},
	{"runtime.name_not_found", actor.ErrNameNotFound, codes.NotFound},
	{"runtime.tree_not_found", actor.ErrTreeNotFound, codes.NotFound},
	{"runtime.child_not_found", actor.ErrChildNotFound, codes.NotFound},
	{"runtime.mailbox_full", actor.ErrMailboxFull, codes.ResourceExhausted},
	{"runtime.message_too_large", actor.ErrMessageTooLarge, codes.InvalidArgument},
	{"runtime.call_timeout", actor.ErrCallTimeout, codes.DeadlineExceeded},
	{"runtime.bad_target", actor.ErrBadTarget, codes.InvalidArgument},
	{"runtime.bad_pid", actor.ErrBadPID, codes.InvalidArgument},
	{"runtime.bad_kind", actor.ErrBadKind, codes.InvalidArgument},
	{"runtime.bad_args", actor.ErrBadArgs, codes.InvalidArgument},
	{"runtime.invalid_spec", actor.ErrInvalidSpec, codes.InvalidArgument},
	{"runtime.remote_unsupported", actor.ErrRemoteUnsupported, codes.InvalidArgument},
	{"runtime.not_supervisor", actor.ErrNotSupervisor, codes.FailedPrecondition},
	{"runtime.not_supported", actor.ErrNotSupported, codes.FailedPrecondition},
	// The admin results that match a broader sentinel come first, so that
	// the finer one is what the other side gets back.
	{"runtime.child_restarting", actor.ErrChildRestarting, codes.FailedPrecondition},
	{"runtime.child_running", actor.ErrChildRunning, codes.FailedPrecondition},
	{"runtime.already_started", actor.ErrAlreadyStarted, codes.AlreadyExists},
	{"runtime.already_present", actor.ErrAlreadyPresent, codes.AlreadyExists},
	{"runtime.duplicate_id", actor.ErrDuplicateID, codes.AlreadyExists},
	{"runtime.child_not_running", actor.ErrChildNotRunning, codes.FailedPrecondition},
	{"runtime.tree_failed", actor.ErrTreeFailed, codes.FailedPrecondition},
	{"runtime.refused", actor.ErrRefused, codes.FailedPrecondition},
	{"runtime.call_self", actor.ErrCallSelf, codes.FailedPrecondition},
	{"runtime.start_failed", actor.ErrStartFailed, codes.FailedPrecondition},
	{"runtime.no_route", actor.ErrNoRoute, codes.Unavailable},
	{"runtime.stopped", actor.ErrStopped, codes.Unavailable},
}

func init() {
	for _, e := range runtimeCodes {
		transport.RegisterCode(e.kind, e.err, e.code)
	}
}

// lostNodeInterval is how often the layer looks for nodes, crossed to by
// links or monitors, that gossip no longer holds alive.
const lostNodeInterval = 500 * time.Millisecond

// watchLostNodes fires, with noconnection, the links and monitors of this
// node's processes that cross to a node gossip holds failed or left, as
// Erlang does when the connection to a node goes down (actor.NodeDown),
// and those held towards an earlier incarnation of a node that gossips a
// later one: a node that restarted before gossip declared it failed (its
// processes died with the old incarnation, and their exits may never have
// been sent), as Erlang takes a new connection from a node as the end of
// the old one (actor.NodeRestarted).
func (l *Layer) watchLostNodes() {
	t := time.NewTicker(lostNodeInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stopCh:
			return
		case <-t.C:
		}
		nodes := l.rt.RemoteNodes()
		if len(nodes) > 0 && l.members != nil {
			l.members() // refreshes l.peers through the OnMember hook
		}
		for _, name := range nodes {
			switch l.node.MemberStatus(name) {
			case node.StatusFailed, node.StatusLeft:
				l.rt.NodeDown(name)
			default:
				l.rt.NodeRestarted(name, l.peers.of(name))
			}
		}
	}
}
