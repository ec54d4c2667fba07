package sandbox_test

import (
	"errors"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/sandbox"
)

// ReadTrace returns a sandbox's raw trace by type: the flow graph's
// edges (messages), each live worker's captured states (states), or both
// (all), with the bounds they were kept under; a bad type and a tree that
// is no sandbox are errors.
func TestReadTrace(t *testing.T) {
	w := newWorld(t)
	w.start(box(), policy(actor.IsolationStrict))
	a, b := w.pid("box", "a"), w.pid("box", "b")
	if got := w.do("box", "a", "send 4 "+b.String()); got != "ok" {
		t.Fatal(got)
	}
	cfg := w.rt.Config()
	w.clock.Advance(cfg.HistoryInterval)
	actortest.Eventually(t, "a's state captured", func() bool {
		h, err := w.rt.History(a)
		return err == nil && len(h) > 0
	})

	all, err := sandbox.ReadTrace(w.rt, "box", sandbox.TraceAll)
	if err != nil {
		t.Fatal(err)
	}
	m, s := all.Messages, all.States
	if all.Kind != sandbox.TraceAll || m == nil || s == nil {
		t.Fatalf("%+v", all)
	}
	if !m.Traced || m.MaxEdges != cfg.MaxFlowEdges || m.MaxProcesses != sandbox.DefaultMaxProcesses+actor.SandboxTraceExtraProcesses ||
		m.MaxAgeMS != actor.SandboxTraceMaxAge.Milliseconds() || m.Dropped != 0 || len(m.Edges) != 2 || m.TracedUp == nil {
		t.Fatalf("messages %+v", *m)
	}
	var ab bool
	for _, e := range m.Edges {
		ab = ab || (e.From == a && e.To == b && e.Count == 4)
	}
	if !ab {
		t.Fatalf("edges %+v", m.Edges)
	}
	if !s.Traced || s.IntervalMS != cfg.HistoryInterval.Milliseconds() || s.MaxSamples != actor.DefaultSandboxHistorySamples || len(s.Processes) != 2 {
		t.Fatalf("states %+v", *s)
	}
	if p := s.Processes[0]; p.PID != a || p.ChildID != "a" || p.Behavior != "agent" || len(p.Samples) == 0 || string(p.Samples[0].State) != `{"calls":1}` {
		t.Fatalf("a's history %+v", p)
	}

	msgs, err := sandbox.ReadTrace(w.rt, "box", sandbox.TraceMessages)
	if err != nil || msgs.Messages == nil || msgs.States != nil {
		t.Fatalf("messages only: %+v (%v)", msgs, err)
	}
	states, err := sandbox.ReadTrace(w.rt, "box", sandbox.TraceStates)
	if err != nil || states.States == nil || states.Messages != nil {
		t.Fatalf("states only: %+v (%v)", states, err)
	}
	if _, err := sandbox.ReadTrace(w.rt, "box", "everything"); !errors.Is(err, sandbox.ErrInvalid) {
		t.Fatalf("bad type: %v", err)
	}
	if _, err := sandbox.ReadTrace(w.rt, "outside", sandbox.TraceAll); !errors.Is(err, actor.ErrNotSandboxed) {
		t.Fatalf("unsandboxed tree: %v", err)
	}
	if k, err := sandbox.ParseTraceKind(""); err != nil || k != sandbox.TraceAll {
		t.Fatalf("default type %q (%v)", k, err)
	}
}
