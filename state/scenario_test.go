package state

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/internal/datadriven"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
)

// The flag may be defined by another test file of this package; define it
// only if it is not (package variables are initialized before any init).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the expected outputs of testdata/plans/*.txt")
	}
}

func planScenarioUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestPlanScenarios runs the plan state machine scripts in testdata/plans,
// in the style of etcd-io/raft's interaction tests: each step is a command,
// "----", and the output it must produce. Every command is one Raft entry
// (its index one more than the last) applied at the scenario's time, which
// starts at t0 and moves with at=<duration since t0>.
//
//	create <id> phases=N nodes=n1,n2 safety=strict|moderate|permissive
//	       [phaseK=n1,...] [nocomp=op,...] [timeout=30s] [stage_timeout=5s] [estimate=100ms]
//	start <id> <stage> <node> nonce=X [at=D]
//	report <id> <stage> <node> ok [nonce=X] [at=D]
//	report <id> <stage> <node> fail "error" [op=OP] [nonce=X] [at=D]
//	report <id> <stage> <node> postcheck-fail "failure" [nonce=X] [at=D]
//	expire <id> <stage> at=D
//	cancel <id> [reason]
//	show <id>
//
// Phase K runs one operation per node, "pK-<node>" (a suspend on that
// node), each compensated by a resume on the same node unless listed in
// nocomp. A report's nonce defaults to the one its start used. "ok" ran
// every operation of the node's share (in a rollback stage, the
// compensations "rollback-<op>"); "fail" without op= ran none (the
// step reports an error), with op= ran the share in order up to op, which
// failed; "postcheck-fail" ran every operation, then a post-check failed.
//
// A command that changes the plan prints "ok" and the plan's status line;
// one accepted without change prints "ok (no change)"; a refused one
// prints the error, led by its sentinel.
//
// go test ./state -run TestPlanScenarios -update rewrites the outputs.
func TestPlanScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "plans", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/plans")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		// The leader commits each plan with its shape; a plan committed
		// before shapes existed has only its result JSON, from which the
		// state machine derives the shape. Both run every script to the
		// same outputs (-update writes those of the first).
		for _, legacy := range []bool{false, true} {
			variant := "shape"
			if legacy {
				variant = "legacy"
			}
			t.Run(name+"/"+variant, func(t *testing.T) {
				sc := &planScenario{t: t, s: mustStore(t), idx: 10, at: t0, nonces: map[string]string{}, legacy: legacy}
				datadriven.Run(t, f, planScenarioUpdating() && !legacy, func(cmd string, _ []string) string { return sc.step(cmd) })
			})
		}
	}
}

// ---- the plan scenario ----

type planScenario struct {
	t   *testing.T
	s   *Store
	idx uint64
	at  int64
	// nonces remembers each step's start: plan/stage/node -> nonce.
	nonces map[string]string
	// legacy commits plans as before PLAN_CREATE carried a shape.
	legacy bool
}

// planScenarioResult is a plan of phases phases; phase k runs "pk-<node>"
// on each of nodes[k], compensated by a resume unless in nocomp.
func planScenarioResult(level plan.SafetyLevel, nodes [][]string, nocomp map[string]bool, estimate time.Duration) *plan.Result {
	res := &plan.Result{SafetyLevel: level, Timeout: "30s"}
	for k, ns := range nodes {
		ph := plan.Phase{Index: k, Level: k, EstimatedMS: estimate.Milliseconds()}
		for _, n := range ns {
			id := fmt.Sprintf("p%d-%s", k, n)
			op := plan.Operation{ID: id, Type: plan.SuspendProcess, Node: n, Target: plan.Target{Supervisor: "web", ChildID: id}}
			res.Operations = append(res.Operations, op)
			ph.Operations = append(ph.Operations, id)
		}
		for i := len(ph.Operations) - 1; i >= 0; i-- { // reverse declaration order
			id := ph.Operations[i]
			if nocomp[id] {
				ph.Rollback = append(ph.Rollback, plan.Compensation{Op: id, Note: "cannot be undone"})
				continue
			}
			c := plan.Operation{ID: "rollback-" + id, Type: plan.ResumeProcess, Node: ns[i], Target: plan.Target{Supervisor: "web", ChildID: id}}
			ph.Rollback = append(ph.Rollback, plan.Compensation{Op: id, Operation: &c, Note: "resume"})
		}
		res.Phases = append(res.Phases, ph)
	}
	return res
}

// planWords splits a command line into words; a double-quoted word may
// hold spaces.
func planWords(line string) ([]string, error) {
	var out []string
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("bad quoting in %q: %w", s, err)
			}
			w, _ := strconv.Unquote(q)
			out = append(out, w)
			s = s[len(q):]
			continue
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out, nil
}

// planArgs separates key=value options from positional words.
func planArgs(words []string) (pos []string, kv map[string]string) {
	kv = map[string]string{}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok && !strings.Contains(k, " ") && k != "" {
			kv[k] = v
			continue
		}
		pos = append(pos, w)
	}
	return pos, kv
}

func (sc *planScenario) step(line string) string {
	words, err := planWords(line)
	if err != nil {
		return "error: " + err.Error()
	}
	pos, kv := planArgs(words)
	if at, ok := kv["at"]; ok {
		d, err := time.ParseDuration(at)
		if err != nil {
			return "error: at=" + at + ": " + err.Error()
		}
		sc.at = t0 + int64(d)
		delete(kv, "at")
	}
	if len(pos) == 0 {
		return "error: empty command"
	}
	if pos[0] == "show" {
		if len(pos) != 2 {
			return "error: usage: show <id>"
		}
		return sc.show(pos[1])
	}
	var id string
	if len(pos) > 1 {
		id = pos[1]
	}
	before, _, _ := sc.s.Plan(nil, id)
	sc.idx++
	if err := sc.apply(pos, kv); err != nil {
		return "error: " + planSentinel(err) + err.Error()
	}
	after, _, _ := sc.s.Plan(nil, id)
	if after == nil {
		return "ok"
	}
	if before != nil && before.ModifyIndex == after.ModifyIndex {
		return "ok (no change)"
	}
	return "ok\n" + planStatusLine(after)
}

// planSentinel names the package sentinel an error wraps, for the output.
func planSentinel(err error) string {
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrStepTaken", ErrStepTaken}, {"ErrPlanNotRunning", ErrPlanNotRunning}, {"ErrNotExpired", ErrNotExpired},
		{"ErrNotFound", ErrNotFound}, {"ErrInvalidRecord", ErrInvalidRecord},
	} {
		if errors.Is(err, s.err) {
			return "[" + s.name + "] "
		}
	}
	return "[?] "
}

func (sc *planScenario) apply(pos []string, kv map[string]string) error {
	need := func(n int, usage string) error {
		if len(pos) != n {
			return fmt.Errorf("usage: %s", usage)
		}
		return nil
	}
	switch pos[0] {
	case "create":
		if err := need(2, "create <id> phases=N nodes=n1,n2 safety=LEVEL ..."); err != nil {
			return err
		}
		return sc.create(pos[1], kv)
	case "start":
		if err := need(4, "start <id> <stage> <node> nonce=X"); err != nil {
			return err
		}
		nonce := kv["nonce"]
		err := sc.s.PlanStepStart(sc.idx, sc.at, &pb.PlanStepStartCommand{PlanId: pos[1], Stage: pos[2], Node: pos[3], Nonce: nonce})
		if err == nil {
			key := pos[1] + "/" + pos[2] + "/" + pos[3]
			if _, ok := sc.nonces[key]; !ok {
				sc.nonces[key] = nonce
			}
		}
		return err
	case "report":
		if len(pos) < 5 {
			return fmt.Errorf("usage: report <id> <stage> <node> ok|fail|postcheck-fail [\"text\"]")
		}
		step, err := sc.reportStep(pos, kv)
		if err != nil {
			return err
		}
		return sc.s.PlanStepReport(sc.idx, sc.at, &pb.PlanStepReportCommand{PlanId: pos[1], Stage: pos[2], Step: step})
	case "expire":
		if err := need(3, "expire <id> <stage> at=D"); err != nil {
			return err
		}
		return sc.s.PlanExpire(sc.idx, sc.at, &pb.PlanExpireCommand{PlanId: pos[1], Stage: pos[2]})
	case "cancel":
		if len(pos) < 2 {
			return fmt.Errorf("usage: cancel <id> [reason]")
		}
		return sc.s.PlanCancel(sc.idx, sc.at, &pb.PlanCancelCommand{PlanId: pos[1], Reason: strings.Join(pos[2:], " ")})
	}
	return fmt.Errorf("unknown command %q", pos[0])
}

func (sc *planScenario) create(id string, kv map[string]string) error {
	phases, err := strconv.Atoi(kv["phases"])
	if err != nil || phases < 1 {
		return fmt.Errorf("phases=%q: want a positive count", kv["phases"])
	}
	nodes := make([][]string, phases)
	for k := range nodes {
		ns := kv["nodes"]
		if v, ok := kv[fmt.Sprintf("phase%d", k)]; ok {
			ns = v
		}
		if ns != "" {
			nodes[k] = strings.Split(ns, ",")
		}
	}
	nocomp := map[string]bool{}
	if v := kv["nocomp"]; v != "" {
		for _, op := range strings.Split(v, ",") {
			nocomp[op] = true
		}
	}
	dur := func(key, def string) (time.Duration, error) {
		v := kv[key]
		if v == "" {
			v = def
		}
		return time.ParseDuration(v)
	}
	timeout, err := dur("timeout", "30s")
	if err != nil {
		return err
	}
	stageTimeout, err := dur("stage_timeout", "5s")
	if err != nil {
		return err
	}
	estimate, err := dur("estimate", "100ms")
	if err != nil {
		return err
	}
	r := planScenarioResult(plan.SafetyLevel(kv["safety"]), nodes, nocomp, estimate)
	res, err := json.Marshal(r)
	if err != nil {
		return err
	}
	spec := &pb.PlanSpecRecord{Id: id, ResultJson: res}
	if !sc.legacy {
		spec.Shape = PlanShapeOf(r)
	}
	_, err = sc.s.PlanCreate(sc.idx, sc.at, &pb.PlanCreateCommand{
		Id: id, Spec: spec,
		DeadlineUnixNano: sc.at + int64(timeout), StageTimeoutMs: stageTimeout.Milliseconds(),
	})
	return err
}

// reportStep builds the step a report command describes, reusing
// okStep/failStep of plans_test.go.
func (sc *planScenario) reportStep(pos []string, kv map[string]string) (*pb.Step, error) {
	id, stage, node, outcome := pos[1], pos[2], pos[3], pos[4]
	nonce, ok := kv["nonce"]
	if !ok {
		nonce = sc.nonces[id+"/"+stage+"/"+node]
	}
	var ops []string // the node's operations in the stage, in order
	if rec, _, _ := sc.s.Plan(nil, id); rec != nil {
		if _, st := (&machine{rec: rec}).stage(stage); st != nil {
			for _, op := range st.Operations {
				if !strings.HasSuffix(op, "-"+node) {
					continue
				}
				if st.Kind == StageKindRollback {
					op = "rollback-" + op // the compensation ran
				}
				ops = append(ops, op)
			}
		}
	}
	text := strings.Join(pos[5:], " ")
	switch outcome {
	case "ok":
		return okStep(node, nonce, ops...), nil
	case "postcheck-fail":
		st := okStep(node, nonce, ops...)
		st.PostChecks = []*pb.CheckOutcome{{Kind: "operation_effect", Ok: false, Failures: []string{text}}}
		return st, nil
	case "fail":
		failed, ok := kv["op"]
		if !ok {
			st := okStep(node, nonce)
			st.Error = text
			return st, nil
		}
		var before []string
		for _, op := range ops {
			if op == failed {
				break
			}
			before = append(before, op)
		}
		st := failStep(node, nonce, failed, before...)
		st.Operations[len(st.Operations)-1].Error = text
		return st, nil
	}
	return nil, fmt.Errorf("report outcome %q: want ok, fail or postcheck-fail", outcome)
}

func planSince(at int64) string {
	if at == 0 {
		return "-"
	}
	return "+" + time.Duration(at-t0).String()
}

func planStatusLine(r *pb.PlanRecord) string {
	l := fmt.Sprintf("plan %s %s", r.Id, r.Status)
	if r.Current >= 0 && int(r.Current) < len(r.Stages) {
		l += " current=" + r.Stages[r.Current].Key
	}
	if r.Reason != "" {
		l += fmt.Sprintf(" reason=%q", r.Reason)
	}
	return l
}

func (sc *planScenario) show(id string) string {
	r, _, err := sc.s.Plan(nil, id)
	if err != nil {
		return "error: " + err.Error()
	}
	if r == nil {
		return "no plan " + id
	}
	lines := []string{planStatusLine(r) + fmt.Sprintf(" safety=%s operations=%d finished=%s", r.SafetyLevel, r.Operations, planSince(r.FinishedAtUnixNano))}
	for _, st := range r.Stages {
		l := fmt.Sprintf("  %s %s ops=%s nodes=%s", st.Key, st.Status, strings.Join(st.Operations, ","), strings.Join(st.Nodes, ","))
		if st.StartedAtUnixNano != 0 {
			l += fmt.Sprintf(" started=%s deadline=%s", planSince(st.StartedAtUnixNano), planSince(st.DeadlineUnixNano))
		}
		if st.FinishedAtUnixNano != 0 {
			l += " finished=" + planSince(st.FinishedAtUnixNano)
		}
		if st.Reason != "" {
			l += fmt.Sprintf(" reason=%q", st.Reason)
		}
		lines = append(lines, l)
		for _, s := range st.Steps {
			l := fmt.Sprintf("    %s %s", s.Node, s.Status)
			if s.Nonce != "" {
				l += " nonce=" + s.Nonce
			}
			var ran []string
			for _, o := range s.Operations {
				switch {
				case o.Ran && o.Ok:
					ran = append(ran, o.Op+":ok")
				case o.Ran:
					ran = append(ran, o.Op+":failed")
				default:
					ran = append(ran, o.Op+":not-run")
				}
			}
			if len(ran) > 0 {
				l += " ops=" + strings.Join(ran, ",")
			}
			for _, c := range s.PostChecks {
				if !c.Ok {
					l += " postcheck=failed"
				}
			}
			if s.Error != "" {
				l += fmt.Sprintf(" error=%q", s.Error)
			}
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
