package deploy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/hotcode/deploy/deploytest"
)

// fixture is deploytest's, with this package's own helpers.
type fixture struct{ *deploytest.Fixture }

func newFixture(t testing.TB, hook func(ctx context.Context, planID, stage string)) *fixture {
	return &fixture{deploytest.New(t, hook)}
}

var (
	v1, v2, v3Trap   = deploytest.V1, deploytest.V2, deploytest.V3Trap
	module           = deploytest.Module
	options, request = deploytest.Options, deploytest.Request
)

// sender casts "inc 1" to every pid, a round every millisecond (a steady
// load, not a flood that would fill the mailboxes past the health
// thresholds), from the pid's own node, counting what was accepted, until
// stopped.
type sender struct {
	mu   sync.Mutex
	sent map[actor.PID]int
	stop chan struct{}
	done chan struct{}
}

func (f *fixture) send(pids map[string][]actor.PID) *sender {
	s := &sender{sent: map[actor.PID]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			for n, ps := range pids {
				rt := f.C.Stack(n).Runtime
				for _, p := range ps {
					select {
					case <-s.stop:
						return
					default:
					}
					if rt.Cast(p, actor.Message{Body: []byte("inc 1")}) == nil {
						s.mu.Lock()
						s.sent[p]++
						s.mu.Unlock()
					}
				}
			}
		}
	}()
	return s
}

func (s *sender) halt() map[actor.PID]int {
	close(s.stop)
	<-s.done
	return s.sent
}
