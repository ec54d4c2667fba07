package actor_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/actor/actortest"
	"github.com/steward/steward/actor/behaviors"
	"github.com/steward/steward/internal/datadriven"
	"github.com/steward/steward/spec"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of testdata/supervisor/*.txt")

// TestScenarios runs the supervisor scripts in testdata/supervisor, in the
// style of etcd-io/raft's interaction tests: each step is a command (and
// an input block), "----", and the output it must produce. The language
// (one file, one runtime on a manual clock, one current tree):
//
//	tree <name> <strategy> [max_restarts=N] [max_seconds=N]
//	  worker <id> <behavior> [restart=R] [shutdown=S] [name=N] [arg=value...]
//	  supervisor <id> <strategy> [max_restarts=N] [max_seconds=N] [restart=R] [shutdown=S]
//	    worker ...                      (children indented below their supervisor)
//	crash <path> [async]                a crasher child crashes (reason "crash")
//	exit <path> <reason> [async]        a crasher child stops with reason ("normal" too)
//	kill <path> [async]                 Kill (untrappable, reason killed)
//	advance <duration> [timers=N]       wait until N timers are armed, then move the clock
//	which_children [<sup>]              children sorted by id: id, type, running|undefined|restarting
//	count_children [<sup>]              OTP's count_children
//	start_child <sup> worker|supervisor <id> ...   a static child (same fields as in a tree)
//	start_child <sup> [arg=value...]    a simple_one_for_one instance with extra args
//	terminate_child|restart_child|delete_child <sup> <id>
//	call <path> <body...>               a Call; prints the reply
//	stop_tree
//
// Paths are child paths in the current tree ("sub/w"); "." is the root.
// The behaviors are actor/behaviors' natives plus "slow", whose
// Terminate blocks until the test ends (a child that ignores its shutdown).
//
// Every step but an async one waits until the runtime is quiescent (no
// process busy, queued or stopping, no exit half done), checks Validate,
// and prints the events the step caused, one per line: type, child path
// (the tree's name for the root), reason, (detail). PIDs are not printed,
// and error texts have them replaced by <pid>. An async step prints "ok";
// its events are printed by the next step.
//
// Events are printed in emission order where the runtime defines it: one
// goroutine emits them, or one causes the next (a child's exit, then its
// supervisor's restart). It does not define the order between the death
// of a killed supervisor's old children (its exit signal reaches them on
// the killer's goroutine, or on their own) and the reaction of its parent,
// which runs meanwhile. Those events — about processes alive before the
// step whose ancestor exited earlier in the step — are printed last,
// sorted, under "unordered:".
//
// go test ./actor -run TestScenarios -update rewrites the outputs.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "supervisor", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/supervisor")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			sc := newScenario(t)
			datadriven.Run(t, f, *update, func(cmd string, input []string) string {
				if out := sc.step(cmd, input); out != "" {
					return out
				}
				return "ok"
			})
		})
	}
}

// ---- the supervisor scenario ----

type scenario struct {
	t     *testing.T
	rt    *actor.Runtime
	clock *actortest.ManualClock
	ctx   context.Context
	tree  string
	// seen is the last event printed; before maps the processes alive
	// when the pending steps began (PID to tree and path).
	seen   uint64
	before map[actor.PID]string
}

func newScenario(t *testing.T) *scenario {
	cat := behaviors.NewCatalog()
	release := make(chan struct{})
	if err := cat.Register(actor.Entry{Name: "slow", Version: "1", New: func(map[string]string) (actor.Behavior, error) {
		return &slowStop{release: release}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	clock := actortest.NewManualClock(time0)
	cfg := actor.DefaultConfig()
	cfg.NodeName = "n1"
	cfg.Logger = actortest.Logger(t)
	cfg.Clock = clock
	cfg.Catalog = cat
	rt, err := actor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	t.Cleanup(func() { close(release) }) // runs first: slow Terminates return
	return &scenario{t: t, rt: rt, clock: clock, ctx: actortest.Context(t)}
}

// slowStop is a worker whose Terminate does not return until the test
// ends: its supervisor's shutdown timeout has to kill it.
type slowStop struct{ release <-chan struct{} }

func (*slowStop) Init(actor.Proc) error { return nil }
func (*slowStop) HandleCall(_ actor.Proc, m actor.Message) ([]byte, error) {
	return m.Body, nil
}
func (*slowStop) HandleCast(actor.Proc, actor.Message) error { return nil }
func (*slowStop) HandleInfo(actor.Proc, actor.Message) error { return nil }
func (s *slowStop) Terminate(actor.Proc, actor.Reason)       { <-s.release }
func (*slowStop) CodeChange(string, []byte) error            { return nil }
func (*slowStop) ExportState() ([]byte, error)               { return []byte(`{}`), nil }
func (*slowStop) ImportState([]byte) error                   { return nil }

func (s *scenario) step(cmd string, input []string) string {
	s.t.Helper()
	if s.before == nil {
		s.before = make(map[actor.PID]string)
		for _, pi := range s.rt.Processes() {
			s.before[pi.PID] = pi.Tree + "\x00" + pi.ChildID
		}
	}
	args := strings.Fields(cmd)
	async := len(args) > 1 && args[len(args)-1] == "async"
	if async {
		args = args[:len(args)-1]
	}
	var out []string
	if err := s.do(args, input, &out); err != nil {
		out = append(out, "error: "+normalize(err.Error()))
	}
	if async {
		return strings.Join(out, "\n") // events come with the next step
	}
	s.waitQuiet(cmd)
	if rep := s.rt.Validate(s.ctx); !rep.OK() {
		for _, v := range rep.Violations {
			out = append(out, normalize(fmt.Sprintf("violation: %s %s: %s", v.Kind, v.Subject, v.Detail)))
		}
		for _, p := range rep.Unsettled {
			out = append(out, normalize("unsettled: "+p.String()))
		}
	}
	out = append(out, s.events()...)
	s.before = nil
	return strings.Join(out, "\n")
}

var pidText = regexp.MustCompile(`\bn1/[0-9]+\b`)

func normalize(s string) string { return pidText.ReplaceAllString(s, "<pid>") }

func (s *scenario) waitQuiet(cmd string) {
	s.t.Helper()
	deadline := time.NewTimer(actortest.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !actor.Quiescent(s.rt) {
		select {
		case <-tick.C:
		case <-deadline.C:
			var busy []string
			for _, pi := range s.rt.Processes() {
				busy = append(busy, pi.String()+" "+pi.ChildID)
			}
			s.t.Fatalf("%q: the runtime did not become quiescent within %s (a step that waits for a timer needs async); processes: %s",
				cmd, actortest.Timeout, strings.Join(busy, "; "))
		}
	}
}

// events formats the events since the last printed step (see
// TestScenarios for the order).
func (s *scenario) events() []string {
	evs := s.rt.Events(s.seen)
	if len(evs) > 0 && evs[0].Seq != s.seen+1 {
		s.t.Fatalf("events %d..%d fell out of the event buffer", s.seen+1, evs[0].Seq-1)
	}
	var lines, unordered []string
	exited := make(map[string]bool) // tree\x00path of old processes that exited
	for _, ev := range evs {
		s.seen = ev.Seq
		l := formatEvent(ev)
		key, old := s.before[ev.PID]
		if old && ancestorIn(key, exited) {
			unordered = append(unordered, l)
		} else {
			lines = append(lines, l)
		}
		if old && ev.Type == actor.EventExited {
			exited[key] = true
		}
	}
	if len(unordered) > 0 {
		sort.Strings(unordered)
		lines = append(lines, "unordered:")
		for _, l := range unordered {
			lines = append(lines, "  "+l)
		}
	}
	return lines
}

// ancestorIn reports whether a proper ancestor of key (tree\x00path; the
// root's path is "") is in set.
func ancestorIn(key string, set map[string]bool) bool {
	tree, path, _ := strings.Cut(key, "\x00")
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		if set[tree+"\x00"+path] {
			return true
		}
	}
	return false
}

func formatEvent(ev actor.Event) string {
	where := ev.ChildID
	if where == "" {
		where = ev.Tree
	}
	l := string(ev.Type) + " " + where
	if ev.Reason != "" {
		l += " " + string(ev.Reason)
	}
	if ev.Detail != "" && ev.Type != actor.EventSpawned {
		l += " (" + ev.Detail + ")"
	}
	return normalize(l)
}

func (s *scenario) resolve(path string) (actor.PID, error) {
	if path == "." {
		path = ""
	}
	return s.rt.Resolve(actor.Target{Tree: s.tree, Path: path})
}

func need(args []string, n int, usage string) error {
	if len(args) < n {
		return fmt.Errorf("usage: %s", usage)
	}
	return nil
}

// do runs one command, appending its result lines to out.
func (s *scenario) do(args, input []string, out *[]string) error {
	if len(args) == 0 {
		return fmt.Errorf("empty command")
	}
	cast := func(path, body string) error {
		pid, err := s.resolve(path)
		if err != nil {
			return err
		}
		return s.rt.Cast(pid, actor.Message{Body: []byte(body)})
	}
	supOf := func(path string) (actor.PID, error) { return s.resolve(path) }
	root := func() string {
		if len(args) > 1 {
			return args[1]
		}
		return "."
	}
	switch args[0] {
	case "tree":
		if err := need(args, 3, "tree <name> <strategy> [max_restarts=N] [max_seconds=N]"); err != nil {
			return err
		}
		tr, err := parseTree(args, input)
		if err != nil {
			return err
		}
		s.tree = tr.Name
		return s.rt.ApplyTree(s.ctx, tr)
	case "crash":
		if err := need(args, 2, "crash <path>"); err != nil {
			return err
		}
		return cast(args[1], "crash")
	case "exit":
		if err := need(args, 3, "exit <path> <reason>"); err != nil {
			return err
		}
		if args[2] == "normal" {
			return cast(args[1], "stop")
		}
		return cast(args[1], "exit "+args[2])
	case "kill":
		if err := need(args, 2, "kill <path>"); err != nil {
			return err
		}
		pid, err := s.resolve(args[1])
		if err != nil {
			return err
		}
		return s.rt.Kill(pid, "")
	case "advance":
		if err := need(args, 2, "advance <duration> [timers=N]"); err != nil {
			return err
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		if len(args) > 2 {
			n, err := strconv.Atoi(strings.TrimPrefix(args[2], "timers="))
			if err != nil {
				return err
			}
			if err := s.clock.WaitForTimers(s.ctx, n); err != nil {
				return fmt.Errorf("waiting for %d timers: %w", n, err)
			}
		}
		s.clock.Advance(d)
		return nil
	case "which_children":
		pid, err := supOf(root())
		if err != nil {
			return err
		}
		cs, err := s.rt.WhichChildren(pid)
		if err != nil {
			return err
		}
		// OTP lists the most recently started child first; steward lists
		// start order. The scenarios compare the set, sorted by id.
		sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
		for _, c := range cs {
			state := "undefined" // OTP's word for a child without a process
			switch {
			case c.State == "restarting":
				state = "restarting"
			case !c.PID.IsZero():
				state = "running"
			}
			*out = append(*out, fmt.Sprintf("%s %s %s", c.ID, c.Type, state))
		}
		if len(cs) == 0 {
			*out = append(*out, "no children")
		}
		return nil
	case "count_children":
		pid, err := supOf(root())
		if err != nil {
			return err
		}
		n, err := s.rt.CountChildren(pid)
		if err != nil {
			return err
		}
		*out = append(*out, fmt.Sprintf("specs=%d active=%d supervisors=%d workers=%d", n.Specs, n.Active, n.Supervisors, n.Workers))
		return nil
	case "start_child":
		if err := need(args, 2, "start_child <sup> [worker|supervisor ...] [arg=value...]"); err != nil {
			return err
		}
		pid, err := supOf(args[1])
		if err != nil {
			return err
		}
		if len(args) > 2 && (args[2] == "worker" || args[2] == "supervisor") {
			cs, err := parseChild(args[2:])
			if err != nil {
				return err
			}
			_, err = s.rt.StartChild(s.ctx, pid, cs)
			return err
		}
		extra, err := parseKV(args[2:])
		if err != nil {
			return err
		}
		_, err = s.rt.StartDynamicChild(s.ctx, pid, extra)
		return err
	case "terminate_child", "restart_child", "delete_child":
		if err := need(args, 3, args[0]+" <sup> <id>"); err != nil {
			return err
		}
		pid, err := supOf(args[1])
		if err != nil {
			return err
		}
		switch args[0] {
		case "terminate_child":
			return s.rt.TerminateChild(s.ctx, pid, args[2])
		case "restart_child":
			_, err = s.rt.RestartChild(s.ctx, pid, args[2])
			return err
		default:
			return s.rt.DeleteChild(s.ctx, pid, args[2])
		}
	case "call":
		if err := need(args, 3, "call <path> <body...>"); err != nil {
			return err
		}
		pid, err := s.resolve(args[1])
		if err != nil {
			return err
		}
		b, err := s.rt.Call(s.ctx, pid, actor.Message{Body: []byte(strings.Join(args[2:], " "))})
		if err != nil {
			return err
		}
		*out = append(*out, "reply: "+string(b))
		return nil
	case "stop_tree":
		return s.rt.StopTree(s.ctx, s.tree)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func parseKV(words []string) (map[string]string, error) {
	m := map[string]string{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		m[k] = v
	}
	return m, nil
}

// parseSup reads a strategy and intensity into ss.
func parseSup(ss *spec.SupervisorSpec, strategy string, kv map[string]string) error {
	ss.Strategy = spec.Strategy(strategy)
	for k, v := range kv {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", k, v, err)
		}
		switch k {
		case "max_restarts":
			ss.MaxRestarts = n
		case "max_seconds":
			ss.MaxSeconds = n
		default:
			return fmt.Errorf("unknown supervisor field %q", k)
		}
	}
	return nil
}

// parseChild reads "worker <id> <behavior> [k=v...]" or "supervisor <id>
// <strategy> [k=v...]".
func parseChild(words []string) (spec.ChildSpec, error) {
	var cs spec.ChildSpec
	if len(words) < 3 {
		return cs, fmt.Errorf("child %q: want worker <id> <behavior> or supervisor <id> <strategy>", strings.Join(words, " "))
	}
	kv, err := parseKV(words[3:])
	if err != nil {
		return cs, err
	}
	cs.ID = words[1]
	if r, ok := kv["restart"]; ok {
		cs.Restart = spec.Restart(r)
		delete(kv, "restart")
	}
	if sd, ok := kv["shutdown"]; ok {
		cs.Shutdown = sd
		delete(kv, "shutdown")
	}
	switch words[0] {
	case "worker":
		cs.Behavior = words[2]
		if n, ok := kv["name"]; ok {
			cs.Name = n
			delete(kv, "name")
		}
		if len(kv) > 0 {
			cs.Args = kv
		}
	case "supervisor":
		cs.Type = spec.Supervisor
		if err := parseSup(&cs.SupervisorSpec, words[2], kv); err != nil {
			return cs, err
		}
	default:
		return cs, fmt.Errorf("child kind %q: want worker or supervisor", words[0])
	}
	return cs, nil
}

// parseTree reads the tree command and its indented children.
func parseTree(args, input []string) (spec.Tree, error) {
	tr := spec.Tree{Name: args[1]}
	kv, err := parseKV(args[3:])
	if err != nil {
		return tr, err
	}
	if err := parseSup(&tr.SupervisorSpec, args[2], kv); err != nil {
		return tr, err
	}
	type node struct {
		cs     spec.ChildSpec
		indent int
		kids   []*node
	}
	top := &node{indent: -1}
	stack := []*node{top}
	for _, l := range input {
		if strings.TrimSpace(l) == "" {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		cs, err := parseChild(strings.Fields(l))
		if err != nil {
			return tr, err
		}
		for len(stack) > 1 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		n := &node{cs: cs, indent: indent}
		parent := stack[len(stack)-1]
		if parent != top && parent.cs.Type != spec.Supervisor {
			return tr, fmt.Errorf("%q is indented below worker %q", strings.TrimSpace(l), parent.cs.ID)
		}
		parent.kids = append(parent.kids, n)
		stack = append(stack, n)
	}
	var build func(n *node) []spec.ChildSpec
	build = func(n *node) []spec.ChildSpec {
		out := make([]spec.ChildSpec, 0, len(n.kids))
		for _, k := range n.kids {
			cs := k.cs
			if cs.Type == spec.Supervisor {
				cs.Children = build(k)
			}
			out = append(out, cs)
		}
		return out
	}
	tr.Children = build(top)
	return tr, nil
}
