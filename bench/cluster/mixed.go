package cluster

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
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
)

// bootstrapServers is how many servers of a Mixed cluster bootstrap it
// (--bootstrap-expect 3); the other agents join them.
const bootstrapServers = 3

// MixedOptions configures a cluster of Raft servers and client agents.
type MixedOptions struct {
	// Bin is the steward binary (bin/steward).
	Bin string
	// Dir holds the agents' data dirs and logs.
	Dir string
	// Servers is the number of server agents (--server), at least 3. The
	// first three bootstrap the cluster (--bootstrap-expect 3); the others
	// retry-join them, and autopilot makes them voters up to its
	// max_voters, non-voters beyond.
	Servers int
	// Clients is the number of client agents (--client), each
	// retry-joining the three first servers.
	Clients int
	// LogLevel is the agents' log level (default warn).
	LogLevel string
	// Args are extra flags for every agent.
	Args []string
	// ServerConfig, when set, is an agent config file (HCL) given to the
	// servers only with --config, e.g. a raft {} block (RaftBlock).
	ServerConfig string
	// ReadyTimeout bounds the wait for a ready cluster (default 3 min).
	ReadyTimeout time.Duration
}

// Mixed is a running cluster of server and client agent processes.
type Mixed struct {
	opts  MixedOptions
	nodes []*mixedNode // servers first, then clients
	// StartTook is the time from starting the first agent to the cluster
	// being ready (every client streaming, every agent caught up).
	StartTook time.Duration
}

type mixedNode struct {
	name   string
	client bool
	gossip string
	grpc   string
	proc   *Proc
	ctl    *client.Client
}

// StartMixed starts the three bootstrap servers, waits for their leader,
// starts every other agent and waits until the cluster is ready: every
// server agrees on the leader, the leader's configuration holds every
// server (min(servers, 5) of them voters), every client reports a
// connected work stream, and a write through the leader has been applied
// by every agent, clients included.
func StartMixed(ctx context.Context, o MixedOptions) (*Mixed, error) {
	if o.Servers < bootstrapServers {
		return nil, fmt.Errorf("servers: %d is fewer than %d", o.Servers, bootstrapServers)
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 3 * time.Minute
	}
	if _, err := os.Stat(o.Bin); err != nil {
		return nil, fmt.Errorf("steward binary: %w (run make build)", err)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	// Servers: gossip, gRPC, Raft, HTTP; clients: gossip, gRPC, HTTP (each
	// agent its own HTTP port: the default one is the same for all).
	ports, err := FreePorts(4*o.Servers + 3*o.Clients)
	if err != nil {
		return nil, err
	}
	next := func() string {
		p := ports[0]
		ports = ports[1:]
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	serverCfg := ""
	if o.ServerConfig != "" {
		serverCfg = filepath.Join(o.Dir, "server.hcl")
		if err := os.WriteFile(serverCfg, []byte(o.ServerConfig), 0o644); err != nil {
			return nil, err
		}
	}
	m := &Mixed{opts: o}
	var seeds []string // the bootstrap servers' gossip addresses
	var raftAddrs, httpAddrs []string
	for i := 0; i < o.Servers; i++ {
		n := &mixedNode{name: fmt.Sprintf("s%d", i+1), gossip: next(), grpc: next()}
		raftAddrs = append(raftAddrs, next())
		httpAddrs = append(httpAddrs, next())
		if i < bootstrapServers {
			seeds = append(seeds, n.gossip)
		}
		m.nodes = append(m.nodes, n)
	}
	for i := 0; i < o.Clients; i++ {
		m.nodes = append(m.nodes, &mixedNode{name: fmt.Sprintf("c%d", i+1), client: true, gossip: next(), grpc: next()})
		httpAddrs = append(httpAddrs, next())
	}
	for i, n := range m.nodes {
		dataDir := filepath.Join(o.Dir, n.name)
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		args := []string{"agent", "--name", n.name, "--data-dir", dataDir,
			"--bind-addr", n.gossip, "--grpc-addr", n.grpc, "--http-addr", httpAddrs[i],
			"--retry-interval", "500ms", "--log-level", o.LogLevel}
		switch {
		case n.client:
			args = append(args, "--client")
		default:
			args = append(args, "--server", "--raft-addr", raftAddrs[i])
			if i < bootstrapServers {
				args = append(args, "--bootstrap-expect", strconv.Itoa(bootstrapServers))
			}
			if serverCfg != "" {
				args = append(args, "--config", serverCfg)
			}
		}
		for _, s := range seeds {
			if s != n.gossip {
				args = append(args, "--retry-join", s)
			}
		}
		args = append(args, o.Args...)
		n.proc = NewProc(n.name, o.Bin, args, filepath.Join(o.Dir, n.name+".log"))
		if n.ctl, err = client.New(n.grpc); err != nil {
			m.Close()
			return nil, err
		}
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	if err := m.startAll(m.nodes[:bootstrapServers]); err != nil {
		m.Close()
		return nil, err
	}
	if err := poll(wctx, "a leader among the bootstrap servers", func(ctx context.Context) error {
		_, err := m.leaderAmong(ctx, m.nodes[:bootstrapServers])
		return err
	}); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.startAll(m.nodes[bootstrapServers:]); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.waitReady(wctx); err != nil {
		m.Close()
		return nil, err
	}
	m.StartTook = time.Since(start)
	return m, nil
}

func (m *Mixed) startAll(nodes []*mixedNode) error {
	for _, n := range nodes {
		if err := n.proc.Start(); err != nil {
			return err
		}
	}
	return nil
}

// Size is the number of agents; Servers and Clients count each kind.
func (m *Mixed) Size() int { return len(m.nodes) }

// Servers is the number of server agents.
func (m *Mixed) Servers() int { return m.opts.Servers }

// Clients is the number of client agents.
func (m *Mixed) Clients() int { return m.opts.Clients }

// Name is agent i's name (servers s1.., then clients c1..).
func (m *Mixed) Name(i int) string { return m.nodes[i].name }

// IsClient reports whether agent i is a client agent.
func (m *Mixed) IsClient(i int) bool { return m.nodes[i].client }

// Ctl is agent i's control client (a gRPC connection to it).
func (m *Mixed) Ctl(i int) *client.Client { return m.nodes[i].ctl }

// Pid is agent i's process id (0 when it is not running).
func (m *Mixed) Pid(i int) int { return m.nodes[i].proc.Pid() }

// LogTail is the end of agent i's log, for errors.
func (m *Mixed) LogTail(i, lines int) string { return m.nodes[i].proc.LogTail(lines) }

// Index is the index of the agent named name, -1 when there is none.
func (m *Mixed) Index(name string) int {
	for i, n := range m.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// ServerPids and ClientPids are the process ids of each kind of agent.
func (m *Mixed) ServerPids() []int { return m.pids(false) }

// ClientPids: see ServerPids.
func (m *Mixed) ClientPids() []int { return m.pids(true) }

func (m *Mixed) pids(clients bool) []int {
	var out []int
	for _, n := range m.nodes {
		if n.client == clients {
			out = append(out, n.proc.Pid())
		}
	}
	return out
}

// Status asks agent i for its status (the Cluster.Status RPC behind
// `steward status`).
func (m *Mixed) Status(ctx context.Context, i int) (*pb.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return m.nodes[i].ctl.Cluster.Status(ctx, &pb.StatusRequest{})
}

// Leader returns the leader every live server agrees on.
func (m *Mixed) Leader(ctx context.Context) (LeaderInfo, error) {
	return m.leaderAmong(ctx, m.nodes[:m.opts.Servers])
}

func (m *Mixed) leaderAmong(ctx context.Context, nodes []*mixedNode) (LeaderInfo, error) {
	var li LeaderInfo
	for _, n := range nodes {
		if err := n.proc.checkRunning(); err != nil {
			return li, err
		}
		st, err := m.Status(ctx, m.Index(n.name))
		if err != nil {
			return li, fmt.Errorf("%s: status: %w", n.name, err)
		}
		if err := agreeLeader(&li, n.name, st); err != nil {
			return li, err
		}
	}
	li.Index = m.Index(li.Name)
	if li.Index < 0 || li.Term == 0 {
		return li, fmt.Errorf("%w: leader %q is not among the servers asked", ErrNoLeader, li.Name)
	}
	return li, nil
}

// waitReady: see StartMixed.
func (m *Mixed) waitReady(ctx context.Context) error {
	wantVoters := min(m.opts.Servers, node.DefaultConfig().MaxVoters)
	var leader LeaderInfo
	err := poll(ctx, "every server in the configuration and every client streaming", func(ctx context.Context) error {
		for _, n := range m.nodes {
			if err := n.proc.checkRunning(); err != nil {
				return err
			}
		}
		li, err := m.Leader(ctx)
		if err != nil {
			return err
		}
		st, err := m.Status(ctx, li.Index)
		if err != nil {
			return err
		}
		if int(st.Voters+st.Nonvoters) != m.opts.Servers || int(st.Voters) != wantVoters {
			return fmt.Errorf("leader has %d voters and %d non-voters, want %d servers, %d voters", st.Voters, st.Nonvoters, m.opts.Servers, wantVoters)
		}
		for i, n := range m.nodes {
			if !n.client {
				continue
			}
			st, err := m.Status(ctx, i)
			if err != nil {
				return fmt.Errorf("%s: status: %w", n.name, err)
			}
			if st.Mode != node.ModeClient || !st.StreamConnected || st.Leader != li.Name {
				return fmt.Errorf("%s: mode %q, stream_connected %v (server %q), leader %q", n.name, st.Mode, st.StreamConnected, st.StreamServer, st.Leader)
			}
		}
		leader = li
		return nil
	})
	if err != nil {
		return err
	}
	var idx uint64
	if err := poll(ctx, "a write through the leader", func(ctx context.Context) error {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := m.nodes[leader.Index].ctl.Put(wctx, "bench/ready", []byte("ready"), nil)
		if err != nil {
			return err
		}
		idx = resp.GetMeta().GetIndex()
		if idx == 0 {
			return errors.New("the put response carries no index")
		}
		return nil
	}); err != nil {
		return err
	}
	return poll(ctx, "every agent to apply the write", func(ctx context.Context) error {
		for i, n := range m.nodes {
			st, err := m.Status(ctx, i)
			if err != nil {
				return fmt.Errorf("%s: status: %w", n.name, err)
			}
			if st.AppliedIndex < idx {
				return fmt.Errorf("%s applied %d of %d", n.name, st.AppliedIndex, idx)
			}
		}
		return nil
	})
}

// LeaderTarget opens one connection per writer to the leader.
func (m *Mixed) LeaderTarget(ctx context.Context, writers int) (Target, LeaderInfo, error) {
	li, err := m.Leader(ctx)
	if err != nil {
		return nil, li, err
	}
	t, err := NewStewardTarget([]string{m.nodes[li.Index].grpc}, writers, 0)
	return t, li, err
}

// Close stops every agent at once (SIGTERM, SIGKILL after 5 s) and closes
// the control clients.
func (m *Mixed) Close() {
	var wg sync.WaitGroup
	for _, n := range m.nodes {
		if n.ctl != nil {
			_ = n.ctl.Close()
		}
		if n.proc == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.proc.Stop(5 * time.Second)
		}()
	}
	wg.Wait()
}
