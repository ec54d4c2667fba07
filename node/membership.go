package node

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/steward/steward/internal/clock"
)

// Member statuses as users see them.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusLeft    = "left"
	StatusFailed  = "failed"
)

// member is one gossip member as this node knows it.
type member struct {
	Name   string
	Addr   string // gossip ip:port
	Meta   nodeMeta
	Status string
	// Since is when Status last changed, by this node's clock.
	Since time.Time
}

// memberTable tracks gossip members from memberlist's event callbacks, which
// hand over copies under memberlist's lock; reading memberlist's own node
// structs later would race with its updates.
type memberTable struct {
	clock   clock.Clock // dates the changes (Since)
	mu      sync.Mutex
	members map[string]*member
	// subs each get a token on every change (never blocks).
	subs []chan struct{}
}

func newMemberTable(c clock.Clock) *memberTable {
	return &memberTable{clock: clock.Or(c), members: map[string]*member{}}
}

// subscribe returns a channel that receives a token after changes.
func (t *memberTable) subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	t.mu.Lock()
	t.subs = append(t.subs, ch)
	t.mu.Unlock()
	return ch
}

func (t *memberTable) notify() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ch := range t.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (t *memberTable) set(name, addr string, meta *nodeMeta, status string) {
	t.mu.Lock()
	m, ok := t.members[name]
	if !ok {
		m = &member{Name: name}
		t.members[name] = m
	}
	changed := !ok || m.Status != status || (meta != nil && !m.Meta.equal(*meta)) || (addr != "" && m.Addr != addr)
	if addr != "" {
		m.Addr = addr
	}
	if meta != nil {
		m.Meta = *meta
	}
	if m.Status != status {
		m.Status = status
		m.Since = t.clock.Now()
	}
	t.mu.Unlock()
	if changed {
		t.notify()
	}
}

// setStatus changes the status of a known member only.
func (t *memberTable) setStatus(name, status string, onlyFrom ...string) {
	t.mu.Lock()
	m, ok := t.members[name]
	if !ok || m.Status == status {
		t.mu.Unlock()
		return
	}
	if len(onlyFrom) > 0 {
		allowed := false
		for _, s := range onlyFrom {
			allowed = allowed || m.Status == s
		}
		if !allowed {
			t.mu.Unlock()
			return
		}
	}
	m.Status = status
	m.Since = t.clock.Now()
	t.mu.Unlock()
	t.notify()
}

func (t *memberTable) get(name string) (member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[name]
	if !ok {
		return member{}, false
	}
	return *m, true
}

// list returns copies of every member, by name.
func (t *memberTable) list() []member {
	t.mu.Lock()
	out := make([]member, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, *m)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// gossipDelegate implements memberlist's delegates for a node.
type gossipDelegate struct {
	n *Node
}

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	b := d.n.localMeta().encode()
	if len(b) > limit {
		d.n.logger.Error("gossip metadata over the limit", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}
func (d *gossipDelegate) NotifyMsg([]byte)                           {}
func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *gossipDelegate) LocalState(join bool) []byte                { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool)     {}

func gossipAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

func (d *gossipDelegate) NotifyJoin(n *memberlist.Node) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		d.n.logger.Warn("ignoring gossip member without valid metadata", "member", n.Name, "error", err)
		return
	}
	status := StatusAlive
	if meta.Leaving {
		// It announced a graceful leave: from now on it is on its way out.
		status = StatusLeft
	}
	d.n.members.set(n.Name, gossipAddr(n), &meta, status)
}

func (d *gossipDelegate) NotifyUpdate(n *memberlist.Node) { d.NotifyJoin(n) }

// NotifyLeave records a member as left when it announced its departure in
// its metadata, else as failed. (memberlist's own left/dead distinction is
// not visible through the Node it hands over.)
// A member already recorded as left (its leave request reached this node,
// the leader, before its gossip did) stays left.
func (d *gossipDelegate) NotifyLeave(n *memberlist.Node) {
	status := StatusFailed
	if meta, err := decodeMeta(n.Meta); err == nil && meta.Leaving {
		status = StatusLeft
	} else if m, ok := d.n.members.get(n.Name); ok && m.Status == StatusLeft {
		status = StatusLeft
	}
	d.n.members.set(n.Name, gossipAddr(n), nil, status)
}

// NotifyAlive refuses members that are not steward nodes of this cluster.
func (d *gossipDelegate) NotifyAlive(peer *memberlist.Node) error {
	return d.n.checkPeer(peer)
}

// NotifyMerge refuses a push/pull (a join) with a cluster that holds members
// of another cluster.
func (d *gossipDelegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if err := d.n.checkPeer(p); err != nil {
			return err
		}
	}
	return nil
}

func (d *gossipDelegate) NotifyConflict(existing, other *memberlist.Node) {
	err := fmt.Errorf("%w: %q is used by %s and by %s", ErrNameConflict, existing.Name, gossipAddr(existing), gossipAddr(other))
	d.n.logger.Error("node name conflict", "name", existing.Name, "existing", gossipAddr(existing), "other", gossipAddr(other))
	if existing.Name == d.n.cfg.Name {
		d.n.setConflict(err)
	}
}

func (d *gossipDelegate) AckPayload() []byte { return nil }

// NotifyPingComplete clears a suspicion this node raised: the member
// answered a direct probe.
func (d *gossipDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	d.n.members.setStatus(other.Name, StatusAlive, StatusSuspect)
}

// suspectRE matches memberlist's log line when this node's probe of a member
// failed and it starts suspecting it. memberlist has no callback for that
// transition, so the log line is the only signal; it is cleared by the next
// successful probe or by any membership event.
var suspectRE = regexp.MustCompile(`memberlist: Suspect (\S+) has failed, no acks received`)

// gossipLog adapts memberlist's standard-library logging to hclog and
// extracts suspicion events.
type gossipLog struct {
	members *memberTable
	out     io.Writer
}

func (g *gossipLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("Suspect ")) {
		if m := suspectRE.FindSubmatch(p); m != nil {
			g.members.setStatus(string(m[1]), StatusSuspect, StatusAlive)
		}
	}
	return g.out.Write(p)
}
