package supervision

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/runtime"
	"github.com/steward/steward/transport"
	"github.com/steward/steward/runtime/behaviors"
)

// Config configures the layer.
type Config struct {
	// Runtime is the base runtime configuration; NodeName, Logger, Router
	// and Catalog are filled in by the layer when empty.
	Runtime runtime.Config
	// Catalog returns the behaviors this node can run (default: the
	// native catalog).
	Catalog func() *runtime.Catalog
	// ResyncInterval is how often the reconciler re-checks trees even
	// without a change of the replicated state (to restart failed trees).
	ResyncInterval time.Duration
	// RestartBackoffMin and RestartBackoffMax bound the wait before a
	// failed tree is started again (doubling in between).
	RestartBackoffMin time.Duration
	RestartBackoffMax time.Duration
	// ReplaceAfter is how long the leader waits after the node of an
	// auto-placed tree failed before placing the tree elsewhere. A node
	// that left gracefully has its trees moved at once.
	ReplaceAfter time.Duration
	// OpTimeout bounds one runtime operation (apply, stop, restart).
	OpTimeout time.Duration
}

// DefaultConfig returns the layer's defaults.
func DefaultConfig() Config {
	return Config{
		Runtime:           runtime.DefaultConfig(),
		ResyncInterval:    5 * time.Second,
		RestartBackoffMin: time.Second,
		RestartBackoffMax: time.Minute,
		ReplaceAfter:      30 * time.Second,
		OpTimeout:         30 * time.Second,
	}
}

// Layer is the supervision layer of one node.
type Layer struct {
	cfg    Config
	node   *node.Node
	rt     *runtime.Runtime
	logger hclog.Logger

	rec *reconciler

	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// New returns a layer to attach to a node (node.Config.Plugins).
func New(cfg Config) *Layer {
	return &Layer{cfg: cfg, stopCh: make(chan struct{})}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "supervision" }

// Attach implements node.Plugin: it starts the runtime, registers the gRPC
// services and starts the reconciler.
func (l *Layer) Attach(n *node.Node) error {
	l.node = n
	l.logger = n.Logger().Named("supervision")
	rc := l.cfg.Runtime
	rc.NodeName = n.Name()
	if rc.Logger == nil {
		rc.Logger = n.Logger().Named("runtime")
	}
	if rc.Catalog == nil {
		if l.cfg.Catalog != nil {
			rc.Catalog = l.cfg.Catalog()
		} else {
			rc.Catalog = behaviors.NewCatalog()
		}
	}
	if rc.Router == nil {
		rc.Router = &router{l: l}
	}
	rt, err := runtime.New(rc)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	l.rt = rt
	l.rec = newReconciler(l)

	g := n.Server().GRPC()
	pb.RegisterSupervisionServer(g, &supervisionService{l: l})
	pb.RegisterRuntimeServer(g, &runtimeService{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{Deliver: l.deliverLocal})

	l.goFunc(l.rec.run)
	n.OnLeadership("tree-placement", l.replaceLoop)
	n.OnShutdown(l.stop)
	return nil
}

func (l *Layer) goFunc(f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

func (l *Layer) stop() {
	l.stopOnce.Do(func() {
		close(l.stopCh)
		l.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.OpTimeout)
		defer cancel()
		if err := l.rt.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			l.logger.Warn("runtime shutdown", "error", err)
		}
	})
}

// Runtime is the node's process runtime.
func (l *Layer) Runtime() *runtime.Runtime { return l.rt }

// Node is the node the layer is attached to.
func (l *Layer) Node() *node.Node { return l.node }

// AppliedIndex is the modify index of the spec of tree the reconciler last
// applied (0 if none).
func (l *Layer) AppliedIndex(tree string) uint64 { return l.rec.applied(tree) }

// opContext bounds one runtime operation.
func (l *Layer) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, l.cfg.OpTimeout)
}
