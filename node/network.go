package node

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc"
)

// Network decides which other nodes this node's traffic reaches: Raft,
// gossip and gRPC between nodes all pass through it. Nil is the plain
// network; a test kit's cuts links (testkit.Cluster.Partition).
type Network interface {
	// Allowed reports whether this node may exchange traffic with the node
	// listening at addr (one of its Raft, gossip or gRPC addresses).
	Allowed(addr string) bool
}

// errLinkCut: the network does not link this node to the address.
var errLinkCut = errors.New("network link cut")

func (n *Node) allowed(addr string) bool {
	return n.cfg.Network == nil || n.cfg.Network.Allowed(addr)
}

// dial opens a TCP connection to another node through the network.
func (n *Node) dial(ctx context.Context, addr string) (net.Conn, error) {
	if !n.allowed(addr) {
		return nil, fmt.Errorf("%w to %s", errLinkCut, addr)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil || n.cfg.Network == nil {
		return conn, err
	}
	return &linkedConn{Conn: conn, addr: addr, n: n}, nil
}

// linkedConn is a connection the network may cut: once it does, the next
// read or write fails and closes the connection, as a broken link would.
type linkedConn struct {
	net.Conn
	addr string
	n    *Node
}

func (c *linkedConn) check() error {
	if c.n.allowed(c.addr) {
		return nil
	}
	_ = c.Conn.Close()
	return fmt.Errorf("%w to %s", errLinkCut, c.addr)
}

func (c *linkedConn) Read(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *linkedConn) Write(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// grpcDialOptions make the pool's connections to other nodes go through
// the network.
func (n *Node) grpcDialOptions() []grpc.DialOption {
	opts := aclDialOptions()
	if n.cfg.Network == nil {
		return opts
	}
	return append(opts, grpc.WithContextDialer(n.dial))
}

// gossipTransport is memberlist's own UDP/TCP transport with the
// network's cuts applied: packets to or from a cut address are dropped,
// streams to one refused.
type gossipTransport struct {
	*memberlist.NetTransport
	n       *Node
	packets chan *memberlist.Packet
	// done closes when Shutdown begins (packets are dropped from then),
	// drained once the transport's listeners have stopped.
	done, drained chan struct{}
}

// newGossipTransport binds memberlist's transport on host:port for mc and
// sets mc's port to the one bound.
func (n *Node) newGossipTransport(mc *memberlist.Config, logger *log.Logger) (*gossipTransport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: logger})
	if err != nil {
		return nil, err
	}
	if mc.BindPort == 0 {
		mc.BindPort = nt.GetAutoBindPort()
		if mc.AdvertiseAddr != "" {
			mc.AdvertisePort = mc.BindPort
		}
	}
	t := &gossipTransport{NetTransport: nt, n: n, packets: make(chan *memberlist.Packet), done: make(chan struct{}), drained: make(chan struct{})}
	// Forwards the packets the network lets through. It reads until the
	// transport's listeners have stopped: one blocked handing over a packet
	// would hold up the transport's Shutdown.
	go func() {
		for {
			select {
			case p := <-nt.PacketCh():
				if !n.allowed(p.From.String()) {
					continue
				}
				select {
				case t.packets <- p:
				case <-t.done:
				}
			case <-t.drained:
				return
			}
		}
	}()
	return t, nil
}

// Shutdown stops the transport; packets arriving meanwhile are dropped.
func (t *gossipTransport) Shutdown() error {
	close(t.done)
	err := t.NetTransport.Shutdown()
	close(t.drained)
	return err
}

func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if !t.n.allowed(addr) {
		return time.Now(), nil // lost on the way, as a cut link loses it
	}
	return t.NetTransport.WriteTo(b, addr)
}

// WriteToAddress and DialAddressTimeout are what memberlist uses when the
// transport knows them (probes, the TCP fallback ping, push/pull): they
// pass through the network too, or a cut link would still carry gossip.
func (t *gossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *gossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return t.n.dial(ctx, addr)
}
