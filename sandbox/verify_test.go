package sandbox_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/sandbox"
	"github.com/steward/steward/spec"
)

// A clean strict sandbox passes every check, and the report lists what
// was allowed: the crossings attempted, out by the agent and in by an
// outside process, were refused (each with its boundary violation); the
// operator's GetState (the system path) and an agent reading another
// agent inside are allowed.
func TestVerifyClean(t *testing.T) {
	w := newWorld(t)
	w.start(box(), policy(actor.IsolationStrict))
	a, b, svc := w.pid("box", "a"), w.pid("box", "b"), w.pid("outside", "svc")
	if got := w.do("box", "a", "send 3 "+b.String()); got != "ok" {
		t.Fatal(got)
	}
	if got := w.do("box", "a", "send 1 "+svc.String()); !strings.Contains(got, actor.ErrBoundary.Error()) {
		t.Fatalf("strict send out: %s", got)
	}
	if got := w.do("outside", "spy", "send 1 "+a.String()); !strings.Contains(got, actor.ErrBoundary.Error()) {
		t.Fatalf("strict send in: %s", got)
	}
	if got := w.do("box", "a", "get "+b.String()); got != "ok" {
		t.Fatal(got)
	}
	if _, err := w.rt.GetState(w.ctx, a); err != nil {
		t.Fatal(err)
	}
	r := sandbox.Verify(w.observe("box", box(), policy(actor.IsolationStrict), nil))
	wantVerdicts(t, r)
	msg := check(t, r, sandbox.CheckMessages)
	if len(msg.Evidence) != 4 {
		t.Fatalf("%s", describe(msg))
	}
	for _, e := range msg.Evidence[:2] { // out to svc, in from spy
		if e.Crossing == nil || e.Crossing.PID != a || !strings.Contains(e.What, "all refused") {
			t.Fatalf("%s", describe(msg))
		}
	}
	for _, e := range msg.Evidence[2:] {
		if e.Violation == nil || e.Violation.Kind != actor.ViolationBoundary {
			t.Fatalf("%s", describe(msg))
		}
	}
	st := check(t, r, sandbox.CheckState)
	if len(st.Evidence) != 2 {
		t.Fatalf("%s", describe(st))
	}
	for _, e := range st.Evidence {
		if e.Access == nil || !e.Access.TargetInside || (!e.Access.System && !e.Access.CallerInside) {
			t.Fatalf("%s", describe(st))
		}
	}
	code := check(t, r, sandbox.CheckCode)
	if len(code.Evidence) != 2 || code.Evidence[0].Code.Declared != "agent" || code.Evidence[0].Code.Module != "agent" {
		t.Fatalf("%s", describe(code))
	}
}

// Message isolation judges the record against the declared level: a
// crossing recorded while the runtime enforced moderate (an agent sending
// out, an outside process sending in) fails a strict declaration, which
// the runtime does not enforce either; declared moderate, the same record
// passes and lists the crossings.
func TestVerifyMessageIsolation(t *testing.T) {
	w := newWorld(t)
	w.start(box(), policy(actor.IsolationModerate))
	a, mark := w.pid("box", "a"), w.pid("outside", "mark")
	if got := w.do("box", "a", "send 2 "+mark.String()); got != "ok" {
		t.Fatal(got)
	}
	if got := w.do("outside", "spy", "send 1 "+a.String()); got != "ok" {
		t.Fatal(got)
	}

	r := sandbox.Verify(w.observe("box", box(), policy(actor.IsolationStrict), nil))
	wantVerdicts(t, r, sandbox.CheckMessages)
	bad := failing(check(t, r, sandbox.CheckMessages))
	if len(bad) != 3 || !strings.Contains(bad[0].What, "enforces moderate") {
		t.Fatalf("%s", describe(check(t, r, sandbox.CheckMessages)))
	}
	others := map[string]uint64{}
	for _, e := range bad[1:] {
		if e.Crossing == nil || e.Crossing.PID != a || e.Crossing.Op != actor.OpSend {
			t.Fatalf("evidence %+v", e)
		}
		others[e.Crossing.Other] = e.Crossing.Count
	}
	if others[mark.String()+"@outside"] != 2 || others[w.pid("outside", "spy").String()+"@outside"] != 1 {
		t.Fatalf("crossings %v", others)
	}

	r = sandbox.Verify(w.observe("box", box(), policy(actor.IsolationModerate), nil))
	wantVerdicts(t, r)
	if c := check(t, r, sandbox.CheckMessages); len(c.Evidence) != 2 || c.Evidence[0].Crossing == nil {
		t.Fatalf("%s", describe(c))
	}
}

// State isolation fails on a process outside reading or replacing a state
// inside, and on a process inside reading a state outside; the system
// path's accesses are listed as allowed.
func TestVerifyStateIsolation(t *testing.T) {
	for _, c := range []struct {
		name, tree, path, cmd string
	}{
		{"outside_reads_inside", "outside", "spy", "get box/a"},
		{"outside_replaces_inside", "outside", "spy", "replace box/a"},
		{"inside_reads_outside", "box", "a", "get outside/svc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.start(box(), policy(actor.IsolationStrict))
			if _, err := w.rt.GetState(w.ctx, w.pid("box", "b")); err != nil {
				t.Fatal(err)
			}
			op, ref, _ := strings.Cut(c.cmd, " ")
			tr, path, _ := strings.Cut(ref, "/")
			target := w.pid(tr, path)
			if got := w.do(c.tree, c.path, op+" "+target.String()); got != "ok" {
				t.Fatal(got)
			}
			r := sandbox.Verify(w.observe("box", box(), policy(actor.IsolationStrict), nil))
			wantVerdicts(t, r, sandbox.CheckState)
			sc := check(t, r, sandbox.CheckState)
			bad := failing(sc)
			caller := w.pid(c.tree, c.path)
			if len(bad) != 1 || bad[0].Access == nil || bad[0].Access.Caller != caller || bad[0].Access.Target != target ||
				bad[0].Access.CallerInside == bad[0].Access.TargetInside {
				t.Fatalf("%s", describe(sc))
			}
			if len(sc.Evidence) != 2 || !sc.Evidence[0].Access.System && !sc.Evidence[1].Access.System {
				t.Fatalf("the system path's access is not listed: %s", describe(sc))
			}
		})
	}
}

// Resource isolation fails when a limit was hit: messages dropped at
// max_messages_per_second (and its violation), the memory budget broken;
// and when usage is over a declared limit.
func TestVerifyResourceIsolation(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		w := newWorld(t)
		p := policy(actor.IsolationStrict)
		p.Limits.MaxMessagesPerSecond = 3
		w.start(box(), p)
		b := w.pid("box", "b")
		for range 5 { // the manual clock stands still: one window
			_ = w.rt.Cast(b, actor.Message{Body: []byte("x")})
		}
		r := sandbox.Verify(w.observe("box", box(), p, nil))
		wantVerdicts(t, r, sandbox.CheckResources)
		bad := failing(check(t, r, sandbox.CheckResources))
		if len(bad) != 2 || !strings.Contains(bad[0].What, "max_messages_per_second") || bad[1].Violation == nil ||
			bad[1].Violation.Kind != actor.ViolationRate {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckResources)))
		}
	})
	t.Run("memory", func(t *testing.T) {
		w := newWorld(t)
		p := policy(actor.IsolationStrict)
		p.Limits.MaxMemoryBytes = 1000
		w.start(box(), p)
		if got := w.do("box", "a", "grow 5000"); got != "ok" {
			t.Fatal(got)
		}
		var r sandbox.Report
		actortest.Eventually(t, "the memory violation", func() bool {
			r = sandbox.Verify(w.observe("box", box(), p, nil))
			return check(t, r, sandbox.CheckResources).Verdict == sandbox.Fail
		})
		wantVerdicts(t, r, sandbox.CheckResources)
		var mem, viol bool
		for _, e := range failing(check(t, r, sandbox.CheckResources)) {
			mem = mem || (e.Usage != nil && e.Usage.Resource == "memory_bytes" && e.Usage.Value >= 5000 && e.Usage.Limit == 1000)
			viol = viol || (e.Violation != nil && e.Violation.Kind == actor.ViolationMemory)
		}
		if !mem || !viol {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckResources)))
		}
	})
	t.Run("declared_processes", func(t *testing.T) {
		w := newWorld(t)
		w.start(box(), policy(actor.IsolationStrict))
		declared := policy(actor.IsolationStrict)
		declared.Limits.MaxProcesses = 2 // root, a, b run
		r := sandbox.Verify(w.observe("box", box(), declared, nil))
		wantVerdicts(t, r, sandbox.CheckResources)
		bad := failing(check(t, r, sandbox.CheckResources))
		if len(bad) != 1 || bad[0].Usage == nil || bad[0].Usage.Resource != "processes" || bad[0].Usage.Value != 3 {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckResources)))
		}
	})
}

// Code isolation fails on code the spec does not declare running inside:
// a worker moved onto another behavior, a child started outside the spec;
// module workers run a pinned version or one the caller allows (a worker
// following the active version needs its module's allowed versions).
func TestVerifyCodeIsolation(t *testing.T) {
	t.Run("other_behavior", func(t *testing.T) {
		w := newWorld(t)
		w.start(box(), policy(actor.IsolationStrict))
		if _, err := w.rt.ChangeCode(w.ctx, w.pid("box", "b"), "echo"); err != nil {
			t.Fatal(err)
		}
		r := sandbox.Verify(w.observe("box", box(), policy(actor.IsolationStrict), nil))
		wantVerdicts(t, r, sandbox.CheckCode)
		bad := failing(check(t, r, sandbox.CheckCode))
		if len(bad) != 1 || bad[0].Code.ChildID != "b" || bad[0].Code.Behavior != "echo" || bad[0].Code.Declared != "agent" {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckCode)))
		}
		// The code change is the system path's: listed as allowed.
		if s := check(t, r, sandbox.CheckState); len(s.Evidence) != 1 || s.Evidence[0].Access.Op != actor.StateCodeChange {
			t.Fatalf("%s", describe(s))
		}
	})
	t.Run("undeclared_child", func(t *testing.T) {
		w := newWorld(t)
		w.start(box(), policy(actor.IsolationStrict))
		ti, err := w.rt.Tree("box")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.rt.StartChild(w.ctx, ti.Root, work("extra", "echo")); err != nil {
			t.Fatal(err)
		}
		r := sandbox.Verify(w.observe("box", box(), policy(actor.IsolationStrict), nil))
		wantVerdicts(t, r, sandbox.CheckCode)
		bad := failing(check(t, r, sandbox.CheckCode))
		if len(bad) != 1 || bad[0].Code.ChildID != "extra" || bad[0].Code.Declared != "" {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckCode)))
		}
	})
	t.Run("modules", func(t *testing.T) {
		w := newWorld(t)
		for _, v := range []string{"1", "2"} {
			if err := w.cat.Register(actor.Entry{Name: "wasm:counter@" + v, Version: v, New: func(m map[string]string) (actor.Behavior, error) {
				return &agent{w: w}, nil
			}}); err != nil {
				t.Fatal(err)
			}
		}
		w.cat.SetModuleResolver(func(ref string) (string, error) {
			r, err := spec.ParseModuleRef(ref)
			if err != nil {
				return "", err
			}
			if r.Version == "" {
				r.Version = "1" // the active version
			}
			return "wasm:" + r.String(), nil
		})
		mods := tree("box", spec.ChildSpec{ID: "f", Module: "counter"}, spec.ChildSpec{ID: "p", Module: "counter@1"})
		w.start(mods, policy(actor.IsolationStrict))

		r := sandbox.Verify(w.observe("box", mods, policy(actor.IsolationStrict), nil))
		wantVerdicts(t, r, sandbox.CheckCode)
		if bad := failing(check(t, r, sandbox.CheckCode)); len(bad) != 1 || bad[0].Code.ChildID != "f" ||
			bad[0].Code.Module != "counter" || bad[0].Code.Version != "1" || !strings.Contains(bad[0].What, "no allowed version") {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckCode)))
		}
		active := map[string][]string{"counter": {"1"}}
		wantVerdicts(t, sandbox.Verify(w.observe("box", mods, policy(actor.IsolationStrict), active)))

		if _, err := w.rt.ChangeCode(w.ctx, w.pid("box", "p"), "wasm:counter@2"); err != nil {
			t.Fatal(err)
		}
		r = sandbox.Verify(w.observe("box", mods, policy(actor.IsolationStrict), active))
		wantVerdicts(t, r, sandbox.CheckCode)
		if bad := failing(check(t, r, sandbox.CheckCode)); len(bad) != 1 || bad[0].Code.ChildID != "p" || bad[0].Code.Version != "2" {
			t.Fatalf("%s", describe(check(t, r, sandbox.CheckCode)))
		}
		moving := map[string][]string{"counter": {"1", "2"}} // a deployment to 2 under way
		wantVerdicts(t, sandbox.Verify(w.observe("box", mods, policy(actor.IsolationStrict), moving)))
	})
}

// A sandbox whose records cannot be read is not clean: every check fails,
// for an unknown tree, an unsandboxed one, and an empty observation.
func TestVerifyUnreadable(t *testing.T) {
	w := newWorld(t)
	for _, name := range []string{"nope", "outside"} {
		obs, err := sandbox.Observe(w.rt, name, tree(name), policy(actor.IsolationStrict), nil)
		if err == nil || len(obs.Errors) == 0 {
			t.Fatalf("%s: observed (%v)", name, err)
		}
		if name == "outside" && !errors.Is(err, actor.ErrNotSandboxed) {
			t.Fatalf("%s: %v", name, err)
		}
		// outside's processes can be read, but its sandbox records cannot.
		wantVerdicts(t, sandbox.Verify(obs), sandbox.CheckMessages, sandbox.CheckState, sandbox.CheckResources, sandbox.CheckCode)
	}
	wantVerdicts(t, sandbox.Verify(sandbox.Observation{}), sandbox.CheckMessages, sandbox.CheckState, sandbox.CheckResources, sandbox.CheckCode)
}

// The report's JSON names are snake_case and stable.
func TestReportJSON(t *testing.T) {
	w := newWorld(t)
	w.start(box(), policy(actor.IsolationStrict))
	b, err := json.Marshal(sandbox.Verify(w.observe("box", box(), policy(actor.IsolationStrict), nil)))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tree", "node", "at", "verdict", "checks"} {
		if _, ok := got[k]; !ok {
			t.Fatalf("no %q in %s", k, b)
		}
	}
	c := got["checks"].([]any)[3].(map[string]any)
	if c["name"] != "code_isolation" || c["verdict"] != "pass" || c["rule"] == "" {
		t.Fatalf("check %v", c)
	}
	e := c["evidence"].([]any)[0].(map[string]any)
	code := e["code"].(map[string]any)
	for _, k := range []string{"pid", "child_id", "behavior", "version", "module", "declared"} {
		if _, ok := code[k]; !ok {
			t.Fatalf("no %q in %v", k, code)
		}
	}
	if e["fails"] != false || e["what"] == "" {
		t.Fatalf("evidence %v", e)
	}
}

// check returns the report's check of that name.
func check(t *testing.T, r sandbox.Report, name sandbox.CheckName) sandbox.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, r)
	return sandbox.Check{}
}

// failing returns the evidence that fails c.
func failing(c sandbox.Check) []sandbox.Evidence {
	var out []sandbox.Evidence
	for _, e := range c.Evidence {
		if e.Fails {
			out = append(out, e)
		}
	}
	return out
}

func describe(c sandbox.Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", c.Name, c.Verdict)
	for _, e := range c.Evidence {
		fmt.Fprintf(&b, "\n  fails=%t %s", e.Fails, e.What)
	}
	return b.String()
}

// wantVerdicts asserts each check's verdict (pass unless listed as
// failing) and the overall one.
func wantVerdicts(t *testing.T, r sandbox.Report, fails ...sandbox.CheckName) {
	t.Helper()
	overall := sandbox.Pass
	for _, name := range []sandbox.CheckName{sandbox.CheckMessages, sandbox.CheckState, sandbox.CheckResources, sandbox.CheckCode} {
		want := sandbox.Pass
		for _, f := range fails {
			if f == name {
				want, overall = sandbox.Fail, sandbox.Fail
			}
		}
		c := check(t, r, name)
		if c.Verdict != want {
			t.Fatalf("want %s: %s", want, describe(c))
		}
		if want == sandbox.Fail && len(failing(c)) == 0 {
			t.Fatalf("failed without failing evidence: %s", describe(c))
		}
	}
	if r.Verdict != overall {
		t.Fatalf("overall %s, want %s", r.Verdict, overall)
	}
}
