package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
)

var (
	// ErrUnknownNode: Read names a node that is not a member.
	ErrUnknownNode = errors.New("unknown node")
	// ErrBadRequest: a Read field is out of range.
	ErrBadRequest = errors.New("bad audit request")
)

func init() {
	transport.RegisterCode("audit.disabled", ErrDisabled, codes.FailedPrecondition)
	transport.RegisterCode("audit.unavailable", ErrUnavailable, codes.Unavailable)
	transport.RegisterCode("audit.unknown_node", ErrUnknownNode, codes.NotFound)
	transport.RegisterCode("audit.bad_request", ErrBadRequest, codes.InvalidArgument)
}

// Peers is what the service needs of the node to ask another node.
type Peers interface {
	// Name is the name of the node answering.
	Name() string
	// PeerGRPCAddr is a member's gRPC address.
	PeerGRPCAddr(name string) (string, bool)
	// Pool dials members.
	Pool() *transport.Pool
}

// Service answers Audit.Read for the node's log (nil: the node runs
// without one), forwarding to the named node.
type Service struct {
	pb.UnimplementedAuditServer
	log   *Log
	peers Peers
}

// RegisterService registers the Audit service on srv.
func RegisterService(srv *grpc.Server, log *Log, peers Peers) *Service {
	s := &Service{log: log, peers: peers}
	pb.RegisterAuditServer(srv, s)
	return s
}

// Read answers the named node's entries.
func (s *Service) Read(ctx context.Context, req *pb.AuditReadRequest) (*pb.AuditReadResponse, error) {
	if req.Limit > MaxReadLimit {
		return nil, transport.ToStatus(fmt.Errorf("%w: limit %d: at most %d", ErrBadRequest, req.Limit, MaxReadLimit))
	}
	if req.SinceUnixNano < 0 {
		return nil, transport.ToStatus(fmt.Errorf("%w: since_unix_nano %d is negative", ErrBadRequest, req.SinceUnixNano))
	}
	if req.Node != "" && req.Node != s.peers.Name() {
		addr, ok := s.peers.PeerGRPCAddr(req.Node)
		if !ok {
			return nil, transport.ToStatus(fmt.Errorf("%w: %q is not a member of this cluster", ErrUnknownNode, req.Node))
		}
		conn, err := s.peers.Pool().Get(addr)
		if err != nil {
			return nil, transport.ToStatus(err)
		}
		return pb.NewAuditClient(conn).Read(ctx, req)
	}
	if s.log == nil {
		return nil, transport.ToStatus(fmt.Errorf("%w: node %s", ErrDisabled, s.peers.Name()))
	}
	f := Filter{Method: req.Method, Limit: int(req.Limit)}
	if req.SinceUnixNano > 0 {
		f.Since = time.Unix(0, req.SinceUnixNano)
	}
	res, err := Read(s.log.Path(), f)
	if err != nil {
		return nil, transport.ToStatus(fmt.Errorf("reading the audit log of node %s: %w", s.peers.Name(), err))
	}
	st := s.log.Stats()
	out := &pb.AuditReadResponse{Node: s.peers.Name(), Malformed: uint32(res.Malformed), Truncated: uint32(res.Truncated),
		Files: res.Files, WriteFailures: st.Failures, LastWriteError: st.LastError}
	for _, e := range res.Entries {
		out.Entries = append(out.Entries, e.PB())
	}
	return out, nil
}
