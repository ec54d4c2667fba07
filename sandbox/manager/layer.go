package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func init() {
	transport.RegisterCode("state.sandbox_state", state.ErrSandboxState, codes.FailedPrecondition)
	transport.RegisterCode("manager.create_failed", ErrCreateFailed, codes.FailedPrecondition)
	transport.RegisterCode("sandbox.invalid", sandbox.ErrInvalid, codes.InvalidArgument)
	transport.RegisterCode("sandbox.syntax", sandbox.ErrSyntax, codes.InvalidArgument)
	transport.RegisterCode("sandbox.too_large", sandbox.ErrTooLarge, codes.InvalidArgument)
}

// ErrCreateFailed: a sandbox or an experiment was committed but could not
// be brought up (a part failed, a node was lost, the deadline passed); every
// part of it was removed. The message says why.
var ErrCreateFailed = errors.New("create failed")

// Config holds the layer's limits and timings.
type Config struct {
	// MaxSandboxes bounds the sandboxes of the cluster, MaxPerNode those
	// of one node.
	MaxSandboxes int
	MaxPerNode   int
	// MaxFailedKept bounds the failed creations kept for `experiment
	// status` (older ones are pruned).
	MaxFailedKept int
	// CreateDeadline is how long a sandbox's node may take to start it
	// when the request does not say.
	CreateDeadline time.Duration
	// ReplaceAfter is how long the leader waits after the node of an
	// auto-placed running sandbox failed before placing it elsewhere (a
	// node that left gracefully: at once).
	ReplaceAfter time.Duration
	// ResyncInterval bounds the leader's wait between looks at creations
	// in progress.
	ResyncInterval time.Duration
	// Clock times deadlines, the grace before re-placement and the
	// resync (nil: the wall clock).
	Clock clock.Clock
}

// Limits.
const (
	DefaultMaxSandboxes  = 256
	DefaultMaxPerNode    = 32
	DefaultMaxFailedKept = 50
	// MaxCreateDeadline bounds a create's deadline.
	MaxCreateDeadline = sandbox.MaxExperimentDeadline
)

// DefaultConfig returns the layer's defaults.
func DefaultConfig() Config {
	return Config{
		MaxSandboxes:   DefaultMaxSandboxes,
		MaxPerNode:     DefaultMaxPerNode,
		MaxFailedKept:  DefaultMaxFailedKept,
		CreateDeadline: 30 * time.Second,
		ReplaceAfter:   30 * time.Second,
		ResyncInterval: time.Second,
	}
}

// Supervision is what the layer needs of the node's supervision layer:
// its runtime, placement and the catalog's checks.
type Supervision interface {
	Runtime() *actor.Runtime
	Place(ctx context.Context, exclude string) (string, error)
	KnownNode(name string) error
	ValidateOptions() spec.ValidateOptions
}

// host is what the layer needs of its node.
type host interface {
	Name() string
	Logger() hclog.Logger
	State() *state.Store
	// IsServer is false on a client agent, whose State holds only its
	// own sandboxes (every experiment record, though).
	IsServer() bool
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
	Server() *transport.Server
	Pool() *transport.Pool
	MemberStatus(name string) string
	PeerGRPCAddr(name string) (string, bool)
	OnLeadership(name string, f node.LeaderTask)
	OnShutdown(f func())
}

// Layer is the sandbox layer of one node.
type Layer struct {
	cfg    Config
	sup    Supervision
	node   host
	logger hclog.Logger
	clock  clock.Clock
	// checkModule says whether a module version may run in a sandbox
	// under its policy (its memory minimum within the cap, WASI only
	// where allowed), for the check at creation (nil: not checked).
	checkModule ModuleCheck
	// sandboxDir is where this node's sandboxes keep files (sweep.go).
	sandboxDir func() string

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup
}

// ModuleCheck refuses a module version a sandbox under p cannot run,
// saying why.
type ModuleCheck func(module, version string, p sandbox.Policy) error

// New returns a layer to attach to a node (node.Config.Plugins), after
// the supervision layer sup.
func New(cfg Config, sup Supervision) *Layer {
	d := DefaultConfig()
	if cfg.MaxSandboxes <= 0 {
		cfg.MaxSandboxes = d.MaxSandboxes
	}
	if cfg.MaxPerNode <= 0 {
		cfg.MaxPerNode = d.MaxPerNode
	}
	if cfg.MaxFailedKept <= 0 {
		cfg.MaxFailedKept = d.MaxFailedKept
	}
	if cfg.CreateDeadline <= 0 {
		cfg.CreateDeadline = d.CreateDeadline
	}
	if cfg.ReplaceAfter <= 0 {
		cfg.ReplaceAfter = d.ReplaceAfter
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = d.ResyncInterval
	}
	return &Layer{cfg: cfg, sup: sup, clock: clock.Or(cfg.Clock), stop: make(chan struct{})}
}

// SetModuleCheck sets how the leader checks a sandbox's modules at
// creation (the wasm host's: a module whose memory minimum is over the
// sandbox's limit, or that needs WASI outside a permissive sandbox, is
// refused before anything is committed).
func (l *Layer) SetModuleCheck(f ModuleCheck) { l.checkModule = f }

// Name implements node.Plugin.
func (l *Layer) Name() string { return "sandboxes" }

// Attach implements node.Plugin.
func (l *Layer) Attach(n node.Host) error {
	if l.sup == nil || l.sup.Runtime() == nil {
		return errors.New("sandboxes: no supervision layer")
	}
	l.node = n
	l.logger = n.Logger().Named("sandboxes")
	g := n.Server().GRPC()
	pb.RegisterSandboxesServer(g, &sandboxService{l: l})
	pb.RegisterExperimentsServer(g, &experimentService{l: l})
	n.OnLeadership("sandbox-watch", l.watchLoop)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.sweepLoop(l.stop)
	}()
	n.OnShutdown(func() {
		l.stopOnce.Do(func() { close(l.stop) })
		l.wg.Wait()
	})
	return nil
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// group reads a creation group and its sandboxes from st.
func group(st *state.Store, id string) (*pb.ExperimentRecord, []*pb.SandboxRecord, error) {
	e, err := st.Experiment(nil, id)
	if err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, fmt.Errorf("%w: no experiment %q", state.ErrNotFound, id)
	}
	var sbs []*pb.SandboxRecord
	for _, p := range e.Parts {
		if sb, err := st.Sandbox(p.Sandbox); err != nil {
			return nil, nil, err
		} else if sb != nil && sb.Experiment == e.Id {
			sbs = append(sbs, sb)
		}
	}
	return e, sbs, nil
}
