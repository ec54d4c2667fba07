package behaviors

import (
	"encoding/json"
	"fmt"

	"github.com/steward/steward/actor"
)

// Echo answers calls with their body (prefixed by the prefix arg) and sends
// casts and plain messages back to their sender.
//
// Args: prefix (default "").
// State: {"echoed": N}.
type Echo struct {
	base
	Echoed int64 `json:"echoed"`
	prefix string
}

// NewEcho is the echo factory.
func NewEcho(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("echo", m, "prefix")
	if err != nil {
		return nil, err
	}
	return &Echo{prefix: a.str("prefix", "")}, nil
}

func (e *Echo) reply(body []byte) []byte {
	e.Echoed++
	if e.prefix == "" {
		return body
	}
	return append([]byte(e.prefix), body...)
}

func (e *Echo) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	return e.reply(m.Body), nil
}

func (e *Echo) back(p actor.Proc, m actor.Message) error {
	if m.From.IsZero() || m.From == p.Self() || m.Kind == actor.KindExit || m.Kind == actor.KindDown {
		return nil
	}
	_ = p.Send(m.From, e.reply(m.Body))
	return nil
}

func (e *Echo) HandleCast(p actor.Proc, m actor.Message) error { return e.back(p, m) }
func (e *Echo) HandleInfo(p actor.Proc, m actor.Message) error { return e.back(p, m) }

func (e *Echo) CodeChange(_ string, old []byte) error { return e.ImportState(old) }
func (e *Echo) ExportState() ([]byte, error)          { return json.Marshal(e) }

func (e *Echo) ImportState(b []byte) error {
	if err := json.Unmarshal(b, e); err != nil {
		return fmt.Errorf("echo state: %w", err)
	}
	return nil
}
