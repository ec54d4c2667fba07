package behaviors

import (
	"time"

	"github.com/steward/steward/actor"
)

// SlowStart is a child whose every start (Init) takes start_ms: the
// supervisor that starts or restarts it is busy that long, so a start in
// progress, and what a supervisor shows meanwhile, can be watched.
//
// Args: start_ms (0..86400000, default 1000).
// Bodies: the drill commands ("crash", "stop", "exit <reason>", call
// "ping").
// State: {}.
type SlowStart struct {
	drill
	d     *Drills
	delay time.Duration
}

func (d *Drills) newSlowStart(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("slow_start", m, "start_ms")
	if err != nil {
		return nil, err
	}
	s := &SlowStart{drill: drill{name: "slow_start"}, d: d}
	if s.delay, err = a.millis("start_ms", 1000); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SlowStart) Init(actor.Proc) error {
	s.d.sleep(s.delay)
	return nil
}

// SlowStop is a child whose Terminate takes stop_ms, whatever the reason:
// with a shutdown shorter than stop_ms its supervisor kills it
// (shutdown_timeout), with a longer one it exits with shutdown after
// stop_ms. Its own exit ("stop", "crash") is as slow.
//
// Args: stop_ms (0..86400000, default 1000).
// Bodies: the drill commands ("crash", "stop", "exit <reason>", call
// "ping").
// State: {}.
type SlowStop struct {
	drill
	d     *Drills
	delay time.Duration
}

func (d *Drills) newSlowStop(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("slow_stop", m, "stop_ms")
	if err != nil {
		return nil, err
	}
	s := &SlowStop{drill: drill{name: "slow_stop"}, d: d}
	if s.delay, err = a.millis("stop_ms", 1000); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SlowStop) Terminate(actor.Proc, actor.Reason) { s.d.sleep(s.delay) }
