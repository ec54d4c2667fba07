package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/steward/steward/health"
	"github.com/steward/steward/metrics"
	"github.com/steward/steward/node"
	"github.com/steward/steward/stack"
	"github.com/steward/steward/tlsutil"
)

type agentFlags struct {
	configFile string
	name       string
	dataDir    string
	bindAddr   string
	raftAddr   string
	grpcAddr   string
	httpAddr   string
	advertise  string
	join       []string
	retryJoin  []string
	retryInt   time.Duration
	retryMax   int
	expect     int
	dev        bool
	server     bool
	client     bool
	logLevel   string
	logJSON    bool
	// sampleInterval is how often the health layer samples the node.
	sampleInterval time.Duration
	// encrypt is the gossip encryption key; encryptVerifyIn/Out are
	// encrypt_verify_incoming/outgoing.
	encrypt                           string
	encryptVerifyIn, encryptVerifyOut bool
	// TLS (node.Config.TLS) and the region of the role names.
	region                         string
	caFile, certFile, keyFile      string
	verifyIncoming, verifyOutgoing bool
	verifyServerHostname           bool
	// ACLs (node.Config.ACL): --acl-enabled, --acl-default-policy.
	aclEnabled       bool
	aclDefaultPolicy string
	// The audit log (node.Config.Audit): --audit-enabled.
	audit bool
	// raftLogStore is node.Config.RaftLogStore: --raft-log-store.
	raftLogStore string
	enableDebug  bool
}

func newAgentCmd() *cobra.Command { return newAgentCmdWith(&agentFlags{}) }

func newAgentCmdWith(f *agentFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a steward node: a server (--server) or a client agent (--client)",
		Long: `Run a steward node: gossip membership, the runtime and the gRPC API. A server
(--server) also runs Raft and holds the replicated state; a client agent
(--client, the default without --server) runs no Raft and receives its work
over a stream from a server. Run 3 or 5 servers; every other node is a client.
A dev agent is a server and a client at once.

  steward agent --dev                      one node, temporary data dir, ready at once
  steward agent --dev --data-dir DIR       the same on DIR, which is kept
  steward agent --server --name s1 --data-dir /var/lib/steward --bootstrap-expect 3 --retry-join 10.0.0.2:7401
  steward agent --client --name c1 --data-dir /var/lib/steward --retry-join 10.0.0.2:7401

SIGTERM or SIGINT leaves the cluster gracefully; a second signal stops at once.
A temporary data dir is removed on exit, a given one never is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "configuration file, JSON when named *.json, HCL otherwise (agent.hcl, agent.conf): a key for every flag, its name with _ for - (--server and --client: server { enabled = true } and client { enabled = true } blocks); flags override it")
	fl.StringVar(&f.name, "name", "", "node name, unique in the cluster (default: the host name)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the Raft log, snapshots and node identity")
	fl.StringVar(&f.bindAddr, "bind-addr", "", fmt.Sprintf("gossip address ip:port (default 0.0.0.0:%d; 127.0.0.1 with --dev)", node.DefaultGossipPort))
	fl.StringVar(&f.raftAddr, "raft-addr", "", fmt.Sprintf("Raft address ip:port, servers only (default port %d on the bind IP)", node.DefaultRaftPort))
	fl.StringVar(&f.grpcAddr, "grpc-addr", "", fmt.Sprintf("gRPC address ip:port (default port %d on the bind IP)", node.DefaultGRPCPort))
	fl.StringVar(&f.httpAddr, "http-addr", "", fmt.Sprintf("HTTP address ip:port of /metrics and /v1/health (default port %d on the bind IP; a free port when the bind port is 0)", node.DefaultHTTPPort))
	fl.StringVar(&f.advertise, "advertise-addr", "", "IP other nodes dial, when binding 0.0.0.0 or behind NAT")
	fl.StringArrayVar(&f.join, "join", nil, "gossip address of a member to join (repeatable)")
	fl.StringArrayVar(&f.retryJoin, "retry-join", nil, "gossip address to join in the background, retried until it answers (repeatable)")
	fl.DurationVar(&f.retryInt, "retry-interval", 2*time.Second, "pause between retry-join attempts")
	fl.IntVar(&f.retryMax, "retry-max", 0, "retry-join attempts before giving up (0: forever)")
	fl.IntVar(&f.expect, "bootstrap-expect", 0, "bootstrap a new cluster once this many servers have met (servers only: needs --server)")
	fl.BoolVar(&f.dev, "dev", false, "run one node, a server and a client, bootstrapped at once, on a temporary data dir removed on exit (a given --data-dir is kept)")
	fl.BoolVar(&f.server, "server", false, "run as a server: Raft (a voter or a non-voter, as autopilot decides) and a runtime (default: a client agent, unless --dev)")
	fl.BoolVar(&f.client, "client", false, "run as a client agent: gossip and a runtime, no Raft, work streamed from a server (the default without --server; with --server the agent is a server, which runs a runtime anyway)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fl.BoolVar(&f.logJSON, "log-json", false, "log in JSON")
	fl.StringVar(&f.encrypt, "encrypt", "", "gossip encryption key, base64 of 16, 24 or 32 bytes (steward keygen); a keyring persisted in the data dir overrides it. Prefer encrypt in the config file: a flag shows in the process list")
	fl.BoolVar(&f.encryptVerifyIn, "encrypt-verify-incoming", true, "refuse unencrypted gossip when encryption is on (false: for enabling encryption on a running cluster)")
	fl.BoolVar(&f.encryptVerifyOut, "encrypt-verify-outgoing", true, "encrypt outgoing gossip when encryption is on (false: for enabling encryption on a running cluster)")
	fl.DurationVar(&f.sampleInterval, "resource-sample-interval", health.DefaultConfig().SampleInterval, "how often the node samples its memory, processes, mailboxes and CPU against the resource thresholds")
	// TLS, as Consul names it (the config file's tls block and region).
	fl.StringVar(&f.region, "region", "", "region of the certificate role names, server.<region>.steward (default "+tlsutil.DefaultRegion+")")
	fl.StringVar(&f.caFile, "ca-file", "", "TLS: CA certificate that signs every agent's and caller's certificate (with --cert-file and --key-file, gRPC and Raft speak TLS only)")
	fl.StringVar(&f.certFile, "cert-file", "", "TLS: this agent's certificate, of its role (steward tls cert create --server or --client)")
	fl.StringVar(&f.keyFile, "key-file", "", "TLS: this agent's private key")
	fl.BoolVar(&f.verifyIncoming, "verify-incoming", false, "TLS: require a certificate of the CA from every gRPC caller (the Internal service and Raft always require one)")
	fl.BoolVar(&f.verifyOutgoing, "verify-outgoing", false, "TLS: verify the certificate chain of every peer dialed (Raft always does)")
	fl.BoolVar(&f.verifyServerHostname, "verify-server-hostname", false, "TLS: check that a dialed server holds server.<region>.steward (a client certificate cannot pose as a server); needs --verify-outgoing")
	fl.BoolVar(&f.aclEnabled, "acl-enabled", false, "ACLs: check the token (x-steward-token) of every API call; bootstrap with steward acl bootstrap (docs/SECURITY.md)")
	fl.StringVar(&f.aclDefaultPolicy, "acl-default-policy", "deny", "ACLs: what no policy rule covers: deny, or allow (to migrate a running cluster)")
	fl.BoolVar(&f.audit, "audit-enabled", false, "audit log: append every write this agent accepts to <data_dir>/audit/audit.log, read with steward audit (the config file's audit block sets path and rotation; docs/SECURITY.md)")
	fl.BoolVar(&f.enableDebug, "enable-debug", false, "serve Go's net/http/pprof profiles under /debug/pprof/ on the HTTP listener (with ACLs on, an operator token is required; docs/OBSERVABILITY.md)")
	fl.Var(node.RaftLogStoreFlag(&f.raftLogStore), "raft-log-store", "where a server keeps its Raft log: wal (raft-wal segments in <data_dir>/raft/wal) or boltdb (raft.db); fixed at the data dir's first start (unset: the data dir's store, wal for a new one), the stable store is raft.db either way (docs/PERFORMANCE.md)")
	return cmd
}

// agentSettings is what an agent runs with.
type agentSettings struct {
	node     node.Config
	logLevel string
	logJSON  bool
	// sampleInterval is how often the health layer samples the node.
	sampleInterval time.Duration
	// dataDirFrom says where the data dir was given ("with --data-dir",
	// "in FILE"); "" when it was not.
	dataDirFrom string
	// server and client are --server and --client as given (flags over
	// the file); node.Client is the mode they settle on.
	server, client bool
}

// agentConfig merges defaults, the config file and the flags (flags win).
// The file has a key for every flag but --config (node.FileConfig).
func agentConfig(cmd *cobra.Command, f *agentFlags) (agentSettings, error) {
	s := agentSettings{node: node.DefaultConfig(), logLevel: "info", sampleInterval: health.DefaultConfig().SampleInterval}
	c := &s.node
	changed := cmd.Flags().Changed
	// fc stays empty without a file: no key set.
	fc := &node.FileConfig{}
	if f.configFile != "" {
		var err error
		if fc, err = node.ParseConfigFile(f.configFile); err != nil {
			return s, err
		}
		if err := fc.ApplyTo(c); err != nil {
			return s, err
		}
		if fc.LogLevel != nil {
			s.logLevel = *fc.LogLevel
		}
		if fc.LogJSON != nil {
			s.logJSON = *fc.LogJSON
		}
		d, set, err := fc.SampleInterval()
		if err != nil {
			return s, err
		}
		if set {
			s.sampleInterval = d
		}
		if fc.DataDir != nil {
			s.dataDirFrom = "in " + f.configFile
		}
	}
	if changed("dev") {
		c.Dev = f.dev
	}
	if c.Dev && !changed("bind-addr") && fc.BindAddr == nil {
		c.BindAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(node.DefaultGossipPort))
	}
	str := map[string]*string{
		"name": &c.Name, "data-dir": &c.DataDir, "bind-addr": &c.BindAddr, "raft-addr": &c.RaftAddr,
		"grpc-addr": &c.GRPCAddr, "http-addr": &c.HTTPAddr, "advertise-addr": &c.AdvertiseAddr, "log-level": &s.logLevel,
		"raft-log-store": &c.RaftLogStore,
	}
	vals := map[string]string{
		"name": f.name, "data-dir": f.dataDir, "bind-addr": f.bindAddr, "raft-addr": f.raftAddr,
		"grpc-addr": f.grpcAddr, "http-addr": f.httpAddr, "advertise-addr": f.advertise, "log-level": f.logLevel,
		"raft-log-store": f.raftLogStore,
	}
	for flag, dst := range str {
		if changed(flag) {
			*dst = vals[flag]
		}
	}
	if changed("data-dir") {
		s.dataDirFrom = "with --data-dir"
	}
	// The Raft and gRPC listeners follow the bind IP unless set.
	host, bindPort, err := net.SplitHostPort(c.BindAddr)
	if err != nil {
		return s, fmt.Errorf("bind-addr: %q is not ip:port", c.BindAddr)
	}
	if !changed("http-addr") && fc.HTTPAddr == nil {
		// The HTTP listener follows the bind IP too; with a bind port of 0
		// (free ports, as tests ask) it takes a free port as well.
		port := strconv.Itoa(node.DefaultHTTPPort)
		if bindPort == "0" {
			port = "0"
		}
		c.HTTPAddr = net.JoinHostPort(host, port)
	}
	if !changed("raft-addr") && fc.RaftAddr == nil {
		c.RaftAddr = net.JoinHostPort(host, strconv.Itoa(node.DefaultRaftPort))
	}
	if !changed("grpc-addr") && fc.GRPCAddr == nil {
		c.GRPCAddr = net.JoinHostPort(host, strconv.Itoa(node.DefaultGRPCPort))
	}
	if changed("join") {
		c.Join = f.join
	}
	if changed("retry-join") {
		c.RetryJoin = f.retryJoin
	}
	if changed("retry-interval") {
		c.RetryJoinInterval = f.retryInt
	}
	if changed("retry-max") {
		c.RetryJoinMax = f.retryMax
	}
	if changed("bootstrap-expect") {
		c.BootstrapExpect = f.expect
	}
	if err := agentMode(&s, f, fc, changed); err != nil {
		return s, err
	}
	if err := agentTLS(c, f, changed); err != nil {
		return s, err
	}
	if err := agentEncrypt(c, f, fc, changed); err != nil {
		return s, err
	}
	if changed("acl-enabled") {
		c.ACL.Enabled = f.aclEnabled
	}
	if changed("acl-default-policy") {
		c.ACL.DefaultPolicy = f.aclDefaultPolicy
	}
	if c.ACL.DefaultPolicy == "" {
		c.ACL.DefaultPolicy = "deny"
	}
	if err := c.ACL.Validate(); err != nil {
		return s, usageError(err.Error())
	}
	if changed("audit-enabled") {
		c.Audit.Enabled = f.audit
	}
	if err := c.Audit.Validate(); err != nil {
		return s, usageError(err.Error())
	}
	if changed("log-json") {
		s.logJSON = f.logJSON
	}
	if changed("enable-debug") {
		c.EnableDebug = f.enableDebug
	}
	if changed("resource-sample-interval") {
		s.sampleInterval = f.sampleInterval
	}
	if s.sampleInterval <= 0 {
		return s, usageError(fmt.Sprintf("resource-sample-interval: %s must be positive", s.sampleInterval))
	}
	if c.Name == "" && !c.Dev {
		h, err := os.Hostname()
		if err != nil {
			return s, fmt.Errorf("name: not set and the host name is unknown: %w", err)
		}
		c.Name = strings.Split(h, ".")[0]
	}
	if c.DataDir == "" && !c.Dev {
		return s, usageError("data-dir: required (or run with --dev)")
	}
	return s, nil
}

// modeFlag is --server or --client as the flag and the file give it.
type modeFlag struct {
	on, set bool
	// from names where it was set: "--client", "client.enabled in FILE".
	from string
}

func modeSetting(flag string, v bool, changed func(string) bool, file *bool, configFile string) modeFlag {
	switch {
	case changed(flag):
		return modeFlag{on: v, set: true, from: "--" + flag}
	case file != nil:
		return modeFlag{on: *file, set: true, from: fmt.Sprintf("%s.enabled in %s", flag, configFile)}
	}
	return modeFlag{}
}

// agentMode settles whether the agent is a server or a client agent
// (node.Config.Client): a server with --server (--client too: a server
// runs a runtime anyway) or --dev (a server and a client at once), a
// client agent otherwise. Only servers bootstrap.
func agentMode(s *agentSettings, f *agentFlags, fc *node.FileConfig, changed func(string) bool) error {
	c := &s.node
	srv := modeSetting("server", f.server, changed, fc.ServerEnabled(), f.configFile)
	cli := modeSetting("client", f.client, changed, fc.ClientEnabled(), f.configFile)
	s.server, s.client = srv.on, cli.on
	switch {
	case c.Dev:
		if cli.on {
			dev := "--dev"
			if !changed("dev") {
				dev = "dev in " + f.configFile
			}
			return usageError(fmt.Sprintf("client: %s cannot be combined with %s: a dev agent is a server and a client at once (drop %s)", cli.from, dev, cli.from))
		}
		c.Client = false
	case srv.on:
		c.Client = false
	case cli.set && !cli.on:
		return usageError(fmt.Sprintf("client: %s is false and the agent is no server: an agent is a server (--server) or a client agent (--client)", cli.from))
	default:
		c.Client = true
	}
	if c.Client && c.BootstrapExpect != 0 {
		add := "add --server"
		if f.configFile != "" {
			add += fmt.Sprintf(", or server { enabled = true } in %s", f.configFile)
		}
		return usageError(fmt.Sprintf("bootstrap-expect: %d is for servers; a client agent never bootstraps (%s)", c.BootstrapExpect, add))
	}
	return nil
}

// agentEncrypt applies --encrypt and --encrypt-verify-*; a bad key is a
// usage error naming where it was given and the lengths allowed.
func agentEncrypt(c *node.Config, f *agentFlags, fc *node.FileConfig, changed func(string) bool) error {
	from := "encrypt in " + f.configFile
	if changed("encrypt") {
		c.Encrypt, from = f.encrypt, "--encrypt"
	}
	if changed("encrypt-verify-incoming") {
		c.EncryptVerifyIncoming = f.encryptVerifyIn
	}
	if changed("encrypt-verify-outgoing") {
		c.EncryptVerifyOutgoing = f.encryptVerifyOut
	}
	if c.Encrypt == "" && (changed("encrypt") || fc.Encrypt != nil) {
		return usageError(fmt.Sprintf("%s: the key is empty; give the base64 of 16, 24 or 32 bytes (steward keygen makes one), or leave encrypt out", from))
	}
	if c.Encrypt != "" {
		if _, err := node.ParseKey(c.Encrypt); err != nil {
			return usageError(fmt.Sprintf("%s: %v", from, err))
		}
	}
	return nil
}

// plugins builds the runtime and the layers every agent runs on top of
// the cluster spine (package stack shows the wiring).
func plugins(cfg node.Config, sampleInterval time.Duration) ([]node.Plugin, *stack.Stack, error) {
	sc := stack.DefaultConfig()
	sc.Health.SampleInterval = sampleInterval
	name := cfg.Name
	if name == "" && cfg.Dev {
		name = node.DevNodeName
	}
	creation, err := runtimeCreation(cfg)
	if err != nil {
		return nil, nil, err
	}
	sc.Runtime.Creation = creation
	s, err := stack.New(name, cfg.Logger, sc)
	if err != nil {
		return nil, nil, err
	}
	return s.Plugins(), s, nil
}

// runtimeCreation is this run's creation (actor.Config.Creation), so that
// the runtime hands out no PID an earlier run of the node did: counted in
// the data dir (node.NextCreation), written before the runtime starts. A
// --dev agent without a data dir runs a new cluster on a temporary dir
// that dies with it: nothing committed names a PID of an earlier run, so
// its creation is 1.
func runtimeCreation(cfg node.Config) (uint64, error) {
	if cfg.DataDir == "" && cfg.Dev {
		return 1, nil
	}
	return node.NextCreation(cfg.DataDir)
}

// thresholdMetrics reads the health layer's violations for /metrics.
func thresholdMetrics(h *health.Layer) prometheus.Collector {
	return metrics.ThresholdCollector(metrics.ThresholdSource{
		Metrics: []string{health.MetricMemory, health.MetricProcessCount, health.MetricQueueLength, health.MetricCPU},
		Violations: func() []metrics.ThresholdViolation {
			var out []metrics.ThresholdViolation
			for _, v := range h.Violations() {
				out = append(out, metrics.ThresholdViolation{Metric: v.Metric, Value: v.Value, Limit: v.Limit, Since: v.Since})
			}
			return out
		},
	})
}

func runAgent(cmd *cobra.Command, f *agentFlags) error {
	s, err := agentConfig(cmd, f)
	if err != nil {
		return err
	}
	cfg := s.node
	level := hclog.LevelFromString(s.logLevel)
	if level == hclog.NoLevel {
		return usageError(fmt.Sprintf("log-level: %q is not one of trace, debug, info, warn, error", s.logLevel))
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{
		Name:       "steward",
		Level:      level,
		JSONFormat: s.logJSON,
		Output:     cmd.ErrOrStderr(),
	})
	var st *stack.Stack
	if cfg.Plugins, st, err = plugins(cfg, s.sampleInterval); err != nil {
		return err
	}
	// Signals are caught from before the start, so that one arriving
	// during it is a graceful stop right after it (a temporary data dir is
	// still removed), not the end of the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	// The runtime's events and gauges, and the health layer's threshold
	// state, on the agent's /metrics.
	if w, err := metrics.WatchRuntime(n.Metrics(), st.Runtime); err != nil {
		n.Logger().Warn("runtime metrics unavailable", "error", err)
	} else {
		defer w.Stop()
	}
	if st.Health != nil {
		if err := n.Metrics().Register(thresholdMetrics(st.Health)); err != nil {
			n.Logger().Warn("threshold metrics unavailable", "error", err)
		}
	}
	out := cmd.OutOrStdout()
	raftAddr := n.RaftAddr()
	if !n.IsServer() {
		raftAddr = "none (a client agent runs no Raft)"
	}
	fmt.Fprintf(out, "steward agent running\n  node:   %s\n  mode:   %s\n  gossip: %s\n  raft:   %s\n  grpc:   %s\n  http:   %s\n  data:   %s\n",
		n.Name(), n.Mode(), n.GossipAddr(), raftAddr, n.GRPCAddr(), n.HTTPAddr(), n.DataDir())
	fmt.Fprintf(out, "  %s\n", securityLine(cfg, len(n.GossipKeys()) > 0))
	if cfg.Dev {
		if n.TempDataDir() {
			fmt.Fprintf(out, "  dev mode: single node, data is removed on exit; try `steward status`\n")
		} else {
			fmt.Fprintf(out, "  dev mode: single node, data kept in %s (given %s); try `steward status`\n", n.DataDir(), s.dataDirFrom)
		}
	}

	// The command's context ends the agent as a signal does (tests).
	stop := cmd.Context()
	if stop == nil {
		stop = context.Background()
	}
	leave := true
wait:
	for {
		select {
		case <-n.ShutdownCh():
			leave = false
			break wait
		case sig := <-sigs:
			cfg.Logger.Info("signal received; leaving gracefully (send it again to stop at once)", "signal", sig.String())
			break wait
		case <-stop.Done():
			cfg.Logger.Info("stopped by the caller; leaving gracefully")
			break wait
		case <-hups:
			reloadAgent(n, cfg.Logger)
		}
	}
	if leave {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.LeaveTimeout+5*time.Second)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = n.Leave(ctx)
		}()
		select {
		case <-done:
		case <-sigs:
			cfg.Logger.Warn("second signal: stopping without finishing the leave")
		}
		cancel()
		_ = n.Shutdown()
	}
	<-n.ShutdownCh()
	if err := n.Err(); err != nil {
		return err
	}
	return nil
}

// agentTLS applies the TLS flags over the file's tls block and region.
func agentTLS(c *node.Config, f *agentFlags, changed func(string) bool) error {
	if changed("region") {
		c.Region = f.region
	}
	for _, s := range []struct {
		flag string
		dst  *string
		v    string
	}{{"ca-file", &c.TLS.CAFile, f.caFile}, {"cert-file", &c.TLS.CertFile, f.certFile}, {"key-file", &c.TLS.KeyFile, f.keyFile}} {
		if changed(s.flag) {
			*s.dst = s.v
		}
	}
	for _, b := range []struct {
		flag string
		dst  *bool
		v    bool
	}{{"verify-incoming", &c.TLS.VerifyIncoming, f.verifyIncoming}, {"verify-outgoing", &c.TLS.VerifyOutgoing, f.verifyOutgoing}, {"verify-server-hostname", &c.TLS.VerifyServerHostname, f.verifyServerHostname}} {
		if changed(b.flag) {
			*b.dst = b.v
		}
	}
	if c.Region != "" {
		if err := tlsutil.CheckRegion(c.Region); err != nil {
			return usageError(err.Error())
		}
	}
	if err := c.TLS.Validate(); err != nil {
		return usageError(err.Error())
	}
	return nil
}

// securityLine is an agent's start-up line about security. encrypted is
// whether gossip runs encrypted: the node's keyring, which a persisted
// one turns on even without encrypt. A dev agent runs with all of it off
// unless the settings turned some on.
func securityLine(c node.Config, encrypted bool) string {
	if !c.TLS.Enabled() && !encrypted && !c.ACL.Enabled {
		if c.Dev {
			return "security: off (TLS, gossip encryption and ACLs disabled: a dev agent is for one machine)"
		}
		return "security: off (TLS, gossip encryption and ACLs disabled: see docs/SECURITY.md before running it beyond one machine)"
	}
	on := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return fmt.Sprintf("security: TLS %s, gossip encryption %s, ACLs %s", on(c.TLS.Enabled()), on(encrypted), on(c.ACL.Enabled))
}

// reloadAgent is what SIGHUP does: the TLS certificates are read again
// (new connections use them); an error keeps those in use and is logged.
func reloadAgent(n *node.Node, logger hclog.Logger) {
	if n.TLS() == nil {
		logger.Info("SIGHUP: nothing to reload (TLS is off)")
		return
	}
	if err := n.ReloadTLS(); err != nil {
		logger.Error("SIGHUP: TLS reload failed; the certificates in use are kept", "error", err)
		return
	}
	logger.Info("SIGHUP: TLS certificates reloaded")
}
