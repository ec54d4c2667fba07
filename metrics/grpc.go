package metrics

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// splitMethod splits "/pkg.Service/Method" into service and method.
func splitMethod(full string) (string, string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}

func streamType(info *grpc.StreamServerInfo) string {
	switch {
	case info.IsClientStream && info.IsServerStream:
		return "bidi_stream"
	case info.IsClientStream:
		return "client_stream"
	}
	return "server_stream"
}

// UnaryServerInterceptor counts and times every unary call
// (grpc-prometheus style). It is installed outermost, so that calls
// refused by the TLS role check or ACLs are counted with their code.
func (r *Registry) UnaryServerInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	svc, m := splitMethod(info.FullMethod)
	r.grpcStarted.WithLabelValues(svc, m, "unary").Inc()
	start := time.Now()
	resp, err := handler(ctx, req)
	r.grpcHandled.WithLabelValues(svc, m, "unary", status.Code(err).String()).Inc()
	r.grpcSeconds.WithLabelValues(svc, m, "unary").Observe(time.Since(start).Seconds())
	return resp, err
}

// StreamServerInterceptor counts and times every stream, over its whole
// life.
func (r *Registry) StreamServerInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	svc, m := splitMethod(info.FullMethod)
	typ := streamType(info)
	r.grpcStarted.WithLabelValues(svc, m, typ).Inc()
	start := time.Now()
	err := handler(srv, ss)
	r.grpcHandled.WithLabelValues(svc, m, typ, status.Code(err).String()).Inc()
	r.grpcSeconds.WithLabelValues(svc, m, typ).Observe(time.Since(start).Seconds())
	return err
}

// ServerOptions are the interceptors as their own chain options.
func (r *Registry) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(r.UnaryServerInterceptor),
		grpc.ChainStreamInterceptor(r.StreamServerInterceptor),
	}
}
