package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/steward/steward/client"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc"
)

// Node is one agent of the cluster.
type Node struct {
	Index   int
	Name    string
	Gossip  string
	Raft    string
	GRPC    string
	DataDir string
	proc    *Proc

	mu sync.Mutex
	c  *client.Client
}

// Cluster is the agents of a run.
type Cluster struct {
	Nodes []*Node
	// Net is nil on loopback.
	Net  *Net
	dial []grpc.DialOption
}

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// Bin is the steward binary.
	Bin string
	// Dir holds the data dirs and logs.
	Dir string
	// Size is the number of agents, 3 or 5.
	Size int
	// Net, when not nil, puts node i in NodeNS(i); nil: loopback.
	Net *Net
	// LogLevel of the agents (default info).
	LogLevel string
}

// StartCluster starts the agents (bootstrap-expect Size, retry-join each
// other) and waits until they are healthy.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if o.Size < 1 {
		return nil, fmt.Errorf("size %d: at least 1 node", o.Size)
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if _, err := os.Stat(o.Bin); err != nil {
		return nil, fmt.Errorf("steward binary: %w", err)
	}
	c := &Cluster{Net: o.Net}
	var ports []int
	if o.Net == nil {
		var err error
		if ports, err = freePorts(4 * o.Size); err != nil {
			return nil, err
		}
	} else {
		c.dial = []grpc.DialOption{grpc.WithContextDialer(o.Net.Dialer())}
	}
	for i := 0; i < o.Size; i++ {
		n := &Node{Index: i, Name: fmt.Sprintf("n%d", i+1), DataDir: filepath.Join(o.Dir, fmt.Sprintf("n%d", i+1))}
		if o.Net == nil {
			n.Gossip = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[4*i]))
			n.Raft = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[4*i+1]))
			n.GRPC = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[4*i+2]))
		} else {
			n.Gossip = net.JoinHostPort(NodeIP(i), "7401")
			n.Raft = net.JoinHostPort(NodeIP(i), "7402")
			n.GRPC = net.JoinHostPort(NodeIP(i), "7403")
		}
		c.Nodes = append(c.Nodes, n)
	}
	for i, n := range c.Nodes {
		http := net.JoinHostPort(NodeIP(i), "7404")
		if o.Net == nil {
			http = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[4*i+3]))
		}
		args := []string{o.Bin, "agent", "--name", n.Name, "--data-dir", n.DataDir,
			"--bind-addr", n.Gossip, "--raft-addr", n.Raft, "--grpc-addr", n.GRPC, "--http-addr", http,
			"--server", "--bootstrap-expect", strconv.Itoa(o.Size),
			"--retry-interval", "500ms", "--log-level", o.LogLevel}
		for _, p := range c.Nodes {
			if p != n {
				args = append(args, "--retry-join", p.Gossip)
			}
		}
		if o.Net != nil {
			args = append([]string{"ip", "netns", "exec", NodeNS(i)}, args...)
		}
		if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
			return nil, err
		}
		n.proc = newProc(n.Name, args, filepath.Join(o.Dir, n.Name+".log"))
		if err := n.connect(c.dial); err != nil {
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := n.proc.Start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	if _, err := c.WaitHealthy(wctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// connect (re)opens the node's control connection: after a kill the old
// one may sit in a long reconnect backoff.
func (n *Node) connect(dial []grpc.DialOption) error {
	c, err := client.New(n.GRPC, dial...)
	if err != nil {
		return err
	}
	n.mu.Lock()
	old := n.c
	n.c = c
	n.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Client is the node's current control connection.
func (n *Node) Client() *client.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c
}

// Proc is the node's process.
func (n *Node) Proc() *Proc { return n.proc }

// Restart starts node i again from its data dir, on a fresh connection.
func (c *Cluster) Restart(i int) error {
	n := c.Nodes[i]
	if err := n.connect(c.dial); err != nil {
		return err
	}
	return n.proc.Start()
}

// Close stops every agent and closes the connections.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.proc.Kill()
			if cl := n.Client(); cl != nil {
				_ = cl.Close()
			}
		}()
	}
	wg.Wait()
}

// Status asks node i for its status within 3 s (a paused node is not asked).
func (c *Cluster) Status(ctx context.Context, i int, digest bool) (*pb.StatusResponse, error) {
	n := c.Nodes[i]
	if !n.proc.Up() {
		return nil, fmt.Errorf("%s is down", n.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return n.Client().Cluster.Status(ctx, &pb.StatusRequest{StateDigest: digest})
}

// ErrNoLeader: no node is a leader that the other live nodes agree on.
var ErrNoLeader = errors.New("no leader")

// Leader is the index of the node that says it leads with the highest
// term, among the nodes that answer.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	best, term := -1, uint64(0)
	for i := range c.Nodes {
		st, err := c.Status(ctx, i, false)
		if err != nil {
			continue
		}
		if st.RaftState == "leader" && st.Term >= term {
			best, term = i, st.Term
		}
	}
	if best < 0 {
		return -1, ErrNoLeader
	}
	return best, nil
}

// AgreedLeader is the leader every running node names, which says it
// leads; an error says who disagrees.
func (c *Cluster) AgreedLeader(ctx context.Context) (int, error) {
	name := ""
	for i, n := range c.Nodes {
		if !n.proc.Up() {
			return -1, fmt.Errorf("%s is down", n.Name)
		}
		st, err := c.Status(ctx, i, false)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", n.Name, err)
		}
		switch {
		case st.Leader == "":
			return -1, fmt.Errorf("%w: %s knows none", ErrNoLeader, n.Name)
		case name != "" && st.Leader != name:
			return -1, fmt.Errorf("%w: %s says %s, another %s", ErrNoLeader, n.Name, st.Leader, name)
		}
		name = st.Leader
	}
	for i, n := range c.Nodes {
		if n.Name == name {
			st, err := c.Status(ctx, i, false)
			if err != nil || st.RaftState != "leader" {
				return -1, fmt.Errorf("%w: %s is named but does not lead", ErrNoLeader, name)
			}
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: %q is not a node", ErrNoLeader, name)
}

// WaitHealthy waits until every node runs, all agree on a leader that has
// every node as a voter, and every node has applied the leader's commit
// index; it returns the leader.
func (c *Cluster) WaitHealthy(ctx context.Context) (int, error) {
	var leader int
	var commit uint64
	err := poll(ctx, 250*time.Millisecond, func() error {
		for _, n := range c.Nodes {
			if !n.proc.Running() {
				return permanent(fmt.Errorf("%s exited: %s", n.Name, n.proc.LogTail(3)))
			}
		}
		l, err := c.AgreedLeader(ctx)
		if err != nil {
			return err
		}
		st, err := c.Status(ctx, l, false)
		if err != nil {
			return err
		}
		if int(st.Voters) != len(c.Nodes) {
			return fmt.Errorf("leader %s has %d voters and %d nonvoters, want %d voters", st.Node, st.Voters, st.Nonvoters, len(c.Nodes))
		}
		leader, commit = l, st.CommitIndex
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("cluster not healthy: %w", err)
	}
	err = poll(ctx, 250*time.Millisecond, func() error {
		for i, n := range c.Nodes {
			st, err := c.Status(ctx, i, false)
			if err != nil {
				return err
			}
			if st.AppliedIndex < commit {
				return fmt.Errorf("%s applied %d of %d", n.Name, st.AppliedIndex, commit)
			}
		}
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("nodes not caught up: %w", err)
	}
	return leader, nil
}

// errPermanent marks an error that no retry will cure.
var errPermanent = errors.New("permanent")

func permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// poll calls f every interval until it returns nil or a permanent error,
// or ctx ends, then returns f's last error.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := f()
		if err == nil || errors.Is(err, errPermanent) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Digest is a node's state digest.
type Digest struct {
	Node   string `json:"node"`
	Index  uint64 `json:"index"`
	SHA256 string `json:"sha256"`
}

// StatesEqual waits until every node's state store is at the same index
// and compares their digests there: equal is true when they match; false
// when two nodes at one index differ (at once) or when the nodes never
// met at one index before ctx ended.
func (c *Cluster) StatesEqual(ctx context.Context) (bool, []Digest, error) {
	var last []Digest
	err := poll(ctx, 200*time.Millisecond, func() error {
		var ds []Digest
		for i, n := range c.Nodes {
			st, err := c.Status(ctx, i, true)
			if err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			ds = append(ds, Digest{Node: n.Name, Index: st.StateIndex, SHA256: st.StateSha256})
		}
		last = ds
		for _, d := range ds[1:] {
			if d.Index != ds[0].Index {
				return fmt.Errorf("%s at %d, %s at %d", d.Node, d.Index, ds[0].Node, ds[0].Index)
			}
		}
		return nil
	})
	if err != nil {
		return false, last, err
	}
	for _, d := range last[1:] {
		if d.SHA256 != last[0].SHA256 {
			return false, last, nil
		}
	}
	return true, last, nil
}

// QuorumLeader is a node that says it leads and that a majority of the
// nodes (itself included) name as leader.
func (c *Cluster) QuorumLeader(ctx context.Context) (int, error) {
	votes := map[string]int{}
	leading := map[string]int{}
	for i := range c.Nodes {
		st, err := c.Status(ctx, i, false)
		if err != nil {
			continue
		}
		if st.Leader != "" {
			votes[st.Leader]++
		}
		if st.RaftState == "leader" {
			leading[st.Node] = i
		}
	}
	for name, i := range leading {
		if votes[name] > len(c.Nodes)/2 {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: named %v, leading %v", ErrNoLeader, votes, leading)
}

// throughAny calls f on each node in turn, each call bounded by timeout,
// and returns the first answer; when every node fails, their errors
// joined.
func throughAny[T any](ctx context.Context, c *Cluster, timeout time.Duration, f func(context.Context, *Node) (T, error)) (T, error) {
	var errs []error
	for _, n := range c.Nodes {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		v, err := f(cctx, n)
		cancel()
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
	}
	var zero T
	return zero, errors.Join(errs...)
}
