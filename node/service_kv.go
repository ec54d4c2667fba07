package node

import (
	"context"
	"fmt"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

type kvService struct {
	pb.UnimplementedKVServer
	n *Node
}

func (k *kvService) Put(ctx context.Context, req *pb.KVPutRequest) (*pb.KVPutResponse, error) {
	if err := state.ValidateKey(req.Key); err != nil {
		return nil, transport.ToStatus(err)
	}
	if err := state.ValidateValue(req.Value); err != nil {
		return nil, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, k.n.server, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.KVPutRequest) (*pb.KVPutResponse, error) {
			return pb.NewKVClient(c).Put(ctx, r)
		},
		func(ctx context.Context, r *pb.KVPutRequest) (*pb.KVPutResponse, error) {
			res, err := k.n.server.Apply(ctx, pb.CommandType_COMMAND_TYPE_KV_PUT, &pb.KVPutCommand{Key: r.Key, Value: r.Value, Cas: r.Cas})
			if err != nil {
				return nil, err
			}
			rec, ok := res.Value.(*pb.KVRecord)
			if !ok {
				return nil, fmt.Errorf("kv put: unexpected result %T", res.Value)
			}
			return &pb.KVPutResponse{Meta: k.n.server.WriteMeta(res.Index), Entry: rec}, nil
		})
}

func (k *kvService) Delete(ctx context.Context, req *pb.KVDeleteRequest) (*pb.KVDeleteResponse, error) {
	if !req.Prefix || req.Key != "" {
		if err := state.ValidateKey(req.Key); err != nil {
			return nil, transport.ToStatus(err)
		}
	}
	if req.Prefix && req.Cas != nil {
		return nil, transport.ToStatus(fmt.Errorf("%w: --cas cannot be combined with a prefix delete", transport.ErrInvalidRequest))
	}
	return transport.OnLeader(ctx, k.n.server, req,
		func(ctx context.Context, c *grpc.ClientConn, r *pb.KVDeleteRequest) (*pb.KVDeleteResponse, error) {
			return pb.NewKVClient(c).Delete(ctx, r)
		},
		func(ctx context.Context, r *pb.KVDeleteRequest) (*pb.KVDeleteResponse, error) {
			res, err := k.n.server.Apply(ctx, pb.CommandType_COMMAND_TYPE_KV_DELETE, &pb.KVDeleteCommand{Key: r.Key, Cas: r.Cas, Prefix: r.Prefix})
			if err != nil {
				return nil, err
			}
			n, _ := res.Value.(int)
			return &pb.KVDeleteResponse{Meta: k.n.server.WriteMeta(res.Index), Deleted: uint32(n)}, nil
		})
}

func (k *kvService) Get(ctx context.Context, req *pb.KVGetRequest) (*pb.KVGetResponse, error) {
	if err := state.ValidateKey(req.Key); err != nil {
		return nil, transport.ToStatus(err)
	}
	return transport.Read(ctx, k.n.server, req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.KVGetRequest) (*pb.KVGetResponse, error) {
			return pb.NewKVClient(c).Get(ctx, r)
		},
		func(st *state.Store, r *pb.KVGetRequest) (*pb.KVGetResponse, error) {
			idx, rec, err := st.KVGet(nil, r.Key)
			if err != nil {
				return nil, err
			}
			if rec == nil {
				return nil, fmt.Errorf("%w: key %q", transport.ErrNotFound, r.Key)
			}
			return &pb.KVGetResponse{Meta: k.n.server.ReadMeta(idx), Entry: rec}, nil
		})
}

func (k *kvService) List(ctx context.Context, req *pb.KVListRequest) (*pb.KVListResponse, error) {
	return transport.Read(ctx, k.n.server, req, req.GetRead(),
		func(ctx context.Context, c *grpc.ClientConn, r *pb.KVListRequest) (*pb.KVListResponse, error) {
			return pb.NewKVClient(c).List(ctx, r)
		},
		func(st *state.Store, r *pb.KVListRequest) (*pb.KVListResponse, error) {
			idx, recs, err := st.KVList(nil, r.Prefix)
			if err != nil {
				return nil, err
			}
			if r.KeysOnly {
				out := make([]*pb.KVRecord, len(recs))
				for i, rec := range recs {
					out[i] = &pb.KVRecord{Key: rec.Key, CreateIndex: rec.CreateIndex, ModifyIndex: rec.ModifyIndex}
				}
				recs = out
			}
			return &pb.KVListResponse{Meta: k.n.server.ReadMeta(idx), Entries: recs}, nil
		})
}
