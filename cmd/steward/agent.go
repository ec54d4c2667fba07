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
	"github.com/spf13/cobra"
	"github.com/steward/steward/backup"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/health"
	"github.com/steward/steward/node"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/supervision"
)

type agentFlags struct {
	configFile string
	name       string
	dataDir    string
	bindAddr   string
	raftAddr   string
	grpcAddr   string
	advertise  string
	join       []string
	retryJoin  []string
	retryInt   time.Duration
	retryMax   int
	expect     int
	dev        bool
	logLevel   string
	logJSON    bool
	// sampleInterval is how often the health layer samples the node.
	sampleInterval time.Duration
}

func newAgentCmd() *cobra.Command { return newAgentCmdWith(&agentFlags{}) }

func newAgentCmdWith(f *agentFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a steward node",
		Long: `Run a steward node: gossip membership, Raft, the replicated state and the gRPC API.

  steward agent --dev                      one node, temporary data dir, ready at once
  steward agent --dev --data-dir DIR       the same on DIR, which is kept
  steward agent --name n1 --data-dir /var/lib/steward --bootstrap-expect 3 --join 10.0.0.2:7401

SIGTERM or SIGINT leaves the cluster gracefully; a second signal stops at once.
A temporary data dir is removed on exit, a given one never is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "configuration file (HCL, or JSON when named *.json); flags override it")
	fl.StringVar(&f.name, "name", "", "node name, unique in the cluster (default: the host name)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the Raft log, snapshots and node identity")
	fl.StringVar(&f.bindAddr, "bind-addr", "", fmt.Sprintf("gossip address ip:port (default 0.0.0.0:%d; 127.0.0.1 with --dev)", node.DefaultGossipPort))
	fl.StringVar(&f.raftAddr, "raft-addr", "", fmt.Sprintf("Raft address ip:port (default port %d on the bind IP)", node.DefaultRaftPort))
	fl.StringVar(&f.grpcAddr, "grpc-addr", "", fmt.Sprintf("gRPC address ip:port (default port %d on the bind IP)", node.DefaultGRPCPort))
	fl.StringVar(&f.advertise, "advertise-addr", "", "IP other nodes dial, when binding 0.0.0.0 or behind NAT")
	fl.StringArrayVar(&f.join, "join", nil, "gossip address of a member to join (repeatable)")
	fl.StringArrayVar(&f.retryJoin, "retry-join", nil, "gossip address to join in the background, retried until it answers (repeatable)")
	fl.DurationVar(&f.retryInt, "retry-interval", 2*time.Second, "pause between retry-join attempts")
	fl.IntVar(&f.retryMax, "retry-max", 0, "retry-join attempts before giving up (0: forever)")
	fl.IntVar(&f.expect, "bootstrap-expect", 0, "bootstrap a new cluster once this many nodes have met")
	fl.BoolVar(&f.dev, "dev", false, "run one node, bootstrapped at once, on a temporary data dir removed on exit (a given --data-dir is kept)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fl.BoolVar(&f.logJSON, "log-json", false, "log in JSON")
	fl.DurationVar(&f.sampleInterval, "resource-sample-interval", health.DefaultConfig().SampleInterval, "how often the node samples its memory, processes, mailboxes and CPU against the resource thresholds")
	return cmd
}

// agentConfig merges defaults, the config file and the flags (flags win).
func agentConfig(cmd *cobra.Command, f *agentFlags) (node.Config, string, bool, error) {
	c := node.DefaultConfig()
	logLevel, logJSON := "info", false
	changed := cmd.Flags().Changed
	if f.configFile != "" {
		fc, err := node.ParseConfigFile(f.configFile)
		if err != nil {
			return c, "", false, err
		}
		if err := fc.ApplyTo(&c); err != nil {
			return c, "", false, err
		}
		if fc.LogLevel != nil {
			logLevel = *fc.LogLevel
		}
		if fc.LogJSON != nil {
			logJSON = *fc.LogJSON
		}
	}
	if changed("dev") {
		c.Dev = f.dev
	}
	bindSet := changed("bind-addr") || (f.configFile != "" && c.BindAddr != node.DefaultConfig().BindAddr)
	if c.Dev && !bindSet {
		c.BindAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(node.DefaultGossipPort))
	}
	str := map[string]*string{
		"name": &c.Name, "data-dir": &c.DataDir, "bind-addr": &c.BindAddr, "raft-addr": &c.RaftAddr,
		"grpc-addr": &c.GRPCAddr, "advertise-addr": &c.AdvertiseAddr, "log-level": &logLevel,
	}
	vals := map[string]string{
		"name": f.name, "data-dir": f.dataDir, "bind-addr": f.bindAddr, "raft-addr": f.raftAddr,
		"grpc-addr": f.grpcAddr, "advertise-addr": f.advertise, "log-level": f.logLevel,
	}
	for flag, dst := range str {
		if changed(flag) {
			*dst = vals[flag]
		}
	}
	// The Raft and gRPC listeners follow the bind IP unless set.
	host, _, err := net.SplitHostPort(c.BindAddr)
	if err != nil {
		return c, "", false, fmt.Errorf("bind-addr: %q is not ip:port", c.BindAddr)
	}
	def := node.DefaultConfig()
	if !changed("raft-addr") && c.RaftAddr == def.RaftAddr {
		c.RaftAddr = net.JoinHostPort(host, strconv.Itoa(node.DefaultRaftPort))
	}
	if !changed("grpc-addr") && c.GRPCAddr == def.GRPCAddr {
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
	if changed("log-json") {
		logJSON = f.logJSON
	}
	if c.Name == "" && !c.Dev {
		h, err := os.Hostname()
		if err != nil {
			return c, "", false, fmt.Errorf("name: not set and the host name is unknown: %w", err)
		}
		c.Name = strings.Split(h, ".")[0]
	}
	if c.DataDir == "" && !c.Dev {
		return c, "", false, usageError("data-dir: required (or run with --dev)")
	}
	return c, logLevel, logJSON, nil
}

// plugins are the layers every agent runs on top of the cluster spine.
func plugins(f *agentFlags) []node.Plugin {
	sup := supervision.New(supervision.DefaultConfig())
	coord := coordination.New(coordination.DefaultConfig(), sup)
	return []node.Plugin{
		sup,
		coord,
		snapshot.New(snapshot.DefaultConfig(), sup, coord),
		health.New(healthConfig(f), sup),
		backup.New(backup.DefaultConfig()),
	}
}

func healthConfig(f *agentFlags) health.Config {
	c := health.DefaultConfig()
	c.SampleInterval = f.sampleInterval
	return c
}

func runAgent(cmd *cobra.Command, f *agentFlags) error {
	cfg, logLevel, logJSON, err := agentConfig(cmd, f)
	if err != nil {
		return err
	}
	level := hclog.LevelFromString(logLevel)
	if level == hclog.NoLevel {
		return usageError(fmt.Sprintf("log-level: %q is not one of trace, debug, info, warn, error", logLevel))
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{
		Name:       "steward",
		Level:      level,
		JSONFormat: logJSON,
		Output:     cmd.ErrOrStderr(),
	})
	if f.sampleInterval <= 0 {
		return usageError(fmt.Sprintf("resource-sample-interval: %s must be positive", f.sampleInterval))
	}
	cfg.Plugins = plugins(f)
	// Signals are caught from before the start, so that one arriving
	// during it is a graceful stop right after it (a temporary data dir is
	// still removed), not the end of the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "steward agent running\n  node:   %s\n  gossip: %s\n  raft:   %s\n  grpc:   %s\n  data:   %s\n",
		n.Name(), n.GossipAddr(), n.RaftAddr(), n.GRPCAddr(), n.DataDir())
	if cfg.Dev {
		if n.TempDataDir() {
			fmt.Fprintf(out, "  dev mode: single node, data is removed on exit; try `steward status`\n")
		} else {
			from := "with --data-dir"
			if !cmd.Flags().Changed("data-dir") {
				from = "in " + f.configFile
			}
			fmt.Fprintf(out, "  dev mode: single node, data kept in %s (given %s); try `steward status`\n", n.DataDir(), from)
		}
	}

	// The command's context ends the agent as a signal does (tests).
	stop := cmd.Context()
	if stop == nil {
		stop = context.Background()
	}
	leave := true
	select {
	case <-n.ShutdownCh():
		leave = false
	case sig := <-sigs:
		cfg.Logger.Info("signal received; leaving gracefully (send it again to stop at once)", "signal", sig.String())
	case <-stop.Done():
		cfg.Logger.Info("stopped by the caller; leaving gracefully")
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
