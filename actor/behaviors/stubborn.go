package behaviors

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/steward/steward/actor"
)

// Stubborn is a child that ignores shutdown: it traps exits (an exit
// signal from a linked process is a message it drops) and, asked to stop
// by its supervisor, never finishes Terminate, so the supervisor's
// shutdown timeout kills it (shutdown_timeout, then killed). Under
// shutdown = infinity nothing kills it: it holds until hold_ms, as an OTP
// worker that never returns from terminate would hold forever. Its own
// exit ("stop", "crash") is prompt.
//
// A steward supervisor always runs a child's Terminate when it stops it
// (DESIGN.md), so blocking there is how a native behavior refuses a
// shutdown; the process cannot see the kill, so its goroutine stays in
// Terminate until hold_ms ends (or Drills.Release), doing nothing more.
//
// Args: hold_ms (1..86400000, default 86400000: a day).
// Bodies: the drill commands ("crash", "stop", "exit <reason>", call
// "ping").
// State: {"exits": N} (exit signals ignored).
type Stubborn struct {
	drill
	Exits int64 `json:"exits"`

	d    *Drills
	hold time.Duration
}

func (d *Drills) newStubborn(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("stubborn", m, "hold_ms")
	if err != nil {
		return nil, err
	}
	s := &Stubborn{drill: drill{name: "stubborn"}, d: d}
	n, err := a.int("hold_ms", maxDrillMS, 1, maxDrillMS)
	if err != nil {
		return nil, err
	}
	s.hold = time.Duration(n) * time.Millisecond
	return s, nil
}

func (s *Stubborn) Init(p actor.Proc) error {
	p.TrapExit(true)
	return nil
}

func (s *Stubborn) HandleInfo(p actor.Proc, m actor.Message) error {
	if m.Kind == actor.KindExit {
		s.Exits++
		p.Logger().Info("stubborn: ignoring an exit signal", "from", m.From.String(), "reason", string(m.Body))
		return nil
	}
	return s.drill.HandleInfo(p, m)
}

func (s *Stubborn) Terminate(p actor.Proc, reason actor.Reason) {
	if s.self {
		return
	}
	p.Logger().Info("stubborn: ignoring the stop request until killed", "reason", string(reason))
	s.d.sleep(s.hold)
}

func (s *Stubborn) ExportState() ([]byte, error) { return json.Marshal(s) }

func (s *Stubborn) ImportState(b []byte) error {
	if err := json.Unmarshal(b, s); err != nil {
		return fmt.Errorf("stubborn state: %w", err)
	}
	return nil
}
