package testkit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/client"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// FastConfig is a node configuration with timings tuned for tests on a
// loaded 2-core machine under the race detector: failures are detected in
// about a second, elections take about half a second.
func FastConfig(name, dataDir string) node.Config {
	c := node.DefaultConfig()
	c.Name = name
	c.DataDir = dataDir
	c.BindAddr = "127.0.0.1:0"
	c.RaftAddr = "127.0.0.1:0"
	c.GRPCAddr = "127.0.0.1:0"
	c.RaftHeartbeatTimeout = 500 * time.Millisecond
	c.RaftElectionTimeout = 500 * time.Millisecond
	// A leader steps down when it has heard from no quorum for this long:
	// at 250 ms, followers starved of CPU for a quarter second (the suite
	// under stress-ng --cpu 2) made leaders step down mid-write.
	c.RaftLeaderLeaseTimeout = 500 * time.Millisecond
	c.RaftCommitTimeout = 10 * time.Millisecond
	c.GossipProbeInterval = 200 * time.Millisecond
	c.GossipProbeTimeout = 100 * time.Millisecond
	c.GossipSuspicionMult = 3
	c.ReconcileInterval = 500 * time.Millisecond
	c.FailedReapTimeout = 2 * time.Second
	c.HoldTimeout = 10 * time.Second
	return c
}

// Cluster is a set of in-process nodes.
type Cluster struct {
	t     testing.TB
	mu    sync.Mutex
	nodes []*node.Node
	cfgs  []node.Config
	// Hooks run on each node right after it starts (and restarts).
	hooks []func(*node.Node)
	// plugins makes each node's plugins, afresh at every start, given the
	// configuration it starts with.
	plugins func(cfg node.Config) []node.Plugin
	// stacks are the stacks WithStack built, the latest of each node.
	stacks map[string]*stack.Stack
	// links is the network between the nodes (WithPartitions), or nil.
	links *links
	// tls is the CA of a cluster with TLS on (WithTLS), or nil.
	tls *TLS
	// token is the ACL secret Conn's connections send (UseToken), or "".
	token string
}

type options struct {
	configs []func(i int, c *node.Config)
	plugins func(name string) []node.Plugin
	stack   func(name string) stack.Config
	// partitions: the nodes' traffic goes through links.
	partitions bool
	// clients is how many client agents start after the servers.
	clients int
	// tls turns TLS on (WithTLS).
	tls *TLS
}

// WithClients starts k client agents (node.Config.Client), named c1..ck,
// after the servers, each joining the first server: they are nodes
// c.Node(n) .. c.Node(n+k-1). NewCluster returns once each streams its
// work from a server and knows the leader.
func WithClients(k int) Option {
	return func(o *options) { o.clients = k }
}

// Option adjusts the cluster or a node's configuration before it starts.
type Option func(o *options)

// WithConfig applies f to every node's configuration.
func WithConfig(f func(c *node.Config)) Option {
	return func(o *options) { o.configs = append(o.configs, func(_ int, c *node.Config) { f(c) }) }
}

// WithNodeConfig applies f to node i's configuration (0-based).
func WithNodeConfig(f func(i int, c *node.Config)) Option {
	return func(o *options) { o.configs = append(o.configs, f) }
}

// WithPlugins gives every node the plugins f makes for it, given the
// node's name (called at each start and restart, so each node instance has
// its own).
func WithPlugins(f func(name string) []node.Plugin) Option {
	return func(o *options) { o.plugins = f }
}

// WithStack gives every node the runtime and layers that stack.New builds
// from the configuration cfg returns for the node (at each start and
// restart); Stack returns the latest built for a node. As an agent's, the
// runtime's Creation is counted in the node's data dir
// (node.NextCreation) at each start, so a node restarted on its data dir
// never hands out a PID of its earlier runs; a Creation cfg sets is
// overridden.
func WithStack(cfg func(name string) stack.Config) Option {
	return func(o *options) { o.stack = cfg }
}

// Stack returns the runtime and layers of the running instance of the
// named node (WithStack), or nil.
func (c *Cluster) Stack(name string) *stack.Stack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stacks[name]
}

// NewCluster starts n nodes with bootstrap-expect n, each joining the first,
// and waits until they share one leader.
func NewCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return NewClusterOrdered(t, n, order, opts...)
}

// NewClusterOrdered is NewCluster starting the nodes in the given order
// (indexes into n1..nN); each node joins the first one started. Node i is
// still c.Node(i) afterwards.
func NewClusterOrdered(t testing.TB, n int, order []int, opts ...Option) *Cluster {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := &Cluster{t: t, nodes: make([]*node.Node, n), cfgs: make([]node.Config, n), stacks: map[string]*stack.Stack{}, tls: o.tls}
	if o.plugins != nil {
		c.plugins = func(cfg node.Config) []node.Plugin { return o.plugins(cfg.Name) }
	}
	if o.partitions {
		c.links = &links{owner: map[string]int{}, side: map[int]int{}}
	}
	if o.stack != nil {
		c.plugins = func(cfg node.Config) []node.Plugin {
			name := cfg.Name
			sc := o.stack(name)
			creation, err := node.NextCreation(cfg.DataDir)
			if err != nil {
				t.Fatalf("stack of %s: %v", name, err)
			}
			sc.Runtime.Creation = creation
			s, err := stack.New(name, Logger(t, name), sc)
			if err != nil {
				t.Fatalf("stack of %s: %v", name, err)
			}
			c.mu.Lock()
			c.stacks[name] = s
			c.mu.Unlock()
			return s.Plugins()
		}
	}
	first := ""
	for _, i := range order {
		cfg := FastConfig(fmt.Sprintf("n%d", i+1), filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)))
		cfg.BootstrapExpect = n
		for _, f := range o.configs {
			f(i, &cfg)
		}
		if first != "" && len(cfg.Join) == 0 {
			cfg.Join = []string{first}
		}
		c.startAt(i, cfg)
		if first == "" {
			first = c.nodes[i].GossipAddr()
		}
	}
	for k := range o.clients {
		c.mu.Lock()
		c.nodes = append(c.nodes, nil)
		c.cfgs = append(c.cfgs, node.Config{})
		i := len(c.nodes) - 1
		c.mu.Unlock()
		cfg := FastConfig(fmt.Sprintf("c%d", k+1), filepath.Join(t.TempDir(), fmt.Sprintf("c%d", k+1)))
		cfg.Client = true
		for _, f := range o.configs {
			f(i, &cfg)
		}
		if len(cfg.Join) == 0 {
			cfg.Join = []string{first}
		}
		c.startAt(i, cfg)
	}
	c.WaitForLeader()
	return c
}

// Servers returns the live nodes that run Raft.
func (c *Cluster) Servers() []*node.Node {
	var out []*node.Node
	for _, n := range c.Live() {
		if n.IsServer() {
			out = append(out, n)
		}
	}
	return out
}

// OnStart registers a hook run on every node that starts from now on.
func (c *Cluster) OnStart(f func(*node.Node)) {
	c.mu.Lock()
	c.hooks = append(c.hooks, f)
	c.mu.Unlock()
}

// Start starts one more node with cfg and returns its index.
func (c *Cluster) Start(cfg node.Config) int {
	c.t.Helper()
	c.mu.Lock()
	c.nodes = append(c.nodes, nil)
	c.cfgs = append(c.cfgs, node.Config{})
	idx := len(c.nodes) - 1
	c.mu.Unlock()
	c.startAt(idx, cfg)
	return idx
}

func (c *Cluster) startAt(idx int, cfg node.Config) {
	c.t.Helper()
	cfg.Logger = Logger(c.t, cfg.Name)
	if c.plugins != nil {
		cfg.Plugins = c.plugins(cfg)
	}
	if c.links != nil {
		cfg.Network = nodeLinks{l: c.links, self: idx}
	}
	n, err := node.New(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", cfg.Name, err)
	}
	if c.links != nil {
		c.links.own(idx, n.GossipAddr(), n.RaftAddr(), n.GRPCAddr())
	}
	c.t.Cleanup(func() { _ = n.Shutdown() })
	// Pin the ports it bound, so a restart comes back on the same ones.
	cfg.BindAddr, cfg.RaftAddr, cfg.GRPCAddr = n.GossipAddr(), n.RaftAddr(), n.GRPCAddr()
	cfg.Plugins = nil
	c.mu.Lock()
	c.nodes[idx] = n
	c.cfgs[idx] = cfg
	hooks := append([]func(*node.Node){}, c.hooks...)
	c.mu.Unlock()
	for _, h := range hooks {
		h(n)
	}
}

// Node returns node i (it may be stopped).
func (c *Cluster) Node(i int) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Config returns node i's configuration (with its bound ports).
func (c *Cluster) Config(i int) node.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfgs[i]
}

// Size is the number of nodes started (including stopped ones).
func (c *Cluster) Size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// Live returns the nodes that have not been shut down.
func (c *Cluster) Live() []*node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node.Node
	for _, n := range c.nodes {
		if n == nil {
			continue
		}
		select {
		case <-n.ShutdownCh():
		default:
			out = append(out, n)
		}
	}
	return out
}

// Kill stops node i abruptly, without leaving (as SIGKILL would, from the
// cluster's point of view).
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	_ = c.Node(i).Shutdown()
}

// Restart starts node i again from its data dir, on the same ports.
func (c *Cluster) Restart(i int) *node.Node {
	c.t.Helper()
	cfg := c.Config(i)
	cfg.Logger = Logger(c.t, cfg.Name)
	if c.plugins != nil {
		cfg.Plugins = c.plugins(cfg)
	}
	cfg.Join = nil
	for _, n := range c.Live() {
		if n.Name() != cfg.Name {
			cfg.Join = append(cfg.Join, n.GossipAddr())
		}
	}
	var n *node.Node
	c.Eventually(10*time.Second, func() error {
		var err error
		n, err = node.New(cfg)
		if err != nil && c.plugins != nil {
			cfg.Plugins = c.plugins(cfg) // a failed start may have used them
		}
		return err
	}, "restart %s", cfg.Name)
	c.t.Cleanup(func() { _ = n.Shutdown() })
	c.mu.Lock()
	c.nodes[i] = n
	hooks := append([]func(*node.Node){}, c.hooks...)
	c.mu.Unlock()
	for _, h := range hooks {
		h(n)
	}
	return n
}

// Leader waits for a leader that every live node agrees on and returns it.
func (c *Cluster) WaitForLeader() *node.Node {
	c.t.Helper()
	var leader *node.Node
	c.Eventually(30*time.Second, func() error {
		leader = nil
		var name string
		for _, n := range c.Live() {
			l, _ := n.Leader()
			if l == "" {
				return fmt.Errorf("%s knows no leader", n.Name())
			}
			if name != "" && l != name {
				return fmt.Errorf("nodes disagree on the leader: %s vs %s", name, l)
			}
			name = l
			if n.Name() == l && n.IsLeader() {
				leader = n
			}
		}
		if leader == nil {
			return fmt.Errorf("leader %q is not a live node", name)
		}
		return nil
	}, "one leader")
	return leader
}

// Leader is WaitForLeader.
func (c *Cluster) Leader() *node.Node { return c.WaitForLeader() }

// Followers returns the live nodes other than the current leader.
func (c *Cluster) Followers() []*node.Node {
	l := c.WaitForLeader()
	var out []*node.Node
	for _, n := range c.Live() {
		if n != l {
			out = append(out, n)
		}
	}
	return out
}

// Index returns the index of the node with this name, or -1.
func (c *Cluster) Index(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, cfg := range c.cfgs {
		if cfg.Name == name {
			return i
		}
	}
	return -1
}

// Eventually calls f until it returns nil, failing the test with f's last
// error after timeout. It polls; it never sleeps to let things settle.
func (c *Cluster) Eventually(timeout time.Duration, f func() error, format string, args ...any) {
	c.t.Helper()
	Eventually(c.t, timeout, f, format, args...)
}

// Eventually calls f until it returns nil, every 5 ms doubling to 160 ms,
// failing t after timeout.
func Eventually(t testing.TB, timeout time.Duration, f func() error, format string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	if poll.Until(ctx, clock.System(), poll.Doubling(5*time.Millisecond, 160*time.Millisecond), func() (bool, error) {
		err = f()
		return err == nil, nil
	}) == nil {
		return
	}
	if err = f(); err != nil { // a last look, at the deadline
		t.Fatalf("waited %s for %s: %v", timeout, fmt.Sprintf(format, args...), err)
	}
}

// Conn opens a gRPC client connection to node i, closed with the test
// (with a cli certificate when the cluster has TLS on).
func (c *Cluster) Conn(i int) *grpc.ClientConn {
	c.t.Helper()
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	var opts []grpc.DialOption
	if token != "" {
		opts = client.WithToken(token)
	}
	if c.tls != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(c.tls.ClientConfig(tlsutil.RoleCLI))))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	conn, err := grpc.NewClient(c.Node(i).GRPCAddr(), opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// UseToken makes the connections Conn opens from now on send the ACL
// secret with every call (a cluster WithACLs, once bootstrapped).
func (c *Cluster) UseToken(secret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = secret
}

// Dial opens a gRPC connection to addr, closed with the test.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// KV returns a KV client for node i.
func (c *Cluster) KV(i int) pb.KVClient { return pb.NewKVClient(c.Conn(i)) }

// Ctx returns a context bounded by d and by the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
