package node

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/audit"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/tlsutil"
)

// Default ports, one per listener.
const (
	DefaultGossipPort = 7401
	DefaultRaftPort   = 7402
	DefaultGRPCPort   = 7403
	// DefaultHTTPPort is the agent's HTTP listener (/metrics, /v1/health),
	// on the bind IP unless --http-addr says otherwise.
	DefaultHTTPPort = 7404
)

// Config configures a node. Zero values take the defaults of DefaultConfig
// when passed through Normalize.
type Config struct {
	// Name is the node's name, unique in the cluster; it is also its Raft
	// server id.
	Name string
	// DataDir holds the Raft log, stable store, snapshots and the node's
	// identity file.
	DataDir string
	// Client makes the node a client agent: it runs gossip, the runtime
	// and the layers' executors but no Raft, and receives the committed
	// records that concern it over a stream from a server (false: a
	// server, which runs Raft and a runtime too).
	Client bool
	// ClientResumeCommits is how many recent commits a server keeps so
	// that a client agent whose stream broke resumes where it stopped (0:
	// state.MaxFeedCommits); a client further behind gets a fresh view.
	ClientResumeCommits int
	// BindAddr is the gossip (memberlist) listen address, ip:port (TCP and
	// UDP). Port 0 picks a free port.
	BindAddr string
	// RaftAddr is the Raft listen address, ip:port. Port 0 picks one.
	RaftAddr string
	// GRPCAddr is the gRPC listen address, ip:port. Port 0 picks one.
	GRPCAddr string
	// HTTPAddr is the HTTP listen address (/metrics, /v1/health/live,
	// /v1/health/ready; docs/OBSERVABILITY.md), ip:port; port 0 picks
	// one. "" serves no HTTP (the library's default: in-process test
	// clusters opt in; the agent defaults to DefaultHTTPPort on the bind
	// IP).
	HTTPAddr string
	// AdvertiseAddr is the IP other nodes dial, when the bind addresses are
	// 0.0.0.0 or behind NAT. The ports stay those of the bind addresses.
	AdvertiseAddr string
	// Join lists gossip addresses of existing members to join at start;
	// the node fails to start when none can be reached.
	Join []string
	// RetryJoin lists gossip addresses to join in the background, retrying
	// every RetryJoinInterval until one answers (Consul's retry_join), so
	// that nodes can be started in any order.
	RetryJoin []string
	// RetryJoinInterval is the pause between retry-join attempts.
	RetryJoinInterval time.Duration
	// RetryJoinMax is how many attempts are made (0: until it succeeds);
	// after the last failure the node shuts down with the error.
	RetryJoinMax int
	// BootstrapExpect makes the node bootstrap a new cluster together with
	// the others once this many nodes with the same setting have met.
	// 0: never bootstrap, wait to be added by an existing cluster's leader.
	BootstrapExpect int
	// Network is what Raft, gossip and gRPC between nodes go through
	// (nil: the plain network; tests cut links with it).
	Network Network
	// Dev runs a single node that bootstraps itself at once, named
	// DevNodeName unless Name is set. Without a
	// DataDir it runs on a temporary data dir, removed on shutdown; a given
	// DataDir is kept.
	Dev bool

	// Region is the region of the certificate role names
	// (server.<region>.steward; "" means tlsutil.DefaultRegion).
	Region string
	// TLS is mutual TLS on gRPC and Raft (tlsutil.Config; off without
	// files). Its Region is Region's.
	TLS tlsutil.Config

	// Logger receives every component's logs. Nil: no logs.
	Logger hclog.Logger
	// Clock times the leader loop (its retry of establishing leadership,
	// ReconcileInterval, the reaping of failed members after
	// FailedReapTimeout) and the pause between retry-join attempts, dates
	// the membership changes this node sees, and is the time its
	// proposals carry, which the state machine compares deadlines with
	// (nil: the wall clock). A test that drives a layer's deadlines with a
	// manual clock gives every node that clock.
	Clock clock.Clock
	// Plugins are the layers attached to the node, in order.
	Plugins []Plugin

	// RaftHeartbeatTimeout is Raft's follower heartbeat timeout.
	RaftHeartbeatTimeout time.Duration
	// RaftElectionTimeout is Raft's candidate election timeout.
	RaftElectionTimeout time.Duration
	// RaftLeaderLeaseTimeout is how long a leader stays leader without
	// contact with a quorum.
	RaftLeaderLeaseTimeout time.Duration
	// RaftCommitTimeout bounds how long a follower may wait for a commit
	// index update without new entries.
	RaftCommitTimeout time.Duration
	// RaftMaxAppendEntries is the most entries sent in one AppendEntries
	// request (count).
	RaftMaxAppendEntries int
	// RaftSnapshotThreshold is how many log entries trigger a snapshot.
	RaftSnapshotThreshold uint64
	// RaftSnapshotInterval is how often Raft checks whether to snapshot.
	RaftSnapshotInterval time.Duration
	// RaftTrailingLogs is how many log entries are kept after a snapshot.
	RaftTrailingLogs uint64
	// RaftLogStore is where a server keeps its Raft log: RaftLogStoreBoltDB
	// (raft.db) or RaftLogStoreWAL (raft-wal's segments in raft/wal); "",
	// the default, is the store the data dir holds, and DefaultRaftLogStore
	// for a new one. The stable store is raft.db with either. A data dir
	// that holds its log in another store than the one named refuses to
	// start (node/raftstore.go).
	RaftLogStore string

	// GossipProbeInterval is memberlist's failure-detector probe interval.
	GossipProbeInterval time.Duration
	// GossipProbeTimeout is how long a probe waits for an ack.
	GossipProbeTimeout time.Duration
	// GossipSuspicionMult scales how long a suspect member has to refute
	// before it is declared failed (a multiple of the probe interval).
	GossipSuspicionMult int
	// Encrypt is the gossip encryption key: standard base64 of 16, 24 or
	// 32 bytes, for AES-128, AES-192 or AES-256-GCM (Consul's encrypt; ""
	// for none). A keyring persisted in the data dir (KeyringFile), which
	// a rotation changes, overrides it (see node/keyring.go).
	Encrypt string
	// EncryptVerifyIncoming refuses unencrypted gossip when encryption is
	// on (Consul's encrypt_verify_incoming). Off, with
	// EncryptVerifyOutgoing off, enables encryption on a running cluster
	// one node at a time (docs/SECURITY.md).
	EncryptVerifyIncoming bool
	// EncryptVerifyOutgoing sends gossip encrypted when encryption is on
	// (off: in the clear; Consul's encrypt_verify_outgoing).
	EncryptVerifyOutgoing bool
	// ACL is the acl block (node/acl.go).
	ACL ACLConfig
	// Audit is the audit block (node/audit.go, package audit).
	Audit audit.Config
	// EnableDebug serves Go's net/http/pprof under /debug/pprof/ on the
	// HTTP listener (Consul's enable_debug; default off). With ACLs on a
	// request needs an operator token, as /metrics does (node/debug.go).
	EnableDebug bool

	// ReconcileInterval is how often the leader reconciles gossip
	// membership with the Raft configuration (it also reacts to every
	// membership event at once).
	ReconcileInterval time.Duration
	// FailedReapTimeout is how long a failed member stays a Raft peer
	// before the leader removes it (if quorum survives the removal).
	FailedReapTimeout time.Duration
	// MaxVoters is the most Raft voters; further members are non-voters.
	MaxVoters int
	// HoldTimeout is how long a request waits for a leader to be elected.
	HoldTimeout time.Duration
	// ApplyTimeout bounds one Raft apply.
	ApplyTimeout time.Duration
	// LeaveTimeout bounds a graceful leave.
	LeaveTimeout time.Duration
}

// DefaultConfig returns the settings for a LAN deployment. The Raft timing
// is heartbeat and election timeout 250 ms, leader lease 250 ms: with
// pre-vote and hashicorp/raft's leader stickiness a new leader is elected
// only once the second follower's own heartbeat timeout has fired, so the
// failover time scales with the heartbeat timeout. Measured by
// bench/stewardbench (results/20261201-230909-failover-timing-2.json, a
// loaded machine, and 20261201-231934-failover-250ms.json): kill → first
// write under the new leader 523 and 722 ms median against 972–1095 ms at
// 500/500/250 and etcd's 1538–1626 ms in the same runs. The lease is what
// steps a starved leader down: a 125 ms lease (250/250/125) stepped
// leaders down 5 and 4 times in two 45 s runs of steady writes, 250 ms
// once in 5–6 minutes under load 20–35, at either heartbeat timeout
// (docs/PERFORMANCE.md, Failover).
// The commit timeout is 10 ms (hashicorp/raft's is 50 ms): an idle
// follower learns of a commit within 10–20 ms rather than 50–100 ms, which
// is most of the time a tree committed for a client agent streaming from a
// follower takes to start, and measured neutral for write throughput.
func DefaultConfig() Config {
	return Config{
		BindAddr:               net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultGossipPort)),
		RaftAddr:               net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultRaftPort)),
		GRPCAddr:               net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultGRPCPort)),
		RaftHeartbeatTimeout:   250 * time.Millisecond,
		RaftElectionTimeout:    250 * time.Millisecond,
		RaftLeaderLeaseTimeout: 250 * time.Millisecond,
		RaftCommitTimeout:      10 * time.Millisecond,
		RaftMaxAppendEntries:   64,
		RaftSnapshotThreshold:  8192,
		RaftSnapshotInterval:   30 * time.Second,
		RaftTrailingLogs:       10240,
		GossipProbeInterval:    1 * time.Second,
		GossipProbeTimeout:     500 * time.Millisecond,
		GossipSuspicionMult:    4,
		EncryptVerifyIncoming:  true,
		EncryptVerifyOutgoing:  true,
		ReconcileInterval:      10 * time.Second,
		FailedReapTimeout:      30 * time.Second,
		MaxVoters:              5,
		HoldTimeout:            7 * time.Second,
		ApplyTimeout:           10 * time.Second,
		LeaveTimeout:           10 * time.Second,
		RetryJoinInterval:      2 * time.Second,
	}
}

// nameRE is the syntax of node names: DNS-label-like.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// ValidName reports whether s is a valid node name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Validate checks the configuration; every error names the setting.
func (c *Config) Validate() error {
	var errs []error
	if !ValidName(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q is not a valid node name (1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit)", c.Name))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: required"))
	}
	for _, a := range []struct{ flag, v string }{{"bind-addr", c.BindAddr}, {"raft-addr", c.RaftAddr}, {"grpc-addr", c.GRPCAddr}} {
		if a.flag == "raft-addr" && c.Client {
			continue // a client runs no Raft
		}
		if err := checkHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.flag, err))
		}
	}
	if c.HTTPAddr != "" {
		if err := checkHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("http-addr: %w", err))
		}
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		errs = append(errs, fmt.Errorf("advertise-addr: %q is not an IP address", c.AdvertiseAddr))
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr).IsUnspecified() {
		errs = append(errs, fmt.Errorf("advertise-addr: %s is unspecified; give the address other nodes dial", c.AdvertiseAddr))
	}
	for _, j := range append(append([]string(nil), c.Join...), c.RetryJoin...) {
		if _, _, err := net.SplitHostPort(j); err != nil {
			if net.ParseIP(j) == nil && !ValidName(j) {
				errs = append(errs, fmt.Errorf("join: %q is not host or host:port", j))
			}
		}
	}
	if c.BootstrapExpect < 0 || c.BootstrapExpect > 7 {
		errs = append(errs, fmt.Errorf("bootstrap-expect: %d is out of range 0..7", c.BootstrapExpect))
	}
	if c.ClientResumeCommits < 0 {
		errs = append(errs, fmt.Errorf("client_resume_commits: must not be negative, got %d", c.ClientResumeCommits))
	}
	if c.Client && c.Dev {
		errs = append(errs, errors.New("client: a dev agent is a server and a client at once; drop --client"))
	}
	if c.Client && c.BootstrapExpect != 0 {
		errs = append(errs, fmt.Errorf("bootstrap-expect: %d is for servers; a client agent never bootstraps (add --server)", c.BootstrapExpect))
	}
	if c.Dev && c.BootstrapExpect > 1 {
		errs = append(errs, fmt.Errorf("bootstrap-expect: %d cannot be combined with dev (a single node)", c.BootstrapExpect))
	}
	if c.Region != "" {
		if err := tlsutil.CheckRegion(c.Region); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"raft_heartbeat_timeout", c.RaftHeartbeatTimeout},
		{"raft_election_timeout", c.RaftElectionTimeout},
		{"raft_leader_lease_timeout", c.RaftLeaderLeaseTimeout},
		{"raft_commit_timeout", c.RaftCommitTimeout},
		{"gossip_probe_interval", c.GossipProbeInterval},
		{"gossip_probe_timeout", c.GossipProbeTimeout},
		{"reconcile_interval", c.ReconcileInterval},
		{"failed_reap_timeout", c.FailedReapTimeout},
		{"hold_timeout", c.HoldTimeout},
		{"apply_timeout", c.ApplyTimeout},
		{"leave_timeout", c.LeaveTimeout},
		{"retry_interval", c.RetryJoinInterval},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", d.name, d.v))
		}
	}
	if c.RaftLeaderLeaseTimeout > c.RaftHeartbeatTimeout {
		errs = append(errs, fmt.Errorf("raft_leader_lease_timeout: %s must not exceed raft_heartbeat_timeout %s", c.RaftLeaderLeaseTimeout, c.RaftHeartbeatTimeout))
	}
	if err := checkRaftLogStore(c.RaftLogStore); err != nil {
		errs = append(errs, err)
	}
	if c.RaftMaxAppendEntries < 1 || c.RaftMaxAppendEntries > 1024 {
		errs = append(errs, fmt.Errorf("raft_max_append_entries: %d is out of range 1..1024", c.RaftMaxAppendEntries))
	}
	if c.MaxVoters < 1 || c.MaxVoters > 9 {
		errs = append(errs, fmt.Errorf("max_voters: %d is out of range 1..9", c.MaxVoters))
	}
	if c.RetryJoinMax < 0 {
		errs = append(errs, fmt.Errorf("retry-max: must not be negative, got %d", c.RetryJoinMax))
	}
	if c.Encrypt != "" {
		if _, err := ParseKey(c.Encrypt); err != nil {
			errs = append(errs, fmt.Errorf("encrypt: %w", err))
		}
	}
	if err := c.ACL.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Audit.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.GossipSuspicionMult < 1 {
		errs = append(errs, fmt.Errorf("gossip_suspicion_mult: must be at least 1, got %d", c.GossipSuspicionMult))
	}
	return errors.Join(errs...)
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not ip:port: %v", v, err)
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("%q: %q is not an IP address", v, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a number in 0..65535", v, port)
	}
	return nil
}

// DevNodeName is the name of a dev node not given one.
const DevNodeName = "dev"
