package actor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// procState is a process's lifecycle; it only moves forward.
type procState int32

const (
	stStarting procState = iota
	stRunning
	stTerminating
	stDead
)

// process is one actor. Immutable fields are set before the process is
// published; the behavior (beh, version, entryName) belongs to the
// process's goroutine; everything under mu is shared.
type process struct {
	rt        *Runtime
	pid       PID
	parent    PID
	sup       *supervisor   // non-nil for supervisors
	tree      *treeState    // nil outside trees
	sb        *sandboxState // tree.sb; nil outside sandboxes
	sbp       *sbProc       // this process's accounting in sb
	path      string        // child path inside the tree; "" for roots and standalone processes
	module    string        // the child spec's module ref ("counter", "counter@3"); "" when it names a behavior
	args      map[string]string
	startedAt time.Time
	restarts  int
	limit     int
	onExit    func(Reason)
	// initial is the state a worker imports right after its Init
	// (StartTreeWith). initDone is closed by the worker once its Init
	// has succeeded; it then waits for importDone, which its starter
	// closes once it has imported the state (see startWorker). Both nil
	// for a worker without one.
	initial              []byte
	initDone, importDone chan struct{}

	beh    Behavior
	logger hclog.Logger

	state      atomic.Int32
	trap       atomic.Bool
	stopping   atomic.Bool // a graceful stop was requested
	capturing  atomic.Bool // a history capture is queued
	out        atomic.Uint64
	stateBytes atomic.Int64
	queued     atomic.Int64 // bytes of queued bodies

	// Mirrors of mu-guarded state, written under mu, read lock-free by the
	// goroutine between the messages of a batch.
	urgentFlag atomic.Bool  // urgent.n > 0
	suspFlag   atomic.Bool  // suspended
	batchPos   atomic.Int64 // entries of batch already taken

	mu       sync.Mutex
	urgent   ring   // stop requests, served first
	sys      ring   // other system requests, in order with user
	user     ring   // behavior messages and supervisor commands
	arrivals uint64 // seq of the last envelope put in sys or user
	// batch holds user messages the goroutine took from user in one go;
	// entries from batchPos on are still queued (Peek and QueueLen count
	// them). Only the goroutine replaces it, under mu, once it is used up.
	batch       ring
	hiwater     int  // largest batch since the goroutine last parked
	waiting     bool // the goroutine is parked on wake
	busy        bool // the goroutine is handling an envelope
	closed      bool // dead: nothing is queued any more
	suspended   bool
	in          uint64
	name        string
	behavior    string // catalog name ("supervisor" for supervisors)
	version     string
	moved       bool // a code change set behavior
	exitReason  Reason
	links       map[uint64]*process
	monitors    map[uint64]*process // ref -> process this one watches
	monitoredBy map[uint64]*process // ref -> watcher
	// Links and monitors that cross to other nodes (remote.go): the
	// remote processes linked to this one, this one's monitors of remote
	// processes (ref -> target), and the remote watchers of this one,
	// each with the incarnation of the other node it is held towards.
	rlinks    map[PID]uint64
	rmonitors map[uint64]remoteMon
	rmonBy    map[remoteRef]uint64

	wake chan struct{}
	done chan struct{}
}

func (p *process) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *process) isAlive() bool { return procState(p.state.Load()) != stDead }

// deliver queues e in the user queue. force skips the mailbox limit (EXIT
// and DOWN messages, supervisor commands).
func (p *process) deliver(e envelope, force bool) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errNoProc(p.pid)
	}
	if !force && p.queueLen() >= p.limit {
		p.mu.Unlock()
		return &mailboxFullError{pid: p.pid, limit: p.limit}
	}
	w := p.deliverLocked(e)
	p.mu.Unlock()
	if w {
		p.signal()
	}
	return nil
}

// deliverLocked is deliver(e, true) for a caller already holding p.mu; it
// reports whether the caller must signal p after unlocking.
func (p *process) deliverLocked(e envelope) (wake bool) {
	if p.closed {
		return false
	}
	p.arrivals++
	e.seq = p.arrivals
	p.user.push(e)
	p.in++
	p.queued.Add(int64(len(e.msg.Body)))
	w := p.waiting
	p.waiting = false
	return w
}

// pushUrgent queues a stop request ahead of everything; the caller holds
// p.mu and signals p if it returns true.
func (p *process) pushUrgent(e envelope) (wake bool) {
	p.urgent.push(e)
	p.urgentFlag.Store(true)
	w := p.waiting
	p.waiting = false
	return w
}

// batchLeft is the number of batch entries not yet taken. The goroutine
// may call it without mu; anyone else holds mu.
func (p *process) batchLeft() int { return p.batch.n - int(p.batchPos.Load()) }

// queueLen counts queued user messages; the caller holds mu.
func (p *process) queueLen() int { return p.user.n + p.batchLeft() }

// takeBatched moves the next batch entry into dst. Entries are not zeroed
// one by one (Peek may be reading them); swapBatch clears a spent batch.
func (p *process) takeBatched(dst *envelope) {
	pos := p.batchPos.Load()
	*dst = *p.batch.at(int(pos))
	p.batchPos.Store(pos + 1)
	p.queued.Add(-int64(len(dst.msg.Body)))
}

// swapBatch moves every queued user message into the batch, in one step,
// reusing the spent batch's buffer for new arrivals. The caller holds mu
// and has used the batch up.
func (p *process) swapBatch() {
	p.batch.clearUsed()
	spent := p.batch.buf
	p.batch = p.user
	p.batchPos.Store(0)
	p.user = ring{buf: spent}
	p.hiwater = max(p.hiwater, p.batch.n)
}

// trimIdle runs as the goroutine parks with nothing queued: a buffer grown
// by a burst is released if the queue stayed under 1/16 of it since the
// last park, so steady traffic keeps its buffers (no regrowth churn) and a
// process idle after a burst gives the memory back. The caller holds mu.
func (p *process) trimIdle() {
	hw := max(p.hiwater, p.user.peak)
	if len(p.user.buf) > ringShrinkAbove && hw < len(p.user.buf)/16 {
		p.user = ring{}
	}
	if len(p.batch.buf) > ringShrinkAbove && hw < len(p.batch.buf)/16 {
		p.batch = ring{}
		p.batchPos.Store(0)
	}
	p.user.peak, p.hiwater = 0, 0
}

// control queues a system request: after the messages already queued, but
// served even while the process is suspended.
func (p *process) control(e envelope) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errNoProc(p.pid)
	}
	p.arrivals++
	e.seq = p.arrivals
	p.sys.push(e)
	w := p.waiting
	p.waiting = false
	p.mu.Unlock()
	if w {
		p.signal()
	}
	return nil
}

// next blocks until there is something to handle: a stop request first;
// then, in arrival order, system requests and user messages — only system
// requests while suspended, or while its sandbox is throttled (a worker
// over the sandbox's CPUPercent). It reports false once the process is
// dead.
//
// User messages are taken in batches: one lock acquisition moves all that
// are queued into p.batch, and the following calls walk it without the
// lock as long as nothing urgent, no suspension and no death intervenes.
// System requests that arrive meanwhile come after the whole batch in
// arrival order anyway, so they wait for it.
func (p *process) next(e *envelope) bool {
	if p.batchLeft() > 0 && !p.urgentFlag.Load() && !p.suspFlag.Load() && !p.throttled() && p.isAlive() {
		p.takeBatched(e)
		return true
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return false
		}
		got := true
		left := p.batchLeft()
		held := p.suspended || p.throttled() // user messages wait
		switch {
		case p.urgent.n > 0:
			p.urgent.popInto(e)
			p.urgentFlag.Store(p.urgent.n > 0)
		case p.sys.n > 0 && (held || (left == 0 && (p.user.n == 0 || p.sys.head1().seq < p.user.head1().seq))):
			p.sys.popInto(e)
		case held:
			got = false
		case left > 0:
			p.takeBatched(e)
		case p.user.n > 1 && p.sys.n == 0:
			p.swapBatch()
			p.takeBatched(e)
		case p.user.n > 0:
			p.user.popInto(e)
			p.queued.Add(-int64(len(e.msg.Body)))
		default:
			got = false
		}
		if got {
			p.busy = true
			p.mu.Unlock()
			return true
		}
		if p.user.n == 0 && p.batchLeft() == 0 {
			p.trimIdle()
		}
		p.waiting = true
		p.busy = false
		p.mu.Unlock()
		if p.sup != nil {
			p.rt.settle.notify()
		}
		<-p.wake
	}
}

// beginTerminate moves a live process to terminating; false if it is
// already dead.
func (p *process) beginTerminate() bool {
	for {
		cur := p.state.Load()
		if procState(cur) == stDead {
			return false
		}
		if procState(cur) == stTerminating || p.state.CompareAndSwap(cur, int32(stTerminating)) {
			return true
		}
	}
}

func (p *process) exitReasonAfterDone() Reason {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitReason
}

func errNoProc(pid PID) error { return fmt.Errorf("%w: %s", ErrNoProc, pid) }

// mailboxFullError is ErrMailboxFull for one process. It is built on a
// path senders retry in a loop, so it formats only when printed.
type mailboxFullError struct {
	pid   PID
	limit int
}

func (e *mailboxFullError) Error() string {
	return fmt.Sprintf("%s: %s holds %d messages", ErrMailboxFull, e.pid, e.limit)
}

func (e *mailboxFullError) Unwrap() error { return ErrMailboxFull }

// ---- worker loop ----

// runWorker is a worker's goroutine: init, then one envelope at a time.
// Its frame and next's are kept small so an idle process lives in the
// goroutine's initial stack.
func (p *process) runWorker(started chan<- error) {
	if !p.initWorker(started) {
		return
	}
	var e envelope
	for p.next(&e) {
		var exited bool
		switch e.class {
		case envSys:
			exited = p.handleSys(e)
		case envMsg:
			exited = p.handleMsg(e)
		case envSup:
			p.notSupervisor(e)
		default:
			panic(fmt.Sprintf("actor: unknown envelope class %d", e.class))
		}
		e = envelope{}
		if exited || !p.isAlive() {
			return
		}
	}
}

// initWorker runs Init and reports the outcome to the spawner.
//
//go:noinline
func (p *process) initWorker(started chan<- error) bool {
	err := p.callInit()
	if err == nil && p.importDone != nil {
		// The starter imports the initial state now, between Init and
		// the first message, in its own goroutine while this one waits
		// (nothing runs the behavior meanwhile): a decode on this fresh
		// goroutine would grow its stack, for every process of a tree.
		close(p.initDone)
		<-p.importDone
	}
	if errors.Is(err, ErrIgnore) {
		// OTP's ignore: the outcome, then a clean exit (normal, so no
		// link dies of it and the supervisor drops the EXIT of a pid it
		// never recorded); Terminate does not run, as in gen_server. The
		// outcome goes first (started is buffered): a starter woken by
		// the exit would otherwise find none and report a failure.
		if !p.beginTerminate() {
			started <- fmt.Errorf("%w: %s killed during init: %s", ErrStartFailed, p.pid, p.exitReasonAfterDone())
			return false
		}
		started <- fmt.Errorf("%w: %s (%s)", ErrIgnore, p.pid, p.behaviorName())
		p.rt.exitProc(p, Normal)
		return false
	}
	if err != nil {
		reason := Reason(err.Error())
		if _, r, _ := outcome(err); r != "" {
			reason = r
		}
		p.rt.exitProc(p, reason)
		started <- fmt.Errorf("%w: %s (%s): %s", ErrStartFailed, p.pid, p.behaviorName(), reason)
		return false
	}
	if !p.state.CompareAndSwap(int32(stStarting), int32(stRunning)) {
		started <- fmt.Errorf("%w: %s killed during init: %s", ErrStartFailed, p.pid, p.exitReasonAfterDone())
		return false
	}
	started <- nil
	return true
}

//go:noinline
func (p *process) notSupervisor(e envelope) {
	if e.reply != nil {
		e.reply <- reply{err: fmt.Errorf("%w: %s", ErrNotSupervisor, p.pid)}
	}
}

func (p *process) behaviorName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.behavior
}

func (p *process) callInit() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in init: %v", r)
		}
	}()
	return p.beh.Init(p)
}

func (p *process) dispatch(m Message) (body []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	switch m.Kind {
	case KindCall:
		return p.beh.HandleCall(p, m)
	case KindCast:
		return nil, p.beh.HandleCast(p, m)
	default:
		return nil, p.beh.HandleInfo(p, m)
	}
}

func (p *process) callTerminate(reason Reason) {
	defer func() {
		if r := recover(); r != nil {
			p.rt.log.Warn("terminate panicked", "pid", p.pid.String(), "panic", fmt.Sprint(r))
		}
	}()
	p.beh.Terminate(p, reason)
}

// handleMsg runs one behavior callback; true when the process exited.
func (p *process) handleMsg(e envelope) bool {
	var mark callbackMark
	if p.sb != nil {
		mark = p.sb.beginCallback(p)
	}
	body, err := p.dispatch(e.msg)
	if p.sb != nil {
		p.sb.endCallback(p, mark)
	}
	stop, reason, refused := outcome(err)
	if e.msg.Kind == KindCall {
		switch {
		case refused:
			e.reply <- reply{err: err}
		case stop:
			e.reply <- reply{err: fmt.Errorf("%w: %s exited while handling the call: %s", ErrNoProc, p.pid, reason)}
		default:
			e.reply <- reply{body: body}
		}
	} else if refused {
		p.rt.log.Debug("message refused", "pid", p.pid.String(), "kind", e.msg.Kind.String(), "error", err)
	}
	if stop {
		p.terminate(reason)
		return true
	}
	if s, ok := p.beh.(Sizer); ok {
		if n, ok := p.approxSize(s); ok {
			p.stateBytes.Store(n)
			if p.sb != nil {
				p.sb.accountMemory(p, n)
			}
		}
	}
	if p.sbp != nil && p.sbp.tracedUp.Load() != 0 {
		p.sb.captureTracedUp(p)
	}
	return false
}

// terminate runs Terminate and exits; used when the process itself decides
// (Stop, crash) or its supervisor asks for a graceful stop.
func (p *process) terminate(reason Reason) {
	if !p.beginTerminate() {
		return
	}
	if reason.Abnormal() {
		p.rt.log.Debug("process crashed", "pid", p.pid.String(), "reason", string(reason))
	}
	p.callTerminate(reason)
	p.rt.exitProc(p, reason)
}

// ---- Proc, the behavior's view of its process ----

var _ Proc = (*process)(nil)

func (p *process) Self() PID      { return p.pid }
func (p *process) Parent() PID    { return p.parent }
func (p *process) Now() time.Time { return p.rt.clock.Now() }

func (p *process) Name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.name
}

func (p *process) Logger() hclog.Logger {
	if p.logger == nil {
		p.logger = p.rt.log.With("pid", p.pid.String())
	}
	return p.logger
}

func (p *process) Send(to PID, body []byte) error {
	return p.rt.send(p, to, Message{Kind: KindInfo, From: p.pid, Body: body}, false)
}

func (p *process) Cast(to PID, body []byte) error {
	return p.rt.send(p, to, Message{Kind: KindCast, From: p.pid, Body: body}, false)
}

func (p *process) Call(ctx context.Context, to PID, body []byte) ([]byte, error) {
	return p.rt.call(ctx, p, to, Message{Kind: KindCall, From: p.pid, Body: body})
}

func (p *process) WhereIs(name string) (PID, bool) { return p.rt.whereIsFrom(p, name) }

func (p *process) SendAfter(d time.Duration, body []byte) func() {
	t := p.rt.clock.AfterFunc(d, func() {
		_ = p.deliver(envelope{msg: Message{Kind: KindInfo, From: p.pid, Body: body}}, false)
	})
	return func() { t.Stop() }
}

func (p *process) Link(to PID) error { return p.rt.link(p, to) }
func (p *process) Unlink(to PID)     { p.rt.unlink(p, to) }

func (p *process) Monitor(to PID) (uint64, error) { return p.rt.monitor(p, to) }
func (p *process) Demonitor(ref uint64)           { p.rt.demonitor(p, ref) }
func (p *process) TrapExit(on bool)               { p.trap.Store(on) }
