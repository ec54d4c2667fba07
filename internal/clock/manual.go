package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Manual is a Clock whose time moves only when Advance is called; timers
// that fall due fire in Advance, in deadline order, synchronously. It is
// for tests: a test waits until the code under test has armed its timers
// (WaitForTimers), then advances the clock past them.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer // armed
	seq     uint64
	changed chan struct{} // closed and replaced when a timer is armed
}

type manualTimer struct {
	m     *Manual
	at    time.Time
	seq   uint64
	armed bool
	c     chan time.Time // NewTimer's; nil for AfterFunc's
	f     func()         // AfterFunc's
}

var _ Clock = (*Manual)(nil)

// NewManual starts a manual clock at start (a zero start means
// 2025-01-01 UTC).
func NewManual(start time.Time) *Manual {
	if start.IsZero() {
		start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &Manual{now: start, changed: make(chan struct{})}
}

// Now is the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// NewTimer arms a timer; a non-positive d fires it at once.
func (m *Manual) NewTimer(d time.Duration) Timer {
	t := &manualTimer{m: m, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// AfterFunc arms a timer that calls f (in Advance) once d has passed; a
// non-positive d calls f at once in its own goroutine, as time.AfterFunc
// does. The timer's C is nil.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	t := &manualTimer{m: m, f: f}
	t.Reset(d)
	return t
}

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	return t.disarm()
}

func (t *manualTimer) Reset(d time.Duration) bool {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	was := t.disarm()
	m.seq++
	t.at, t.seq = m.now.Add(d), m.seq
	if d <= 0 {
		t.fire(m.now, true)
		return was
	}
	t.armed = true
	m.timers = append(m.timers, t)
	close(m.changed)
	m.changed = make(chan struct{})
	return was
}

// disarm takes t off the clock and drops a time it delivered and nobody
// received; m.mu is held.
func (t *manualTimer) disarm() bool {
	if t.c != nil {
		select {
		case <-t.c:
		default:
		}
	}
	if !t.armed {
		return false
	}
	t.armed = false
	for i, x := range t.m.timers {
		if x == t {
			t.m.timers = append(t.m.timers[:i], t.m.timers[i+1:]...)
			break
		}
	}
	return true
}

// fire delivers now on t's channel (m.mu held: Stop and Reset see it
// delivered or not at all), or calls f: in its own goroutine when async,
// else by the caller once m.mu is released (fire returns it to call).
func (t *manualTimer) fire(now time.Time, async bool) func() {
	t.armed = false
	if t.c != nil {
		select {
		case t.c <- now:
		default:
		}
		return nil
	}
	if async {
		go t.f()
		return nil
	}
	return t.f
}

// Advance moves the clock forward by d, firing every timer that falls due
// (timers armed by those fire too when they fall within d).
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	end := m.now.Add(d)
	m.mu.Unlock()
	for {
		m.mu.Lock()
		sort.Slice(m.timers, func(i, j int) bool {
			if !m.timers[i].at.Equal(m.timers[j].at) {
				return m.timers[i].at.Before(m.timers[j].at)
			}
			return m.timers[i].seq < m.timers[j].seq
		})
		if len(m.timers) == 0 || m.timers[0].at.After(end) {
			m.now = end
			m.mu.Unlock()
			return
		}
		t := m.timers[0]
		m.timers = m.timers[1:]
		if t.at.After(m.now) {
			m.now = t.at
		}
		f := t.fire(m.now, false)
		m.mu.Unlock()
		if f != nil {
			f()
		}
	}
}

// Pending is the number of armed timers.
func (m *Manual) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

// WaitForTimers blocks until at least n timers are armed, or ctx ends.
func (m *Manual) WaitForTimers(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		have, ch := len(m.timers), m.changed
		m.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
