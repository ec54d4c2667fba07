package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/steward/steward/acl"
	"github.com/steward/steward/audit"
	"github.com/steward/steward/fsm"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/metrics"
	"github.com/steward/steward/state"
	"github.com/steward/steward/tlsutil"
	"github.com/steward/steward/transport"
)

// Node is one running steward agent.
type Node struct {
	cfg    Config
	logger hclog.Logger

	idMu sync.Mutex
	id   identity

	// fsm and raft are a server's; a client agent has neither, and holds
	// client instead: the view its work stream from a server keeps.
	client    *clientState
	fsm       *fsm.FSM
	raft      *raft.Raft
	raftTrans *raft.NetworkTransport
	// stores are the Raft log and stable stores (node/raftstore.go).
	stores *raftStores
	// raftNotifyCh receives leadership changes from Raft.
	raftNotifyCh chan bool
	// leadershipDone is closed when monitorLeadership has returned, its
	// leader loop and leader tasks stopped; nil until it starts.
	leadershipDone chan struct{}

	ml *memberlist.Memberlist
	// gossipAdv is the advertised gossip ip:port, fixed once gossip is up
	// (memberlist's LocalNode is not safe to read while it updates it).
	gossipAdv string
	members   *memberTable
	conflict  atomic.Pointer[error]
	// keyring is the gossip encryption keyring (node/keyring.go).
	keyring *keyringState
	// acl checks tokens on public calls (nil: ACLs off; node/acl.go).
	acl *acl.Checker
	// audit is the audit log (nil: off; node/audit.go).
	audit *audit.Log

	pool   *transport.Pool
	server *transport.Server
	// tls is the node's TLS material (nil: TLS off; node/tls.go).
	tls      *tlsutil.Configurator
	grpcLis  net.Listener
	grpcAddr string // advertised
	// metrics is the node's Prometheus registry; httpLis, httpSrv and
	// httpAddr its HTTP listener (node/http.go; nil, "" when off).
	metrics  *metrics.Registry
	httpLis  net.Listener
	httpSrv  *http.Server
	httpAddr string
	raftAddr string // advertised

	// readyTerm is the term in which this node, as leader, finished
	// establishing leadership (barrier applied); 0 when not ready.
	readyTerm atomic.Uint64

	// services added by later layers, stopped in reverse order.
	closers     []func()
	leaderTasks leaderTasks
	// layerMeta: the layers' gossip metadata fields and hooks.
	layerMeta layerMeta

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	shutdownErr  atomic.Pointer[error]
	wg           sync.WaitGroup
	leaving      atomic.Bool
	// tempDir is the temporary data dir this node created (dev mode
	// without a data dir), removed on shutdown; "" when the data dir was
	// given, which is never removed.
	tempDir string
}

// New starts a node: data dir, Raft, gossip, gRPC. It returns once every
// listener is bound and, when Join is set, the node has joined.
//
// In dev mode without a DataDir the node creates a temporary data dir and
// removes it on shutdown, also when New fails; a given DataDir is kept.
func New(cfg Config) (*Node, error) {
	var tempDir string
	if cfg.Dev {
		if cfg.DataDir == "" {
			dir, err := os.MkdirTemp("", "steward-dev-")
			if err != nil {
				return nil, fmt.Errorf("dev data dir: %w", err)
			}
			cfg.DataDir, tempDir = dir, dir
		}
		if cfg.Name == "" {
			cfg.Name = DevNodeName
		}
		// One voter needs no election timeout to speak of: be ready at once.
		cfg.RaftHeartbeatTimeout = 100 * time.Millisecond
		cfg.RaftElectionTimeout = 100 * time.Millisecond
		cfg.RaftLeaderLeaseTimeout = 100 * time.Millisecond
	}
	if err := cfg.Validate(); err != nil {
		if tempDir != "" {
			_ = os.RemoveAll(tempDir)
		}
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	cfg.Clock = clock.Or(cfg.Clock)
	n := &Node{
		cfg:          cfg,
		logger:       logger,
		members:      newMemberTable(cfg.Clock),
		metrics:      metrics.New(cfg.Name),
		raftNotifyCh: make(chan bool, 16),
		shutdownCh:   make(chan struct{}),
		tempDir:      tempDir,
	}
	if err := n.start(); err != nil {
		_ = n.Shutdown()
		return nil, err
	}
	n.logger.Info("node started", "name", cfg.Name, "gossip", n.gossipAdv, "raft", n.raftAddr, "grpc", n.grpcAddr, "data_dir", cfg.DataDir)
	return n, nil
}

func (n *Node) start() (err error) {
	cfg := n.cfg
	logger := n.logger
	if n.id, err = prepareDataDir(cfg.DataDir, cfg.Name); err != nil {
		return err
	}
	if err := n.setupTLS(); err != nil {
		return err
	}
	if err := n.listenGRPC(); err != nil {
		return err
	}
	if cfg.Client {
		if n.client, err = newClientState(); err != nil {
			return err
		}
	} else {
		if n.fsm, err = fsm.New(fsm.Config{Logger: logger, OnHalt: n.halt, KeepCommits: cfg.ClientResumeCommits, OnApply: n.metrics.ObserveApply}); err != nil {
			return err
		}
		if err := n.setupRaft(); err != nil {
			return err
		}
		if err := n.metrics.Register(metrics.RaftCollector(n.raft, cfg.Clock.Now)); err != nil {
			return err
		}
	}
	if err := n.setupGossip(); err != nil {
		return err
	}
	if err := n.metrics.Register(metrics.NodeCollector(metrics.NodeSource{
		MemberStatuses: n.memberStatuses,
		HealthScore:    n.ml.GetHealthScore,
		Ready:          func() bool { l, _ := n.Leader(); return l != "" },
	}), metrics.StateCollector(n.State)); err != nil {
		return err
	}
	finishedCtx, stopFinished := context.WithCancel(context.Background())
	n.OnShutdown(stopFinished)
	if err := metrics.WatchFinished(finishedCtx, n.metrics, n.State); err != nil {
		return err
	}
	n.pool = n.newPool()
	// The server's options; interceptors outermost first: metrics,
	// audit, TLS roles, ACL.
	opts := n.metrics.ServerOptions()
	if err := n.setupAudit(); err != nil {
		return err
	}
	opts = append(opts, n.auditServerOptions()...)
	opts = append(opts, n.tlsServerOptions()...)
	if err := n.setupACL(); err != nil {
		return err
	}
	opts = append(opts, n.aclServerOptions()...)
	if err := n.listenHTTP(); err != nil {
		return err
	}
	n.server = transport.NewServer(n, transport.ServerConfig{Logger: logger, HoldTimeout: cfg.HoldTimeout, Pool: n.pool, Options: opts})
	n.registerServices()
	n.registerACL()
	n.registerAudit()
	if err := n.attachPlugins(); err != nil {
		return err
	}
	n.goFunc(func() {
		if err := n.server.Serve(n.grpcLis); err != nil {
			n.logger.Error("gRPC server stopped", "error", err)
		}
	})
	n.serveHTTP()
	if cfg.Client {
		n.goFunc(n.runClient)
	} else {
		n.leadershipDone = make(chan struct{})
		n.goFunc(func() {
			defer close(n.leadershipDone)
			n.monitorLeadership()
		})
	}
	n.goFunc(n.watchClusterID)
	if cfg.BootstrapExpect > 0 && !cfg.Client {
		n.goFunc(n.bootstrapLoop)
	}
	if len(cfg.Join) > 0 {
		if err := n.join(cfg.Join); err != nil {
			return err
		}
	}
	if len(cfg.RetryJoin) > 0 {
		n.goFunc(n.retryJoin)
	}
	return nil
}

func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// advertiseIP is the IP other nodes dial for a listener bound to host.
func (n *Node) advertiseIP(host string) (string, error) {
	if n.cfg.AdvertiseAddr != "" {
		return n.cfg.AdvertiseAddr, nil
	}
	ip := net.ParseIP(host)
	if ip != nil && !ip.IsUnspecified() {
		return host, nil
	}
	priv, err := sockaddr.GetPrivateIP()
	if err != nil || priv == "" {
		return "", fmt.Errorf("advertise-addr: required when binding %s and no private IP was found", host)
	}
	return priv, nil
}

func (n *Node) listenGRPC() error {
	l, err := net.Listen("tcp", n.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("grpc-addr %s: %w", n.cfg.GRPCAddr, unwrapOpErr(err))
	}
	n.grpcLis = l
	host, _, _ := net.SplitHostPort(n.cfg.GRPCAddr)
	ip, err := n.advertiseIP(host)
	if err != nil {
		return err
	}
	n.grpcAddr = net.JoinHostPort(ip, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	return nil
}

func (n *Node) setupRaft() error {
	c := n.cfg
	host, _, _ := net.SplitHostPort(c.RaftAddr)
	ip, err := n.advertiseIP(host)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.RaftAddr)
	if err != nil {
		return fmt.Errorf("raft-addr %s: %w", c.RaftAddr, unwrapOpErr(err))
	}
	adv, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(ip, strconv.Itoa(l.Addr().(*net.TCPAddr).Port)))
	if err != nil {
		_ = l.Close()
		return fmt.Errorf("raft-addr: advertise %s: %w", ip, err)
	}
	n.raftTrans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  n.raftStream(l, adv),
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  plainArgs{n.logger.Named("raft-net")},
		// No pipelined replication: hashicorp/raft v1.7's pipeline can
		// deadlock when a follower answers an AppendEntries with
		// Success=false (its decoder stops reading, the sender then blocks
		// on a full channel forever: the follower gets heartbeats but no
		// more entries, and Shutdown hangs; hashicorp/raft#612). raft's own
		// doc finds the pipeline of little benefit with batching.
		MaxRPCsInFlight: raftMaxRPCsInFlight,
	})
	n.raftAddr = string(n.raftTrans.LocalAddr())

	dir := filepath.Join(c.DataDir, "raft")
	// The log in raft.db or in raft-wal's segments (Config.RaftLogStore),
	// the stable store in raft.db either way.
	n.stores, err = openRaftStores(c.DataDir, c.RaftLogStore, plainArgs{n.logger.Named("raft-wal")})
	if err != nil {
		return err
	}
	n.logger.Info("raft log store", "store", n.stores.kind, "stable_store", filepath.Join(dir, raftDBName))
	logs, err := raft.NewLogCache(512, n.stores.logs())
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, plainArgs{n.logger.Named("raft-snap")})
	if err != nil {
		return fmt.Errorf("data-dir %s: snapshot store: %w", c.DataDir, err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.Name)
	rc.Logger = plainArgs{n.logger.Named("raft")}
	rc.HeartbeatTimeout = c.RaftHeartbeatTimeout
	rc.ElectionTimeout = c.RaftElectionTimeout
	rc.LeaderLeaseTimeout = c.RaftLeaderLeaseTimeout
	rc.CommitTimeout = c.RaftCommitTimeout
	rc.MaxAppendEntries = c.RaftMaxAppendEntries
	rc.SnapshotThreshold = c.RaftSnapshotThreshold
	rc.SnapshotInterval = c.RaftSnapshotInterval
	rc.TrailingLogs = c.RaftTrailingLogs
	rc.BatchApplyCh = true
	rc.NotifyCh = n.raftNotifyCh

	n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.stores.bolt, snaps, n.raftTrans)
	if err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	if c.Dev || c.BootstrapExpect == 1 {
		if !n.hasRaftState() {
			f := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
				ID: rc.LocalID, Address: raft.ServerAddress(n.raftAddr), Suffrage: raft.Voter,
			}}})
			if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
				return fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	return nil
}

func (n *Node) setupGossip() error {
	c := n.cfg
	host, portStr, _ := net.SplitHostPort(c.BindAddr)
	port, _ := strconv.Atoi(portStr)
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.Name
	mc.BindAddr = host
	mc.BindPort = port
	if c.AdvertiseAddr != "" {
		mc.AdvertiseAddr = c.AdvertiseAddr
		mc.AdvertisePort = port
	}
	mc.ProbeInterval = c.GossipProbeInterval
	mc.ProbeTimeout = c.GossipProbeTimeout
	mc.SuspicionMult = c.GossipSuspicionMult
	if c.GossipProbeInterval < time.Second {
		mc.GossipInterval = c.GossipProbeInterval / 5
		mc.PushPullInterval = 10 * c.GossipProbeInterval
		mc.TCPTimeout = 2 * time.Second
	}
	d := &gossipDelegate{n: n}
	mc.Delegate = d
	mc.Events = d
	mc.Alive = d
	mc.Merge = d
	mc.Conflict = d
	mc.Ping = d
	mc.Logger = newMemberlistLogger(n.logger.Named("gossip"), n.members)
	mc.MetricLabels = metrics.MemberlistLabels(c.Name)
	ring, err := n.setupKeyring()
	if err != nil {
		return err
	}
	if ring != nil {
		mc.Keyring = ring
		mc.GossipVerifyIncoming = c.EncryptVerifyIncoming
		mc.GossipVerifyOutgoing = c.EncryptVerifyOutgoing
	}
	if c.Network != nil {
		t, err := n.newGossipTransport(mc, mc.Logger)
		if err != nil {
			return fmt.Errorf("bind-addr %s: %w", c.BindAddr, unwrapOpErr(err))
		}
		mc.Transport = t
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("bind-addr %s: %w", c.BindAddr, unwrapOpErr(err))
	}
	ln := ml.LocalNode()
	n.gossipAdv = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	if port == 0 {
		// memberlist picked the port; advertise what it bound.
		n.logger.Debug("gossip bound", "port", ln.Port)
	}
	n.ml = ml
	return nil
}

func (n *Node) join(addrs []string) error {
	joined, err := n.ml.Join(addrs)
	if c := n.conflict.Load(); c != nil {
		return *c
	}
	if joined == 0 {
		return fmt.Errorf("%w: could not join any of %v: %v", ErrJoin, addrs, err)
	}
	if err != nil {
		n.logger.Warn("some join addresses failed", "joined", joined, "error", err)
	}
	return nil
}

// retryJoin joins RetryJoin in the background until one address answers.
func (n *Node) retryJoin() {
	for attempt := 1; ; attempt++ {
		err := n.join(n.cfg.RetryJoin)
		if err == nil {
			n.logger.Info("retry-join succeeded", "attempt", attempt)
			return
		}
		if errors.Is(err, ErrNameConflict) || errors.Is(err, ErrOtherCluster) {
			n.logger.Error("retry-join refused; stopping", "error", err)
			n.halt(err)
			return
		}
		if n.cfg.RetryJoinMax > 0 && attempt >= n.cfg.RetryJoinMax {
			n.logger.Error("retry-join gave up", "attempts", attempt, "error", err)
			n.halt(err)
			return
		}
		n.logger.Debug("retry-join attempt failed", "attempt", attempt, "error", err)
		t := n.cfg.Clock.NewTimer(n.cfg.RetryJoinInterval)
		select {
		case <-n.shutdownCh:
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// Join joins more gossip members while running.
func (n *Node) Join(addrs []string) error { return n.join(addrs) }

// streamLayer is Raft's TCP stream layer over a listener this node bound
// itself, so that port 0 works and the advertised address can differ from
// the bound one.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	n         *Node
}

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.n.dial(ctx, string(addr))
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

func unwrapOpErr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func (n *Node) clusterID() string {
	n.idMu.Lock()
	defer n.idMu.Unlock()
	return n.id.ClusterID
}

func (n *Node) localMeta() nodeMeta {
	return nodeMeta{
		RaftAddr:  n.raftAddr,
		GRPCAddr:  n.grpcAddr,
		Mode:      n.clientMode(),
		Version:   Version,
		ClusterID: n.clusterID(),
		Expect:    n.cfg.BootstrapExpect,
		Leaving:   n.leaving.Load(),
		Layers:    n.layerFields(),
	}
}

// checkPeer refuses gossip peers that are not steward nodes of this cluster.
func (n *Node) checkPeer(p *memberlist.Node) error {
	meta, err := decodeMeta(p.Meta)
	if err != nil {
		return fmt.Errorf("refusing member %q at %s: %v", p.Name, gossipAddr(p), err)
	}
	mine := n.clusterID()
	if mine != "" && meta.ClusterID != "" && mine != meta.ClusterID {
		return fmt.Errorf("%w: member %q at %s is in cluster %s, this node (%s) is in cluster %s",
			ErrOtherCluster, p.Name, gossipAddr(p), meta.ClusterID, n.cfg.Name, mine)
	}
	return nil
}

func (n *Node) setConflict(err error) {
	n.conflict.CompareAndSwap(nil, &err)
}

// watchClusterID records the cluster id in the data dir and in gossip
// metadata once the replicated state has it.
func (n *Node) watchClusterID() {
	for {
		st := n.State()
		ws := memdb.NewWatchSet()
		ws.Add(st.AbandonCh())
		ws.Add(n.shutdownCh)
		if id := st.ClusterIDWatch(ws); id != "" && id != n.clusterID() {
			n.idMu.Lock()
			old := n.id.ClusterID
			n.id.ClusterID = id
			idCopy := n.id
			n.idMu.Unlock()
			if old != "" {
				n.logger.Error("replicated cluster id differs from the data dir's", "data_dir", old, "replicated", id)
			}
			if err := writeIdentity(n.cfg.DataDir, idCopy); err != nil {
				n.logger.Error("cannot record cluster id", "error", err)
			}
			if err := n.ml.UpdateNode(time.Second); err != nil {
				n.logger.Warn("cannot broadcast cluster id", "error", err)
			}
		}
		ws.Watch(nil)
		select {
		case <-n.shutdownCh:
			return
		default:
		}
	}
}

// halt stops the node with a fatal error (an FSM that met a command it does
// not know, a retry-join that gave up).
func (n *Node) halt(err error) {
	n.shutdownErr.CompareAndSwap(nil, &err)
	go n.Shutdown()
}

// Err returns the fatal error that stopped the node, if any.
func (n *Node) Err() error {
	if e := n.shutdownErr.Load(); e != nil {
		return *e
	}
	return nil
}

// ShutdownCh is closed when the node has shut down.
func (n *Node) ShutdownCh() <-chan struct{} { return n.shutdownCh }

// OnShutdown registers f to run when the node shuts down, before Raft
// stops; later registrations run first.
func (n *Node) OnShutdown(f func()) { n.closers = append(n.closers, f) }

// Shutdown stops the node without leaving: the cluster sees it fail.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		n.logger.Info("shutting down")
		close(n.shutdownCh)
		n.closeAll()
		n.wg.Wait()
		if n.tempDir != "" {
			if err := os.RemoveAll(n.tempDir); err != nil {
				n.logger.Error("cannot remove the temporary data dir", "data_dir", n.tempDir, "error", err)
			}
		}
	})
	return nil
}

func (n *Node) closeAll() {
	n.closeHTTP()
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	if n.server != nil {
		n.server.Stop(2 * time.Second)
	} else if n.grpcLis != nil {
		_ = n.grpcLis.Close()
	}
	n.closeAudit()
	if n.ml != nil {
		_ = n.ml.Shutdown()
	}
	if n.leadershipDone != nil {
		// The leader loop and the leader tasks propose commands: they stop
		// before Raft does, so that none of their proposals is cut short
		// by Raft's shutdown (and logged as a write that "may or may not
		// have been applied"). Once stopping, a proposal commits or fails
		// within the leader lease; the bound is for a task that ignores
		// its context.
		select {
		case <-n.leadershipDone:
		case <-time.After(n.cfg.ApplyTimeout):
			n.logger.Warn("leader loop still running at shutdown; stopping raft under it", "waited", n.cfg.ApplyTimeout)
		}
	}
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			n.logger.Warn("raft shutdown", "error", err)
		}
	}
	if n.raftTrans != nil {
		_ = n.raftTrans.Close()
	}
	if n.stores != nil {
		if err := n.stores.Close(); err != nil {
			n.logger.Warn("raft stores close", "error", err)
		}
	}
	if n.pool != nil {
		n.pool.Close()
	}
}

// Accessors used by later layers and tests.

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// GRPCAddr is the advertised gRPC address.
func (n *Node) GRPCAddr() string { return n.grpcAddr }

// RaftAddr is the advertised Raft address.
func (n *Node) RaftAddr() string { return n.raftAddr }

// GossipAddr is the advertised gossip address.
func (n *Node) GossipAddr() string { return n.gossipAdv }

// DataDir is the node's data dir.
func (n *Node) DataDir() string { return n.cfg.DataDir }

// TempDataDir reports whether the data dir is a temporary one this node
// created (dev mode without a data dir) and removes on shutdown.
func (n *Node) TempDataDir() bool { return n.tempDir != "" }

// Server is the node's gRPC server, for later layers to register services.
func (n *Node) Server() *transport.Server { return n.server }

// Pool is the node's connection pool to its peers.
func (n *Node) Pool() *transport.Pool { return n.pool }

// FSM is the node's state machine (nil on a client agent).
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Logger is the node's logger.
func (n *Node) Logger() hclog.Logger { return n.logger }

// State is this node's copy of the committed state: on a server the
// FSM's whole replica, on a client agent the records that concern it, as
// its work stream delivered them. Layers read their committed work from
// it either way; after a restore (or a client's fresh view) it is another
// store, so callers hold it for one read.
func (n *Node) State() *state.Store {
	if n.client != nil {
		return n.client.State()
	}
	return n.fsm.State()
}

// NodeName implements transport.Backend.
func (n *Node) NodeName() string { return n.cfg.Name }

// WaitForLeader waits until the node knows a leader, looking every 10 ms.
func (n *Node) WaitForLeader(ctx context.Context) (string, error) {
	ctx, cancel := n.untilShutdown(ctx)
	defer cancel()
	var name string
	err := poll.Until(ctx, clock.System(), poll.Every(10*time.Millisecond), func() (bool, error) {
		name, _ = n.Leader()
		return name != "", nil
	})
	switch {
	case err == nil:
		return name, nil
	case n.shuttingDown():
		return "", transport.ErrShuttingDown
	}
	return "", fmt.Errorf("%w: %v", transport.ErrNoLeader, err)
}

// untilShutdown is ctx, ended also when the node shuts down.
func (n *Node) untilShutdown(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-n.shutdownCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (n *Node) shuttingDown() bool {
	select {
	case <-n.shutdownCh:
		return true
	default:
		return false
	}
}

// raftMaxRPCsInFlight is the Raft transport's MaxRPCsInFlight: 1 turns
// pipelined replication off (see setupRaft).
const raftMaxRPCsInFlight = 1
