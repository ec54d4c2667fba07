package actor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Links, monitors and suspends across nodes, as Erlang distribution keeps
// them: a link or a monitor that crosses to another node is held by both
// nodes (process.rlinks / rmonitors on the one side, rlinks / rmonBy on the
// other); the exit of either end is carried to the other as a signal
// (SignalRouter); and when a node is lost every link and monitor that
// crossed to it fires with reason noconnection (NodeDown).
//
// A pid names its node but not, in a form a peer can read, the node's
// incarnation (node/seq; an agent's seqs lie above every earlier run's,
// Config.Creation, but a runtime of creation 0 starts afresh at 1), so
// each side also
// records the incarnation of the other node a link or monitor is held
// towards (the time its runtime started, carried with the signals when
// the router tells it: IncarnationRouter). A node that restarts faster
// than gossip declares it failed comes back as a later incarnation: as
// Erlang takes a new connection from a node as the end of the old one,
// NodeRestarted then fires every link and monitor towards the earlier
// incarnation with noconnection.

// NoConnection is the reason of the exit signals and DOWN messages a lost
// node leaves behind (Erlang's noconnection).
const NoConnection Reason = "noconnection"

// signalTimeout bounds one signal's delivery to another node.
const signalTimeout = 5 * time.Second

// SignalKind is what a Signal does on the receiving node.
type SignalKind string

const (
	// SigLink links To (local there) to From; SigUnlink removes it.
	SigLink   SignalKind = "link"
	SigUnlink SignalKind = "unlink"
	// SigMonitor makes From watch To, under From's Ref; SigDemonitor
	// removes it.
	SigMonitor   SignalKind = "monitor"
	SigDemonitor SignalKind = "demonitor"
	// SigExit is the exit signal of From, which exited with Reason, to
	// To, linked to it.
	SigExit SignalKind = "exit"
	// SigDown is the DOWN message of From, which exited with Reason, to
	// To, which monitored it under Ref.
	SigDown SignalKind = "down"
	// SigSuspend and SigResume suspend and resume To.
	SigSuspend SignalKind = "suspend"
	SigResume  SignalKind = "resume"
)

// Signal is one link, monitor, exit, DOWN or suspend signal between a
// process and one on another node.
type Signal struct {
	Kind     SignalKind
	From, To PID
	Ref      uint64
	Reason   Reason
	// Incarnation is, on the receiving node (HandleSignal), the sending
	// node's incarnation as its router told it (0: not told): a link or
	// monitor the signal makes is held towards it.
	Incarnation uint64
}

// IncarnationRouter is a SignalRouter that also tells, with the signals
// it carries, the incarnation of the node that handled one (0: not told),
// and carries this node's incarnation to the other (Signal.Incarnation
// there). A link or monitor made through it is held towards that
// incarnation, and NodeRestarted fires it once the node runs a later one.
type IncarnationRouter interface {
	RouteSignalIncarnation(ctx context.Context, s Signal) (incarnation uint64, err error)
}

// remoteRef is a remote watcher's monitor: refs are its node's, so they
// are kept with the watcher.
type remoteRef struct {
	watcher PID
	ref     uint64
}

// remoteMon is a monitor of a remote process: the target, and the
// incarnation of its node when the monitor was set (0: unknown).
type remoteMon struct {
	to  PID
	inc uint64
}

// ParseSignalKind checks a signal kind's name.
func ParseSignalKind(s string) (SignalKind, error) {
	switch k := SignalKind(s); k {
	case SigLink, SigUnlink, SigMonitor, SigDemonitor, SigExit, SigDown, SigSuspend, SigResume:
		return k, nil
	}
	return "", fmt.Errorf("%w: unknown signal kind %q", ErrBadArgs, s)
}

func (rt *Runtime) signalRouter(to PID) (SignalRouter, error) {
	sr, ok := rt.router.(SignalRouter)
	if !ok || rt.router == nil {
		return nil, fmt.Errorf("%w: %s is on node %q (no router for links and monitors across nodes)", ErrRemoteUnsupported, to, to.Node)
	}
	return sr, nil
}

// sendSignal delivers a signal to another node and waits for its answer:
// the receiving node's incarnation, when the router tells it (0 if not).
func (rt *Runtime) sendSignal(s Signal) (uint64, error) {
	sr, err := rt.signalRouter(s.To)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	if ir, ok := sr.(IncarnationRouter); ok {
		return ir.RouteSignalIncarnation(ctx, s)
	}
	return 0, sr.RouteSignal(ctx, s)
}

// sendSignals delivers the signals an exit leaves, in order, in the
// background: an exit never waits on another node. One that cannot be
// delivered is dropped; the other node, once it learns this one is lost,
// fires its links and monitors with noconnection itself.
func (rt *Runtime) sendSignals(sigs []Signal) {
	if len(sigs) == 0 {
		return
	}
	go func() {
		for _, s := range sigs {
			if _, err := rt.sendSignal(s); err != nil {
				rt.log.Debug("signal to another node not delivered", "kind", s.Kind, "from", s.From, "to", s.To, "error", err)
			}
		}
	}()
}

// linkRemote links local a to a process on another node: the other node
// records the link first (refusing a dead process), then this one.
func (rt *Runtime) linkRemote(a *process, to PID) error {
	inc, err := rt.sendSignal(Signal{Kind: SigLink, From: a.pid, To: to})
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	a.mu.Lock()
	if a.closed {
		reason := a.exitReason
		a.mu.Unlock()
		// a died meanwhile: its exit found no remote link to signal.
		rt.sendSignals([]Signal{{Kind: SigExit, From: a.pid, To: to, Reason: reason}})
		return fmt.Errorf("link: %w", errNoProc(a.pid))
	}
	if a.rlinks == nil {
		a.rlinks = map[PID]uint64{}
	}
	held, had := a.rlinks[to]
	a.rlinks[to] = inc
	a.mu.Unlock()
	if had && stale(held, inc) {
		rt.staleLink(a, to)
	}
	return nil
}

// stale reports whether a link held towards incarnation held is to a
// process that died with its node, now at incarnation now.
func stale(held, now uint64) bool { return held != 0 && now != 0 && held < now }

// staleLink delivers to p the noconnection of its link to the process its
// pid to named in an earlier incarnation of to's node, replaced by a link
// under the same pid to a process of the node's current incarnation (the
// sequence starts afresh when a node restarts): the old one's end died
// with its node. The new link stays.
func (rt *Runtime) staleLink(p *process, to PID) {
	rt.signalExit(p, to, NoConnection, nil)
}

func (rt *Runtime) unlinkRemote(a *process, to PID) {
	a.mu.Lock()
	_, had := a.rlinks[to]
	delete(a.rlinks, to)
	a.mu.Unlock()
	if had {
		rt.sendSignals([]Signal{{Kind: SigUnlink, From: a.pid, To: to}})
	}
}

// monitorRemote makes local w watch a process on another node. A target
// that is dead there gets DOWN noproc at once, as locally; one on a node
// that cannot be reached, DOWN noconnection.
func (rt *Runtime) monitorRemote(w *process, to PID) (uint64, error) {
	if _, err := rt.signalRouter(to); err != nil {
		return 0, fmt.Errorf("monitor: %w", err)
	}
	ref := rt.refs.Add(1)
	inc, err := rt.sendSignal(Signal{Kind: SigMonitor, From: w.pid, To: to, Ref: ref})
	down := func(reason Reason) (uint64, error) {
		if err := w.deliver(envelope{msg: Message{Kind: KindDown, From: to, Ref: ref, Body: []byte(reason)}}, true); err != nil {
			return 0, err
		}
		return ref, nil
	}
	switch {
	case isNoProc(err):
		return down(NoProc)
	case err != nil && isNoRoute(err):
		return down(NoConnection)
	case err != nil:
		return 0, fmt.Errorf("monitor: %w", err)
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		rt.sendSignals([]Signal{{Kind: SigDemonitor, From: w.pid, To: to, Ref: ref}})
		return 0, fmt.Errorf("monitor: %w", errNoProc(w.pid))
	}
	if w.rmonitors == nil {
		w.rmonitors = map[uint64]remoteMon{}
	}
	w.rmonitors[ref] = remoteMon{to: to, inc: inc}
	w.mu.Unlock()
	return ref, nil
}

// demonitorRemote removes w's monitor ref if it watches a remote process;
// it reports whether it did.
func (rt *Runtime) demonitorRemote(w *process, ref uint64) bool {
	w.mu.Lock()
	m, ok := w.rmonitors[ref]
	delete(w.rmonitors, ref)
	w.mu.Unlock()
	if ok {
		rt.sendSignals([]Signal{{Kind: SigDemonitor, From: w.pid, To: m.to, Ref: ref}})
	}
	return ok
}

// remoteExitSignals is what the exit of p, with reason, owes other nodes:
// its links' exit signals, its watchers' DOWN messages, and the removal
// of its own monitors. p.mu is held; the remote sets are cleared.
func remoteExitSignals(p *process, reason Reason) []Signal {
	var out []Signal
	for peer := range p.rlinks {
		out = append(out, Signal{Kind: SigExit, From: p.pid, To: peer, Reason: reason})
	}
	for r := range p.rmonBy {
		out = append(out, Signal{Kind: SigDown, From: p.pid, To: r.watcher, Ref: r.ref, Reason: reason})
	}
	for ref, m := range p.rmonitors {
		out = append(out, Signal{Kind: SigDemonitor, From: p.pid, To: m.to, Ref: ref})
	}
	p.rlinks, p.rmonBy, p.rmonitors = nil, nil, nil
	sort.SliceStable(out, func(i, j int) bool { return out[i].To.Compare(out[j].To) < 0 })
	return out
}

// HandleSignal carries out, on this node, a signal from a process on
// another node (SignalRouter's receiving end). A link or monitor of a dead
// or unknown process is refused (ErrNoProc, ErrUnknownPID): the sender
// then delivers noproc; an exit or DOWN for a link or monitor no longer
// held is ignored.
func (rt *Runtime) HandleSignal(s Signal) error {
	if s.From.Node == rt.node || s.From.Node == "" {
		return fmt.Errorf("%w: a signal from %q is not from another node", ErrBadArgs, s.From.String())
	}
	switch s.Kind {
	case SigSuspend:
		return rt.Suspend(s.To)
	case SigResume:
		return rt.Resume(s.To)
	}
	p, err := rt.local(s.To)
	if err != nil {
		return err
	}
	switch s.Kind {
	case SigLink:
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return errNoProc(p.pid)
		}
		if p.rlinks == nil {
			p.rlinks = map[PID]uint64{}
		}
		held, had := p.rlinks[s.From]
		p.rlinks[s.From] = s.Incarnation
		p.mu.Unlock()
		if had && stale(held, s.Incarnation) {
			rt.staleLink(p, s.From)
		}
	case SigUnlink:
		p.mu.Lock()
		delete(p.rlinks, s.From)
		p.mu.Unlock()
	case SigMonitor:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return errNoProc(p.pid)
		}
		if p.rmonBy == nil {
			p.rmonBy = map[remoteRef]uint64{}
		}
		p.rmonBy[remoteRef{s.From, s.Ref}] = s.Incarnation
	case SigDemonitor:
		p.mu.Lock()
		delete(p.rmonBy, remoteRef{s.From, s.Ref})
		p.mu.Unlock()
	case SigExit:
		rt.remoteExit(p, s.From, s.Reason)
	case SigDown:
		rt.remoteDown(p, s.From, s.Ref, s.Reason)
	default:
		return fmt.Errorf("%w: unknown signal kind %q", ErrBadArgs, s.Kind)
	}
	return nil
}

// remoteExit applies the exit signal of remote process from, linked to p.
func (rt *Runtime) remoteExit(p *process, from PID, reason Reason) {
	rt.signalExit(p, from, reason, func() bool {
		_, linked := p.rlinks[from]
		delete(p.rlinks, from)
		return linked
	})
}

// remoteDown delivers the DOWN message of remote process from to p, which
// monitored it under ref.
func (rt *Runtime) remoteDown(p *process, from PID, ref uint64, reason Reason) {
	p.mu.Lock()
	m, ok := p.rmonitors[ref]
	if !ok || m.to != from {
		p.mu.Unlock()
		return
	}
	delete(p.rmonitors, ref)
	wk := !p.closed && p.deliverLocked(envelope{msg: Message{Kind: KindDown, From: from, Ref: ref, Body: []byte(reason)}})
	p.mu.Unlock()
	if wk {
		p.signal()
	}
}

// RemoteNodes lists the other nodes that links and monitors of this
// runtime's processes cross to, sorted.
func (rt *Runtime) RemoteNodes() []string {
	seen := map[string]bool{}
	rt.procs.Range(func(_, v any) bool {
		p := v.(*process)
		p.mu.Lock()
		for peer := range p.rlinks {
			seen[peer.Node] = true
		}
		for _, m := range p.rmonitors {
			seen[m.to.Node] = true
		}
		for r := range p.rmonBy {
			seen[r.watcher.Node] = true
		}
		p.mu.Unlock()
		return true
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NodeDown fires every link and monitor that crosses to node, which is
// lost: each linked process receives the exit signal noconnection, each
// watcher DOWN noconnection, and the node's watchers of local processes
// are forgotten. It returns how many links and monitors fired.
func (rt *Runtime) NodeDown(node string) int {
	return rt.nodeGone(node, func(uint64) bool { return true }, "node lost")
}

// NodeRestarted tells the runtime that node now runs incarnation inc (as
// its gossip says): every link and monitor held towards an earlier
// incarnation of it fires as NodeDown fires them, with noconnection (the
// processes at the other end died with that incarnation, whose exits this
// node may never have heard of), and the watchers it had among them are
// forgotten. Those towards inc, a later incarnation (gossip that lags
// behind the signals), or an unknown one (0: a node that did not tell)
// are kept. It returns how many links and monitors fired.
func (rt *Runtime) NodeRestarted(node string, inc uint64) int {
	if inc == 0 {
		return 0
	}
	return rt.nodeGone(node, func(held uint64) bool { return held != 0 && held < inc }, "node restarted")
}

// nodeGone fires the links and monitors towards node whose incarnation
// gone selects, and forgets the watchers of local processes among them.
func (rt *Runtime) nodeGone(node string, gone func(inc uint64) bool, why string) int {
	if node == rt.node || node == "" {
		return 0
	}
	type hit struct {
		p     *process
		links map[PID]uint64 // peer -> the incarnation the link was held towards
		downs map[uint64]PID
	}
	var hits []hit
	rt.procs.Range(func(_, v any) bool {
		p := v.(*process)
		p.mu.Lock()
		h := hit{p: p}
		for peer, inc := range p.rlinks {
			if peer.Node == node && gone(inc) {
				if h.links == nil {
					h.links = map[PID]uint64{}
				}
				h.links[peer] = inc
			}
		}
		for ref, m := range p.rmonitors {
			if m.to.Node == node && gone(m.inc) {
				if h.downs == nil {
					h.downs = map[uint64]PID{}
				}
				h.downs[ref] = m.to
			}
		}
		for r, inc := range p.rmonBy {
			if r.watcher.Node == node && gone(inc) {
				delete(p.rmonBy, r)
			}
		}
		p.mu.Unlock()
		if len(h.links) > 0 || len(h.downs) > 0 {
			hits = append(hits, h)
		}
		return true
	})
	n := 0
	for _, h := range hits {
		peers := make([]PID, 0, len(h.links))
		for peer := range h.links {
			peers = append(peers, peer)
		}
		sort.Slice(peers, func(i, j int) bool { return peers[i].Compare(peers[j]) < 0 })
		for _, peer := range peers {
			// Unless the link was replaced meanwhile, under the same pid,
			// by one to the node's current incarnation.
			p, inc := h.p, h.links[peer]
			rt.signalExit(p, peer, NoConnection, func() bool {
				held, linked := p.rlinks[peer]
				if !linked || held != inc {
					return false
				}
				delete(p.rlinks, peer)
				return true
			})
			n++
		}
		refs := make([]uint64, 0, len(h.downs))
		for ref := range h.downs {
			refs = append(refs, ref)
		}
		sort.Slice(refs, func(i, j int) bool { return refs[i] < refs[j] })
		for _, ref := range refs {
			rt.remoteDown(h.p, h.downs[ref], ref, NoConnection)
			n++
		}
	}
	if n > 0 {
		rt.log.Info(why+": links and monitors fired with noconnection", "node", node, "fired", n)
	}
	return n
}

// suspendRemote suspends or resumes a process on another node.
func (rt *Runtime) suspendRemote(pid PID, on bool) error {
	k := SigResume
	if on {
		k = SigSuspend
	}
	_, err := rt.sendSignal(Signal{Kind: k, From: PID{Node: rt.node}, To: pid})
	return err
}

func isNoProc(err error) bool {
	return err != nil && (errors.Is(err, ErrNoProc) || errors.Is(err, ErrUnknownPID))
}

func isNoRoute(err error) bool { return errors.Is(err, ErrNoRoute) }
