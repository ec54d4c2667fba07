package transport

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Pool keeps one client connection per peer address, reused by every
// forwarded request and node-to-node call (a gRPC connection multiplexes
// concurrent calls over HTTP/2).
type Pool struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	opts  []grpc.DialOption
	// creds gives the transport credentials of the connection to an
	// address; nil: plain text.
	creds  CredentialsFunc
	closed bool
}

// CredentialsFunc gives the transport credentials of the connection to a
// peer's gRPC address (node-to-node TLS: the peer's expected role depends
// on the address).
type CredentialsFunc func(addr string) credentials.TransportCredentials

// NewPool returns an empty pool of plain-text connections; opts are added
// to every connection.
func NewPool(opts ...grpc.DialOption) *Pool {
	return NewTLSPool(nil, opts...)
}

// NewTLSPool returns an empty pool whose connection to addr uses the
// credentials creds(addr) gives (nil creds: plain text, as NewPool); opts
// are added to every connection.
func NewTLSPool(creds CredentialsFunc, opts ...grpc.DialOption) *Pool {
	base := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}
	return &Pool{conns: map[string]*grpc.ClientConn{}, opts: append(base, opts...), creds: creds}
}

// Get returns the connection to addr, creating it on first use.
func (p *Pool) Get(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrShuttingDown
	}
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	tc := insecure.NewCredentials()
	if p.creds != nil {
		tc = p.creds(addr)
	}
	c, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(tc)}, p.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	p.conns[addr] = c
	return c, nil
}

// Close closes every connection.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for addr, c := range p.conns {
		_ = c.Close()
		delete(p.conns, addr)
	}
}
