package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/plan"
	"github.com/steward/steward/state"
)

// readPlanFile reads a plan file ('-': standard input), at most
// plan.MaxPlanBytes.
func readPlanFile(cmd *cobra.Command, path string) ([]byte, error) {
	return readInput(cmd, "plan", path, plan.MaxPlanBytes)
}

// skipCheckFlag adds --skip-check (repeatable) to cmd; its parse returns
// the names, checked against plan.SkippableChecks (a usage error, exit 2,
// lists the valid ones).
func skipCheckFlag(cmd *cobra.Command) func() ([]string, error) {
	names := cmd.Flags().StringArray("skip-check", nil, "skip this check in every phase of the plan, overriding it (repeatable): "+skippableNames())
	return func() ([]string, error) {
		kinds, err := plan.ParseSkipChecks(*names)
		if err != nil {
			return nil, usageError("--skip-check: " + strings.TrimPrefix(err.Error(), plan.ErrBadValue.Error()+": "))
		}
		return checkNames(kinds), nil
	}
}

func skippableNames() string { return strings.Join(checkNames(plan.SkippableChecks), ", ") }

// skipArgs renders skip as the flags that ask for it again.
func skipArgs(skip []string) string {
	var b strings.Builder
	for _, s := range skip {
		b.WriteString(" --skip-check " + s)
	}
	return b.String()
}

func newPlanCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Dry run of a plan: phases, checks, conflicts and estimates; changes nothing",
		Long: `Plan FILE (HCL or JSON) on the leader from live facts, as 'apply' would, and print
the phases, their checks and rollbacks, the conflicts and the estimated durations.
Nothing is committed. Pass the printed check index to 'steward apply --check-index'
to refuse the apply if the cluster changed in between. --skip-check plans as
'apply --skip-check' would.`,
		Args: cobra.ExactArgs(1),
	}
	out := outputFlag(cmd)
	skipChecks := skipCheckFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		skip, err := skipChecks()
		if err != nil {
			return err
		}
		data, err := readPlanFile(cmd, args[0])
		if err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewCoordinationClient(c.Conn()).DryRun(ctx, &pb.PlanRequest{Plan: data, Filename: filepath.Base(args[0]), SkipChecks: skip})
		if err != nil {
			return g.rpcError(err)
		}
		var dry plan.DryRun
		if err := json.Unmarshal(resp.DryRunJson, &dry); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, struct {
				plan.DryRun
				CheckIndex uint64 `json:"check_index"`
			}{dry, resp.CheckIndex})
		}
		if err := dry.WriteText(w); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nCheck index: %d\n", resp.CheckIndex)
		if dry.Refused {
			fmt.Fprintln(w, "The plan would be refused: see the conflicts of error severity above.")
			return &cliError{msg: "plan refused by its conflicts", code: 1}
		}
		fmt.Fprintf(w, "To run it only if the cluster has not changed since:\n  steward apply %s --check-index %d%s\n", args[0], resp.CheckIndex, skipArgs(checkNames(dry.SkippedChecks)))
		return nil
	}
	return cmd
}

// opTypeList names the operation types a plan file may hold.
func opTypeList() string {
	names := make([]string, len(plan.OpTypes))
	for i, t := range plan.OpTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func newApplyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Commit a plan; it then runs phase by phase across the nodes",
		Long: `Commit FILE (HCL or JSON), planned on the leader from live facts; the nodes then
run it phase by phase, each phase between its pre- and post-checks.

Operation types: ` + opTypeList() + ` (plan/doc.go gives each one's
target and params; spawn takes no target: it starts an unsupervised process
of a catalog behavior on the operation's node).

--skip-check KIND overrides a check for this plan: no phase runs it, before or
after, and the plan records it ('steward ops status' shows "Skipped checks").
Stopping operations (terminate_child, delete_child, kill_process,
suspend_process) never wait for system_stable; skip it to run other operations on a node that is unstable,
such as one that was crash-looping within the last minute.

Without --wait, apply returns once the plan is committed. --wait follows it to
its end (a redrawn line per phase on a terminal, the lines of 'ops watch'
otherwise) and exits 0 when it succeeded, 1 when it failed, rolled back or was
cancelled; with -o json it prints only the plan's final record (as 'ops status
-o json'). --wait-timeout D gives up after D (exit 1; the plan goes on).`,
		Args: cobra.ExactArgs(1),
	}
	out := outputFlag(cmd)
	skipChecks := skipCheckFlag(cmd)
	checkIndex := cmd.Flags().Int64("check-index", -1, "refuse if the cluster changed since this index (from 'steward plan')")
	watch := cmd.Flags().Bool("watch", false, "follow the plan's progress until it finishes")
	quiet := cmd.Flags().BoolP("quiet", "q", false, "print only the plan's id (for scripts: PLAN=$(steward apply FILE -q))")
	wait, waitTimeout := waitFlags(cmd, "the plan")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if err := quietAlone(cmd, "watch", "output", "wait"); err != nil {
			return err
		}
		if err := checkWait(cmd, *wait, *waitTimeout); err != nil {
			return err
		}
		if *wait && *watch {
			return usageError("--wait and --watch cannot be combined (--wait follows the plan too)")
		}
		skip, err := skipChecks()
		if err != nil {
			return err
		}
		data, err := readPlanFile(cmd, args[0])
		if err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		req := &pb.ApplyPlanRequest{Plan: data, Filename: filepath.Base(args[0]), SkipChecks: skip}
		if *checkIndex >= 0 {
			ci := uint64(*checkIndex)
			req.CheckIndex = &ci
		}
		resp, err := pb.NewCoordinationClient(c.Conn()).Apply(ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		var dry plan.DryRun
		_ = json.Unmarshal(resp.DryRunJson, &dry)
		skipped := checkNames(dry.SkippedChecks)
		if strings.Join(skipped, ",") != strings.Join(skip, ",") {
			// A leader older than --skip-check planned with every check.
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: plan %s was committed skipping [%s], not the [%s] asked for (the leader does not know --skip-check); it runs with those checks\n",
				resp.Id, strings.Join(skipped, ", "), strings.Join(skip, ", "))
		}
		if *quiet {
			_, err := fmt.Fprintln(w, resp.Id)
			return err
		}
		if *wait {
			if *out != "json" {
				fmt.Fprintf(w, "Plan %s committed at index %d.\n", resp.Id, resp.Meta.GetIndex())
				if len(skipped) > 0 {
					fmt.Fprintf(w, "Skipped checks: %s\n", strings.Join(skipped, ", "))
				}
			}
			return waitPlan(cmd, g, resp.Id, *out, *waitTimeout)
		}
		if *out == "json" {
			if err := writeJSON(w, map[string]any{"id": resp.Id, "index": resp.Meta.GetIndex(), "skipped_checks": skipped}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(w, "Plan %s committed at index %d.\n", resp.Id, resp.Meta.GetIndex())
			if len(skipped) > 0 {
				fmt.Fprintf(w, "Skipped checks: %s\n", strings.Join(skipped, ", "))
			}
			fmt.Fprintf(w, "Follow it with: steward ops watch %s\n", resp.Id)
		}
		if *watch {
			return watchPlan(cmd, g, resp.Id, *out)
		}
		return nil
	}
	return cmd
}

func newOpsCmd(g *globals) *cobra.Command {
	ops := &cobra.Command{Use: "ops", Short: "Follow and manage coordinated operation plans"}

	list := &cobra.Command{Use: "list", Short: "List plans (running by default)", Args: cobra.NoArgs}
	listOut := outputFlag(list)
	all := list.Flags().Bool("all", false, "include finished plans")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		filter := "running"
		if *all {
			filter = "all"
		}
		return listPlans(cmd, g, filter, *listOut)
	}

	history := &cobra.Command{Use: "history", Short: "The last finished plans, with outcome and duration", Args: cobra.NoArgs}
	histOut := outputFlag(history)
	history.RunE = func(cmd *cobra.Command, _ []string) error { return listPlans(cmd, g, "finished", *histOut) }

	status := &cobra.Command{Use: "status ID", Short: "A plan's progress per phase and node, with every result", Args: cobra.ExactArgs(1)}
	statusOut := outputFlag(status)
	status.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*statusOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewCoordinationClient(c.Conn()).Get(ctx, &pb.GetPlanRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		v := coordination.NewView(resp.Plan, resp.ResultJson)
		if *statusOut == "json" {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		printView(cmd.OutOrStdout(), v)
		return nil
	}

	watch := &cobra.Command{Use: "watch ID", Short: "Follow a plan live until it finishes", Args: cobra.ExactArgs(1),
		Long: `watch follows a plan until it finishes: exit 0 when it succeeded, 1 otherwise.
On a terminal it redraws a line per phase (and per rollback of a phase) with a
bar, the operations done of the phase's, the phase's elapsed time and its
status; piped or to a file it prints a timestamped line per change of a phase
or node, and with -o json each state of the plan as one JSON object a line.`}
	watchOut := outputFlag(watch)
	watch.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*watchOut); err != nil {
			return err
		}
		return watchPlan(cmd, g, args[0], *watchOut)
	}

	cancel := &cobra.Command{Use: "cancel ID", Short: "Stop a running plan: no further phase starts", Args: cobra.ExactArgs(1)}
	reason := cancel.Flags().String("reason", "", "why, for the record")
	cancel.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		if _, err := pb.NewCoordinationClient(c.Conn()).Cancel(ctx, &pb.CancelPlanRequest{Id: args[0], Reason: *reason}); err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Plan %s cancelled\n", args[0])
		return nil
	}
	ops.AddCommand(list, status, watch, cancel, history)
	return ops
}

// planSummary is one item of `ops list -o json` and `ops history -o json`.
type planSummary struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	SafetyLevel string     `json:"safety_level"`
	Operations  int        `json:"operations"`
	Phases      int        `json:"phases"`
	Phase       int        `json:"current_phase"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	DurationMS  int64      `json:"duration_ms"`
	Reason      string     `json:"reason,omitempty"`
}

func listPlans(cmd *cobra.Command, g *globals, filter, out string) error {
	if err := checkOutput(out); err != nil {
		return err
	}
	c, ctx, done, err := g.connect(cmd)
	if err != nil {
		return err
	}
	defer done()
	resp, err := pb.NewCoordinationClient(c.Conn()).List(ctx, &pb.ListPlansRequest{Filter: filter})
	if err != nil {
		return g.rpcError(err)
	}
	items := []planSummary{}
	for _, rec := range resp.Plans {
		v := coordination.NewView(rec, nil)
		ps := planSummary{ID: rec.Id, Status: rec.Status, SafetyLevel: rec.SafetyLevel, Operations: int(rec.Operations),
			Phases: len(v.Phases), Phase: int(rec.Current), CreatedAt: v.CreatedAt, FinishedAt: v.FinishedAt,
			DurationMS: v.DurationMS, Reason: rec.Reason}
		if rec.Current >= 0 && int(rec.Current) < len(rec.Stages) {
			ps.Phase = int(rec.Stages[rec.Current].Phase)
		}
		items = append(items, ps)
	}
	if filter == "finished" {
		// Newest first, as a history reads.
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	w := cmd.OutOrStdout()
	if out == "json" {
		return writeJSON(w, items)
	}
	t := newTable(w, "ID", "STATUS", "SAFETY", "OPS", "PHASES", "CREATED", "DURATION", "REASON")
	for _, it := range items {
		reason := it.Reason
		if len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		t.row(it.ID, it.Status, it.SafetyLevel, it.Operations, it.Phases, it.CreatedAt.Format(time.RFC3339),
			(time.Duration(it.DurationMS) * time.Millisecond).String(), reason)
	}
	return t.flush()
}

// watchPlan streams a plan's progress until it finishes; table output
// prints what changed, one line per event. A plan that did not succeed is
// an error (exit 1) carrying its reason.
func watchPlan(cmd *cobra.Command, g *globals, id, out string) error {
	last, err := followPlan(cmd, g, id, out, cmd.OutOrStdout())
	if err != nil || last == nil {
		return err
	}
	return planOutcome(last)
}

// followPlan writes a plan's progress to w until it finishes (table: a
// line per change and a final line, or a redrawn display when w is a
// terminal; json: each view) and returns its last state; nil when
// interrupted or the stream ended before any.
func followPlan(cmd *cobra.Command, g *globals, id, out string, w io.Writer) (*pb.GetPlanResponse, error) {
	return followPlanFor(cmd, g, id, out, w, 0)
}

// followPlanFor is followPlan bounded by timeout (0: none): reaching it
// returns the last state seen and a waitTimedOut error.
func followPlanFor(cmd *cobra.Command, g *globals, id, out string, w io.Writer, timeout time.Duration) (*pb.GetPlanResponse, error) {
	// Following ends when the plan finishes, on an interrupt or at
	// timeout, not on --timeout.
	c, err := g.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := waitContext(sctx, timeout)
	defer cancel()
	stream, err := pb.NewCoordinationClient(c.Conn()).Watch(ctx, &pb.GetPlanRequest{Id: id})
	if err != nil {
		if ctx.Err() != nil && sctx.Err() == nil && timeout > 0 {
			return nil, waitTimedOut("plan "+id, timeout, "")
		}
		return nil, g.rpcError(err)
	}
	disp := newProgressDisplay(w)
	if out != "json" {
		disp.tick(tickEvery)
	}
	defer disp.Close()
	seen := map[string]string{}
	var last *pb.GetPlanResponse
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				disp.Close()
				if sctx.Err() == nil && timeout > 0 {
					status := ""
					if last != nil {
						status = last.Plan.Status
					}
					return last, waitTimedOut("plan "+id, timeout, status)
				}
				return nil, nil
			}
			return nil, g.rpcError(err)
		}
		last = resp
		v := coordination.NewView(resp.Plan, resp.ResultJson)
		if out == "json" {
			if err := json.NewEncoder(w).Encode(v); err != nil {
				return nil, err
			}
			continue
		}
		disp.Update(planFrame(v, seen))
	}
	disp.Close()
	if last != nil && out != "json" {
		v := coordination.NewView(last.Plan, last.ResultJson)
		fmt.Fprintf(w, "%s  plan %s %s after %s", time.Now().Format("15:04:05.000"), v.ID, v.Status, time.Duration(v.DurationMS)*time.Millisecond)
		if v.Reason != "" {
			fmt.Fprintf(w, ": %s", v.Reason)
		}
		fmt.Fprintln(w)
	}
	return last, nil
}

// planOutcome is nil for a plan that succeeded, else an error (exit 1)
// naming its status and reason.
func planOutcome(last *pb.GetPlanResponse) error {
	if state.PlanStatusOf(last.Plan) == pb.PlanStatus_PLAN_STATUS_SUCCEEDED {
		return nil
	}
	msg := fmt.Sprintf("plan %s %s", last.Plan.Id, last.Plan.Status)
	if last.Plan.Reason != "" {
		msg += ": " + last.Plan.Reason
	}
	return &cliError{msg: msg, code: 1}
}

// printProgress prints the stage and node states that changed since seen.
func printProgress(w io.Writer, v coordination.View, seen map[string]string) {
	now := time.Now().Format("15:04:05.000")
	emit := func(key, state, line string) {
		if seen[key] == state {
			return
		}
		seen[key] = state
		fmt.Fprintf(w, "%s  %s\n", now, line)
	}
	for _, group := range []struct {
		name   string
		stages []coordination.StageView
	}{{"phase", v.Phases}, {"rollback of phase", v.Rollback}} {
		for _, st := range group.stages {
			key := fmt.Sprintf("%s %d", group.name, st.Phase)
			line := fmt.Sprintf("%s %d: %s", group.name, st.Phase, st.Status)
			if st.Reason != "" && st.Status != "running" {
				line += " (" + st.Reason + ")"
			}
			emit(key, st.Status, line)
			for _, n := range st.Nodes {
				var ops []string
				for _, o := range st.Operations {
					if o.Node == n.Node && o.Status != "pending" {
						ops = append(ops, o.ID+"="+o.Status)
					}
				}
				detail := n.Status
				if len(ops) > 0 {
					detail += " [" + strings.Join(ops, " ") + "]"
				}
				if n.Error != "" {
					detail += ": " + n.Error
				}
				emit(key+"/"+n.Node, detail, fmt.Sprintf("  %s %d on %s: %s", group.name, st.Phase, n.Node, detail))
			}
		}
	}
}

// printView prints a plan's full report.
func printView(w io.Writer, v coordination.View) {
	fmt.Fprintf(w, "Plan %s: %s (%s, %d operations, %s", v.ID, v.Status, v.SafetyLevel, v.Operations, time.Duration(v.DurationMS)*time.Millisecond)
	if v.EstimatedMS > 0 {
		fmt.Fprintf(w, ", estimated %s", time.Duration(v.EstimatedMS)*time.Millisecond)
	}
	fmt.Fprintln(w, ")")
	if v.Reason != "" {
		fmt.Fprintf(w, "Reason: %s\n", v.Reason)
	}
	if len(v.SkippedChecks) > 0 {
		fmt.Fprintf(w, "Skipped checks: %s (by the operator)\n", strings.Join(checkNames(v.SkippedChecks), ", "))
	}
	section := func(title string, stages []coordination.StageView) {
		for _, st := range stages {
			fmt.Fprintf(w, "\n%s %d: %s", title, st.Phase, st.Status)
			if st.Reason != "" {
				fmt.Fprintf(w, " (%s)", st.Reason)
			}
			fmt.Fprintln(w)
			t := newTable(w)
			for _, o := range st.Operations {
				res := o.Status
				if o.Error != "" {
					res += ": " + o.Error
				}
				if o.ResultPID != "" {
					res += " -> " + o.ResultPID
				}
				t.row("  op", o.ID, o.Type, o.Target, "on "+o.Node, res)
			}
			for _, c := range append(append([]coordination.CheckView{}, st.PreChecks...), st.PostChecks...) {
				res := "ok"
				if !c.OK {
					res = "FAILED: " + strings.Join(c.Failures, "; ")
				}
				t.row("  check", c.Kind, "", "", "on "+c.Node, res)
			}
			for _, n := range st.Nodes {
				if n.Status == "lost" || n.Error != "" {
					t.row("  node", n.Node, n.Status, "", "", n.Error)
				}
			}
			_ = t.flush()
		}
	}
	section("Phase", v.Phases)
	section("Rollback of phase", v.Rollback)
}

func checkNames(ks []plan.CheckKind) []string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return s
}
