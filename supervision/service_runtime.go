package supervision

import (
	"context"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
)

// runtimeService is the Runtime gRPC service of one node.
type runtimeService struct {
	pb.UnimplementedRuntimeServer
	l *Layer
}

// Deliver hands a message routed from another node to a local process.
func (s *runtimeService) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverResponse, error) {
	resp, err := s.l.deliverLocal(ctx, req)
	return resp, transport.ToStatus(err)
}
