package transport

import (
	"context"
	"strings"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// internalPrefix is the full-method prefix of the Internal service.
var internalPrefix = "/" + pb.Internal_ServiceDesc.ServiceName + "/"

// healthPrefix: the gRPC health service, open to every caller (load
// balancers and readiness probes).
const healthPrefix = "/grpc.health.v1.Health/"

// clientAgentMethods are the Internal methods a client agent's certificate
// may call: its work stream, the signals and messages between its
// processes and other nodes', and Propose of its own reports.
var clientAgentMethods = map[string]bool{
	internalPrefix + "Work":    true,
	internalPrefix + "Signal":  true,
	internalPrefix + "Deliver": true,
	internalPrefix + "Propose": true,
}

// ClientAgentCommands are the command types a client agent's certificate
// may propose: the reports a node makes about its own work, as the layers
// running on a client agent propose them — the coordination executor's
// plan step start and report, the supervision layer's sandbox status, the
// snapshot layer's captured part. Every other command (kv, trees, plans,
// modules, ACLs, ...) is a server's or comes through a public service.
var ClientAgentCommands = []pb.CommandType{
	pb.CommandType_COMMAND_TYPE_PLAN_STEP_START,
	pb.CommandType_COMMAND_TYPE_PLAN_STEP_REPORT,
	pb.CommandType_COMMAND_TYPE_SANDBOX_STATUS,
	pb.CommandType_COMMAND_TYPE_SNAPSHOT_PART,
}

func clientAgentMay(t pb.CommandType) bool {
	for _, c := range ClientAgentCommands {
		if c == t {
			return true
		}
	}
	return false
}

// RoleCheck enforces the certificate roles on a TLS node's gRPC server:
// the Internal service takes a server certificate for every method, a
// client agent's for Work, Signal, Deliver and Propose of
// ClientAgentCommands, and no cli certificate; the public services take
// any role of the region (or no certificate, when the server does not
// require one: verify_incoming off). Errors are PermissionDenied naming
// the role and the method.
type RoleCheck struct {
	// Region is the region the callers' role names must carry.
	Region string
}

// Unary is the unary interceptor.
func (r RoleCheck) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := r.check(ctx, info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is the stream interceptor.
func (r RoleCheck) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := r.check(ss.Context(), info.FullMethod, nil); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

func denied(format string, args ...any) error {
	return status.Errorf(codes.PermissionDenied, "permission denied: "+format, args...)
}

func (r RoleCheck) check(ctx context.Context, method string, req any) error {
	if strings.HasPrefix(method, healthPrefix) {
		return nil
	}
	name := strings.TrimPrefix(method, "/")
	id, ok := tlsutil.PeerIdentity(ctx)
	internal := strings.HasPrefix(method, internalPrefix)
	if !ok {
		if internal {
			return denied("%s is node-to-node and needs a server certificate (%s); the caller presented no certificate signed by the CA", name, tlsutil.RoleServer.Name(r.Region))
		}
		return nil // verify_incoming off: a caller without a certificate
	}
	if id.Role == "" {
		return denied("the certificate %q names no role (server, client or cli .%s.steward); %s refused", id.Subject, r.Region, name)
	}
	if id.Region != r.Region {
		return denied("role %s of region %s (certificate %q) may not call %s in region %s", id.Role, id.Region, id.Subject, name, r.Region)
	}
	if !internal {
		return nil
	}
	switch id.Role {
	case tlsutil.RoleServer:
		return nil
	case tlsutil.RoleClient:
		if !clientAgentMethods[method] {
			return denied("role client (certificate %q) may not call %s: only a server certificate may; a client agent calls Work, Signal, Deliver and Propose of its own reports", id.Subject, name)
		}
		if p, isPropose := req.(*pb.ProposeRequest); isPropose && !clientAgentMay(p.GetType()) {
			return denied("role client (certificate %q) may not call %s with %s: a client agent proposes only its own reports (%s)", id.Subject, name, p.GetType(), commandList(ClientAgentCommands))
		}
		return nil
	}
	return denied("role %s (certificate %q) may not call %s: the Internal service is node-to-node (server certificates; client agents for their work)", id.Role, id.Subject, name)
}

func commandList(ts []pb.CommandType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = strings.TrimPrefix(t.String(), "COMMAND_TYPE_")
	}
	return strings.Join(s, ", ")
}
