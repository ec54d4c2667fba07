package health

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/steward/steward/node"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
	"github.com/steward/steward/supervision"
)

// Layer is the health layer of one node.
type Layer struct {
	cfg    Config
	sup    *supervision.Layer
	node   *node.Node
	logger hclog.Logger

	mon *monitor

	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// New returns the layer; it looks at the runtime of sup, which must be
// attached to the node before it.
func New(cfg Config, sup *supervision.Layer) *Layer {
	return &Layer{cfg: cfg, sup: sup, stopCh: make(chan struct{})}
}

// Name implements node.Plugin.
func (l *Layer) Name() string { return "health" }

// Attach implements node.Plugin: it registers the Health service and
// starts the resource monitor.
func (l *Layer) Attach(n *node.Node) error {
	if err := l.cfg.Validate(); err != nil {
		return err
	}
	if l.cfg.Now == nil {
		l.cfg.Now = time.Now
	}
	if l.sup == nil || l.sup.Runtime() == nil {
		return fmt.Errorf("health: the supervision layer must be attached before it")
	}
	l.node = n
	l.logger = n.Logger().Named("health")
	sampler := l.cfg.Sampler
	if sampler == nil {
		sampler = NewSystemSampler(l.sup.Runtime(), l.cfg.Now)
	}
	l.mon = newMonitor(l, sampler)
	pb.RegisterHealthServer(n.Server().GRPC(), &service{l: l})
	n.Server().HandlePeer(transport.PeerHandlers{ValidateNode: l.validateNode})
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

// Node is the node the layer is attached to.
func (l *Layer) Node() *node.Node { return l.node }

// Violations returns this node's active resource-threshold violations.
func (l *Layer) Violations() []Violation { return l.mon.active() }

// LastSample returns this node's latest resource sample (ok false before
// the first).
func (l *Layer) LastSample() (Sample, bool) { return l.mon.last() }
