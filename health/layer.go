package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/actor"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"github.com/steward/steward/transport"
	"google.golang.org/protobuf/proto"
)

// AppliedIndexer tells the spec index at which the supervision layer last
// applied each tree on this node.
type AppliedIndexer interface {
	AppliedIndex(tree string) uint64
}

// cluster is what the health layer needs of its node.
type cluster interface {
	Name() string
	State() *state.Store
	Server() *transport.Server
	Pool() *transport.Pool
	Propose(ctx context.Context, t pb.CommandType, payload proto.Message) (uint64, error)
	ReadBarrier(ctx context.Context) error
	Members() []*pb.Member
	MemberStatus(name string) string
	PeerGRPCAddr(name string) (string, bool)
	SetGossipMeta(key, value string)
}

// Layer is the health layer of one node.
type Layer struct {
	cfg     Config
	rt      *actor.Runtime
	applied AppliedIndexer
	node    cluster
	logger  hclog.Logger

	mon *monitor

	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// New returns the layer; it looks at rt, the node's runtime, against the
// desired state the supervision layer applied (applied).
func New(cfg Config, rt *actor.Runtime, applied AppliedIndexer) *Layer {
	return &Layer{cfg: cfg, rt: rt, applied: applied, stopCh: make(chan struct{})}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "health" }

// Attach implements node.Plugin: it registers the Health service and
// starts the resource monitor.
func (l *Layer) Attach(n node.Host) error {
	if err := l.cfg.Validate(); err != nil {
		return err
	}
	if l.cfg.Now == nil {
		l.cfg.Now = time.Now
	}
	if l.rt == nil || l.applied == nil {
		return fmt.Errorf("health: needs the node's runtime and the supervision layer")
	}
	l.node = n
	l.logger = n.Logger().Named("health")
	sampler := l.cfg.Sampler
	if sampler == nil {
		sampler = NewSystemSampler(l.rt, l.cfg.Now)
	}
	l.mon = newMonitor(l, sampler)
	pb.RegisterHealthServer(n.Server().GRPC(), &service{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{ValidateNode: l.validateNode})
	n.OnStatus(func(s *pb.StatusResponse) { s.Violations = toPB(l.mon.active()) })
	n.OnMember(memberViolations)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.mon.run()
	}()
	n.OnShutdown(l.stop)
	return nil
}

func (l *Layer) stop() {
	l.stopOnce.Do(func() {
		close(l.stopCh)
		l.wg.Wait()
	})
}

// Violations returns this node's active resource-threshold violations.
func (l *Layer) Violations() []Violation { return l.mon.active() }

// LastSample returns this node's latest resource sample (ok false before
// the first).
func (l *Layer) LastSample() (Sample, bool) { return l.mon.last() }
