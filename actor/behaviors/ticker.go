package behaviors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/steward/steward/actor"
)

// Ticker sends a message to a target every interval, on the runtime's
// clock. The target is resolved at every tick, so a registered name
// follows a restarted process.
//
// Args: target (a PID "node/seq" or a registered name; required), interval
// (duration in [1ms, 24h]; required), body (default "tick"), mode ("cast",
// the default, or "send"), count (stop normally after that many ticks; 0,
// the default, means never).
// State: {"ticks": N, "missed": M} (missed: the target was not resolvable
// or refused the message).
type Ticker struct {
	base
	Ticks  int64 `json:"ticks"`
	Missed int64 `json:"missed"`

	target   string
	pid      actor.PID
	interval time.Duration
	body     []byte
	cast     bool
	count    int64
	cancel   func()
}

// tickMarker is the body of the ticker's own timer message.
var tickMarker = []byte("\x00ticker:tick")

// NewTicker is the ticker factory.
func NewTicker(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("ticker", m, "target", "interval", "body", "mode", "count")
	if err != nil {
		return nil, err
	}
	t := &Ticker{target: a.str("target", ""), body: []byte(a.str("body", "tick"))}
	if t.target == "" {
		return nil, a.bad("target", "", "a PID or a registered name (required)")
	}
	if pid, err := actor.ParsePID(t.target); err == nil {
		t.pid = pid
	}
	if t.interval, err = a.duration("interval", time.Millisecond, 24*time.Hour); err != nil {
		return nil, err
	}
	switch mode := a.str("mode", "cast"); mode {
	case "cast":
		t.cast = true
	case "send":
	default:
		return nil, a.bad("mode", mode, "cast or send")
	}
	if t.count, err = a.int("count", 0, 0, math.MaxInt64); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Ticker) Init(p actor.Proc) error {
	t.cancel = p.SendAfter(t.interval, tickMarker)
	return nil
}

func (t *Ticker) HandleInfo(p actor.Proc, m actor.Message) error {
	if m.From != p.Self() || !bytes.Equal(m.Body, tickMarker) {
		return nil
	}
	to := t.pid
	if to.IsZero() {
		var ok bool
		if to, ok = p.WhereIs(t.target); !ok {
			t.Missed++
		}
	}
	if !to.IsZero() {
		var err error
		if t.cast {
			err = p.Cast(to, t.body)
		} else {
			err = p.Send(to, t.body)
		}
		if err != nil {
			t.Missed++
		} else {
			t.Ticks++
		}
	}
	if t.count > 0 && t.Ticks+t.Missed >= t.count {
		return actor.Stop(actor.Normal)
	}
	t.cancel = p.SendAfter(t.interval, tickMarker)
	return nil
}

func (t *Ticker) Terminate(actor.Proc, actor.Reason) {
	if t.cancel != nil {
		t.cancel()
	}
}

func (t *Ticker) CodeChange(_ string, old []byte) error { return t.ImportState(old) }
func (t *Ticker) ExportState() ([]byte, error)          { return json.Marshal(t) }

func (t *Ticker) ImportState(b []byte) error {
	if err := json.Unmarshal(b, t); err != nil {
		return fmt.Errorf("ticker state: %w", err)
	}
	return nil
}
