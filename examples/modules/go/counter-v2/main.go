//go:build wasip1

// Counter v2 in Go: the same module as ../../counter-v2.wat. Counter v1
// plus a field, "messages" (how many messages it handled), added by
// CodeChange on the way up and dropped on the way down (v2 supports
// downgrade: its CodeChange knows both formats).
//
// Args:   start (the first count, default 0).
// Casts and plain messages: "inc N" adds N, anything else adds 1.
// Calls:  "get" -> count, "inc [N]" -> new count, "reset" -> "0",
//
//	"relay NAME BODY" casts BODY to the process registered as NAME,
//	"ask NAME BODY" calls it and replies with its reply,
//	"messages" -> messages handled.
//
// State:  {"count":N,"messages":M}
package main

import (
	"bytes"
	"strconv"

	"github.com/steward/steward/examples/modules/go/steward"
)

type counter struct {
	count, messages int64
	v1format        bool // set by CodeChange down: StateExport writes v1's format
}

func init() { steward.Register(&counter{}) }

func main() {} // never called: a c-shared module runs its callbacks

// number is the first run of digits at or after offset i of b: its
// value (-1 when there is none) and the offset just past it.
func number(b []byte, i int) (int64, int) {
	var v int64
	seen := false
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c < 10 {
			seen = true
			v = v*10 + int64(c)
		} else if seen {
			break
		}
	}
	if !seen {
		return -1, i
	}
	return v, i
}

func decimal(n int64) []byte { return strconv.AppendUint(nil, uint64(n), 10) }

// add: "inc N" adds N (refuse when N is not a number), any other body
// adds 1.
func (c *counter) add(body []byte) steward.Status {
	if bytes.HasPrefix(body, []byte("inc")) && len(body) > 3 {
		v, _ := number(body, 3)
		if v < 0 {
			return steward.Refuse
		}
		c.count += v
		return steward.OK
	}
	c.count++
	return steward.OK
}

// target resolves the NAME of "VERB NAME BODY" (VERB's length is skip):
// the PID and BODY.
func target(b []byte, skip int) ([]byte, []byte, steward.Status) {
	i := skip
	for i < len(b) && b[i] != ' ' {
		i++
	}
	pid, st := steward.Whereis(b[skip:i])
	if st != steward.HostOK {
		return nil, nil, st
	}
	return pid, b[min(i+1, len(b)):], steward.HostOK
}

func (c *counter) Init(args []byte) steward.Status {
	if v, _ := number(args, 0); v >= 0 {
		c.count = v
	}
	return steward.OK
}

func (c *counter) HandleCall(b []byte) ([]byte, steward.Status) {
	c.messages++
	switch {
	case string(b) == "messages":
		return decimal(c.messages), steward.OK
	case string(b) == "get":
		return decimal(c.count), steward.OK
	case bytes.HasPrefix(b, []byte("inc")):
		if c.add(b) != steward.OK {
			return nil, steward.Refuse
		}
		return decimal(c.count), steward.OK
	case string(b) == "reset":
		c.count = 0
		return decimal(c.count), steward.OK
	case bytes.HasPrefix(b, []byte("relay ")):
		pid, body, st := target(b, 6)
		if st != steward.HostOK || steward.Cast(pid, body) != steward.HostOK {
			return nil, steward.Refuse
		}
		return []byte("ok"), steward.OK
	case bytes.HasPrefix(b, []byte("ask ")):
		pid, body, st := target(b, 4)
		if st != steward.HostOK {
			return nil, steward.Refuse
		}
		r, st := steward.Call(pid, body, 0)
		if st != steward.HostOK {
			return nil, steward.Refuse
		}
		return r, steward.OK
	}
	return nil, steward.Refuse // unknown call
}

func (c *counter) HandleCast(b []byte) steward.Status {
	c.messages++
	return c.add(b)
}

// Plain messages count like casts; EXIT and DOWN are ignored.
func (c *counter) HandleInfo(kind uint32, b []byte) steward.Status {
	if kind != steward.KindPlain {
		return steward.OK
	}
	c.messages++
	return c.add(b)
}

func (c *counter) Terminate([]byte) {}

// CodeChange up (from v1's {"count":N}, or a v2 or native counter's
// {"count":N,"messages":M}): the count is the first number, messages the
// second (0 when absent). Down (to v1): the state is this version's, and
// StateExport will write v1's format.
func (c *counter) CodeChange(_ []byte, dir uint32, _, state []byte) steward.Status {
	if dir > steward.Down {
		return 3
	}
	if c.StateImport(state) != steward.OK {
		return steward.Refuse
	}
	c.v1format = dir == steward.Down
	return steward.OK
}

func (c *counter) StateExport() ([]byte, steward.Status) {
	s := append([]byte(`{"count":`), decimal(c.count)...)
	if !c.v1format {
		s = append(append(s, `,"messages":`...), decimal(c.messages)...)
	}
	return append(s, '}'), steward.OK
}

// StateImport: count = the first number, messages = the second or 0;
// refused when there is no count.
func (c *counter) StateImport(state []byte) steward.Status {
	v, next := number(state, 0)
	if v < 0 {
		return steward.Refuse
	}
	m, _ := number(state, next)
	if m < 0 {
		m = 0
	}
	c.count, c.messages = v, m
	return steward.OK
}
