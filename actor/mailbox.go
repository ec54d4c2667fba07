package actor

// envClass separates what travels through a process's queues.
type envClass uint8

const (
	// envMsg is a behavior message; msg.Kind says which callback.
	envMsg envClass = iota
	// envSup is a supervisor command (a supCommand in req). It travels in the
	// user queue, as OTP's supervisor calls do, so a suspended supervisor
	// does not act on it until resumed.
	envSup
	// envSys is a system request (a sysRequest in req). A stop request
	// travels in the urgent queue, ahead of everything, as an exit signal
	// does; the others travel in the sys queue, in arrival order with user
	// messages but served even while suspended, as OTP's sys messages are.
	envSys
)

// envelope is one queued item. It is stored by value in the rings, so a
// send allocates nothing.
type envelope struct {
	msg   Message
	class envClass
	seq   uint64 // arrival order across the sys and user queues
	reply chan reply
	req   request // envSys and envSup only
}

// request is what a control envelope carries: a sysRequest (class envSys)
// or a supCommand (class envSup). Envelopes are built by sysEnvelope and
// supEnvelope, so class and req agree.
type request interface {
	class() envClass
}

// reply answers a call, a system request or a supervisor command.
type reply struct {
	body []byte
	val  any
	err  error
}

// ring is a growable FIFO of envelopes with power-of-two capacity. A
// buffer grown by a burst is released when the queue empties after a
// period in which it never filled a quarter of it (here, and in
// process.trimIdle for batched traffic), so steady traffic does not regrow
// it over and over and an idle process holds little.
type ring struct {
	buf  []envelope
	head int
	n    int
	peak int // largest n since the queue was last empty
}

const ringShrinkAbove = 256

func (r *ring) push(e envelope) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = e
	r.n++
	if r.n > r.peak {
		r.peak = r.n
	}
}

func (r *ring) grow() {
	size := len(r.buf) * 2
	if size == 0 {
		size = 4
	}
	nb := make([]envelope, size)
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = nb, 0
}

// head is the next envelope to pop; the ring must not be empty.
func (r *ring) head1() *envelope { return &r.buf[r.head] }

// popInto moves the head envelope into dst (no large temporaries: this
// runs on every process goroutine's smallest stack).
func (r *ring) popInto(dst *envelope) {
	*dst = r.buf[r.head]
	r.buf[r.head] = envelope{}
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > ringShrinkAbove && r.peak < len(r.buf)/4 {
			r.buf = nil
		}
		r.peak = 0
	}
}

// at returns the i-th queued envelope (0 = next to pop).
func (r *ring) at(i int) *envelope { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring) reset() { *r = ring{} }

// clearUsed zeroes the entries that held the last n envelopes (from head),
// so their bodies can be collected, without touching the rest.
func (r *ring) clearUsed() {
	if r.n == 0 {
		return
	}
	end := r.head + r.n
	if end <= len(r.buf) {
		clear(r.buf[r.head:end])
	} else {
		clear(r.buf[r.head:])
		clear(r.buf[:end-len(r.buf)])
	}
}
