package actor

import (
	"strings"
	"testing"
)

// bogus is a request outside both sealed sets: only this package could
// build one, and every handler must refuse it loudly rather than answer.
type bogus struct{}

func (bogus) class() envClass { return envSup }

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one naming %q", want)
		}
		if s, _ := r.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %v, want one naming %q", r, want)
		}
	}()
	f()
}

func TestUnknownRequestsPanic(t *testing.T) {
	rc := make(chan reply, 1)
	e := envelope{class: envSup, req: bogus{}, reply: rc}
	mustPanic(t, "unknown supervisor command actor.bogus", func() { (&supervisor{}).handleCmd(e) })
	e.class = envSys
	mustPanic(t, "unknown system request actor.bogus", func() { (&supervisor{}).handleSys(e) })
	mustPanic(t, "unknown system request actor.bogus", func() { (&process{}).handleSys(e) })
	select {
	case r := <-rc:
		t.Fatalf("an unknown request was answered: %+v", r)
	default:
	}
}

func TestEnvelopesCarryTheirClass(t *testing.T) {
	for _, r := range []sysRequest{sysStop{}, sysGetState{}, sysReplaceState{}, sysCodeChange{}, sysCapture{}} {
		if e := sysEnvelope(r, nil); e.class != envSys || r.class() != envSys {
			t.Errorf("%T: class %d", r, e.class)
		}
	}
	for _, c := range []supCommand{supStartChild{}, supStartDynamic{}, supTerminateChild{}, supRestartChild{}, supRestartInPlace{},
		supDeleteChild{}, supSetPolicy{}, supApply{}, supRetry{}} {
		if e := supEnvelope(c, nil); e.class != envSup || c.class() != envSup {
			t.Errorf("%T: class %d", c, e.class)
		}
	}
}
