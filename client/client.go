// Package client is the Go client of a steward cluster: one gRPC connection
// to any node, which forwards writes and consistent reads to the leader.
// The CLI, the scripts' load generators and the benchmark harness use it.
package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/steward/steward/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// DefaultAddr is the gRPC address used when neither --addr nor STEWARD_ADDR
// is set.
const DefaultAddr = "127.0.0.1:7403"

// EnvAddr names the environment variable holding the default address.
const EnvAddr = "STEWARD_ADDR"

// maxMessageSize matches the server's limit (bytes).
const maxMessageSize = 16 << 20

// Addr resolves the address to use: the flag if set, else STEWARD_ADDR,
// else DefaultAddr.
func Addr(flag string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(EnvAddr); v != "" {
		return v
	}
	return DefaultAddr
}

// Client is a connection to one steward node.
type Client struct {
	conn *grpc.ClientConn
	addr string

	KV      pb.KVClient
	Cluster pb.ClusterClient
	Health  healthpb.HealthClient
}

// New connects to addr (lazily: the first call dials).
func New(addr string, opts ...grpc.DialOption) (*Client, error) {
	if addr == "" {
		return nil, errors.New("no address")
	}
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	}
	conn, err := grpc.NewClient(addr, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return &Client{
		conn:    conn,
		addr:    addr,
		KV:      pb.NewKVClient(conn),
		Cluster: pb.NewClusterClient(conn),
		Health:  healthpb.NewHealthClient(conn),
	}, nil
}

// Conn is the underlying connection, for the services of later layers.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Addr is the node address this client talks to.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Put writes key. cas, when not nil, makes it a check-and-set.
func (c *Client) Put(ctx context.Context, key string, value []byte, cas *uint64) (*pb.KVPutResponse, error) {
	return c.KV.Put(ctx, &pb.KVPutRequest{Key: key, Value: value, Cas: cas})
}

// Get reads key; stale answers from the node's own replica.
func (c *Client) Get(ctx context.Context, key string, stale bool) (*pb.KVGetResponse, error) {
	return c.KV.Get(ctx, &pb.KVGetRequest{Key: key, Read: &pb.ReadOptions{Stale: stale}})
}

// Explain turns a gRPC error into a one-line message for people: the
// server's own message, or what the connection failure means.
func Explain(addr string, err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		if strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection error") || strings.Contains(msg, "dial") {
			return fmt.Sprintf("cannot reach a steward agent at %s (is it running? set --addr or %s): %s", addr, EnvAddr, msg)
		}
		return msg
	case codes.DeadlineExceeded:
		return "timed out: " + msg
	}
	return msg
}

// IsRetryable reports whether a request failed without being applied and may
// be retried (no leader yet, or the node is not reachable).
func IsRetryable(err error) bool {
	return status.Code(err) == codes.Unavailable
}
