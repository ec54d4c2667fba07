package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Delayer is netem's delay, jitter and loss done in user space, for
// kernels without sch_netem (this machine's has none): an iptables
// NFQUEUE rule hands each outgoing packet of a node to the harness, which
// drops a share of them at random and gives the others their verdict
// (accept) after delay ± jitter, uniform, as netem does. Packets whose
// jitter puts them before an earlier one go out first: the reordering
// netem's jitter causes too.
//
// Limits: at most DelayQueueLen packets wait at once (the kernel drops
// what does not fit, as netem drops past its limit); the delay is at most
// MaxDelay. A Delayer serves one queue in one network namespace.
type Delayer struct {
	nf     *nfqueue.Nfqueue
	cancel context.CancelFunc
	nsPath string
	queue  uint16
	delay  time.Duration
	jitter time.Duration
	loss   float64

	mu      sync.Mutex
	rng     *rand.Rand
	pending map[uint32]*time.Timer
	closed  bool
	// Counted: packets seen, dropped by loss, delayed then accepted, and
	// verdicts the kernel refused (the packet had gone: queue flushed).
	seen, dropped, accepted, verdictErrs int
}

// Delayer limits.
const (
	DelayQueueLen = 16384
	MaxDelay      = 10 * time.Second
	delayRcvBuf   = 16 << 20
)

// DelayerStats counts what a Delayer did; KernelDropped is what the
// kernel dropped before the delayer saw it (queue full, or the socket's
// buffer: /proc/net/netfilter/nfnetlink_queue), -1 when unread.
type DelayerStats struct {
	Seen, Dropped, Accepted, VerdictErrors int
	KernelDropped                          int
}

// StartDelayer binds NFQUEUE queue in the network namespace at nsPath
// ("": this process's) and delays, jitters and drops what the kernel
// queues there until Stop. loss is a share, 0 to 1.
func StartDelayer(nsPath string, queue uint16, delay, jitter time.Duration, loss float64, seed int64) (*Delayer, error) {
	switch {
	case delay < 0 || delay > MaxDelay:
		return nil, fmt.Errorf("delay %s: 0 to %s", delay, MaxDelay)
	case jitter < 0 || jitter > delay:
		return nil, fmt.Errorf("jitter %s: 0 to the delay (%s)", jitter, delay)
	case loss < 0 || loss > 1:
		return nil, fmt.Errorf("loss %g: a share from 0 to 1", loss)
	}
	cfg := nfqueue.Config{
		NfQueue:      queue,
		MaxQueueLen:  DelayQueueLen,
		Copymode:     nfqueue.NfQnlCopyMeta,
		WriteTimeout: time.Second,
	}
	if nsPath != "" {
		f, err := os.Open(nsPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cfg.NetNS = int(f.Fd())
	}
	nf, err := nfqueue.Open(&cfg)
	if err != nil {
		return nil, fmt.Errorf("nfqueue %d in %s: %w", queue, nsPath, err)
	}
	if err := nf.SetOption(netlink.NoENOBUFS, true); err != nil {
		nf.Close()
		return nil, fmt.Errorf("nfqueue %d: %w", queue, err)
	}
	// A receive buffer past rmem_max (we are root): the kernel drops what
	// it cannot hand over, and a busy harness must not add loss.
	if rc, err := nf.Con.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, delayRcvBuf)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Delayer{nf: nf, cancel: cancel, nsPath: nsPath, queue: queue, delay: delay, jitter: jitter, loss: loss,
		rng: rand.New(rand.NewSource(seed)), pending: map[uint32]*time.Timer{}}
	// A read error other than the end of the run does not stop the queue:
	// the packets keep their verdicts coming.
	err = nf.RegisterWithErrorFunc(ctx, d.packet, func(error) int {
		if ctx.Err() != nil {
			return 1
		}
		return 0
	})
	if err != nil {
		cancel()
		nf.Close()
		return nil, fmt.Errorf("nfqueue %d: register: %w", queue, err)
	}
	return d, nil
}

// packet decides one queued packet's fate.
func (d *Delayer) packet(a nfqueue.Attribute) int {
	if a.PacketID == nil {
		return 0
	}
	id := *a.PacketID
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0
	}
	d.seen++
	if d.loss > 0 && d.rng.Float64() < d.loss {
		d.dropped++
		d.verdict(id, nfqueue.NfDrop)
		return 0
	}
	wait := d.delay
	if d.jitter > 0 {
		wait += time.Duration(d.rng.Int63n(int64(2*d.jitter)+1)) - d.jitter
	}
	d.pending[id] = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, ok := d.pending[id]; !ok {
			return
		}
		delete(d.pending, id)
		d.accepted++
		d.verdict(id, nfqueue.NfAccept)
	})
	return 0
}

// verdict sends one verdict; d.mu is held.
func (d *Delayer) verdict(id uint32, v int) {
	if err := d.nf.SetVerdict(id, v); err != nil {
		d.verdictErrs++
	}
}

// Stop lets every waiting packet go at once, unbinds the queue and
// returns the counts. Remove the NFQUEUE rule first, or the kernel drops
// what it queues once nobody listens (the rule's --queue-bypass lets it
// pass instead).
func (d *Delayer) Stop() DelayerStats {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for id, t := range d.pending {
			if t.Stop() {
				d.accepted++
				d.verdict(id, nfqueue.NfAccept)
			}
			delete(d.pending, id)
		}
	}
	st := DelayerStats{Seen: d.seen, Dropped: d.dropped, Accepted: d.accepted, VerdictErrors: d.verdictErrs}
	d.mu.Unlock()
	st.KernelDropped = d.kernelDropped()
	d.cancel()
	_ = d.nf.Close()
	return st
}

// kernelDropped reads the queue's queue_dropped and user_dropped from
// /proc/net/netfilter/nfnetlink_queue in the delayer's namespace (-1 when
// that fails).
func (d *Delayer) kernelDropped() int {
	b, err := readInNetns(d.nsPath, "/proc/thread-self/net/netfilter/nfnetlink_queue")
	if err != nil {
		return -1
	}
	// queue_number peer_portid queue_total copy_mode copy_range
	// queue_dropped user_dropped id_sequence 1
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != strconv.Itoa(int(d.queue)) {
			continue
		}
		qd, err1 := strconv.Atoi(f[5])
		ud, err2 := strconv.Atoi(f[6])
		if err1 != nil || err2 != nil {
			return -1
		}
		return qd + ud
	}
	return -1
}

// readInNetns reads file in the network namespace at nsPath ("": this
// one).
func readInNetns(nsPath, file string) ([]byte, error) {
	if nsPath == "" {
		return os.ReadFile(file)
	}
	var b []byte
	err := InNetns(nsPath, func() error {
		var err error
		b, err = os.ReadFile(file)
		return err
	})
	return b, err
}
