// Package client is the Go client of a steward cluster: one gRPC connection
// to any node, which forwards writes and consistent reads to the leader.
// The CLI, the scripts' load generators and the benchmark harness use it.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/steward/steward/internal/rpcerr"
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

// maxMessageSize matches the server's limit, transport.MaxMessageSize
// (bytes).
const maxMessageSize = 16 << 20

// ErrBadAddress: an address is not host:port with a host and a numeric
// port.
var ErrBadAddress = errors.New("not host:port (e.g. " + DefaultAddr + ")")

// CheckAddr checks that addr is host:port: a non-empty host (a name or an
// IP, IPv6 in brackets) and a port from 1 to 65535. gRPC would otherwise
// take "127.0.0.1" for port 443 and report a bad name only as "produced
// zero addresses".
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host != "" && port != "" && strings.Trim(port, "0123456789") == "" {
		if n, err := strconv.Atoi(port); err == nil && n >= 1 && n <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("%q: %w", addr, ErrBadAddress)
}

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

	route *leaderRoute
}

// New connects to addr, host:port (lazily: the first call dials).
func New(addr string, opts ...grpc.DialOption) (*Client, error) {
	if err := CheckAddr(addr); err != nil {
		return nil, err
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

// Close closes the connection (and the leader's, when routed).
func (c *Client) Close() error {
	if r := c.route; r != nil {
		r.mu.Lock()
		if r.conn != nil {
			_ = r.conn.Close()
		}
		r.mu.Unlock()
	}
	return c.conn.Close()
}

// Put writes key. cas, when not nil, makes it a check-and-set.
func (c *Client) Put(ctx context.Context, key string, value []byte, cas *uint64) (*pb.KVPutResponse, error) {
	req := &pb.KVPutRequest{Key: key, Value: value, Cas: cas}
	kv := c.kv(ctx)
	resp, err := kv.Put(ctx, req)
	if err != nil && kv != c.KV && rpcerr.NotApplied(err) {
		// The leader we knew is unreachable or no longer leads, and the
		// write was not applied: ask the node we were given, which forwards.
		c.forget(kv)
		return c.KV.Put(ctx, req)
	}
	return resp, err
}

// Get reads key; stale answers from the node's own replica.
func (c *Client) Get(ctx context.Context, key string, stale bool) (*pb.KVGetResponse, error) {
	req := &pb.KVGetRequest{Key: key, Read: &pb.ReadOptions{Stale: stale}}
	if stale {
		return c.KV.Get(ctx, req)
	}
	kv := c.kv(ctx)
	resp, err := kv.Get(ctx, req)
	if err != nil && kv != c.KV && status.Code(err) == codes.Unavailable {
		c.forget(kv)
		return c.KV.Get(ctx, req)
	}
	return resp, err
}

// tooLarge matches gRPC's own message for a message over the size limit,
// on either side: "grpc: trying to send message larger than max (N vs. M)",
// "grpc: received message larger than max (N vs. M)".
var tooLarge = regexp.MustCompile(`message larger than max \((\d+) vs\. (\d+)\)`)

// Explain turns a gRPC error into a one-line message for people: the
// server's own message, or what a failure inside gRPC means (the connection,
// the name, the message size limit, the encoding of a request), in place of
// gRPC's wording.
func Explain(addr string, err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		if strings.Contains(msg, "produced zero addresses") || strings.Contains(msg, "name resolver error") {
			return fmt.Sprintf("cannot resolve the host of %s: the name has no address (is it right? set --addr or %s)", addr, EnvAddr)
		}
		if strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection error") || strings.Contains(msg, "dial") {
			return fmt.Sprintf("cannot reach a steward agent at %s (is it running? set --addr or %s): %s", addr, EnvAddr, msg)
		}
		return msg
	case codes.DeadlineExceeded:
		return "timed out: " + msg
	case codes.ResourceExhausted:
		if m := tooLarge.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("a message of %s bytes is over the gRPC message limit of %s bytes (%d MiB)", m[1], m[2], maxMessageSize>>20)
		}
	case codes.Internal:
		if strings.Contains(msg, "error while marshaling") && strings.Contains(msg, "invalid UTF-8") {
			return "an argument or flag value is not valid UTF-8, which names and keys must be; nothing was sent"
		}
	case codes.Unimplemented:
		if strings.Contains(msg, "unknown service") {
			return fmt.Sprintf("the agent at %s does not serve this: %s", addr, msg)
		}
	}
	return msg
}

// IsRetryable reports whether a request failed without being applied and may
// be retried (no leader yet, or the node is not reachable).
func IsRetryable(err error) bool {
	return status.Code(err) == codes.Unavailable
}

// leaderRoute sends writes and consistent reads straight to the leader,
// saving the receiving node's forwarding hop.
type leaderRoute struct {
	mu   sync.Mutex
	addr string
	conn *grpc.ClientConn
	kv   pb.KVClient
	opts []grpc.DialOption
}

// NewLeaderRouted connects to addr and sends Put and consistent Get calls
// to the leader, whose address it learns from addr's Status and learns
// again after a failure; stale reads and every other call go to addr, which
// also takes over (forwarding) while no leader is known.
func NewLeaderRouted(addr string, opts ...grpc.DialOption) (*Client, error) {
	c, err := New(addr, opts...)
	if err != nil {
		return nil, err
	}
	c.route = &leaderRoute{opts: opts}
	return c, nil
}

// kv returns the KV client a write or consistent read should use.
func (c *Client) kv(ctx context.Context) pb.KVClient {
	r := c.route
	if r == nil {
		return c.KV
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kv != nil {
		return r.kv
	}
	st, err := c.Cluster.Status(ctx, &pb.StatusRequest{})
	if err != nil || st.LeaderAddr == "" || st.LeaderAddr == c.addr {
		return c.KV
	}
	conn, err := New(st.LeaderAddr, r.opts...)
	if err != nil {
		return c.KV
	}
	r.addr, r.conn, r.kv = st.LeaderAddr, conn.conn, conn.KV
	return r.kv
}

// forget drops the leader connection after a failure on it.
func (c *Client) forget(used pb.KVClient) {
	r := c.route
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kv == used && r.conn != nil {
		_ = r.conn.Close()
		r.addr, r.conn, r.kv = "", nil, nil
	}
}

// RoutedTo returns the leader address writes currently go to ("" when not
// routed or not known yet).
func (c *Client) RoutedTo() string {
	if c.route == nil {
		return ""
	}
	c.route.mu.Lock()
	defer c.route.mu.Unlock()
	return c.route.addr
}
