package behaviors

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/steward/steward/actor"
)

// Drills is the runtime-wide state of the failure-drill behaviors
// (flaky_start, ignore_start, slow_start, slow_stop, stubborn, gated_start,
// gate): the start counts of flaky_start and ignore_start, kept per key
// across restarts, and the gates gated_start waits on. A catalog holds one Drills (NewCatalog makes
// it; NewCatalogWith takes one), so every process built from that catalog
// — one runtime's — shares it, and a restarted child finds the count its
// previous incarnations left.
//
// The drills' waits (a slow start or stop, a stubborn Terminate, a closed
// gate) run on the Drills' clock, not the runtime's, so a test can feed
// them apart from the runtime's own timers. A behavior cannot learn that
// its process was killed while it waits (actor.Proc has no done channel
// outside sandboxes), so a killed drill's goroutine finishes its wait and
// then returns into a dead process, which does nothing more; Release ends
// every wait at once.
//
// Its methods are safe for concurrent use.
type Drills struct {
	clock    actor.Clock
	mu       sync.Mutex
	starts   map[string]int64 // flaky_start key -> starts so far
	gates    map[string]*gate
	released chan struct{}
	once     sync.Once
}

// gate is open when closed is nil; a waiter holds the channel it found,
// which Open closes.
type gate struct {
	closed  chan struct{}
	waiting int
}

// GateState is one gate as Gates reports it.
type GateState struct {
	Open bool `json:"open"`
	// Waiting is the number of starts held at the gate now.
	Waiting int `json:"waiting"`
}

// NewDrills returns an empty drill registry whose waits run on clock (nil
// means actor.SystemClock()).
func NewDrills(clock actor.Clock) *Drills {
	if clock == nil {
		clock = actor.SystemClock()
	}
	return &Drills{clock: clock, starts: make(map[string]int64), gates: make(map[string]*gate), released: make(chan struct{})}
}

// Entries lists the drill behaviors' catalog entries, bound to d.
func (d *Drills) Entries() []actor.Entry {
	return []actor.Entry{
		{Name: "flaky_start", Version: Version, New: d.newFlakyStart},
		{Name: "ignore_start", Version: Version, New: d.newIgnoreStart},
		{Name: "slow_start", Version: Version, New: d.newSlowStart},
		{Name: "slow_stop", Version: Version, New: d.newSlowStop},
		{Name: "stubborn", Version: Version, New: d.newStubborn},
		{Name: "gated_start", Version: Version, New: d.newGatedStart},
		{Name: "gate", Version: Version, New: d.newGate},
	}
}

// Starts is the number of starts flaky_start counted for key.
func (d *Drills) Starts(key string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts[key]
}

// ResetStarts forgets key's start count: its next start is a first.
func (d *Drills) ResetStarts(key string) {
	d.mu.Lock()
	delete(d.starts, key)
	d.mu.Unlock()
}

// countStart records one more start of key and returns the count.
func (d *Drills) countStart(key string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.starts[key]++
	return d.starts[key]
}

// Close closes a gate: starts that wait on it (gated_start) hold until it
// is opened. A gate nobody closed is open.
func (d *Drills) Close(name string) {
	d.mu.Lock()
	g := d.gateLocked(name)
	if g.closed == nil {
		g.closed = make(chan struct{})
	}
	d.mu.Unlock()
}

// Open opens a gate, letting every start held at it go on.
func (d *Drills) Open(name string) {
	d.mu.Lock()
	if g := d.gates[name]; g != nil && g.closed != nil {
		close(g.closed)
		g.closed = nil
	}
	d.mu.Unlock()
}

// OpenAll opens every gate.
func (d *Drills) OpenAll() {
	d.mu.Lock()
	for _, g := range d.gates {
		if g.closed != nil {
			close(g.closed)
			g.closed = nil
		}
	}
	d.mu.Unlock()
}

// Gates reports every gate that was ever closed.
func (d *Drills) Gates() map[string]GateState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]GateState, len(d.gates))
	for n, g := range d.gates {
		out[n] = GateState{Open: g.closed == nil, Waiting: g.waiting}
	}
	return out
}

// Waiting is the number of starts held at gate name now.
func (d *Drills) Waiting(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.gates[name]; g != nil {
		return g.waiting
	}
	return 0
}

// Release ends every drill wait, now and from now on: gates let every
// start through, slow starts and stops and stubborn Terminates return at
// once. Meant for the end of a test or of an agent, so that no drill
// holds a goroutine or a supervisor.
func (d *Drills) Release() {
	d.once.Do(func() { close(d.released) })
	d.OpenAll()
}

func (d *Drills) gateLocked(name string) *gate {
	g := d.gates[name]
	if g == nil {
		g = &gate{}
		d.gates[name] = g
	}
	return g
}

// errGateTimeout is a gated start that gave up.
var errGateTimeout = errors.New("gate still closed")

// pass waits until gate name is open, Release is called, or timeout (> 0)
// elapses on the clock (errGateTimeout).
func (d *Drills) pass(name string, timeout time.Duration) error {
	d.mu.Lock()
	g := d.gates[name]
	if g == nil || g.closed == nil {
		d.mu.Unlock()
		return nil
	}
	ch := g.closed
	g.waiting++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		g.waiting--
		d.mu.Unlock()
	}()
	var expired chan struct{}
	if timeout > 0 {
		expired = make(chan struct{})
		t := d.clock.AfterFunc(timeout, func() { close(expired) })
		defer t.Stop()
	}
	select {
	case <-ch:
		return nil
	case <-d.released:
		return nil
	case <-expired:
		return fmt.Errorf("%w after %s", errGateTimeout, timeout)
	}
}

// sleep waits for dur on the clock, or until Release.
func (d *Drills) sleep(dur time.Duration) {
	if dur <= 0 {
		return
	}
	done := make(chan struct{})
	t := d.clock.AfterFunc(dur, func() { close(done) })
	select {
	case <-done:
	case <-d.released:
		t.Stop()
	}
}

// ---- what the drill behaviors share ----

// maxDrillMS bounds the drills' millisecond args: 24 hours.
const maxDrillMS = 24 * 60 * 60 * 1000

// millis reads an optional millisecond arg.
func (a args) millis(key string, def int64) (time.Duration, error) {
	n, err := a.int(key, def, 0, maxDrillMS)
	return time.Duration(n) * time.Millisecond, err
}

// token reads a required arg that a text command may carry: non-empty,
// without whitespace.
func (a args) token(key string) (string, error) {
	v, ok := a.m[key]
	if !ok {
		return "", a.bad(key, "", "a name (required)")
	}
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' }) {
		return "", a.bad(key, v, "a non-empty name without whitespace")
	}
	return v, nil
}

// drill is the part every drill process shares: the commands that make
// it exit ("crash", "stop", "exit <reason>"), the call "ping", and
// whether it decided its own exit (slow_stop and stubborn treat their own
// exit apart from a shutdown).
type drill struct {
	base
	name string
	self bool // this process decided to exit
}

// handle runs a shared command; ok is false when the verb is not one.
func (d *drill) handle(m actor.Message) (reply []byte, ok bool, err error) {
	if m.Kind == actor.KindExit {
		return nil, true, nil // trapped (stubborn): ignored
	}
	verb, rest := command(m.Body)
	switch verb {
	case "crash":
		d.self = true
		return nil, true, errors.New(d.name + ": crash")
	case "stop":
		d.self = true
		return nil, true, actor.Stop(actor.Normal)
	case "exit":
		if rest == "" {
			rest = "exit"
		}
		d.self = true
		return nil, true, actor.Stop(actor.Reason(rest))
	case "ping":
		return []byte("pong"), true, nil
	}
	return nil, false, nil
}

// reply answers a body no behavior command took: refused for a call,
// dropped otherwise.
func (d *drill) reply(m actor.Message) ([]byte, error) {
	if m.Kind == actor.KindCall {
		return nil, actor.Refuse("%s: unknown call %q", d.name, m.Body)
	}
	return nil, nil
}

func (d *drill) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	if b, ok, err := d.handle(m); ok {
		return b, err
	}
	return d.reply(m)
}

func (d *drill) HandleCast(_ actor.Proc, m actor.Message) error {
	_, _, err := d.handle(m)
	return err
}

func (d *drill) HandleInfo(_ actor.Proc, m actor.Message) error {
	_, _, err := d.handle(m)
	return err
}

func (d *drill) CodeChange(string, []byte) error { return nil }
func (d *drill) ExportState() ([]byte, error)    { return []byte("{}"), nil }
func (d *drill) ImportState([]byte) error        { return nil }
