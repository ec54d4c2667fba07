package node

import (
	"errors"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/steward/steward/acl"
	"github.com/steward/steward/ui"
	"google.golang.org/grpc"
)

// uiBackend is what the dashboard (ui/) reads this agent through: its own
// gRPC services over the node's pool (the calls the CLI makes), its ACL
// checker, and its change notifications.
type uiBackend struct {
	n    *Node
	once sync.Once
	ch   chan []string
}

var _ ui.Backend = (*uiBackend)(nil)

func (b *uiBackend) Name() string { return b.n.cfg.Name }

func (b *uiBackend) Conn() (grpc.ClientConnInterface, error) {
	addr := b.n.GRPCAddr()
	if addr == "" {
		return nil, errors.New("no gRPC address bound")
	}
	return b.n.pool.Get(addr)
}

// Authorize checks the token as the gRPC ACL interceptor does.
func (b *uiBackend) Authorize(token string, needs ...acl.Need) (int, error) {
	return b.n.authorizeToken(token, needs...)
}

// Changes starts, once, the watch that turns commits, gossip membership
// changes and Raft leader changes into notifications.
func (b *uiBackend) Changes() <-chan []string {
	b.once.Do(func() {
		b.ch = make(chan []string, 16)
		b.n.goFunc(func() { b.n.watchChanges(b.ch) })
	})
	return b.ch
}

// watchChanges sends out what changed until the node shuts down: the
// tables of each commit to the local replica (the state feed), "members"
// at a gossip change, "leader" at a Raft leader change, "*" when the
// replica was replaced (a restore) or lost commits to the feed's bound.
func (n *Node) watchChanges(out chan<- []string) {
	defer close(out)
	members := n.members.subscribe()
	var leaders chan raft.Observation
	if n.raft != nil {
		leaders = make(chan raft.Observation, 4)
		obs := raft.NewObserver(leaders, false, func(o *raft.Observation) bool {
			_, ok := o.Data.(raft.LeaderObservation)
			return ok
		})
		n.raft.RegisterObserver(obs)
		defer n.raft.DeregisterObserver(obs)
	}
	send := func(topics []string) bool {
		select {
		case out <- topics:
			return true
		case <-n.shutdownCh:
			return false
		}
	}
	st := n.State()
	last := st.LatestIndex()
	for {
		commits, wake, ok := st.Since(last)
		if !ok {
			last = st.LatestIndex()
			if !send([]string{"*"}) {
				return
			}
			continue
		}
		if len(commits) > 0 {
			last = commits[len(commits)-1].Index
			seen := map[string]bool{}
			var tables []string
			for _, c := range commits {
				for _, ch := range c.Changes {
					if ch.Table != "kv" && !seen[ch.Table] { // the dashboard shows no key/value
						seen[ch.Table] = true
						tables = append(tables, ch.Table)
					}
				}
			}
			sort.Strings(tables)
			if len(tables) > 0 && !send(tables) {
				return
			}
		}
		select {
		case <-n.shutdownCh:
			return
		case <-wake:
		case <-st.AbandonCh():
			st = n.State()
			last = st.LatestIndex()
			if !send([]string{"*"}) {
				return
			}
		case <-members:
			if !send([]string{"members"}) {
				return
			}
		case <-leaders:
			if !send([]string{"leader"}) {
				return
			}
		}
	}
}
