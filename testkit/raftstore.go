package testkit

import "github.com/steward/steward/node"

// WithRaftLogStore makes every server keep its Raft log in store
// (node.RaftLogStoreWAL or node.RaftLogStoreBoltDB; node.Config.RaftLogStore).
// A restarted node keeps its configuration, hence its store.
func WithRaftLogStore(store string) Option {
	return WithConfig(func(c *node.Config) { c.RaftLogStore = store })
}
