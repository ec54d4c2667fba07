package actor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// StartTreeWith starts a tree whose workers hold their initial states
// before they take a message: a nested worker too, a state captured on
// another behavior or refused by ImportState is not imported (the worker
// runs from its Init), a path no worker has is reported, and a later
// restart of the slot starts from Init alone, as OTP's would.
func TestStartTreeWithInitialStates(t *testing.T) {
	e := newEnv(t)
	tr := tree("restored", spec.OneForOne,
		worker("a", "counter"),
		sup("s", spec.OneForOne, worker("b", "counter"), worker("c", "counter"), worker("d", "counter")))
	res, err := e.rt.StartTreeWith(e.ctx, tr, map[string]actor.InitialState{
		"a":    {Behavior: "counter", State: []byte(`{"count":7,"messages":2}`)},
		"s/b":  {Behavior: "counter", State: []byte(`{"count":40}`)},
		"s/c":  {Behavior: "echo", State: []byte(`{"count":1}`)},
		"s/d":  {Behavior: "counter", State: []byte(`{"messages":3}`)},
		"s/zz": {Behavior: "counter", State: []byte(`{"count":1}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || len(res.Failures) != 3 {
		t.Fatalf("imported %d, failures %q", res.Imported, res.Failures)
	}
	for i, want := range []string{`s/c: not imported: it was captured running "echo" and starts "counter"`, `s/d: import refused`, `s/zz: no worker`} {
		if !strings.HasPrefix(res.Failures[i], want) {
			t.Fatalf("failure %d is %q, want it to start %q", i, res.Failures[i], want)
		}
	}
	for path, want := range map[string]string{"a": "7", "s/b": "40", "s/c": "0", "s/d": "0"} {
		if got := e.call(e.resolve("restored", path), "get"); got != want {
			t.Fatalf("%s holds %s, want %s", path, got, want)
		}
	}
	a := e.resolve("restored", "a")
	if err := e.rt.Kill(a, "test"); err != nil {
		t.Fatal(err)
	}
	e.awaitChild(actor.EventRestarted, "restored", "a")
	if got := e.call(e.resolve("restored", "a"), "get"); got != "0" {
		t.Fatalf("a restarted holds %s: the initial state was taken again", got)
	}
	if _, err := e.rt.StartTreeWith(e.ctx, tr, nil); !errors.Is(err, actor.ErrTreeExists) {
		t.Fatalf("StartTreeWith of a running tree: %v", err)
	}
	e.valid()
}
