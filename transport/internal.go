package transport

import (
	"context"
	"fmt"
	"sync"

	"github.com/steward/steward/fsm"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// PeerHandlers are the node-to-node calls the layers answer on the
// Internal service. Each is set once, by the layer that owns it, before
// the server serves; one left unset answers Unimplemented.
type PeerHandlers struct {
	// Facts: the coordination layer's live facts of plan operations.
	Facts func(context.Context, *pb.FactsRequest) (*pb.FactsResponse, error)
	// StepReady: the coordination layer's notice, from the leader, that a
	// stage with a share of this node started.
	StepReady func(context.Context, *pb.StepReadyRequest) (*pb.StepReadyResponse, error)
	// Deliver: the supervision layer's delivery of a message to a local
	// process.
	Deliver func(context.Context, *pb.DeliverRequest) (*pb.DeliverResponse, error)
	// ValidateNode: the health layer's validation of this node.
	ValidateNode func(context.Context, *pb.ValidateNodeRequest) (*pb.NodeValidation, error)
	// CodeTargets: the deployment layer's workers running a module.
	CodeTargets func(context.Context, *pb.CodeTargetsRequest) (*pb.CodeTargetsResponse, error)
	// CheckpointStates: the checkpoint layer's workers running modules,
	// with their states.
	CheckpointStates func(context.Context, *pb.CheckpointStatesRequest) (*pb.CheckpointStatesResponse, error)
	// VerifyCode: the deployment layer's trial migration of local workers.
	VerifyCode func(context.Context, *pb.VerifyCodeRequest) (*pb.VerifyCodeResponse, error)
	// Work: a server's stream of committed work to a client agent.
	Work func(*pb.WorkRequest, pb.Internal_WorkServer) error
	// Signal: the supervision layer's links, monitors, exits, DOWNs and
	// suspends between processes of two nodes.
	Signal func(context.Context, *pb.SignalRequest) (*pb.SignalResponse, error)
}

// internalService is the Internal gRPC service: the one service only
// nodes call.
type internalService struct {
	pb.UnimplementedInternalServer
	s *Server

	mu       sync.RWMutex
	handlers PeerHandlers
}

// HandlePeer merges h's non-nil handlers into those the Internal service
// answers with. Setting a handler twice is a programming error.
func (s *Server) HandlePeer(h PeerHandlers) {
	i := s.internal
	i.mu.Lock()
	defer i.mu.Unlock()
	set := func(name string, have, add bool) {
		if have && add {
			panic("transport: peer handler " + name + " set twice")
		}
	}
	set("Facts", i.handlers.Facts != nil, h.Facts != nil)
	set("StepReady", i.handlers.StepReady != nil, h.StepReady != nil)
	if h.StepReady != nil {
		i.handlers.StepReady = h.StepReady
	}
	set("Deliver", i.handlers.Deliver != nil, h.Deliver != nil)
	set("ValidateNode", i.handlers.ValidateNode != nil, h.ValidateNode != nil)
	set("CodeTargets", i.handlers.CodeTargets != nil, h.CodeTargets != nil)
	set("CheckpointStates", i.handlers.CheckpointStates != nil, h.CheckpointStates != nil)
	if h.CheckpointStates != nil {
		i.handlers.CheckpointStates = h.CheckpointStates
	}
	set("VerifyCode", i.handlers.VerifyCode != nil, h.VerifyCode != nil)
	if h.CodeTargets != nil {
		i.handlers.CodeTargets = h.CodeTargets
	}
	if h.VerifyCode != nil {
		i.handlers.VerifyCode = h.VerifyCode
	}
	set("Work", i.handlers.Work != nil, h.Work != nil)
	if h.Work != nil {
		i.handlers.Work = h.Work
	}
	set("Signal", i.handlers.Signal != nil, h.Signal != nil)
	if h.Signal != nil {
		i.handlers.Signal = h.Signal
	}
	if h.Facts != nil {
		i.handlers.Facts = h.Facts
	}
	if h.Deliver != nil {
		i.handlers.Deliver = h.Deliver
	}
	if h.ValidateNode != nil {
		i.handlers.ValidateNode = h.ValidateNode
	}
}

func (i *internalService) get() PeerHandlers {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.handlers
}

func unimplemented(name string) error {
	return status.Errorf(codes.Unimplemented, "this node answers no %s (the layer is not running here)", name)
}

func (i *internalService) Facts(ctx context.Context, req *pb.FactsRequest) (*pb.FactsResponse, error) {
	h := i.get().Facts
	if h == nil {
		return nil, unimplemented("Facts")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) StepReady(ctx context.Context, req *pb.StepReadyRequest) (*pb.StepReadyResponse, error) {
	h := i.get().StepReady
	if h == nil {
		return nil, unimplemented("StepReady")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverResponse, error) {
	h := i.get().Deliver
	if h == nil {
		return nil, unimplemented("Deliver")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) ValidateNode(ctx context.Context, req *pb.ValidateNodeRequest) (*pb.NodeValidation, error) {
	h := i.get().ValidateNode
	if h == nil {
		return nil, unimplemented("ValidateNode")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) CodeTargets(ctx context.Context, req *pb.CodeTargetsRequest) (*pb.CodeTargetsResponse, error) {
	h := i.get().CodeTargets
	if h == nil {
		return nil, unimplemented("CodeTargets")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) VerifyCode(ctx context.Context, req *pb.VerifyCodeRequest) (*pb.VerifyCodeResponse, error) {
	h := i.get().VerifyCode
	if h == nil {
		return nil, unimplemented("VerifyCode")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) CheckpointStates(ctx context.Context, req *pb.CheckpointStatesRequest) (*pb.CheckpointStatesResponse, error) {
	h := i.get().CheckpointStates
	if h == nil {
		return nil, unimplemented("CheckpointStates")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) Signal(ctx context.Context, req *pb.SignalRequest) (*pb.SignalResponse, error) {
	h := i.get().Signal
	if h == nil {
		return nil, unimplemented("Signal")
	}
	resp, err := h(ctx, req)
	return resp, toStatus(err)
}

func (i *internalService) Work(req *pb.WorkRequest, stream pb.Internal_WorkServer) error {
	h := i.get().Work
	if h == nil {
		return unimplemented("Work")
	}
	return toStatus(h(req, stream))
}

// Propose answers a forwarded proposal: decoded as this binary's payload
// of its type (an unknown type or a malformed payload is refused, nothing
// committed), then committed on the leader.
func (i *internalService) Propose(ctx context.Context, req *pb.ProposeRequest) (*pb.ProposeResponse, error) {
	payload, ok := fsm.NewPayload(req.Type)
	if !ok {
		return nil, toStatus(fmt.Errorf("%w: command type %s is unknown to this node", ErrInvalidRequest, req.Type))
	}
	if err := proto.Unmarshal(req.Payload, payload); err != nil {
		return nil, toStatus(fmt.Errorf("%w: %s payload: %v", ErrInvalidRequest, req.Type, err))
	}
	res, err := i.s.propose(ctx, req.Type, payload)
	if err != nil {
		return nil, err
	}
	return &pb.ProposeResponse{Index: res.Index, Error: commandError(res.Err)}, nil
}

// Propose gets one command committed: applied through Raft here when this
// node leads, otherwise forwarded to the leader over the Internal service
// (waiting for one to be elected, up to the hold timeout). It is the one
// way a layer commits. The command's domain error is returned as the
// error, wrapping the same sentinel on every node; an error for which
// NotApplied is true proves nothing was committed.
func (s *Server) Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error) {
	res, err := s.propose(ctx, t, payload)
	if err != nil {
		return 0, FromStatus(err)
	}
	return res.Index, res.Err
}

func (s *Server) propose(ctx context.Context, t pb.CommandType, payload proto.Message) (*fsm.Result, error) {
	return OnLeader(ctx, s, payload,
		func(ctx context.Context, c *grpc.ClientConn, payload proto.Message) (*fsm.Result, error) {
			body, err := proto.Marshal(payload)
			if err != nil {
				return nil, fmt.Errorf("%w: %s payload: %v", ErrInvalidRequest, t, err)
			}
			resp, err := pb.NewInternalClient(c).Propose(ctx, &pb.ProposeRequest{Type: t, Payload: body})
			if err != nil {
				return nil, err
			}
			return &fsm.Result{Index: resp.Index, Err: fromCommandError(resp.Error)}, nil
		},
		func(ctx context.Context, payload proto.Message) (*fsm.Result, error) {
			return s.backend.Apply(ctx, t, payload)
		})
}
