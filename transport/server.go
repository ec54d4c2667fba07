package transport

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// Limits of the gRPC surface.
const (
	// MaxMessageSize is the largest gRPC message a node sends or accepts
	// (bytes). Request-specific limits (kv values: 512 KiB) are lower and
	// checked with clear errors before this one applies.
	MaxMessageSize = 16 << 20
	// DefaultHoldTimeout is how long a request waits for a leader to be
	// elected before failing with ErrNoLeader (Consul's rpc_hold_timeout).
	DefaultHoldTimeout = 7 * time.Second
	// ReadyService is the health-check service name that reports SERVING
	// only while the node knows a leader.
	ReadyService = "steward.ready"
	// StreamWorkers is how many goroutines serve gRPC calls and are
	// reused from call to call (grpc.NumStreamWorkers): a reused
	// goroutine keeps the stack it grew, where a fresh goroutine per
	// call grows (copies) its stack again on every call (runtime.newstack
	// was 5 % of a loaded leader's CPU). Calls beyond it get a goroutine
	// of their own, as without workers.
	StreamWorkers = 256
)

// ServerConfig configures a Server.
type ServerConfig struct {
	Logger hclog.Logger
	// HoldTimeout is how long a request waits for a leader (0: default).
	HoldTimeout time.Duration
	// Pool is used to forward requests to the leader.
	Pool *Pool
	// Options are extra grpc.ServerOptions (interceptors, credentials).
	Options []grpc.ServerOption
}

// Server is a node's gRPC server.
type Server struct {
	backend Backend
	logger  hclog.Logger
	hold    time.Duration
	pool    *Pool
	grpc    *grpc.Server
	health  *health.Server
	// internal is the node-to-node service.
	internal *internalService
}

// Registrar lets later layers add their own services to the server.
type Registrar interface {
	Register(s *grpc.Server, srv *Server)
}

// NewServer builds the server and registers the core services.
func NewServer(b Backend, cfg ServerConfig) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	hold := cfg.HoldTimeout
	if hold <= 0 {
		hold = DefaultHoldTimeout
	}
	pool := cfg.Pool
	if pool == nil {
		pool = NewPool()
	}
	opts := append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.NumStreamWorkers(StreamWorkers),
	}, cfg.Options...)
	s := &Server{
		backend: b,
		logger:  logger.Named("grpc"),
		hold:    hold,
		pool:    pool,
		grpc:    grpc.NewServer(opts...),
		health:  health.NewServer(),
	}
	s.internal = &internalService{s: s}
	pb.RegisterInternalServer(s.grpc, s.internal)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.health.SetServingStatus(ReadyService, healthpb.HealthCheckResponse_NOT_SERVING)
	// Server reflection (v1 and v1alpha), so that grpcurl list and
	// describe work; it lists the services registered by Serve time,
	// those of later layers too. Like health it needs no ACL token
	// (acl.exemptServices) nor a server certificate.
	reflection.Register(s.grpc)
	return s
}

// GRPC exposes the underlying server so later layers can register services
// before Serve.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Backend returns the node the server answers for.
func (s *Server) Backend() Backend { return s.backend }

// Pool returns the connection pool used for forwarding.
func (s *Server) Pool() *Pool { return s.pool }

// SetReady flips the ReadyService health status.
func (s *Server) SetReady(ready bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus(ReadyService, st)
}

// Serve serves on l until Stop.
func (s *Server) Serve(l net.Listener) error {
	err := s.grpc.Serve(l)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop drains in-flight calls for up to grace, then closes everything.
func (s *Server) Stop(grace time.Duration) {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.grpc.Stop()
		<-done
	}
}

// holdContext bounds the wait for a leader by the hold timeout and the
// caller's own deadline.
func (s *Server) holdContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.hold)
}
