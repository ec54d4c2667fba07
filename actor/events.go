package actor

import (
	"sync"
	"sync/atomic"
	"time"
)

// EventType names what happened. Values are stable strings: they are
// streamed to clients.
type EventType string

const (
	EventSpawned   EventType = "spawned"
	EventExited    EventType = "exited" // Reason carries the exit reason
	EventKilled    EventType = "killed" // Kill was called; an exited event follows
	EventRestarted EventType = "restarted"
	// EventStartFailed: a child's init failed (at start or restart).
	EventStartFailed EventType = "start_failed"
	// EventShutdownTimeout: a child did not stop within its shutdown
	// timeout and was killed.
	EventShutdownTimeout EventType = "shutdown_timeout"
	// EventSupervisorEscalated: a supervisor exceeded its restart
	// intensity, stopped its children and exited with reason shutdown. For
	// a tree's root (ChildID "") the tree is now failed.
	EventSupervisorEscalated EventType = "supervisor_escalated"
	EventStrategyChanged     EventType = "strategy_changed"
	EventChildStarted        EventType = "child_started"
	EventChildTerminated     EventType = "child_terminated"
	EventChildDeleted        EventType = "child_deleted"
	EventSuspended           EventType = "suspended"
	EventResumed             EventType = "resumed"
	EventStateReplaced       EventType = "state_replaced"
	EventCodeChanged         EventType = "code_changed"
	EventTreeStarted         EventType = "tree_started"
	EventTreeUpdated         EventType = "tree_updated"
	EventTreeStopped         EventType = "tree_stopped"
	EventTreeFailed          EventType = "tree_failed"
	EventTracingChanged      EventType = "tracing_changed"
	// EventSandboxViolation: a sandbox's rule was broken; Violation says
	// which, Reason is its kind.
	EventSandboxViolation EventType = "sandbox_violation"

	// EventSupervisorAutoShutdown: a significant child terminated by
	// itself and was not restarted, and the supervisor's auto_shutdown
	// (any_significant, or all_significant with none left running) made
	// it stop its children and exit with reason shutdown. PID and
	// ChildID are the supervisor's; Detail names the child. For a tree's
	// root the tree is now failed, with reason shutdown.
	EventSupervisorAutoShutdown EventType = "supervisor_auto_shutdown"
)

// Event is one observable happening in the runtime.
type Event struct {
	// Seq increases by one per event on this node, from 1.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	Type EventType `json:"type"`
	PID  PID       `json:"pid,omitzero"`
	// Tree and ChildID locate the process in a tree; ChildID is the path
	// of nested ids joined by '/', "" for a tree's root supervisor.
	Tree    string `json:"tree,omitempty"`
	ChildID string `json:"child_id,omitempty"`
	Reason  Reason `json:"reason,omitempty"`
	// Detail is a short human-readable complement (old and new strategy,
	// restart count, what an update changed...).
	Detail string `json:"detail,omitempty"`
	// Violation is set on EventSandboxViolation events.
	Violation *SandboxViolation `json:"violation,omitempty"`
	// Duration is set on EventCodeChanged events: the process's pause, the
	// time its goroutine spent in the code change between two messages
	// (building the new instance, exporting the old state, converting it,
	// swapping), measured on the runtime's clock; the time the request
	// waited in the mailbox is not in it.
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// eventBus numbers events, keeps the most recent in a ring and fans them
// out to subscribers without ever blocking the emitter.
type eventBus struct {
	mu   sync.Mutex
	seq  uint64
	ring []Event
	next int
	full bool
	subs []*Subscription
}

func newEventBus(size int) *eventBus { return &eventBus{ring: make([]Event, size)} }

func (b *eventBus) emit(e Event) {
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	b.ring[b.next] = e
	b.next++
	if b.next == len(b.ring) {
		b.next, b.full = 0, true
	}
	for _, s := range b.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
	b.mu.Unlock()
}

// since returns the buffered events with Seq > after, oldest first.
func (b *eventBus) since(after uint64) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Event
	appendFrom := func(evs []Event) {
		for _, e := range evs {
			if e.Seq > after {
				out = append(out, e)
			}
		}
	}
	if b.full {
		appendFrom(b.ring[b.next:])
	}
	appendFrom(b.ring[:b.next])
	return out
}

// Subscription receives events emitted after Subscribe. A subscriber that
// does not keep up loses events (counted by Dropped); it never slows the
// runtime.
type Subscription struct {
	// C delivers the events; it is closed by Close.
	C       <-chan Event
	ch      chan Event
	dropped atomic.Uint64
	bus     *eventBus
	once    sync.Once
}

// Dropped is how many events this subscriber missed because C was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		b := s.bus
		b.mu.Lock()
		for i, x := range b.subs {
			if x == s {
				b.subs = append(b.subs[:i], b.subs[i+1:]...)
				break
			}
		}
		close(s.ch)
		b.mu.Unlock()
	})
}

// Subscribe returns a subscription whose channel buffers up to buffer
// events (at least 1).
func (rt *Runtime) Subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	ch := make(chan Event, buffer)
	s := &Subscription{C: ch, ch: ch, bus: rt.events}
	rt.events.mu.Lock()
	rt.events.subs = append(rt.events.subs, s)
	rt.events.mu.Unlock()
	return s
}

// Events returns the buffered recent events with Seq greater than after
// (0 for all), oldest first. The buffer holds Config.EventBuffer events.
func (rt *Runtime) Events(after uint64) []Event { return rt.events.since(after) }

// emit stamps and publishes an event about p (which may be nil).
func (rt *Runtime) emit(typ EventType, p *process, reason Reason, detail string) {
	rt.events.emit(rt.event(typ, p, reason, detail))
}

// event is the event emit publishes, for a caller adding fields.
func (rt *Runtime) event(typ EventType, p *process, reason Reason, detail string) Event {
	e := Event{Time: rt.clock.Now(), Node: rt.node, Type: typ, Reason: reason, Detail: detail}
	if p != nil {
		e.PID = p.pid
		if p.tree != nil {
			e.Tree = p.tree.name
		}
		e.ChildID = p.path
	}
	return e
}

// emitTree publishes an event about a tree as a whole.
func (rt *Runtime) emitTree(typ EventType, tree string, root PID, reason Reason, detail string) {
	rt.events.emit(Event{Time: rt.clock.Now(), Node: rt.node, Type: typ, PID: root, Tree: tree, Reason: reason, Detail: detail})
}

// Publish adds an event raised by a layer above the runtime (the node's
// reconciler, plan executor, resource monitor) to this node's event stream,
// so that one stream carries everything observable on the node. Time and
// Node are filled in when empty; Seq is always assigned here.
func (rt *Runtime) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = rt.clock.Now()
	}
	if e.Node == "" {
		e.Node = rt.node
	}
	e.Seq = 0
	rt.events.emit(e)
}
