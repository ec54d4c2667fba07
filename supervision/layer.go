package supervision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// Config configures the layer.
type Config struct {
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
	// Clock times the reconciler's backoff and resync and the leader's
	// re-placement (nil: the wall clock); tests advance a manual one.
	Clock clock.Clock
}

// DefaultConfig returns the layer's defaults.
func DefaultConfig() Config {
	return Config{
		ResyncInterval:    5 * time.Second,
		RestartBackoffMin: time.Second,
		RestartBackoffMax: time.Minute,
		ReplaceAfter:      30 * time.Second,
		OpTimeout:         30 * time.Second,
	}
}

// cluster is what the supervision layer needs of its node.
type cluster interface {
	Name() string
	State() *state.Store
	Server() *transport.Server
	Pool() *transport.Pool
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
	AliveNodes() []string
	MemberStatus(name string) string
	PeerGRPCAddr(name string) (string, bool)
}

// Layer is the supervision layer of one node.
type Layer struct {
	cfg    Config
	node   cluster
	rt     *actor.Runtime
	router *Router
	logger hclog.Logger
	clock  clock.Clock

	rec *reconciler

	// incarnation is this layer's runtime incarnation (the time it was
	// made, unix ns), gossiped and carried with the signals it sends;
	// peers are the other nodes' as gossiped, read through members.
	incarnation uint64
	peers       incarnations
	members     func() []*pb.Member

	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// New returns a layer to attach to a node (node.Config.Plugins) that
// keeps rt, the node's runtime, at the desired state and serves it. router
// is the Router rt was built with (nil when rt routes no sends to other
// nodes): the layer's node is what it routes through.
func New(cfg Config, rt *actor.Runtime, router *Router) *Layer {
	l := &Layer{cfg: cfg, rt: rt, router: router, clock: clock.Or(cfg.Clock), stopCh: make(chan struct{}),
		incarnation: uint64(time.Now().UnixNano())}
	return l
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "supervision" }

// Attach implements node.Plugin: it registers the gRPC services and peer
// handlers, binds the router and starts the reconciler.
func (l *Layer) Attach(n node.Host) error {
	if l.rt == nil {
		return errors.New("supervision: no runtime")
	}
	if l.rt.Node() != n.Name() {
		return fmt.Errorf("supervision: the runtime is node %q's, this is node %q", l.rt.Node(), n.Name())
	}
	l.node = n
	l.logger = n.Logger().Named("supervision")
	if l.router != nil {
		l.router.bind(n, l.incarnation)
	}
	n.SetGossipMeta(incarnationKey, strconv.FormatUint(l.incarnation, 10))
	n.OnMember(l.peers.record)
	l.members = n.Members
	l.rec = newReconciler(l)

	g := n.Server().GRPC()
	pb.RegisterSupervisionServer(g, &supervisionService{l: l})
	pb.RegisterRuntimeServer(g, &runtimeService{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{Deliver: l.deliverLocal, Signal: l.signalLocal})

	l.goFunc(l.rec.run)
	l.goFunc(l.watchLostNodes)
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
func (l *Layer) Runtime() *actor.Runtime { return l.rt }

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
