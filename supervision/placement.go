package supervision

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/transport"
)

// place picks the alive node with the fewest live processes (ties: the
// fewest committed trees, then the name), asking each node for its figures;
// client agents come before servers, whose CPU goes to Raft first, as
// Nomad places work on clients only.
// exclude names a node that must not be chosen.
func (l *Layer) place(ctx context.Context, exclude string) (string, error) {
	type cand struct {
		name   string
		server bool
		procs  uint32
		trees  int
	}
	var cands []cand
	var unreachable []string
	for _, name := range l.node.AliveNodes() {
		if name == exclude {
			continue
		}
		var procs uint32
		if c, err := l.peer(name); err != nil {
			unreachable = append(unreachable, name)
			continue
		} else if c == nil {
			procs = l.localStats().Processes
		} else {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := c.Stats(sctx, &pb.StatsRequest{})
			cancel()
			if err != nil {
				unreachable = append(unreachable, name)
				continue
			}
			procs = st.Processes
		}
		_, trees, _ := l.node.State().Trees(nil, name)
		rec, _ := l.node.State().Node(name)
		cands = append(cands, cand{name, rec == nil || rec.Mode != "client", procs, len(trees)})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("%w: no alive node answered for placement (unreachable: %s)", transport.ErrNoLeader, strings.Join(unreachable, ", "))
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.server != b.server {
			return !a.server
		}
		if a.procs != b.procs {
			return a.procs < b.procs
		}
		if a.trees != b.trees {
			return a.trees < b.trees
		}
		return a.name < b.name
	})
	return cands[0].name, nil
}

// knownNode checks that a node name belongs to this cluster: a gossip
// member or a node in the replicated registry.
func (l *Layer) knownNode(name string) error {
	if l.node.MemberStatus(name) != "" {
		return nil
	}
	if rec, _ := l.node.State().Node(name); rec != nil {
		return nil
	}
	_, nodes, _ := l.node.State().Nodes(nil)
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return fmt.Errorf("%w: node %q is not a member of this cluster (members: %s)", transport.ErrInvalidRequest, name, strings.Join(names, ", "))
}

// replaceLoop runs on the leader: a tree placed automatically whose node
// left is placed elsewhere at once; one whose node failed, after
// ReplaceAfter. Trees pinned to a node stay: that node gets them back when
// it returns.
func (l *Layer) replaceLoop(ctx context.Context) {
	grace := NewNodeGrace(l.cfg.ReplaceAfter)
	for {
		st := l.node.State()
		ws := memdb.NewWatchSet()
		_, trees, err := st.Trees(ws, "")
		_, _, _ = st.Nodes(ws)
		// Look again at least every ResyncInterval, and when the next
		// failed node's grace ends.
		until := l.clock.Now().Add(l.cfg.ResyncInterval)
		if err == nil {
			if next := l.replaceOnce(ctx, trees, grace); next > 0 && l.clock.Now().Add(next).Before(until) {
				until = l.clock.Now().Add(next)
			}
		}
		if st.WaitChangeClock(ctx, l.clock, ws, until) != nil {
			return
		}
	}
}

func (l *Layer) replaceOnce(ctx context.Context, trees []*pb.TreeRecord, grace *NodeGrace) time.Duration {
	now := l.clock.Now()
	var next time.Duration
	defer grace.EndPass()
	for _, rec := range trees {
		if !rec.AutoPlaced {
			continue
		}
		status := l.node.MemberStatus(rec.Node)
		if due, wait := grace.Due(rec.Node, status, now); !due {
			if wait > 0 && (next == 0 || wait < next) {
				next = wait
			}
			continue
		}
		to, err := l.place(ctx, rec.Node)
		if err != nil {
			l.logger.Warn("cannot re-place tree", "tree", rec.Name, "from", rec.Node, "error", err)
			continue
		}
		moved := &pb.TreeRecord{Name: rec.Name, Node: to, SpecJson: rec.SpecJson, AutoPlaced: true}
		cas := rec.ModifyIndex
		if _, err := l.PutTree(ctx, moved, &cas); err != nil {
			l.logger.Warn("re-placing tree failed", "tree", rec.Name, "error", err)
			continue
		}
		l.logger.Info("tree re-placed", "tree", rec.Name, "from", rec.Node, "status", status, "to", to)
	}
	return next
}
