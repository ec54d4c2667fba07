package actor

import (
	"sync"
	"time"
)

// maxRestartLog bounds the node's record of restart decisions (entries);
// the oldest are forgotten first.
const maxRestartLog = 4096

// restartLog records when this node's supervisors decided to restart: one
// entry per child exit answered with a restart, however many children the
// strategy restarts for it (one_for_all, rest_for_one) — the count OTP
// holds against a supervisor's intensity. Entries outlive the supervisor
// that made them, so a deleted tree's restarts still count for the node.
type restartLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *restartLog) add(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.times) == maxRestartLog {
		copy(l.times, l.times[1:])
		l.times = l.times[:maxRestartLog-1]
	}
	l.times = append(l.times, t)
}

func (l *restartLog) since(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := len(l.times) - 1; i >= 0 && l.times[i].After(t); i-- {
		n++
	}
	return n
}

// RestartsSince counts the restarts this node's supervisors decided after
// t: one per child exit answered with a restart (a group restart of
// one_for_all or rest_for_one counts once, as against OTP's intensity),
// including retries of a failed restart.
func (rt *Runtime) RestartsSince(t time.Time) int { return rt.restarts.since(t) }
