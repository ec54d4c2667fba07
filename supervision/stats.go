package supervision

import (
	"context"
	"fmt"
	"runtime"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc"
)

// localStats describes this node's runtime and the agent process.
func (l *Layer) localStats() *pb.StatsResponse {
	st := l.rt.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &pb.StatsResponse{
		Node:         l.node.Name(),
		Processes:    uint32(st.Processes),
		Supervisors:  uint32(st.Supervisors),
		Trees:        uint32(st.Trees),
		QueueTotal:   uint64(st.QueueTotal),
		MemoryBytes:  st.MemoryBytes,
		Spawned:      st.Spawned,
		DroppedSends: st.DroppedSends,
		HeapBytes:    ms.HeapInuse,
		Goroutines:   uint32(runtime.NumGoroutine()),
	}
}

// peer returns a Runtime client for a node, or nil for this node.
func (l *Layer) peer(nodeName string) (pb.RuntimeClient, error) {
	if nodeName == "" || nodeName == l.node.Name() {
		return nil, nil
	}
	conn, err := l.peerConn(nodeName)
	if err != nil {
		return nil, err
	}
	return pb.NewRuntimeClient(conn), nil
}

func (l *Layer) peerConn(nodeName string) (*grpc.ClientConn, error) {
	addr, ok := l.node.PeerGRPCAddr(nodeName)
	if !ok {
		return nil, fmt.Errorf("%w: node %q is not a member of this cluster", transport.ErrNotFound, nodeName)
	}
	return l.node.Pool().Get(addr)
}

// Stats answers for this node or forwards to the named one.
func (s *runtimeService) Stats(ctx context.Context, req *pb.StatsRequest) (*pb.StatsResponse, error) {
	c, err := s.l.peer(req.Node)
	if err != nil {
		return nil, transport.ToStatus(err)
	}
	if c != nil {
		return c.Stats(ctx, req)
	}
	return s.l.localStats(), nil
}
