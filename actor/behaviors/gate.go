package behaviors

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward/steward/actor"
)

// GatedStart is a child whose every start (Init) waits until its gate is
// open. Gates live in the catalog's Drills and are open until closed; an
// operator closes and opens them through a gate process (see Gate), so a
// restart can be held for as long as a drill needs:
//
//	steward proc send tree:drill/gate "close db" --kind cast
//	steward proc send tree:drill/db crash --kind cast     # the restart holds
//	steward proc send tree:drill/gate "open db" --kind cast
//
// While it holds, its supervisor is busy starting it (as an OTP
// supervisor in a slow init): open the gate before stopping the tree, or
// its stop waits too.
//
// Args: gate (required: the gate's name), timeout_ms (0..86400000,
// default 0: wait until opened; else the start fails if the gate is
// still closed after that long).
// Bodies: the drill commands ("crash", "stop", "exit <reason>", call
// "ping").
// State: {"gate": G}.
type GatedStart struct {
	drill
	Gate string `json:"gate"`

	d       *Drills
	timeout time.Duration
}

func (d *Drills) newGatedStart(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("gated_start", m, "gate", "timeout_ms")
	if err != nil {
		return nil, err
	}
	g := &GatedStart{drill: drill{name: "gated_start"}, d: d}
	if g.Gate, err = a.token("gate"); err != nil {
		return nil, err
	}
	if g.timeout, err = a.millis("timeout_ms", 0); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *GatedStart) Init(p actor.Proc) error {
	if st, ok := g.d.Gates()[g.Gate]; ok && !st.Open {
		p.Logger().Info("gated_start: waiting for the gate to open", "gate", g.Gate)
	}
	if err := g.d.pass(g.Gate, g.timeout); err != nil {
		return fmt.Errorf("gated_start: gate %s: %w", g.Gate, err)
	}
	return nil
}

func (g *GatedStart) ExportState() ([]byte, error) { return json.Marshal(g) }

// Gate is the operator's handle on the catalog's Drills: a process (a
// child of the drill's tree, or one with a registered name) whose
// messages open and close the gates and reset flaky_start counts. The
// gates are the runtime's, not the process's: they stay as they are when
// it restarts or stops.
//
// Args: closed (optional: gate names, comma-separated, closed when the
// process starts).
// Bodies (cast, call or plain send): "open <gate>" opens it (a held
// start goes on), "open" opens every gate, "close <gate>" closes it;
// a call answers "<gate> open|closed"; call "status" answers the gates
// as JSON, {"db": {"open": false, "waiting": 1}}. "reset <key>" forgets
// flaky_start's count for key (its next start is a first), for a
// flaky_start child that has no process to send "reset" to. Also the
// drill commands ("crash", "stop", "exit <reason>", call "ping").
// State: the gates, as "status" answers them; ReplaceState with such a
// map opens and closes the gates it names.
type Gate struct {
	drill
	d      *Drills
	closed []string
}

func (d *Drills) newGate(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("gate", m, "closed")
	if err != nil {
		return nil, err
	}
	g := &Gate{drill: drill{name: "gate"}, d: d}
	if v, ok := m["closed"]; ok {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if n == "" || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' }) {
				return nil, a.bad("closed", v, "gate names without whitespace, comma-separated")
			}
			g.closed = append(g.closed, n)
		}
	}
	return g, nil
}

func (g *Gate) Init(actor.Proc) error {
	for _, n := range g.closed {
		g.d.Close(n)
	}
	return nil
}

// errGateUsage is a gate command without the gate it needs.
var errGateUsage = errors.New(`want "open [gate]", "close <gate>", "reset <key>" or "status"`)

// command runs a gate command; ok is false when the verb is not one.
func (g *Gate) command(m actor.Message) (reply []byte, ok bool, err error) {
	verb, rest := command(m.Body)
	switch verb {
	case "open":
		if rest == "" {
			g.d.OpenAll()
			return []byte("all open"), true, nil
		}
		g.d.Open(rest)
		return []byte(rest + " open"), true, nil
	case "close":
		if rest == "" || strings.ContainsFunc(rest, func(r rune) bool { return r <= ' ' }) {
			return nil, true, errGateUsage
		}
		g.d.Close(rest)
		return []byte(rest + " closed"), true, nil
	case "reset":
		if rest == "" || strings.ContainsFunc(rest, func(r rune) bool { return r <= ' ' }) {
			return nil, true, errGateUsage
		}
		g.d.ResetStarts(rest)
		return []byte(rest + " reset"), true, nil
	case "status":
		b, err := g.ExportState()
		return b, true, err
	}
	return nil, false, nil
}

func (g *Gate) HandleCall(p actor.Proc, m actor.Message) ([]byte, error) {
	b, ok, err := g.command(m)
	switch {
	case !ok:
		return g.drill.HandleCall(p, m)
	case err != nil:
		return nil, actor.Refuse("gate: %v", err)
	}
	return b, nil
}

func (g *Gate) HandleCast(p actor.Proc, m actor.Message) error {
	if _, ok, err := g.command(m); ok {
		if err != nil {
			p.Logger().Warn("gate: bad command", "body", string(m.Body), "error", err)
		}
		return nil
	}
	return g.drill.HandleCast(p, m)
}

func (g *Gate) HandleInfo(p actor.Proc, m actor.Message) error {
	if m.Kind != actor.KindExit {
		if _, ok, err := g.command(m); ok {
			if err != nil {
				p.Logger().Warn("gate: bad command", "body", string(m.Body), "error", err)
			}
			return nil
		}
	}
	return g.drill.HandleInfo(p, m)
}

func (g *Gate) ExportState() ([]byte, error) { return json.Marshal(g.d.Gates()) }

func (g *Gate) ImportState(b []byte) error {
	var st map[string]GateState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("gate state: %w", err)
	}
	for n, s := range st {
		if s.Open {
			g.d.Open(n)
		} else {
			g.d.Close(n)
		}
	}
	return nil
}
