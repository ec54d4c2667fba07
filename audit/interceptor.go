package audit

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/steward/steward/acl"
	"github.com/steward/steward/tlsutil"
)

// ForwardHopsKey is the metadata key counting how many times a call was
// forwarded between nodes (transport/forward.go); only a call at hop 0
// was accepted from a caller by this node.
const ForwardHopsKey = "steward-forward-hops"

// forwarded reports whether another node forwarded the call.
func forwarded(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(ForwardHopsKey)
	if len(v) == 0 {
		return false
	}
	n, err := strconv.Atoi(v[0])
	return err != nil || n > 0 // a value that is not a number is not a caller's hop 0
}

// audited reports whether a call of method is written: a write accepted
// from a caller.
func audited(ctx context.Context, method string) (resource string, ok bool) {
	res, write, known := acl.MethodAccess(method)
	if !known || !write || forwarded(ctx) {
		return "", false
	}
	return res, true
}

// entry builds the entry of a finished call.
func (l *Log) entry(ctx context.Context, method, resource string, req any, err error, start time.Time) *Entry {
	e := &Entry{Time: start.UTC(), Node: l.node, Method: method, Resource: resource, Target: targetOf(method, req),
		Accessor: acl.AccessorFromContext(ctx), Result: ResultOK, DurationUS: time.Since(start).Microseconds()}
	if id, ok := tlsutil.PeerIdentity(ctx); ok {
		e.Subject = id.Subject
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		e.Peer = p.Addr.String()
	}
	if err != nil {
		st := status.Convert(err)
		e.Result, e.Error = st.Code().String(), st.Message()
	}
	return e
}

// refuse is the error of a write refused while the log cannot take
// entries.
func refuse(err error) error {
	return status.Error(codes.Unavailable, err.Error()+"; the write was not run (the audit log is fail-closed)")
}

// UnaryInterceptor writes every write call accepted from a caller, with
// its outcome. It must be the server's outermost interceptor.
func (l *Log) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resource, ok := audited(ctx, info.FullMethod)
	if !ok {
		return handler(ctx, req)
	}
	if err := l.Ready(); err != nil {
		return nil, refuse(err)
	}
	start := now()
	ctx = acl.WithAccessorSlot(ctx)
	resp, err := handler(ctx, req)
	_ = l.Append(l.entry(ctx, info.FullMethod, resource, req, err, start)) // a failure is logged and fails the next writes
	return resp, err
}

// StreamInterceptor is UnaryInterceptor for streams: the target is read
// from the first message the handler receives.
func (l *Log) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	resource, ok := audited(ss.Context(), info.FullMethod)
	if !ok {
		return handler(srv, ss)
	}
	if err := l.Ready(); err != nil {
		return refuse(err)
	}
	start := now()
	w := &firstMessage{ServerStream: ss, ctx: acl.WithAccessorSlot(ss.Context())}
	err := handler(srv, w)
	_ = l.Append(l.entry(w.ctx, info.FullMethod, resource, w.first, err, start))
	return err
}

// firstMessage keeps the first message a stream's handler receives.
type firstMessage struct {
	grpc.ServerStream
	ctx   context.Context
	first any
}

func (s *firstMessage) Context() context.Context { return s.ctx }

func (s *firstMessage) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.first == nil {
		s.first = m
	}
	return err
}
