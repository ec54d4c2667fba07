package supervision

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// supervisionService is the Supervision gRPC service: desired state.
type supervisionService struct {
	pb.UnimplementedSupervisionServer
	l *Layer
}

func (s *supervisionService) srv() *transport.Server { return s.l.node.Server() }

// validateOptions checks behaviors against this node's catalog and module
// refs with its catalog's module resolver (the module store's, which reads
// the replicated state: a ref to a module or version not stored is refused).
func (s *supervisionService) validateOptions() spec.ValidateOptions {
	cat := s.l.rt.Catalog()
	return spec.ValidateOptions{
		KnownBehavior: func(name string) bool {
			_, err := cat.Lookup(name)
			return err == nil
		},
		KnownModule: func(ref spec.ModuleRef) error {
			_, err := cat.ResolveModule(ref.String())
			return err
		},
	}
}

func (s *supervisionService) ApplyTree(ctx context.Context, req *pb.ApplyTreeRequest) (*pb.ApplyTreeResponse, error) {
	if len(req.Spec) == 0 {
		return nil, transport.ToStatus(fmt.Errorf("%w: the spec is empty", transport.ErrInvalidRequest))
	}
	if len(req.Spec) > spec.MaxSpecBytes {
		return nil, transport.ToStatus(fmt.Errorf("%w: the spec is %d bytes, the limit is %d", transport.ErrInvalidRequest, len(req.Spec), spec.MaxSpecBytes))
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ApplyTreeRequest) (*pb.ApplyTreeResponse, error) {
			return pb.NewSupervisionClient(c).ApplyTree(ctx, r)
		},
		s.applyLocal)
}

func (s *supervisionService) applyLocal(ctx context.Context, req *pb.ApplyTreeRequest) (*pb.ApplyTreeResponse, error) {
	t, err := spec.Parse(req.Spec, req.Filename)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	if req.Node != "" {
		t.Node = req.Node
	}
	spec.Normalize(t)
	canon, err := spec.ValidateCanonical(t, s.validateOptions())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	st := s.l.node.State()
	existing, _ := st.Tree(t.Name)
	auto := t.Node == "" || t.Node == "auto"
	var placed string
	switch {
	case auto && existing != nil && existing.AutoPlaced && s.l.node.MemberStatus(existing.Node) == "alive":
		placed = existing.Node // an update does not move a placed tree
	case auto:
		if placed, err = s.l.place(ctx, ""); err != nil {
			return nil, err
		}
	default:
		if err := s.l.knownNode(t.Node); err != nil {
			return nil, err
		}
		placed = t.Node
	}
	rec := &pb.TreeRecord{Name: t.Name, Node: placed, SpecJson: canon, AutoPlaced: auto}
	if req.DryRun {
		return &pb.ApplyTreeResponse{Tree: summarize(rec)}, nil
	}
	idx, err := s.l.PutTree(ctx, rec, req.Cas)
	if err != nil {
		return nil, err
	}
	out, err := s.committed(rec.Name, idx)
	if err != nil {
		return nil, err
	}
	return &pb.ApplyTreeResponse{Meta: s.srv().WriteMeta(idx), Tree: summarize(out), Unchanged: out.ModifyIndex < idx}, nil
}

// committed reads back a tree record just committed at idx on this node
// (the leader, which has applied idx).
func (s *supervisionService) committed(name string, idx uint64) (*pb.TreeRecord, error) {
	out, err := s.l.node.State().Tree(name)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("%w: tree %q, committed at index %d, is gone", transport.ErrConflict, name, idx)
	}
	return out, nil
}

func (s *supervisionService) DeleteTree(ctx context.Context, req *pb.DeleteTreeRequest) (*pb.DeleteTreeResponse, error) {
	if req.Name == "" {
		return nil, transport.ToStatus(fmt.Errorf("%w: tree name is empty", transport.ErrInvalidRequest))
	}
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.DeleteTreeRequest) (*pb.DeleteTreeResponse, error) {
			return pb.NewSupervisionClient(c).DeleteTree(ctx, r)
		},
		func(ctx context.Context, r *pb.DeleteTreeRequest) (*pb.DeleteTreeResponse, error) {
			idx, err := s.l.RemoveTree(ctx, r.Name)
			if err != nil {
				return nil, err
			}
			return &pb.DeleteTreeResponse{Meta: s.srv().WriteMeta(idx)}, nil
		})
}

func (s *supervisionService) SetStrategy(ctx context.Context, req *pb.SetStrategyRequest) (*pb.SetStrategyResponse, error) {
	return transport.OnLeader(ctx, s.srv(), req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.SetStrategyRequest) (*pb.SetStrategyResponse, error) {
			return pb.NewSupervisionClient(c).SetStrategy(ctx, r)
		},
		s.setStrategyLocal)
}

func (s *supervisionService) setStrategyLocal(ctx context.Context, req *pb.SetStrategyRequest) (*pb.SetStrategyResponse, error) {
	rec, err := s.l.node.State().Tree(req.Tree)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: tree %q", transport.ErrNotFound, req.Tree)
	}
	t, err := state.DecodeTree(rec)
	if err != nil {
		return nil, err
	}
	sup, err := supervisorAt(&t.SupervisorSpec, req.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: tree %q: %v", transport.ErrNotFound, req.Tree, err)
	}
	sup.Strategy = spec.Strategy(req.Strategy)
	if req.MaxRestarts != nil {
		sup.MaxRestarts = int(*req.MaxRestarts)
	}
	if req.MaxSeconds != nil {
		if *req.MaxSeconds == 0 {
			// OTP's period is a positive integer; 0 would be read as "not
			// given" (5) by the spec: refused rather than rewritten.
			return nil, fmt.Errorf("%w: max_seconds: 0 is out of range 1..3600 (the restart period must be positive)", transport.ErrInvalidRequest)
		}
		sup.MaxSeconds = int(*req.MaxSeconds)
	}
	canon, err := spec.ValidateCanonical(t, s.validateOptions())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transport.ErrInvalidRequest, err)
	}
	n := &pb.TreeRecord{Name: rec.Name, Node: rec.Node, SpecJson: canon, AutoPlaced: rec.AutoPlaced}
	cas := rec.ModifyIndex
	idx, err := s.l.PutTree(ctx, n, &cas)
	if err != nil {
		return nil, err
	}
	out, err := s.committed(n.Name, idx)
	if err != nil {
		return nil, err
	}
	return &pb.SetStrategyResponse{Meta: s.srv().WriteMeta(idx), Tree: summarize(out)}, nil
}

// supervisorAt finds the supervisor at a path of child ids.
func supervisorAt(root *spec.SupervisorSpec, path string) (*spec.SupervisorSpec, error) {
	cur := root
	if path == "" {
		return cur, nil
	}
	for _, id := range strings.Split(path, "/") {
		var next *spec.SupervisorSpec
		for i := range cur.Children {
			c := &cur.Children[i]
			if c.ID == id {
				if c.Type != spec.Supervisor {
					return nil, fmt.Errorf("child %q in %q is a worker, not a supervisor", id, path)
				}
				next = &c.SupervisorSpec
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("no child %q on the path %q", id, path)
		}
		cur = next
	}
	return cur, nil
}

func (s *supervisionService) ListTrees(ctx context.Context, req *pb.ListTreesRequest) (*pb.ListTreesResponse, error) {
	resp, err := transport.Read(ctx, s.srv(), req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.ListTreesRequest) (*pb.ListTreesResponse, error) {
			rr := proto.Clone(r).(*pb.ListTreesRequest)
			rr.Live = false // the live part is gathered by the node the client asked
			return pb.NewSupervisionClient(c).ListTrees(ctx, rr)
		},
		func(st *state.Store, r *pb.ListTreesRequest) (*pb.ListTreesResponse, error) {
			idx, recs, err := st.Trees(nil, r.Node)
			if err != nil {
				return nil, err
			}
			out := &pb.ListTreesResponse{Meta: s.srv().ReadMeta(idx)}
			for _, rec := range recs {
				if r.Name != "" && rec.Name != r.Name {
					continue
				}
				sum := summarize(rec)
				if !r.WithSpec {
					sum.SpecJson = nil
				}
				out.Trees = append(out.Trees, sum)
			}
			return out, nil
		})
	if err != nil || !req.Live {
		return resp, err
	}
	var wg sync.WaitGroup
	for _, t := range resp.Trees {
		wg.Add(1)
		go func(t *pb.TreeSummary) {
			defer wg.Done()
			v, err := s.l.treeView(ctx, t.Node, t.Name, "", false)
			if err != nil {
				t.Status, t.Reason = "unknown", err.Error()
				return
			}
			t.Status, t.RootPid, t.Processes, t.Reason, t.AppliedIndex = v.Status, v.Root.GetPid(), v.Processes, v.Reason, v.AppliedIndex
		}(t)
	}
	wg.Wait()
	return resp, nil
}

// summarize describes a committed tree.
func summarize(rec *pb.TreeRecord) *pb.TreeSummary {
	if rec == nil {
		return nil
	}
	sum := &pb.TreeSummary{Name: rec.Name, Node: rec.Node, ModifyIndex: rec.ModifyIndex, AutoPlaced: rec.AutoPlaced, SpecJson: rec.SpecJson}
	if t, err := state.DecodeTree(rec); err == nil {
		sum.Strategy = string(t.Strategy)
		sum.Children = uint32(len(t.Children))
	}
	return sum
}
