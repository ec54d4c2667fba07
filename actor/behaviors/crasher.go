package behaviors

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/steward/steward/actor"
)

// Crasher fails on demand, to exercise supervision.
//
// Args: crash_after (integer >= 1: crash while handling that many-th
// message), crash_in_init (true: fail Init), reason (the crash reason,
// default "crash"), trap_exit (true: trap exits and count EXIT messages).
// Bodies (any kind): "crash" crashes; "stop" stops normally; "exit
// <reason>" stops with that reason. Calls: "ping" -> "pong", "count" ->
// messages handled.
// State: {"handled": N, "exits": M}.
type Crasher struct {
	base
	Handled int64 `json:"handled"`
	Exits   int64 `json:"exits"`

	after  int64
	inInit bool
	reason string
	trap   bool
}

// NewCrasher is the crasher factory.
func NewCrasher(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("crasher", m, "crash_after", "crash_in_init", "reason", "trap_exit")
	if err != nil {
		return nil, err
	}
	c := &Crasher{reason: a.str("reason", "crash")}
	if c.reason == "" {
		return nil, a.bad("reason", "", "a non-empty reason")
	}
	if c.after, err = a.int("crash_after", 0, 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if c.inInit, err = a.bool("crash_in_init"); err != nil {
		return nil, err
	}
	if c.trap, err = a.bool("trap_exit"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Crasher) Init(p actor.Proc) error {
	if c.inInit {
		return errors.New(c.reason)
	}
	if c.trap {
		p.TrapExit(true)
	}
	return nil
}

// handle is shared by every kind; it returns a reply for calls.
func (c *Crasher) handle(m actor.Message) ([]byte, error) {
	if m.Kind == actor.KindExit {
		c.Exits++
		return nil, nil
	}
	c.Handled++
	if c.after > 0 && c.Handled >= c.after {
		return nil, errors.New(c.reason)
	}
	verb, rest := command(m.Body)
	switch verb {
	case "crash":
		return nil, errors.New(c.reason)
	case "stop":
		return nil, actor.Stop(actor.Normal)
	case "exit":
		if rest == "" {
			rest = c.reason
		}
		return nil, actor.Stop(actor.Reason(rest))
	case "ping":
		return []byte("pong"), nil
	case "count":
		return []byte(fmt.Sprint(c.Handled)), nil
	}
	if m.Kind == actor.KindCall {
		return nil, actor.Refuse("crasher: unknown call %q", m.Body)
	}
	return nil, nil
}

func (c *Crasher) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) { return c.handle(m) }

func (c *Crasher) HandleCast(_ actor.Proc, m actor.Message) error {
	_, err := c.handle(m)
	return err
}

func (c *Crasher) HandleInfo(_ actor.Proc, m actor.Message) error {
	_, err := c.handle(m)
	return err
}

func (c *Crasher) CodeChange(_ string, old []byte) error { return c.ImportState(old) }
func (c *Crasher) ExportState() ([]byte, error)          { return json.Marshal(c) }

func (c *Crasher) ImportState(b []byte) error {
	if err := json.Unmarshal(b, c); err != nil {
		return fmt.Errorf("crasher state: %w", err)
	}
	return nil
}
