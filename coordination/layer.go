package coordination

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Config configures the coordination layer.
type Config struct {
	// StageTimeout is the least time a stage (a phase, or a phase's
	// rollback) is given before the steps that did not report count as
	// lost; a phase gets four times its estimate when that is longer, and
	// never more than what is left of the plan's timeout.
	StageTimeout time.Duration
	// SettleTimeout is how long an executor waits for a phase's
	// post-checks to pass (a supervisor restarting a killed child takes a
	// moment) before it reports them failed.
	SettleTimeout time.Duration
	// FactsTimeout bounds gathering facts from one node.
	FactsTimeout time.Duration
	// HandoffTimeout bounds the wait of a step about to finish its phase
	// for the next phase's nodes' nonces (see hintNext); a node that has
	// not answered by then starts its step itself once the phase runs.
	HandoffTimeout time.Duration
	// BeforeOperations, when set, is called once a step's start is
	// committed and its pre-checks have run, before its operations: a
	// fault-injection point for tests (pause a step, kill a node mid-phase).
	// ctx ends when the node stops.
	BeforeOperations func(ctx context.Context, planID, stage string)
	// Trace, when set, is called at each event of each step this node
	// runs (see StepEvent); it must not block.
	Trace StepTrace
	// Clock times the plans: their deadlines, the leader's expiry of the
	// stages past theirs, and the executors' settling (nil: the wall
	// clock). A test that sets it sets the node's too (node.Config.Clock):
	// the state machine compares deadlines with the time of the entry.
	Clock clock.Clock
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{StageTimeout: 10 * time.Second, SettleTimeout: 5 * time.Second, FactsTimeout: 5 * time.Second, HandoffTimeout: time.Second}
}

// cluster is what the coordination layer needs of its node.
type cluster interface {
	Name() string
	State() *state.Store
	Server() *transport.Server
	Pool() *transport.Pool
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
	MemberStatus(name string) string
	PeerGRPCAddr(name string) (string, bool)
	ServersGossip(key string) bool
}

// Layer is the coordination layer of one node.
type Layer struct {
	cfg    Config
	rt     *actor.Runtime
	node   cluster
	logger hclog.Logger
	clock  clock.Clock
	// nonce identifies this executor incarnation in the steps it starts.
	nonce string

	exec *executor

	// ctx ends when the node stops: executors abandon their steps.
	ctx      context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns the layer; it runs this node's share of plans on rt, the
// node's runtime.
func New(cfg Config, rt *actor.Runtime) *Layer {
	var b [8]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	return &Layer{cfg: cfg, rt: rt, clock: clock.Or(cfg.Clock), nonce: hex.EncodeToString(b[:]), ctx: ctx, cancel: cancel}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "coordination" }

// Attach implements node.Plugin.
func (l *Layer) Attach(n node.Host) error {
	l.node = n
	l.logger = n.Logger().Named("coordination")
	l.exec = newExecutor(l)
	pb.RegisterCoordinationServer(n.Server().GRPC(), &service{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{Facts: l.facts, StepReady: l.stepReady})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.exec.run()
	}()
	// This version applies PLAN_STEP_HANDOFF (hintNext).
	n.SetGossipMeta(HandoffGossipKey, "1")
	n.OnLeadership("plan-deadlines", l.deadlines)
	n.OnLeadership("plan-dispatch", l.dispatch)
	n.OnShutdown(l.stop)
	return nil
}

func (l *Layer) stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}
