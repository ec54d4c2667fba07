package actor

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// PID identifies a process in the cluster: the node it runs on and a
// sequence number that node never reuses, across its restarts too: each
// run of an agent hands out seqs above every earlier run's (its creation,
// kept in the data dir: Config.Creation), so a PID from before a restart
// answers ErrNoProc instead of naming a new process. The zero PID means
// "nobody" (for example an operator sending from outside any process).
type PID struct {
	Node string
	Seq  uint64
}

// String renders "node/seq"; the zero PID renders "".
func (p PID) String() string {
	if p.IsZero() {
		return ""
	}
	return p.Node + "/" + strconv.FormatUint(p.Seq, 10)
}

// IsZero reports whether p is the zero PID.
func (p PID) IsZero() bool { return p.Node == "" && p.Seq == 0 }

// Compare orders PIDs by node name, then sequence number (-1, 0 or +1).
func (p PID) Compare(q PID) int {
	return cmp.Or(strings.Compare(p.Node, q.Node), cmp.Compare(p.Seq, q.Seq))
}

// MarshalText renders the PID as String does, so PIDs travel as strings in
// JSON.
func (p PID) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses the String form; "" gives the zero PID.
func (p *PID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = PID{}
		return nil
	}
	q, err := ParsePID(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParsePID parses "node/seq". The node part is everything before the last
// '/', so it must be non-empty; seq is a positive decimal.
func ParsePID(s string) (PID, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return PID{}, fmt.Errorf("%w: %q: want node/seq", ErrBadPID, s)
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return PID{}, fmt.Errorf("%w: %q: seq must be a positive integer", ErrBadPID, s)
	}
	return PID{Node: s[:i], Seq: seq}, nil
}
