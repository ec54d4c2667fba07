package client

import (
	"context"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// EnvToken is the environment variable of --token (Consul's
// CONSUL_HTTP_TOKEN, Nomad's NOMAD_TOKEN).
const EnvToken = "STEWARD_TOKEN"

// TokenMetadataKey is the gRPC metadata key the ACL token travels in.
const TokenMetadataKey = "x-steward-token"

// Token is the ACL secret to send: the flag's value, else STEWARD_TOKEN,
// else "" (anonymous).
func Token(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(EnvToken)
}

// WithToken is the dial option that sends secret with every call, as the
// x-steward-token metadata. Given to New or NewLeaderRouted.
func WithToken(secret string) []grpc.DialOption {
	add := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, TokenMetadataKey, secret)
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(add(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(add(ctx), desc, cc, method, opts...)
		}),
	}
}

// WithTokenContext is ctx carrying secret for the calls made with it.
func WithTokenContext(ctx context.Context, secret string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, TokenMetadataKey, secret)
}
