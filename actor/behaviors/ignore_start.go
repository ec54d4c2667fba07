package behaviors

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/steward/steward/actor"
)

// IgnoreStart is a child whose start returns OTP's ignore (actor.Ignore):
// the process exits normally at once, and its supervisor keeps the child's
// spec with no process (state terminated, OTP's pid undefined) or, for a
// temporary child or a simple_one_for_one instance, keeps nothing. The
// start counts as done: the supervisor's own start goes on, StartChild
// answers the zero PID and no error, and a restart_child tries the start
// again — the drill for a child that declines to run.
//
// Without a key every start is ignored. With a key its starts are counted
// in the catalog's Drills (the same counts as flaky_start's, so give each
// drill its own key) and only the first ignore_starts of them are
// ignored: the later ones run, so a restart_child can bring the child up.
//
// Args: key (optional: whose starts count), ignore_starts (integer >= 1,
// needs key; default: every start is ignored).
// Bodies (once a start runs): the drill commands ("crash", "stop",
// "exit <reason>", call "ping"); call "starts" -> the key's count.
// State: {"key": K, "start": N} (N: which start of the key this process is).
type IgnoreStart struct {
	drill
	Key   string `json:"key,omitempty"`
	Start int64  `json:"start,omitempty"`

	d       *Drills
	ignored int64 // starts of Key that are ignored; 0: all
}

func (d *Drills) newIgnoreStart(m map[string]string) (actor.Behavior, error) {
	a, err := parseArgs("ignore_start", m, "key", "ignore_starts")
	if err != nil {
		return nil, err
	}
	g := &IgnoreStart{drill: drill{name: "ignore_start"}, d: d}
	if _, ok := m["key"]; ok {
		if g.Key, err = a.token("key"); err != nil {
			return nil, err
		}
	}
	if g.ignored, err = a.int("ignore_starts", 0, 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if _, ok := m["ignore_starts"]; ok && g.Key == "" {
		return nil, a.bad("ignore_starts", m["ignore_starts"], "a key to count starts by (set key)")
	}
	return g, nil
}

func (g *IgnoreStart) Init(actor.Proc) error {
	if g.Key == "" {
		return actor.Ignore()
	}
	g.Start = g.d.countStart(g.Key)
	if g.ignored == 0 || g.Start <= g.ignored {
		return actor.Ignore()
	}
	return nil
}

func (g *IgnoreStart) HandleCall(p actor.Proc, m actor.Message) ([]byte, error) {
	if verb, _ := command(m.Body); verb == "starts" {
		return []byte(strconv.FormatInt(g.d.Starts(g.Key), 10)), nil
	}
	return g.drill.HandleCall(p, m)
}

func (g *IgnoreStart) ExportState() ([]byte, error) { return json.Marshal(g) }

func (g *IgnoreStart) ImportState(b []byte) error {
	var st struct {
		Start int64 `json:"start"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("ignore_start state: %w", err)
	}
	g.Start = st.Start
	return nil
}
