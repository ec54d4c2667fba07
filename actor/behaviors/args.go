package behaviors

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/steward/steward/actor"
)

// args reads a behavior's args, refusing unknown keys, so a typo in a spec
// is an error rather than a silently ignored setting.
type args struct {
	behavior string
	m        map[string]string
}

func parseArgs(behavior string, m map[string]string, known ...string) (args, error) {
	var unknown []string
	for k := range m {
		found := false
		for _, kn := range known {
			if k == kn {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		want := "none"
		if len(known) > 0 {
			want = strings.Join(known, ", ")
		}
		return args{}, fmt.Errorf("%w: %s: unknown arg %s (known: %s)", actor.ErrBadArgs, behavior, strings.Join(unknown, ", "), want)
	}
	return args{behavior: behavior, m: m}, nil
}

func (a args) bad(key, v, want string) error {
	return fmt.Errorf("%w: %s: arg %s=%q: want %s", actor.ErrBadArgs, a.behavior, key, v, want)
}

func (a args) int(key string, def, min, max int64) (int64, error) {
	v, ok := a.m[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, a.bad(key, v, fmt.Sprintf("an integer in %d..%d", min, max))
	}
	return n, nil
}

func (a args) bool(key string) (bool, error) {
	v, ok := a.m[key]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, a.bad(key, v, "true or false")
	}
	return b, nil
}

func (a args) duration(key string, min, max time.Duration) (time.Duration, error) {
	v, ok := a.m[key]
	if !ok {
		return 0, a.bad(key, "", "a duration (required)")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		return 0, a.bad(key, v, fmt.Sprintf("a duration in [%s, %s]", min, max))
	}
	return d, nil
}

func (a args) str(key, def string) string {
	if v, ok := a.m[key]; ok {
		return v
	}
	return def
}

// base gives the callbacks most natives share: no-op Init and Terminate,
// and a code change that imports the old JSON state (the natives keep one
// state format across versions).
type base struct{}

func (base) Init(actor.Proc) error                      { return nil }
func (base) Terminate(actor.Proc, actor.Reason)         {}
func (base) HandleInfo(actor.Proc, actor.Message) error { return nil }
func (base) HandleCast(actor.Proc, actor.Message) error { return nil }
func (base) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	return nil, actor.Refuse("unknown call %q", m.Body)
}

// command splits a text body into its verb and the rest.
func command(body []byte) (verb, rest string) {
	s := strings.TrimSpace(string(body))
	verb, rest, _ = strings.Cut(s, " ")
	return verb, strings.TrimSpace(rest)
}
