package node

import (
	"context"
	"fmt"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// registerServices registers the spine's own client-facing services: KV
// (the replicated key/value table), Cluster (membership and Raft) and
// Keyring (the gossip encryption keyring, node/keyring.go).
func (n *Node) registerServices() {
	pb.RegisterKVServer(n.server.GRPC(), &kvService{n: n})
	pb.RegisterClusterServer(n.server.GRPC(), &clusterService{n: n})
	n.registerKeyring()
	if n.client == nil {
		n.server.HandlePeer(transport.PeerHandlers{Work: n.serveWork})
	}
}

type clusterService struct {
	pb.UnimplementedClusterServer
	n *Node
}

// Status, Members and Leave describe or act on the node that receives the
// request, as `consul members` and `consul leave` do.
func (c *clusterService) Status(ctx context.Context, req *pb.StatusRequest) (*pb.StatusResponse, error) {
	st := c.n.Status()
	if req.GetStateDigest() {
		idx, sum, err := c.n.StateDigest()
		if err != nil {
			return nil, transport.ToStatus(err)
		}
		st.StateIndex, st.StateSha256 = idx, sum
	}
	return st, nil
}

func (c *clusterService) Members(ctx context.Context, _ *pb.MembersRequest) (*pb.MembersResponse, error) {
	return &pb.MembersResponse{Members: c.n.Members()}, nil
}

func (c *clusterService) Leave(ctx context.Context, _ *pb.LeaveRequest) (*pb.LeaveResponse, error) {
	if err := c.n.Leave(ctx); err != nil {
		return nil, transport.ToStatus(err)
	}
	return &pb.LeaveResponse{}, nil
}

func (c *clusterService) RaftPeers(ctx context.Context, req *pb.RaftPeersRequest) (*pb.RaftPeersResponse, error) {
	if req.GetRead().GetStale() && c.n.IsServer() {
		resp, err := c.n.RaftPeers()
		return resp, transport.ToStatus(err)
	}
	return transport.OnLeader(ctx, c.n.server, req,
		func(ctx context.Context, cc *grpc.ClientConn, r *pb.RaftPeersRequest) (*pb.RaftPeersResponse, error) {
			return pb.NewClusterClient(cc).RaftPeers(ctx, r)
		},
		func(ctx context.Context, _ *pb.RaftPeersRequest) (*pb.RaftPeersResponse, error) {
			return c.n.RaftPeers()
		})
}

func (c *clusterService) TransferLeader(ctx context.Context, req *pb.TransferLeaderRequest) (*pb.TransferLeaderResponse, error) {
	return transport.OnLeader(ctx, c.n.server, req,
		func(ctx context.Context, cc *grpc.ClientConn, r *pb.TransferLeaderRequest) (*pb.TransferLeaderResponse, error) {
			return pb.NewClusterClient(cc).TransferLeader(ctx, r)
		},
		func(ctx context.Context, r *pb.TransferLeaderRequest) (*pb.TransferLeaderResponse, error) {
			to, err := c.n.TransferLeader(ctx, r.To)
			if err != nil {
				return nil, err
			}
			return &pb.TransferLeaderResponse{NewLeader: to}, nil
		})
}

func (c *clusterService) RemovePeer(ctx context.Context, req *pb.RemovePeerRequest) (*pb.RemovePeerResponse, error) {
	if req.Node == "" {
		return nil, transport.ToStatus(fmt.Errorf("%w: node name is empty", transport.ErrInvalidRequest))
	}
	return transport.OnLeader(ctx, c.n.server, req,
		func(ctx context.Context, cc *grpc.ClientConn, r *pb.RemovePeerRequest) (*pb.RemovePeerResponse, error) {
			return pb.NewClusterClient(cc).RemovePeer(ctx, r)
		},
		func(ctx context.Context, r *pb.RemovePeerRequest) (*pb.RemovePeerResponse, error) {
			idx, err := c.n.RemovePeer(ctx, r.Node, r.Leaving)
			if err != nil {
				return nil, err
			}
			return &pb.RemovePeerResponse{Index: idx}, nil
		})
}

func (c *clusterService) Nodes(ctx context.Context, req *pb.NodesRequest) (*pb.NodesResponse, error) {
	return transport.Read(ctx, c.n.server, req, req.GetRead(),
		func(ctx context.Context, cc *grpc.ClientConn, r *pb.NodesRequest) (*pb.NodesResponse, error) {
			return pb.NewClusterClient(cc).Nodes(ctx, r)
		},
		func(st *state.Store, _ *pb.NodesRequest) (*pb.NodesResponse, error) {
			idx, nodes, err := st.Nodes(nil)
			if err != nil {
				return nil, err
			}
			return &pb.NodesResponse{Meta: c.n.server.ReadMeta(idx), Nodes: nodes}, nil
		})
}
