package node

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// FileConfig is an agent configuration file: JSON when its name ends in
// .json, HCL otherwise (agent.hcl, agent.conf). It holds every setting of
// the agent's flags, each under the flag's name with "_" for "-" (flags
// override it), and the tuning blocks below, which have no flags. Every
// field is optional.
//
// The mode flags are blocks, named as Nomad names them: server { enabled }
// is --server (run Raft), client { enabled } is --client (a client agent,
// no Raft). An agent is a server when server.enabled is true (whatever
// client.enabled says: a server runs a runtime anyway), a client agent
// otherwise, unless it is a dev agent, which is a server. bootstrap_expect
// may be given in the server block or at the top level; given in both, the
// two must be equal.
//
//	name                     = "n1"
//	data_dir                 = "/var/lib/steward"
//	bind_addr                = "0.0.0.0:7401"
//	raft_addr                = "0.0.0.0:7402"
//	grpc_addr                = "0.0.0.0:7403"
//	http_addr                = "0.0.0.0:7404" # /metrics, /v1/health
//	advertise_addr           = "10.0.0.5"
//	join                     = ["10.0.0.6:7401"]
//	retry_join               = ["10.0.0.7:7401"]
//	retry_interval           = "2s"
//	retry_max                = 0
//	bootstrap_expect         = 3
//	dev                      = false
//	log_level                = "info"
//	log_json                 = false
//	enable_debug             = false   # /debug/pprof/ on the HTTP listener
//	resource_sample_interval = "5s"
//	raft_log_store           = "wal"     # or "boltdb"; servers only, fixed at a data dir's first start (unset: the data dir's, wal for a new one)
//	encrypt                  = "base64 of 32 bytes"   # steward keygen
//	encrypt_verify_incoming  = true
//	encrypt_verify_outgoing  = true
//	server {
//	  enabled               = true
//	  bootstrap_expect      = 3
//	  client_resume_commits = 4096
//	}
//	client {
//	  enabled = true
//	}
//	raft {
//	  heartbeat_timeout    = "250ms"
//	  election_timeout     = "250ms"
//	  leader_lease_timeout = "250ms"
//	  commit_timeout       = "10ms"
//	  max_append_entries   = 64
//	  snapshot_threshold   = 8192
//	  snapshot_interval    = "30s"
//	  trailing_logs        = 10240
//	}
//	gossip {
//	  probe_interval = "1s"
//	  probe_timeout  = "500ms"
//	  suspicion_mult = 4
//	}
//	autopilot {
//	  reconcile_interval  = "10s"
//	  failed_reap_timeout = "30s"
//	  max_voters          = 5
//	}
//	region = "global"
//	tls {
//	  ca_file                = "/etc/steward/steward-agent-ca.pem"
//	  cert_file              = "/etc/steward/global-server-steward-0.pem"
//	  key_file               = "/etc/steward/global-server-steward-0-key.pem"
//	  verify_incoming        = true
//	  verify_outgoing        = true
//	  verify_server_hostname = true
//	}
//	acl {
//	  enabled        = true
//	  default_policy = "deny"   # or "allow", to migrate
//	}
//	audit {
//	  enabled          = true
//	  path             = "/var/log/steward/audit.log" # default <data_dir>/audit/audit.log
//	  rotate_bytes     = 67108864                     # 64 MiB
//	  rotate_max_files = 10
//	}
type FileConfig struct {
	Name            *string  `hcl:"name,optional"`
	DataDir         *string  `hcl:"data_dir,optional"`
	BindAddr        *string  `hcl:"bind_addr,optional"`
	RaftAddr        *string  `hcl:"raft_addr,optional"`
	GRPCAddr        *string  `hcl:"grpc_addr,optional"`
	HTTPAddr        *string  `hcl:"http_addr,optional"`
	AdvertiseAddr   *string  `hcl:"advertise_addr,optional"`
	Join            []string `hcl:"join,optional"`
	RetryJoin       []string `hcl:"retry_join,optional"`
	RetryInterval   *string  `hcl:"retry_interval,optional"`
	RetryMax        *int     `hcl:"retry_max,optional"`
	BootstrapExpect *int     `hcl:"bootstrap_expect,optional"`
	Dev             *bool    `hcl:"dev,optional"`
	LogLevel        *string  `hcl:"log_level,optional"`
	LogJSON         *bool    `hcl:"log_json,optional"`
	// EnableDebug is Config.EnableDebug (--enable-debug).
	EnableDebug *bool `hcl:"enable_debug,optional"`
	// RaftLogStore is Config.RaftLogStore (--raft-log-store).
	RaftLogStore *string `hcl:"raft_log_store,optional"`
	// ResourceSampleInterval is the health layer's, read with
	// SampleInterval.
	ResourceSampleInterval *string `hcl:"resource_sample_interval,optional"`
	// Encrypt, EncryptVerifyIncoming and EncryptVerifyOutgoing are the
	// gossip encryption settings, as Consul names them (Config.Encrypt).
	Encrypt               *string `hcl:"encrypt,optional"`
	EncryptVerifyIncoming *bool   `hcl:"encrypt_verify_incoming,optional"`
	EncryptVerifyOutgoing *bool   `hcl:"encrypt_verify_outgoing,optional"`

	// Server and Client are the mode flags (--server, --client), read
	// with ServerEnabled and ClientEnabled.
	Server *fileServer `hcl:"server,block"`
	Client *fileClient `hcl:"client,block"`

	Raft      *fileRaft      `hcl:"raft,block"`
	Gossip    *fileGossip    `hcl:"gossip,block"`
	Autopilot *fileAutopilot `hcl:"autopilot,block"`

	// Region and TLS are Config.Region and Config.TLS (--region, --ca-file,
	// --cert-file, --key-file, --verify-*).
	Region *string  `hcl:"region,optional"`
	TLS    *fileTLS `hcl:"tls,block"`

	// ACL is Config.ACL (--acl-enabled, --acl-default-policy).
	ACL *fileACL `hcl:"acl,block"`

	// Audit is Config.Audit (--audit-enabled).
	Audit *fileAudit `hcl:"audit,block"`
}

type fileAudit struct {
	Enabled        *bool   `hcl:"enabled,optional"`
	Path           *string `hcl:"path,optional"`
	RotateBytes    *int64  `hcl:"rotate_bytes,optional"`
	RotateMaxFiles *int    `hcl:"rotate_max_files,optional"`
}

type fileACL struct {
	Enabled       *bool   `hcl:"enabled,optional"`
	DefaultPolicy *string `hcl:"default_policy,optional"`
}

type fileTLS struct {
	CAFile               *string `hcl:"ca_file,optional"`
	CertFile             *string `hcl:"cert_file,optional"`
	KeyFile              *string `hcl:"key_file,optional"`
	VerifyIncoming       *bool   `hcl:"verify_incoming,optional"`
	VerifyOutgoing       *bool   `hcl:"verify_outgoing,optional"`
	VerifyServerHostname *bool   `hcl:"verify_server_hostname,optional"`
}

type fileServer struct {
	Enabled         *bool `hcl:"enabled,optional"`
	BootstrapExpect *int  `hcl:"bootstrap_expect,optional"`
	// ClientResumeCommits is Config.ClientResumeCommits.
	ClientResumeCommits *int `hcl:"client_resume_commits,optional"`
}

type fileClient struct {
	Enabled *bool `hcl:"enabled,optional"`
}

type fileRaft struct {
	HeartbeatTimeout   *string `hcl:"heartbeat_timeout,optional"`
	ElectionTimeout    *string `hcl:"election_timeout,optional"`
	LeaderLeaseTimeout *string `hcl:"leader_lease_timeout,optional"`
	CommitTimeout      *string `hcl:"commit_timeout,optional"`
	MaxAppendEntries   *int    `hcl:"max_append_entries,optional"`
	SnapshotThreshold  *int    `hcl:"snapshot_threshold,optional"`
	SnapshotInterval   *string `hcl:"snapshot_interval,optional"`
	TrailingLogs       *int    `hcl:"trailing_logs,optional"`
}

type fileGossip struct {
	ProbeInterval *string `hcl:"probe_interval,optional"`
	ProbeTimeout  *string `hcl:"probe_timeout,optional"`
	SuspicionMult *int    `hcl:"suspicion_mult,optional"`
}

type fileAutopilot struct {
	ReconcileInterval *string `hcl:"reconcile_interval,optional"`
	FailedReapTimeout *string `hcl:"failed_reap_timeout,optional"`
	MaxVoters         *int    `hcl:"max_voters,optional"`
}

// ParseConfigFile reads an agent configuration file: JSON when the name ends
// in .json, HCL otherwise. Errors name the file, line and setting, and say
// which of the two the file was read as.
func ParseConfigFile(path string) (*FileConfig, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	format := "HCL; name it *.json for JSON"
	if strings.HasSuffix(path, ".json") {
		format = "JSON, as it is named *.json"
		f, diags = p.ParseJSON(src, path)
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("config (read as %s): %s", format, diags.Error())
	}
	var fc FileConfig
	if diags := gohcl.DecodeBody(f.Body, nil, &fc); diags.HasErrors() {
		return nil, fmt.Errorf("config (read as %s): %s", format, diags.Error())
	}
	return &fc, nil
}

// SampleInterval is resource_sample_interval; set is false when the file
// does not have it.
func (f *FileConfig) SampleInterval() (d time.Duration, set bool, err error) {
	if f.ResourceSampleInterval == nil {
		return 0, false, nil
	}
	d, err = fileDuration("resource_sample_interval", *f.ResourceSampleInterval)
	if err != nil {
		return 0, true, fmt.Errorf("config: %w", err)
	}
	return d, true, nil
}

// ServerEnabled is server.enabled (--server); nil when the file does not
// have it.
func (f *FileConfig) ServerEnabled() *bool {
	if f.Server == nil {
		return nil
	}
	return f.Server.Enabled
}

// ClientEnabled is client.enabled (--client); nil when the file does not
// have it.
func (f *FileConfig) ClientEnabled() *bool {
	if f.Client == nil {
		return nil
	}
	return f.Client.Enabled
}

// bootstrapExpect is bootstrap_expect, from the top level or the server
// block; nil when the file has neither.
func (f *FileConfig) bootstrapExpect() (*int, error) {
	top := f.BootstrapExpect
	var srv *int
	if f.Server != nil {
		srv = f.Server.BootstrapExpect
	}
	switch {
	case top != nil && srv != nil && *top != *srv:
		return nil, fmt.Errorf("bootstrap_expect = %d and server.bootstrap_expect = %d differ; keep one", *top, *srv)
	case srv != nil:
		return srv, nil
	}
	return top, nil
}

func fileDuration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration (e.g. \"500ms\", \"2s\")", key, v)
	}
	return d, nil
}

// ApplyTo copies the settings present in the file onto c. The mode blocks
// set Client when they decide it alone: false when server.enabled is true,
// true when client.enabled is true and server.enabled is not; the agent
// settles the mode with its flags (a client unless --server or --dev).
func (f *FileConfig) ApplyTo(c *Config) error {
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setS(&c.Name, f.Name)
	setS(&c.DataDir, f.DataDir)
	setS(&c.BindAddr, f.BindAddr)
	setS(&c.RaftAddr, f.RaftAddr)
	setS(&c.GRPCAddr, f.GRPCAddr)
	setS(&c.HTTPAddr, f.HTTPAddr)
	setS(&c.AdvertiseAddr, f.AdvertiseAddr)
	if f.Join != nil {
		c.Join = append([]string(nil), f.Join...)
	}
	if f.RetryJoin != nil {
		c.RetryJoin = append([]string(nil), f.RetryJoin...)
	}
	if f.RetryMax != nil {
		c.RetryJoinMax = *f.RetryMax
	}
	var errs []string
	if n, err := f.bootstrapExpect(); err != nil {
		errs = append(errs, err.Error())
	} else if n != nil {
		c.BootstrapExpect = *n
	}
	if f.Dev != nil {
		c.Dev = *f.Dev
	}
	if f.EnableDebug != nil {
		c.EnableDebug = *f.EnableDebug
	}
	if f.RaftLogStore != nil {
		if !slices.Contains(raftLogStores, *f.RaftLogStore) {
			errs = append(errs, badRaftLogStore(*f.RaftLogStore).Error())
		} else {
			c.RaftLogStore = *f.RaftLogStore
		}
	}
	setS(&c.Encrypt, f.Encrypt)
	if f.EncryptVerifyIncoming != nil {
		c.EncryptVerifyIncoming = *f.EncryptVerifyIncoming
	}
	if f.EncryptVerifyOutgoing != nil {
		c.EncryptVerifyOutgoing = *f.EncryptVerifyOutgoing
	}
	setS(&c.Region, f.Region)
	if t := f.TLS; t != nil {
		setS(&c.TLS.CAFile, t.CAFile)
		setS(&c.TLS.CertFile, t.CertFile)
		setS(&c.TLS.KeyFile, t.KeyFile)
		for _, b := range []struct {
			dst *bool
			v   *bool
		}{{&c.TLS.VerifyIncoming, t.VerifyIncoming}, {&c.TLS.VerifyOutgoing, t.VerifyOutgoing}, {&c.TLS.VerifyServerHostname, t.VerifyServerHostname}} {
			if b.v != nil {
				*b.dst = *b.v
			}
		}
	}
	if a := f.ACL; a != nil {
		if a.Enabled != nil {
			c.ACL.Enabled = *a.Enabled
		}
		setS(&c.ACL.DefaultPolicy, a.DefaultPolicy)
	}
	if a := f.Audit; a != nil {
		if a.Enabled != nil {
			c.Audit.Enabled = *a.Enabled
		}
		setS(&c.Audit.Path, a.Path)
		if a.RotateBytes != nil {
			c.Audit.RotateBytes = *a.RotateBytes
		}
		if a.RotateMaxFiles != nil {
			c.Audit.RotateMaxFiles = *a.RotateMaxFiles
		}
	}
	if f.Server != nil && f.Server.ClientResumeCommits != nil {
		c.ClientResumeCommits = *f.Server.ClientResumeCommits
	}
	if on := f.ServerEnabled(); on != nil && *on {
		c.Client = false
	} else if on := f.ClientEnabled(); on != nil && *on {
		c.Client = true
	}
	dur := func(key string, dst *time.Duration, v *string) {
		if v == nil {
			return
		}
		d, err := fileDuration(key, *v)
		if err != nil {
			errs = append(errs, err.Error())
			return
		}
		*dst = d
	}
	dur("retry_interval", &c.RetryJoinInterval, f.RetryInterval)
	if r := f.Raft; r != nil {
		dur("raft.heartbeat_timeout", &c.RaftHeartbeatTimeout, r.HeartbeatTimeout)
		dur("raft.election_timeout", &c.RaftElectionTimeout, r.ElectionTimeout)
		dur("raft.leader_lease_timeout", &c.RaftLeaderLeaseTimeout, r.LeaderLeaseTimeout)
		dur("raft.commit_timeout", &c.RaftCommitTimeout, r.CommitTimeout)
		dur("raft.snapshot_interval", &c.RaftSnapshotInterval, r.SnapshotInterval)
		if r.MaxAppendEntries != nil {
			c.RaftMaxAppendEntries = *r.MaxAppendEntries
		}
		if r.SnapshotThreshold != nil {
			if *r.SnapshotThreshold < 1 {
				errs = append(errs, "raft.snapshot_threshold: must be positive")
			} else {
				c.RaftSnapshotThreshold = uint64(*r.SnapshotThreshold)
			}
		}
		if r.TrailingLogs != nil {
			if *r.TrailingLogs < 0 {
				errs = append(errs, "raft.trailing_logs: must not be negative")
			} else {
				c.RaftTrailingLogs = uint64(*r.TrailingLogs)
			}
		}
	}
	if g := f.Gossip; g != nil {
		dur("gossip.probe_interval", &c.GossipProbeInterval, g.ProbeInterval)
		dur("gossip.probe_timeout", &c.GossipProbeTimeout, g.ProbeTimeout)
		if g.SuspicionMult != nil {
			c.GossipSuspicionMult = *g.SuspicionMult
		}
	}
	if a := f.Autopilot; a != nil {
		dur("autopilot.reconcile_interval", &c.ReconcileInterval, a.ReconcileInterval)
		dur("autopilot.failed_reap_timeout", &c.FailedReapTimeout, a.FailedReapTimeout)
		if a.MaxVoters != nil {
			c.MaxVoters = *a.MaxVoters
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}
