package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/steward/steward/internal/clock"
	backoff "github.com/steward/steward/internal/poll"
)

// Endpoint says which members the load clients talk to.
type Endpoint string

// The endpoints a Target can be opened on.
const (
	// ToLeader sends every request to the current leader.
	ToLeader Endpoint = "leader"
	// ToFollowers spreads the clients over the followers, which forward
	// to the leader (steward: a gRPC call; etcd: a Raft proposal message).
	ToFollowers Endpoint = "followers"
)

// Sentinel errors.
var (
	// ErrNoLeader: the live members do not (yet) agree on one leader.
	ErrNoLeader = errors.New("no agreed leader")
	// ErrExited: a server process exited while it was expected to run.
	ErrExited = errors.New("server process exited")
	// ErrKeyMissing: a read found no value under its key.
	ErrKeyMissing = errors.New("key not found")
)

// LeaderInfo identifies the leader the live members agree on.
type LeaderInfo struct {
	Index int    // member index, 0-based
	Name  string // member name
	Term  uint64
}

// Commit is what a system says about an acknowledged write: the leader's
// name (steward's WriteMeta.Leader) or the Raft term it was served in
// (etcd's response header), whichever it reports.
type Commit struct {
	Leader string
	Term   uint64
}

// Target is a set of client connections for a load run.
type Target interface {
	Put(ctx context.Context, client int, key string, value []byte) error
	// Get reads key as client, linearizably (steward's default read, a
	// read-index on the leader; etcd's default Range) or, with stale, from
	// the serving member's own replica (steward's ReadOptions{Stale:
	// true}; etcd's serializable Range). A key that is not there is an
	// error wrapping ErrKeyMissing, so that a read run over an unfilled
	// keyspace cannot pass for a measurement of reads.
	Get(ctx context.Context, client int, key string, stale bool) error
	Close() error
}

// MemberStatus is what one member says of itself: its Raft term and the
// leader it follows ("" when it knows none).
type MemberStatus struct {
	Term   uint64
	Leader string
}

// poll calls f until it returns nil or ctx ends, waiting a little longer
// each time (5 ms doubling to 320 ms); the error names what was awaited and
// f's last error.
func poll(ctx context.Context, what string, f func(context.Context) error) error {
	var err error
	if werr := backoff.Until(ctx, clock.System(), backoff.Doubling(5*time.Millisecond, 320*time.Millisecond), func() (bool, error) {
		err = f(ctx)
		return err == nil, nil
	}); werr != nil {
		return fmt.Errorf("waiting for %s: %w (last: %v)", what, werr, err)
	}
	return nil
}

// connsFor is how many connections a Target opens for clients (conns 0:
// one per client).
func connsFor(clients, conns int) int {
	if conns <= 0 || conns > clients {
		return clients
	}
	return conns
}
