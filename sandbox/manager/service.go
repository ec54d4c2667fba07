package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// sandboxService is the Sandboxes gRPC service.
type sandboxService struct {
	pb.UnimplementedSandboxesServer
	l *Layer
}

func (s *sandboxService) srv() *transport.Server { return s.l.node.Server() }

func (s *sandboxService) Create(ctx context.Context, req *pb.CreateSandboxRequest) (*pb.SandboxView, error) {
	if len(req.File) == 0 {
		return nil, transport.ToStatus(fmt.Errorf("%w: the sandbox file is empty", transport.ErrInvalidRequest))
	}
	if req.DeadlineMs < 0 {
		return nil, transport.ToStatus(fmt.Errorf("%w: deadline_ms %d is negative", transport.ErrInvalidRequest, req.DeadlineMs))
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.CreateSandboxRequest) (*pb.SandboxView, error) {
			return pb.NewSandboxesClient(c).Create(ctx, r)
		},
		s.createLocal)
}

func (s *sandboxService) createLocal(ctx context.Context, req *pb.CreateSandboxRequest) (*pb.SandboxView, error) {
	d, err := sandbox.ParseDefinition(req.File, req.Filename)
	if err != nil {
		return nil, err
	}
	if req.Node != "" {
		d.Node = req.Node
	}
	if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
		return nil, err
	}
	c, err := s.l.prepare(ctx, "", true, []sandbox.Definition{d}, time.Duration(req.DeadlineMs)*time.Millisecond)
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		sb := c.Sandboxes[0]
		sb.Status = "dry_run"
		return sandboxView(sb, c.Experiment)
	}
	idx, err := s.l.commit(ctx, c)
	if err != nil {
		return nil, err
	}
	id := c.Experiment.Id
	var e *pb.ExperimentRecord
	if req.NoWait {
		e, err = s.l.applied(ctx, id, idx)
	} else {
		e, err = s.l.await(ctx, id, idx)
	}
	if err != nil {
		return nil, err
	}
	sb, _ := s.l.node.State().Sandbox(d.Name)
	if sb == nil || sb.Experiment != id {
		sb = c.Sandboxes[0]
	}
	v, err := sandboxView(sb, e)
	if err != nil {
		return nil, err
	}
	v.Meta = s.srv().WriteMeta(idx)
	return v, nil
}

func (s *sandboxService) List(ctx context.Context, req *pb.ListSandboxesRequest) (*pb.ListSandboxesResponse, error) {
	return transport.Read(ctx, s.srv(), req, req.Read,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListSandboxesRequest) (*pb.ListSandboxesResponse, error) {
			return pb.NewSandboxesClient(c).List(ctx, r)
		},
		func(st *state.Store, r *pb.ListSandboxesRequest) (*pb.ListSandboxesResponse, error) {
			idx, sbs, err := st.Sandboxes(nil, r.Node)
			if err != nil {
				return nil, err
			}
			out := &pb.ListSandboxesResponse{Meta: s.srv().ReadMeta(idx)}
			for _, sb := range sbs {
				e, _ := st.Experiment(nil, sb.Experiment)
				v, err := sandboxView(sb, e)
				if err != nil {
					return nil, err
				}
				out.Sandboxes = append(out.Sandboxes, v)
			}
			return out, nil
		})
}

func (s *sandboxService) Get(ctx context.Context, req *pb.GetSandboxRequest) (*pb.SandboxView, error) {
	return transport.Read(ctx, s.srv(), req, req.Read,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.GetSandboxRequest) (*pb.SandboxView, error) {
			return pb.NewSandboxesClient(c).Get(ctx, r)
		},
		func(st *state.Store, r *pb.GetSandboxRequest) (*pb.SandboxView, error) {
			sb, err := lookup(st, r.Name)
			if err != nil {
				return nil, err
			}
			e, _ := st.Experiment(nil, sb.Experiment)
			return sandboxView(sb, e)
		})
}

func lookup(st *state.Store, name string) (*pb.SandboxRecord, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: no sandbox named", transport.ErrInvalidRequest)
	}
	sb, err := st.Sandbox(name)
	if err != nil {
		return nil, err
	}
	if sb == nil {
		return nil, fmt.Errorf("%w: no sandbox %q", state.ErrNotFound, name)
	}
	return sb, nil
}

func (s *sandboxService) Destroy(ctx context.Context, req *pb.DestroySandboxRequest) (*pb.DestroySandboxResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DestroySandboxRequest) (*pb.DestroySandboxResponse, error) {
			return pb.NewSandboxesClient(c).Destroy(ctx, r)
		},
		func(ctx context.Context, r *pb.DestroySandboxRequest) (*pb.DestroySandboxResponse, error) {
			if err := s.srv().Backend().ReadBarrier(ctx); err != nil {
				return nil, err
			}
			st := s.l.node.State()
			sb, err := lookup(st, r.Name)
			if err != nil {
				return nil, err
			}
			e, _ := st.Experiment(nil, sb.Experiment)
			if e != nil && !e.Standalone {
				label := e.Id
				if e.Name != "" {
					label = e.Name
				}
				return nil, fmt.Errorf("%w: sandbox %q is part of experiment %s; destroy the experiment (steward experiment destroy %s)",
					transport.ErrConflict, r.Name, label, label)
			}
			return s.l.destroy(ctx, sb.Experiment)
		})
}

// destroy removes a group and its sandboxes.
func (l *Layer) destroy(ctx context.Context, id string) (*pb.DestroySandboxResponse, error) {
	res, err := l.node.Server().Apply(ctx, pb.CommandType_COMMAND_TYPE_EXPERIMENT_DELETE, &pb.ExperimentDeleteCommand{Id: id})
	if err != nil {
		return nil, err
	}
	removed, _ := res.Value.([]string)
	return &pb.DestroySandboxResponse{Meta: l.node.Server().WriteMeta(res.Index), Removed: removed}, nil
}

// sandboxView is a record with its policy decoded for reading.
func sandboxView(sb *pb.SandboxRecord, e *pb.ExperimentRecord) (*pb.SandboxView, error) {
	pol, err := jsonStruct(sb.PolicyJson)
	if err != nil {
		return nil, fmt.Errorf("sandbox %q: its policy: %w", sb.Name, err)
	}
	return &pb.SandboxView{Sandbox: sb, Policy: pol, Experiment: e}, nil
}

// jsonStruct decodes a JSON object as a protobuf Struct.
func jsonStruct(doc []byte) (*structpb.Struct, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	return structpb.NewStruct(m)
}

// toStruct encodes a Go value through its JSON form as a protobuf Struct.
func toStruct(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonStruct(b)
}
