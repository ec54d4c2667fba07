//go:build wasip1

// Counter v1 in Go: the same module as ../../counter-v1.wat (steward
// module ABI 1, docs/MODULES.md), written against the steward package.
//
// Args:   start (the first count, default 0).
// Casts and plain messages: "inc N" adds N, anything else adds 1.
// Calls:  "get" -> count, "inc [N]" -> new count, "reset" -> "0",
//
//	"relay NAME BODY" casts BODY to the process registered as NAME,
//	"ask NAME BODY" calls it and replies with its reply.
//
// State:  {"count":N}
package main

import (
	"bytes"
	"strconv"

	"github.com/steward/steward/examples/modules/go/steward"
)

type counter struct{ count int64 }

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
	switch {
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
		// The host's reply buffer is valid until this callback returns,
		// and the host copies the reply before it frees it.
		r, st := steward.Call(pid, body, 0)
		if st != steward.HostOK {
			return nil, steward.Refuse
		}
		return r, steward.OK
	}
	return nil, steward.Refuse // unknown call
}

func (c *counter) HandleCast(b []byte) steward.Status { return c.add(b) }

// Plain messages count like casts; EXIT and DOWN are ignored.
func (c *counter) HandleInfo(kind uint32, b []byte) steward.Status {
	if kind != steward.KindPlain {
		return steward.OK
	}
	return c.add(b)
}

func (c *counter) Terminate([]byte) {}

// CodeChange up from any version: the count is the first number of the
// old state ({"count":N}, or {"count":N,"messages":M}). v1 is the first
// version: never down.
func (c *counter) CodeChange(_ []byte, dir uint32, _, state []byte) steward.Status {
	if dir != steward.Up {
		return 3
	}
	return c.StateImport(state)
}

func (c *counter) StateExport() ([]byte, steward.Status) {
	return append(append([]byte(`{"count":`), decimal(c.count)...), '}'), steward.OK
}

func (c *counter) StateImport(state []byte) steward.Status {
	v, _ := number(state, 0)
	if v < 0 {
		return steward.Refuse
	}
	c.count = v
	return steward.OK
}
