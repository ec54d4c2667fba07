package behaviors

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/steward/steward/actor"
)

// FlakyStart is a child whose first start succeeds and whose later starts
// fail: the supervisor's first restart of it fails, its retries fail, and
// it ends in escalation — the drill for OTP's try_again_restart and
// intensity.
//
// Its starts are counted per key in the catalog's Drills, so the count
// survives the process: every incarnation of a child (and every child
// that names the same key) adds one.
//
// Args: key (required: whose starts count), ok_starts (integer >= 1,
// default 1: how many starts of the key succeed), start_ms (0..86400000,
// default 0: each start first waits this long, so a start in progress
// can be watched).
// Bodies: the drill commands ("crash", "stop", "exit <reason>", call
// "ping"); call "starts" -> the key's count; "reset" forgets it (the next
// start is a first again).
// State: {"key": K, "start": N} (N: which start of the key this process is).
type FlakyStart struct {
	drill
	Key   string `json:"key"`
	Start int64  `json:"start"`

	d        *Drills
	okStarts int64
	delay    time.Duration
}

func (d *Drills) newFlakyStart(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("flaky_start", m, "key", "ok_starts", "start_ms")
	if err != nil {
		return nil, err
	}
	f := &FlakyStart{drill: drill{name: "flaky_start"}, d: d}
	if f.Key, err = a.token("key"); err != nil {
		return nil, err
	}
	if f.okStarts, err = a.int("ok_starts", 1, 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if f.delay, err = a.millis("start_ms", 0); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FlakyStart) Init(actor.Proc) error {
	f.Start = f.d.countStart(f.Key)
	f.d.sleep(f.delay)
	if f.Start > f.okStarts {
		return fmt.Errorf("flaky_start %s: start %d fails (ok_starts %d)", f.Key, f.Start, f.okStarts)
	}
	return nil
}

func (f *FlakyStart) HandleCall(p actor.Proc, m actor.Message) ([]byte, error) {
	if b, ok := f.command(m); ok {
		return b, nil
	}
	return f.drill.HandleCall(p, m)
}

func (f *FlakyStart) HandleCast(p actor.Proc, m actor.Message) error {
	if _, ok := f.command(m); ok {
		return nil
	}
	return f.drill.HandleCast(p, m)
}

func (f *FlakyStart) command(m actor.Message) ([]byte, bool) {
	switch verb, _ := command(m.Body); verb {
	case "starts":
		return []byte(strconv.FormatInt(f.d.Starts(f.Key), 10)), true
	case "reset":
		f.d.ResetStarts(f.Key)
		return []byte("0"), true
	}
	return nil, false
}

func (f *FlakyStart) ExportState() ([]byte, error) { return json.Marshal(f) }

func (f *FlakyStart) ImportState(b []byte) error {
	var st struct {
		Start int64 `json:"start"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("flaky_start state: %w", err)
	}
	f.Start = st.Start
	return nil
}
