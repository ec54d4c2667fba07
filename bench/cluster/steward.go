package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward/steward/client"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// StewardOptions configures a steward cluster.
type StewardOptions struct {
	// Bin is the steward binary (bin/steward).
	Bin string
	// Dir holds the nodes' data dirs, logs and config file.
	Dir string
	// Size is the number of agents (default 3).
	Size int
	// Name prefixes the node names (default "s": s1, s2, s3).
	Name string
	// Raft holds settings for the config file's raft {} block, e.g.
	// "max_append_entries": "256", "commit_timeout": `"5ms"` (values are
	// HCL expressions: quote durations). Empty: the defaults, no file.
	Raft map[string]string
	// LogLevel is the agents' log level (default warn).
	LogLevel string
	// LogStore, when set, is passed as --raft-log-store ("wal" or
	// "boltdb"); empty: the agent's default, no flag.
	LogStore string
	// Args are extra flags for every agent.
	Args []string
}

// LogStores are the values StewardOptions.LogStore accepts besides "".
var LogStores = []string{"wal", "boltdb"}

// CheckLogStore is nil for "" and the names in LogStores, else an error
// naming the value.
func CheckLogStore(s string) error {
	if s == "" || slices.Contains(LogStores, s) {
		return nil
	}
	return fmt.Errorf("raft log store %q: want one of %s (or empty for the agent's default)", s, strings.Join(LogStores, ", "))
}

// Steward is a running steward cluster of agent processes.
type Steward struct {
	opts    StewardOptions
	nodes   []*stewardNode
	clients []*client.Client // one per node, for control and failover writes
}

type stewardNode struct {
	name       string
	gossip     string
	grpc       string
	http       string
	proc       *Proc
	dataDir    string
	configFile string
}

// StartSteward starts the agents and waits until they agree on a leader
// and a write succeeds through every node.
func StartSteward(ctx context.Context, o StewardOptions) (*Steward, error) {
	if o.Size == 0 {
		o.Size = 3
	}
	if o.Name == "" {
		o.Name = "s"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if _, err := os.Stat(o.Bin); err != nil {
		return nil, fmt.Errorf("steward binary: %w (run make build)", err)
	}
	if err := CheckLogStore(o.LogStore); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	cfgFile := ""
	if len(o.Raft) > 0 {
		cfgFile = filepath.Join(o.Dir, "raft.hcl")
		if err := os.WriteFile(cfgFile, []byte(RaftBlock(o.Raft)), 0o644); err != nil {
			return nil, err
		}
	}
	// Four ports per agent: gossip, Raft, gRPC and HTTP (/metrics; the
	// agent's default HTTP port would be the same for every agent on
	// 127.0.0.1).
	const perNode = 4
	ports, err := FreePorts(perNode * o.Size)
	if err != nil {
		return nil, err
	}
	s := &Steward{opts: o}
	for i := 0; i < o.Size; i++ {
		s.nodes = append(s.nodes, &stewardNode{
			name:       fmt.Sprintf("%s%d", o.Name, i+1),
			gossip:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[perNode*i])),
			grpc:       net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[perNode*i+2])),
			http:       net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[perNode*i+3])),
			dataDir:    filepath.Join(o.Dir, fmt.Sprintf("%s%d", o.Name, i+1)),
			configFile: cfgFile,
		})
	}
	for i, n := range s.nodes {
		args := []string{"agent", "--name", n.name, "--data-dir", n.dataDir,
			"--bind-addr", n.gossip,
			"--raft-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[perNode*i+1])),
			"--grpc-addr", n.grpc,
			"--http-addr", n.http,
			"--server", "--bootstrap-expect", strconv.Itoa(o.Size),
			"--retry-interval", "500ms",
			"--log-level", o.LogLevel}
		for _, other := range s.nodes {
			if other != n {
				args = append(args, "--retry-join", other.gossip)
			}
		}
		if cfgFile != "" {
			args = append(args, "--config", cfgFile)
		}
		args = append(args, StewardArgs(o)...)
		if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
			return nil, err
		}
		n.proc = NewProc(n.name, o.Bin, args, filepath.Join(o.Dir, n.name+".log"))
		c, err := client.New(n.grpc)
		if err != nil {
			return nil, err
		}
		s.clients = append(s.clients, c)
	}
	for _, n := range s.nodes {
		if err := n.proc.Start(); err != nil {
			s.Close()
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := s.WaitHealthy(wctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// StewardArgs are the agent flags StartSteward adds for o's LogStore and
// Args (after the addresses, the joins and --config).
func StewardArgs(o StewardOptions) []string {
	var args []string
	if o.LogStore != "" {
		args = append(args, "--raft-log-store", o.LogStore)
	}
	return append(args, o.Args...)
}

// RaftBlock renders settings as an agent config file's raft {} block.
func RaftBlock(raft map[string]string) string {
	var b strings.Builder
	b.WriteString("raft {\n")
	for _, k := range slices.Sorted(maps.Keys(raft)) {
		fmt.Fprintf(&b, "  %s = %s\n", k, raft[k])
	}
	b.WriteString("}\n")
	return b.String()
}

// Name is "steward".
func (s *Steward) Name() string { return "steward" }

// Size is the number of members.
func (s *Steward) Size() int { return len(s.nodes) }

// MemberName is member i's name.
func (s *Steward) MemberName(i int) string { return s.nodes[i].name }

// Running reports whether member i's process runs.
func (s *Steward) Running(i int) bool { return s.nodes[i].proc.Running() }

// Settings describes the cluster for the report.
func (s *Steward) Settings() map[string]string {
	m := DefaultStewardSettings()
	m["size"] = strconv.Itoa(len(s.nodes))
	for k, v := range s.opts.Raft {
		m[k] = strings.Trim(v, `"`)
	}
	if s.opts.LogStore != "" {
		m["log_store"] = s.opts.LogStore + " (--raft-log-store)"
	}
	if len(s.opts.Args) > 0 {
		m["extra_args"] = strings.Join(s.opts.Args, " ")
	}
	return m
}

// DefaultStewardSettings are the agent's defaults that bear on the
// comparison (node.DefaultConfig).
func DefaultStewardSettings() map[string]string {
	d := node.DefaultConfig()
	m := map[string]string{
		"heartbeat_timeout":    d.RaftHeartbeatTimeout.String(),
		"election_timeout":     d.RaftElectionTimeout.String(),
		"leader_lease_timeout": d.RaftLeaderLeaseTimeout.String(),
		"commit_timeout":       d.RaftCommitTimeout.String(),
		"max_append_entries":   strconv.Itoa(d.RaftMaxAppendEntries),
		"snapshot_threshold":   strconv.FormatUint(d.RaftSnapshotThreshold, 10),
		"log_store":            "the agent's default (no --raft-log-store)",
		"start":                "steward agent --bootstrap-expect N --retry-join ... (--config raft.hcl when tuned)",
	}
	return m
}

// HTTPAddr is member i's HTTP listener (/metrics; /debug/pprof/ when
// the agents run with --enable-debug in Args).
func (s *Steward) HTTPAddr(i int) string { return s.nodes[i].http }

// Pids are the live agents' process ids.
func (s *Steward) Pids() []int {
	var out []int
	for _, n := range s.nodes {
		out = append(out, n.proc.Pid())
	}
	return out
}

// Close stops every agent (SIGTERM, then SIGKILL) and closes the clients.
func (s *Steward) Close() {
	for _, c := range s.clients {
		_ = c.Close()
	}
	for _, n := range s.nodes {
		if n.proc != nil {
			n.proc.Stop(10 * time.Second)
		}
	}
}

func (s *Steward) status(ctx context.Context, i int) (*pb.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.clients[i].Cluster.Status(ctx, &pb.StatusRequest{})
}

func (s *Steward) index(name string) int {
	for i, n := range s.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// Leader returns the leader every live member agrees on, as their status
// (the Status RPC behind `steward status`) reports it.
func (s *Steward) Leader(ctx context.Context) (LeaderInfo, error) {
	var li LeaderInfo
	for i, n := range s.nodes {
		if !n.proc.Running() {
			continue
		}
		st, err := s.status(ctx, i)
		if err != nil {
			return li, fmt.Errorf("%s: status: %w", n.name, err)
		}
		if err := agreeLeader(&li, n.name, st); err != nil {
			return li, err
		}
	}
	li.Index = s.index(li.Name)
	if li.Name == "" || li.Index < 0 || !s.nodes[li.Index].proc.Running() || li.Term == 0 {
		return li, fmt.Errorf("%w: leader %q is not a live member", ErrNoLeader, li.Name)
	}
	return li, nil
}

// agreeLeader folds agent name's status st into li, the leader the agents
// asked before it agree on (li.Name is "" before the first): every agent
// must name the same leader, and the leader must say it leads, giving its
// term. Steward and Mixed find their leader so.
func agreeLeader(li *LeaderInfo, name string, st *pb.StatusResponse) error {
	switch {
	case st.Leader == "":
		return fmt.Errorf("%w: %s knows no leader", ErrNoLeader, name)
	case li.Name != "" && st.Leader != li.Name:
		return fmt.Errorf("%w: %s says %s, another says %s", ErrNoLeader, name, st.Leader, li.Name)
	}
	li.Name = st.Leader
	if st.Leader == name {
		if st.RaftState != "leader" {
			return fmt.Errorf("%w: %s is named leader but is %s", ErrNoLeader, name, st.RaftState)
		}
		li.Term = st.Term
	}
	return nil
}

// WaitHealthy waits until every member runs, all agree on a leader with
// every member a voter, a write succeeds through every member, and then
// until every member has applied that write.
func (s *Steward) WaitHealthy(ctx context.Context) error {
	var idx uint64
	err := poll(ctx, "a steward leader and writes through every node", func(ctx context.Context) error {
		for _, n := range s.nodes {
			if err := n.proc.checkRunning(); err != nil {
				return err
			}
		}
		li, err := s.Leader(ctx)
		if err != nil {
			return err
		}
		st, err := s.status(ctx, li.Index)
		if err != nil {
			return err
		}
		if int(st.Voters) != len(s.nodes) {
			return fmt.Errorf("leader has %d voters, want %d", st.Voters, len(s.nodes))
		}
		for i := range s.nodes {
			if _, err := s.PutOn(ctx, i, "bench/health", []byte(s.nodes[i].name)); err != nil {
				return fmt.Errorf("%s: put: %w", s.nodes[i].name, err)
			}
		}
		lst, err := s.status(ctx, li.Index)
		if err != nil {
			return err
		}
		idx = lst.CommitIndex
		return nil
	})
	if err != nil {
		return err
	}
	return poll(ctx, "every steward node to catch up", func(ctx context.Context) error {
		for i, n := range s.nodes {
			st, err := s.status(ctx, i)
			if err != nil {
				return err
			}
			if st.AppliedIndex < idx {
				return fmt.Errorf("%s applied %d of %d", n.name, st.AppliedIndex, idx)
			}
		}
		return nil
	})
}

// PutOn writes through member i with its control client.
func (s *Steward) PutOn(ctx context.Context, i int, key string, value []byte) (Commit, error) {
	resp, err := s.clients[i].Put(ctx, key, value, nil)
	if err != nil {
		return Commit{}, err
	}
	return Commit{Leader: resp.GetMeta().GetLeader()}, nil
}

// MemberStatus is member i's Raft term and the leader it follows, from its
// Status RPC.
func (s *Steward) MemberStatus(ctx context.Context, i int) (MemberStatus, error) {
	st, err := s.status(ctx, i)
	if err != nil {
		return MemberStatus{}, err
	}
	return MemberStatus{Term: st.Term, Leader: st.Leader}, nil
}

// Metrics scrapes member i's /metrics and returns the samples whose names
// are listed (a name with labels, as the exposition writes it, e.g.
// steward_raft_state_transitions_total{state="candidate"}); a sample not
// exposed is absent from the map.
func (s *Steward) Metrics(ctx context.Context, i int, names ...string) (map[string]float64, error) {
	return ScrapeMetrics(ctx, "http://"+s.nodes[i].http+"/metrics", names...)
}

// Kill SIGKILLs member i.
func (s *Steward) Kill(i int) error { return s.nodes[i].proc.Kill() }

// Restart starts member i again from its data dir, with the same flags.
func (s *Steward) Restart(ctx context.Context, i int) error {
	// A fresh control connection: the old one may be in a long reconnect
	// backoff after the kill.
	c, err := client.New(s.nodes[i].grpc)
	if err != nil {
		return err
	}
	_ = s.clients[i].Close()
	s.clients[i] = c
	return s.nodes[i].proc.Start()
}

// Target opens connections for clients on the endpoint: conns connections
// (0: one per client), spread over the chosen members.
func (s *Steward) Target(ctx context.Context, ep Endpoint, clients, conns int) (Target, error) {
	addrs, err := s.endpointAddrs(ctx, ep)
	if err != nil {
		return nil, err
	}
	return NewStewardTarget(addrs, clients, conns)
}

// NewStewardTarget opens conns gRPC connections (0: one per client)
// spread round-robin over addrs; client i uses connection i mod conns.
func NewStewardTarget(addrs []string, clients, conns int) (Target, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no addresses")
	}
	t := &stewardTarget{}
	for i := 0; i < connsFor(clients, conns); i++ {
		c, err := client.New(addrs[i%len(addrs)])
		if err != nil {
			t.Close()
			return nil, err
		}
		t.clients = append(t.clients, c)
	}
	return t, nil
}

func (s *Steward) endpointAddrs(ctx context.Context, ep Endpoint) ([]string, error) {
	li, err := s.Leader(ctx)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for i, n := range s.nodes {
		if (ep == ToLeader) == (i == li.Index) {
			addrs = append(addrs, n.grpc)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no member for endpoint %q", ep)
	}
	return addrs, nil
}

type stewardTarget struct {
	clients []*client.Client
}

func (t *stewardTarget) Put(ctx context.Context, c int, key string, value []byte) error {
	_, err := t.clients[c%len(t.clients)].Put(ctx, key, value, nil)
	return err
}

func (t *stewardTarget) Get(ctx context.Context, c int, key string, stale bool) error {
	_, err := t.clients[c%len(t.clients)].Get(ctx, key, stale)
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("%w: %s: %v", ErrKeyMissing, key, err)
	}
	return err
}

func (t *stewardTarget) Close() error {
	var errs []error
	for _, c := range t.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
