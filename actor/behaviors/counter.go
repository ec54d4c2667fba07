package behaviors

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/steward/steward/actor"
)

// Counter counts: every cast or plain message adds one ("inc n" adds n),
// and its count is in its exported state, so a test (or a plan check) can
// prove how many times a message was executed.
//
// Args: start (integer >= 0, default 0).
// Calls: "get" -> count, "inc [n]" -> new count, "reset" -> "0".
// State: {"count": N, "messages": M} (M counts every message handled).
type Counter struct {
	base
	Count    int64 `json:"count"`
	Messages int64 `json:"messages"`
}

// NewCounter is the counter's factory.
func NewCounter(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("counter", m, "start")
	if err != nil {
		return nil, err
	}
	start, err := a.int("start", 0, 0, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	return &Counter{Count: start}, nil
}

func (c *Counter) add(body []byte) error {
	verb, rest := command(body)
	if verb == "inc" && rest != "" {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return actor.Refuse("inc: %q is not an integer", rest)
		}
		c.Count += n
		return nil
	}
	c.Count++
	return nil
}

func (c *Counter) HandleCast(_ actor.Proc, m actor.Message) error {
	c.Messages++
	return c.add(m.Body)
}

func (c *Counter) HandleInfo(_ actor.Proc, m actor.Message) error {
	if m.Kind == actor.KindExit || m.Kind == actor.KindDown {
		return nil
	}
	c.Messages++
	return c.add(m.Body)
}

func (c *Counter) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	c.Messages++
	verb, _ := command(m.Body)
	switch verb {
	case "get":
	case "inc":
		if err := c.add(m.Body); err != nil {
			return nil, err
		}
	case "reset":
		c.Count = 0
	default:
		return nil, actor.Refuse("counter: unknown call %q (want get, inc [n], reset)", m.Body)
	}
	return strconv.AppendInt(nil, c.Count, 10), nil
}

func (c *Counter) CodeChange(_ string, old []byte) error { return c.ImportState(old) }

func (c *Counter) ExportState() ([]byte, error) {
	return []byte(`{"count":` + strconv.FormatInt(c.Count, 10) + `,"messages":` + strconv.FormatInt(c.Messages, 10) + `}`), nil
}

func (c *Counter) ImportState(b []byte) error {
	var st struct {
		Count    *int64 `json:"count"`
		Messages int64  `json:"messages"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("counter state: %w", err)
	}
	if st.Count == nil {
		return fmt.Errorf("counter state: missing \"count\"")
	}
	c.Count, c.Messages = *st.Count, st.Messages
	return nil
}

func (c *Counter) ApproxSize() int { return 16 }
