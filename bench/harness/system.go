package harness

import (
	"context"

	"github.com/steward/steward/bench/cluster"
)

// System is one running cluster under test.
type System interface {
	// Name is "steward" or "etcd" (or a variant's label).
	Name() string
	Size() int
	MemberName(i int) string
	// Running reports whether member i is up.
	Running(i int) bool
	// Leader is the leader the live members agree on.
	Leader(ctx context.Context) (cluster.LeaderInfo, error)
	// Target opens connections for clients on an endpoint.
	Target(ctx context.Context, ep cluster.Endpoint, clients, conns int) (cluster.Target, error)
	// PutOn writes one key through member i and says under which leader
	// (or term) it was committed.
	PutOn(ctx context.Context, i int, key string, value []byte) (cluster.Commit, error)
	// Kill stops member i abruptly (SIGKILL).
	Kill(i int) error
	// Restart starts a killed member again from its data.
	Restart(ctx context.Context, i int) error
	// WaitHealthy waits until every member is up, agrees on the leader and
	// has caught up.
	WaitHealthy(ctx context.Context) error
	// MemberStatus is member i's own view: its Raft term and the leader it
	// follows.
	MemberStatus(ctx context.Context, i int) (cluster.MemberStatus, error)
	// Pids are the server processes, for CPU and disk accounting (0 or
	// none when in-process).
	Pids() []int
	// Settings describes the system for the report.
	Settings() map[string]string
}
