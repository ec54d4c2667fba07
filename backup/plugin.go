package backup

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
)

// Config configures the Operator service.
type Config struct {
	// LeaderWait is how long a request waits for a leader to be known
	// before it fails.
	LeaderWait time.Duration
	// TempDir holds a restore's data while it is verified (default: the
	// node's data dir, on the same disk as Raft's snapshots).
	TempDir string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{LeaderWait: 10 * time.Second}
}

// cluster is what backups need of the node: its replicated state, Raft
// snapshots, and the way to the leader.
type cluster interface {
	Name() string
	State() *state.Store
	IsLeader() bool
	// IsServer is false on a client agent, which relays to its server.
	IsServer() bool
	Leader() (name, grpcAddr string)
	Pool() *transport.Pool
	LastIndex() uint64
	OpenSnapshot(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error)
	RestoreSnapshot(ctx context.Context, meta *raft.SnapshotMeta, r io.Reader) error
}

// Plugin serves backups and restores on a node.
type Plugin struct {
	cfg    Config
	node   cluster
	logger hclog.Logger
	// restoring serializes restores on this node.
	restoring sync.Mutex
}

// New returns the plugin to attach to a node (node.Config.Plugins).
func New(cfg Config) *Plugin { return &Plugin{cfg: cfg} }

// Name implements node.Plugin.
func (p *Plugin) Name() string { return "backup" }

// Attach implements node.Plugin: it registers the Operator service.
func (p *Plugin) Attach(n node.Host) error {
	if p.cfg.LeaderWait <= 0 {
		return fmt.Errorf("backup: LeaderWait: %s must be positive", p.cfg.LeaderWait)
	}
	p.node = n
	p.logger = n.Logger().Named("backup")
	if p.cfg.TempDir == "" {
		p.cfg.TempDir = n.DataDir()
	}
	pb.RegisterOperatorServer(n.Server().GRPC(), &service{p: p})
	return nil
}
