package sandbox_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/sandbox"
)

// The seed's thresholds: 1 message single, under 5 sparse, under 20
// regular, 20 or more intensive.
func TestClassifyThresholds(t *testing.T) {
	for n, want := range map[uint64]sandbox.Pattern{
		1: sandbox.PatternSingle, 2: sandbox.PatternSparse, 4: sandbox.PatternSparse, 5: sandbox.PatternRegular,
		19: sandbox.PatternRegular, 20: sandbox.PatternIntensive, 1000: sandbox.PatternIntensive,
	} {
		if got := sandbox.Classify(n); got != want {
			t.Errorf("%d messages: %s, want %s", n, got, want)
		}
	}
}

func find(r sandbox.InteractionReport, from, to string) *sandbox.Interaction {
	for i, in := range r.Interactions {
		if in.From == from && in.To == to {
			return &r.Interactions[i]
		}
	}
	return nil
}

// In a moderate sandbox every pair that exchanged messages is one
// interaction, from -> to, with its count and pattern: inside (a to b),
// out across the boundary (a to mark), in across it (spy to a), and from
// the runtime's API (the operator's calls to a), sorted by sender.
func TestInteractionsModerate(t *testing.T) {
	w := newWorld(t)
	w.start(box(), policy(actor.IsolationModerate))
	a, b := w.pid("box", "a"), w.pid("box", "b")
	mark, spy := w.pid("outside", "mark"), w.pid("outside", "spy")
	for _, c := range []struct{ tree, path, cmd string }{
		{"box", "a", "send 1 " + b.String()},
		{"box", "a", "send 20 " + mark.String()},
		{"outside", "spy", "send 3 " + a.String()},
	} {
		if got := w.do(c.tree, c.path, c.cmd); got != "ok" {
			t.Fatal(got)
		}
	}
	r := sandbox.Interactions(w.observe("box", box(), policy(actor.IsolationModerate), nil))
	if !r.FlowTraced || r.FlowDropped != 0 || r.CrossingsDropped != 0 || len(r.Interactions) != 4 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []sandbox.Interaction{
		{From: sandbox.SystemEnd, To: a.String(), ToTree: "box", ToChildID: "a", ToInside: true, Count: 2, Pattern: sandbox.PatternSparse},
		{From: spy.String(), To: a.String(), FromTree: "outside", ToTree: "box", ToChildID: "a", ToInside: true, Crosses: true, Count: 3,
			Pattern: sandbox.PatternSparse, Ops: []actor.BoundaryOp{actor.OpSend}},
		{From: a.String(), To: mark.String(), FromTree: "box", ToTree: "outside", FromChildID: "a", FromInside: true, Crosses: true, Count: 20,
			Pattern: sandbox.PatternIntensive, Ops: []actor.BoundaryOp{actor.OpSend}},
		{From: a.String(), To: b.String(), FromTree: "box", ToTree: "box", FromChildID: "a", ToChildID: "b", FromInside: true, ToInside: true,
			Count: 1, Pattern: sandbox.PatternSingle},
	} {
		got := find(r, want.From, want.To)
		if got == nil {
			t.Fatalf("no %s -> %s in %+v", want.From, want.To, r.Interactions)
		}
		if got.First.IsZero() || got.Last.Before(got.First) || got.Source != sandbox.SourceFlow {
			t.Fatalf("%+v", *got)
		}
		g := *got
		g.First, g.Last, g.Source = want.First, want.Last, ""
		if g.From != want.From || g.To != want.To || g.FromTree != want.FromTree || g.ToTree != want.ToTree ||
			g.FromChildID != want.FromChildID || g.ToChildID != want.ToChildID || g.FromInside != want.FromInside ||
			g.ToInside != want.ToInside || g.Crosses != want.Crosses || g.Count != want.Count || g.Pattern != want.Pattern ||
			!slices.Equal(g.Ops, want.Ops) {
			t.Fatalf("got  %+v\nwant %+v", g, want)
		}
	}
	if r.Interactions[0].From != sandbox.SystemEnd || r.Interactions[1].From != spy.String() {
		t.Fatalf("order: %+v", r.Interactions)
	}
}

// Under strict a refused message never reaches the flow graph: the
// crossings table's record of it is an interaction of its own (source
// boundary), from the sandboxed process to the other end, with its
// attempts counted; so is a link, which is no message.
func TestInteractionsRefused(t *testing.T) {
	w := newWorld(t)
	w.start(box(), policy(actor.IsolationStrict))
	mark := w.pid("outside", "mark")
	for range 5 {
		if got := w.do("box", "a", "send 1 "+mark.String()); !strings.Contains(got, actor.ErrBoundary.Error()) {
			t.Fatalf("strict send out: %s", got)
		}
	}
	r := sandbox.Interactions(w.observe("box", box(), policy(actor.IsolationStrict), nil))
	in := find(r, w.pid("box", "a").String(), mark.String()+"@outside")
	if in == nil || in.Source != sandbox.SourceBoundary || !in.Crosses || !in.FromInside || in.ToInside || in.Count != 5 ||
		in.Pattern != sandbox.PatternRegular || in.ToTree != "outside" || !slices.Equal(in.Ops, []actor.BoundaryOp{actor.OpSend}) {
		t.Fatalf("%+v", r.Interactions)
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"from":`, `"to":`, `"from_inside":`, `"to_inside":`, `"crosses":`, `"count":`, `"first":`, `"last":`, `"pattern":"regular"`, `"ops":["send"]`, `"source":"boundary"`} {
		if !strings.Contains(string(b), k) {
			t.Fatalf("no %s in %s", k, b)
		}
	}
}

// Without flow tracing only the boundary's records are listed, and the
// report says the flow was not traced.
func TestInteractionsUntraced(t *testing.T) {
	w := newWorld(t)
	p := policy(actor.IsolationPermissive)
	p.Trace.Messages = false
	w.start(box(), p)
	if got := w.do("box", "a", "send 2 "+w.pid("outside", "mark").String()); got != "ok" {
		t.Fatal(got)
	}
	r := sandbox.Interactions(w.observe("box", box(), p, nil))
	if r.FlowTraced || len(r.Interactions) != 1 || r.Interactions[0].Source != sandbox.SourceBoundary || r.Interactions[0].Count != 2 {
		t.Fatalf("%+v", r)
	}
}
