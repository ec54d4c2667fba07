package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/steward/steward/bench/cluster"
	"github.com/steward/steward/bench/load"
	"github.com/steward/steward/pb"
)

// startEvent is a tree_started event as the harness received it.
type startEvent struct {
	at   time.Time // the event's own timestamp, set on the node
	seen time.Time // when it reached the harness
}

// startWatch follows the tree_started events of a set of agents, each on
// its own stream from the agent itself, and hands each event to whoever
// waits for its tree.
type startWatch struct {
	mu      sync.Mutex
	waiting map[string]chan startEvent
	errs    chan error
}

func watchStarts(ctx context.Context, m *cluster.Mixed, agents []int) (*startWatch, error) {
	w := &startWatch{waiting: map[string]chan startEvent{}, errs: make(chan error, len(agents))}
	for _, i := range agents {
		rt := pb.NewRuntimeClient(m.Ctl(i).Conn())
		stream, err := rt.Events(ctx, &pb.EventsRequest{Node: m.Name(i), Types: []string{"tree_started"}, Follow: true, Last: 1})
		if err != nil {
			return nil, fmt.Errorf("%s: events: %w", m.Name(i), err)
		}
		go func() {
			for {
				e, err := stream.Recv()
				if err != nil {
					if ctx.Err() == nil {
						if errors.Is(err, io.EOF) {
							err = errors.New("stream ended")
						}
						w.errs <- fmt.Errorf("%s: events: %w", m.Name(i), err)
					}
					return
				}
				seen := time.Now()
				if e.Type != "tree_started" {
					continue // unreachable / events_dropped notices pass every filter
				}
				w.mu.Lock()
				ch := w.waiting[e.Tree]
				delete(w.waiting, e.Tree)
				w.mu.Unlock()
				if ch != nil {
					ch <- startEvent{at: time.Unix(0, e.TimeUnixNano), seen: seen}
				}
			}
		}()
	}
	return w, nil
}

// expect registers a tree before it is applied.
func (w *startWatch) expect(tree string) chan startEvent {
	ch := make(chan startEvent, 1)
	w.mu.Lock()
	w.waiting[tree] = ch
	w.mu.Unlock()
	return ch
}

// treeTrial is one tree: applied through the leader, placed on a node.
type treeTrial struct {
	sent, acked time.Time
	start       startEvent
	viaLeader   bool // placed on a client that streams from the leader
}

// applyAndWait commits a one-worker tree placed on node through sup (the
// leader's) and waits for its tree_started event.
func applyAndWait(ctx context.Context, sup pb.SupervisionClient, w *startWatch, name, node string) (treeTrial, error) {
	spec, err := json.Marshal(map[string]any{
		"name": name, "strategy": "one_for_one",
		"children": []map[string]any{{"id": "echo", "behavior": "echo"}},
	})
	if err != nil {
		return treeTrial{}, err
	}
	ch := w.expect(name)
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var t treeTrial
	t.sent = time.Now()
	resp, err := sup.ApplyTree(actx, &pb.ApplyTreeRequest{Spec: spec, Filename: name + ".json", Node: node})
	t.acked = time.Now()
	if err != nil {
		return t, fmt.Errorf("apply %s on %s: %w", name, node, err)
	}
	if got := resp.GetTree().GetNode(); got != node {
		return t, fmt.Errorf("apply %s: placed on %q, asked for %q", name, got, node)
	}
	select {
	case t.start = <-ch:
		return t, nil
	case err := <-w.errs:
		return t, err
	case <-time.After(10 * time.Second):
		return t, fmt.Errorf("tree %s: no tree_started event from %s within 10 s of its commit", name, node)
	case <-ctx.Done():
		return t, ctx.Err()
	}
}

// measureTreeStart commits n trees placed on the client agents (round
// robin) and n on the follower servers, alternating, one at a time, and
// times each from the commit's acknowledgement to the tree running.
func measureTreeStart(ctx context.Context, m *cluster.Mixed, n int) (*treeStart, error) {
	li, err := m.Leader(ctx)
	if err != nil {
		return nil, err
	}
	var onClients, onFollowers []int
	for i := 0; i < m.Size(); i++ {
		switch {
		case m.IsClient(i):
			onClients = append(onClients, i)
		case i != li.Index:
			onFollowers = append(onFollowers, i)
		}
	}
	if len(onClients) == 0 || len(onFollowers) == 0 {
		return nil, errors.New("tree start needs client agents and follower servers")
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := watchStarts(wctx, m, append(append([]int(nil), onClients...), onFollowers...))
	if err != nil {
		return nil, err
	}
	sup := pb.NewSupervisionClient(m.Ctl(li.Index).Conn())
	streamsFrom := map[int]string{}
	for _, i := range onClients {
		st, err := m.Status(ctx, i)
		if err != nil {
			return nil, err
		}
		streamsFrom[i] = st.StreamServer
	}
	// One unmeasured tree per node: its event proves the node's stream is
	// live before anything is timed.
	for _, i := range append(append([]int(nil), onClients...), onFollowers...) {
		if _, err := applyAndWait(ctx, sup, w, "warm-"+m.Name(i), m.Name(i)); err != nil {
			return nil, fmt.Errorf("warm-up: %w\n%s", err, m.LogTail(i, 20))
		}
	}
	var cl, sv []treeTrial
	for k := 0; k < n; k++ {
		c, s := onClients[k%len(onClients)], onFollowers[k%len(onFollowers)]
		order := []bool{true, false}
		if k%2 == 1 {
			order = []bool{false, true}
		}
		for _, client := range order {
			i, name := s, fmt.Sprintf("lat-server-%03d", k)
			if client {
				i, name = c, fmt.Sprintf("lat-client-%03d", k)
			}
			t, err := applyAndWait(ctx, sup, w, name, m.Name(i))
			if err != nil {
				return nil, fmt.Errorf("%w\n%s", err, m.LogTail(i, 20))
			}
			if client {
				t.viaLeader = streamsFrom[i] == li.Name
				cl = append(cl, t)
			} else {
				sv = append(sv, t)
			}
		}
	}
	ts := &treeStart{
		Servers: m.Servers(), Clients: m.Clients(),
		Method: "one tree at a time through the leader's Supervision.ApplyTree, placed with its node field; " +
			"start = the tree_started event's timestamp, from a Runtime.Events follow stream opened on the node itself " +
			"(no polling); ack = the ApplyTree response received; all on one host clock",
		OnClient: placementOf(cl), OnServer: placementOf(sv),
	}
	var viaL, viaF []treeTrial
	for _, t := range cl {
		if t.viaLeader {
			viaL = append(viaL, t)
		} else {
			viaF = append(viaF, t)
		}
	}
	ts.OnClientViaLeader, ts.OnClientViaFollower = placementOf(viaL), placementOf(viaF)
	if ts.OnServer.AckToStart.P99 > 0 {
		ts.P99Ratio = ts.OnClient.AckToStart.P99 / ts.OnServer.AckToStart.P99
	}
	return ts, nil
}

func placementOf(ts []treeTrial) placement {
	var start, seen, apply []time.Duration
	p := placement{Trees: len(ts)}
	for _, t := range ts {
		d := t.start.at.Sub(t.acked)
		if d < 0 {
			p.Early++
		}
		start, seen, apply = append(start, d), append(seen, t.start.seen.Sub(t.acked)), append(apply, t.acked.Sub(t.sent))
	}
	p.AckToStart, p.AckToSeen, p.Apply = distOf(start), distOf(seen), distOf(apply)
	return p
}

// measureIdle samples every agent's RSS after an idle window, and the CPU
// each used in it.
func measureIdle(ctx context.Context, m *cluster.Mixed, idle time.Duration) (*memory, error) {
	cpu0 := make([]cluster.Usage, m.Size())
	for i := range cpu0 {
		cpu0[i] = cluster.ProcUsage([]int{m.Pid(i)})
	}
	t0 := time.Now()
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	li, err := m.Leader(ctx)
	if err != nil {
		return nil, err
	}
	mem := &memory{Servers: m.Servers(), Clients: m.Clients(), IdleS: idle.Seconds()}
	window := time.Since(t0).Seconds()
	var clients, followers, clientCPU, followerCPU []float64
	for i := 0; i < m.Size(); i++ {
		b, err := cluster.RSS(m.Pid(i))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(i), err)
		}
		pct := 100 * cluster.ProcUsage([]int{m.Pid(i)}).Sub(cpu0[i]).CPU.Seconds() / window
		switch {
		case m.IsClient(i):
			clients, clientCPU = append(clients, mib(b)), append(clientCPU, pct)
		case i == li.Index:
			mem.Leader, mem.LeaderIdleCPUPct = mib(b), pct
		default:
			followers, followerCPU = append(followers, mib(b)), append(followerCPU, pct)
		}
	}
	mem.ClientIdleCPUPct, mem.FollowerIdleCPUPct = load.Median(clientCPU), load.Median(followerCPU)
	mem.ClientMedian, mem.ClientMin, mem.ClientMax = load.Median(clients), minOf(clients), maxOf(clients)
	mem.FollowerMedian = load.Median(followers)
	if mem.FollowerMedian > 0 {
		mem.ClientVsFollower = mem.ClientMedian / mem.FollowerMedian
	}
	return mem, nil
}

func minOf(v []float64) float64 {
	out := v[0]
	for _, x := range v {
		out = min(out, x)
	}
	return out
}

func maxOf(v []float64) float64 {
	out := v[0]
	for _, x := range v {
		out = max(out, x)
	}
	return out
}
