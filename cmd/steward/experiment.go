package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// experimentJSON is `steward experiment status -o json`, each item of
// `experiment list -o json`, each line of `experiment watch -o json`.
type experimentJSON struct {
	ID          string               `json:"id"`
	Name        string               `json:"name"`
	Status      string               `json:"status"`
	Reason      string               `json:"reason,omitempty"`
	Parts       []experimentPartJSON `json:"parts"`
	Sandboxes   []sandboxJSON        `json:"sandboxes"`
	CreatedAt   string               `json:"created_at"`
	Deadline    string               `json:"deadline"`
	EndedAt     string               `json:"ended_at,omitempty"`
	CreatedBy   string               `json:"created_by"`
	CreateIndex uint64               `json:"create_index"`
	ModifyIndex uint64               `json:"modify_index"`
}

type experimentPartJSON struct {
	Sandbox string `json:"sandbox"`
	Node    string `json:"node"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
}

func toExperimentJSON(v *pb.ExperimentView) experimentJSON {
	e := v.Experiment
	j := experimentJSON{ID: e.Id, Name: e.Name, Status: e.Status, Reason: e.Reason, Parts: []experimentPartJSON{}, Sandboxes: []sandboxJSON{},
		CreatedAt: jsonTime(e.CreatedAtUnixNano), Deadline: jsonTime(e.DeadlineUnixNano), EndedAt: jsonTime(e.EndedAtUnixNano),
		CreatedBy: e.CreatedBy, CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex}
	for _, p := range e.Parts {
		j.Parts = append(j.Parts, experimentPartJSON{Sandbox: p.Sandbox, Node: p.Node, Status: p.Status, Reason: p.Reason})
	}
	for _, sb := range v.Sandboxes {
		j.Sandboxes = append(j.Sandboxes, toSandboxJSON(sb, nil, e))
	}
	return j
}

// experimentLabel is "name (id)", or the id of an unnamed experiment.
func experimentLabel(e *pb.ExperimentRecord) string {
	if e.Name == "" {
		return e.Id
	}
	return e.Name + " (" + e.Id + ")"
}

func printExperiment(w io.Writer, v *pb.ExperimentView) {
	e := v.Experiment
	fmt.Fprintf(w, "Experiment  %s\n", experimentLabel(e))
	status := e.Status
	if e.Reason != "" {
		status += ": " + e.Reason
	}
	fmt.Fprintf(w, "Status      %s\n", status)
	fmt.Fprintf(w, "Created     %s by %s\n", textTime(e.CreatedAtUnixNano), dash(e.CreatedBy))
	if e.Status == state.ExperimentPending {
		fmt.Fprintf(w, "Deadline    %s\n", textTime(e.DeadlineUnixNano))
	}
	if e.EndedAtUnixNano != 0 {
		fmt.Fprintf(w, "Ended       %s\n", textTime(e.EndedAtUnixNano))
	}
	pol := map[string]sandboxJSON{}
	for _, sb := range v.Sandboxes {
		pol[sb.Name] = toSandboxJSON(sb, nil, e)
	}
	t := newTable(w, "SANDBOX", "NODE", "STATUS", "ISOLATION", "LIMITS", "REASON")
	for _, p := range e.Parts {
		j, ok := pol[p.Sandbox]
		iso, lim := "-", "-"
		if ok {
			iso, lim = dash(j.Isolation), cell(sbxLimits(j.Limits), 120)
		}
		t.row(p.Sandbox, p.Node, p.Status, iso, lim, cell(dash(p.Reason), 80))
	}
	_ = t.flush()
}

// partsLine is the parts' statuses in one line, for watching.
func partsLine(e *pb.ExperimentRecord) string {
	var parts []string
	for _, p := range e.Parts {
		s := fmt.Sprintf("%s on %s %s", p.Sandbox, p.Node, p.Status)
		if p.Reason != "" {
			s += " (" + p.Reason + ")"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%s: %s", e.Status, strings.Join(parts, ", "))
}

// followExperiment streams an experiment's changes until it is running,
// failed or gone, printing each (a line for people, a JSON object with
// -o json when lines), and returns the last view. ctx ending (Ctrl-C)
// returns the last view seen and no error.
//
// A stream that ends while the experiment is pending is not the end: the
// node answering Watch follows its own replica, which may not yet hold a
// creation the leader acknowledged (the stream then ends at once, as for
// an experiment destroyed). The status is then read (consistent) and the
// watch started again, until the experiment is up, failed or truly gone.
func followExperiment(ctx context.Context, g *globals, c pb.ExperimentsClient, id string, w io.Writer, out string, lines bool) (*pb.ExperimentView, error) {
	var last *pb.ExperimentView
	lastLine := ""
	disp := newProgressDisplay(w)
	if lines && out != "json" {
		disp.tick(tickEvery)
	}
	defer disp.Close()
	clock := newBatchClock(time.Now)
	show := func(v *pb.ExperimentView) error {
		last = v
		switch {
		case !lines:
		case out == "json":
			b, err := json.Marshal(toExperimentJSON(v))
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\n", b)
		default:
			line := partsLine(v.Experiment)
			disp.Update(experimentFrame(v.Experiment, clock, func(w io.Writer) {
				if line != lastLine {
					fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05.000"), line)
					lastLine = line
				}
			}))
		}
		return nil
	}
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	for {
		stream, err := c.Watch(ctx, &pb.GetExperimentRequest{Id: id})
		if err != nil {
			if ctx.Err() != nil {
				return last, nil
			}
			return last, g.rpcError(err)
		}
		for {
			v, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					return last, nil
				}
				return last, g.rpcError(err)
			}
			if err := show(v); err != nil {
				return last, err
			}
		}
		if last != nil && last.Experiment.Status != state.ExperimentPending {
			return last, nil
		}
		v, err := c.Status(ctx, &pb.GetExperimentRequest{Id: id})
		switch {
		case ctx.Err() != nil:
			return last, nil
		case status.Code(err) == codes.NotFound && last != nil:
			return last, nil // destroyed while pending
		case err != nil:
			return last, g.rpcError(err)
		}
		if v.Experiment.Status != state.ExperimentPending {
			return v, show(v)
		}
		select {
		case <-ctx.Done():
			return last, nil
		case <-retry.C:
		}
	}
}

// experimentFrame is an experiment's progress display: a row per part,
// done once it runs, timed from the experiment's creation to when the
// part was first seen no longer pending.
func experimentFrame(e *pb.ExperimentRecord, clock *batchClock, plain func(io.Writer)) progressFrame {
	f := progressFrame{Title: fmt.Sprintf("experiment %s %s", experimentLabel(e), e.Status), Plain: plain}
	if e.Reason != "" {
		f.Title += ": " + e.Reason
	}
	for _, p := range e.Parts {
		r := progressRow{Label: p.Sandbox + " on " + p.Node, Total: 1, State: p.Status}
		if p.Status == state.SandboxRunning {
			r.Done = 1
		}
		if p.Reason != "" {
			r.State += " (" + p.Reason + ")"
		}
		r.Started = time.Unix(0, e.CreatedAtUnixNano)
		if e.CreatedAtUnixNano == 0 {
			r.Started = time.Time{}
		}
		_, r.Ended = clock.mark(p.Sandbox, true, p.Status != state.SandboxPending)
		f.Rows = append(f.Rows, r)
	}
	return f
}

// experimentOutcome is the exit of a command that waited: nil when
// running, exit 1 naming the reason otherwise.
func experimentOutcome(id string, last *pb.ExperimentView) error {
	switch {
	case last == nil:
		return &cliError{msg: fmt.Sprintf("experiment %s: no status was received", id), code: 1}
	case last.Experiment.Status == state.ExperimentRunning:
		return nil
	case last.Experiment.Status == state.ExperimentFailed:
		return &cliError{msg: fmt.Sprintf("experiment %s failed: %s", experimentLabel(last.Experiment), last.Experiment.Reason), code: 1}
	case last.Experiment.Status == state.ExperimentPending:
		return &cliError{msg: fmt.Sprintf("experiment %s is still pending (stopped watching, or destroyed before it was up): %s", experimentLabel(last.Experiment), partsLine(last.Experiment)), code: 1}
	}
	return &cliError{msg: fmt.Sprintf("experiment %s is %s", experimentLabel(last.Experiment), last.Experiment.Status), code: 1}
}

func newExperimentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Create several sandboxes all or nothing and compare them (experiment create|list|status|watch|compare|destroy)",
		Args:  cobra.NoArgs,
	}

	create := &cobra.Command{
		Use:   "create FILE",
		Short: "Create an experiment from an experiment file: every sandbox runs, or none",
		Long: `create commits every sandbox of the experiment file (HCL or JSON) in one
record and, unless --no-wait, follows the parts as they start, printing each
change, until every part runs or the experiment fails: a part that cannot be
set up, a node lost, or the deadline passed. A failed experiment has every
part removed; create then prints the reason and exits 1. Interrupting it,
or --wait-timeout passing (exit 1), stops the watching only: the leader
still ends the creation at its deadline. On a terminal the parts show as a
redrawn line each. FILE '-' reads standard input.`,
		Args: cobra.ExactArgs(1),
	}
	noWait := create.Flags().Bool("no-wait", false, "return once committed; follow it with experiment watch")
	create.Flags().Bool("wait", true, "follow the parts until every one runs (exit 0) or the experiment fails (exit 1): the default, --no-wait returns once committed")
	waitTimeout := create.Flags().Duration("wait-timeout", 0, "give up waiting after this long (exit 1; the creation goes on to its deadline); 0: until the deadline")
	deadline := create.Flags().Duration("deadline", 0, "how long the parts may take to start (default: the file's deadline, else 60s; at most 10m)")
	dry := create.Flags().Bool("dry-run", false, "check the file and show where each part would run; commit nothing")
	createOut := outputFlag(create)
	create.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*createOut); err != nil {
			return err
		}
		if *deadline < 0 {
			return usageError(fmt.Sprintf("--deadline %s: must not be negative", *deadline))
		}
		if w, _ := cmd.Flags().GetBool("wait"); !w {
			return usageError("--wait=false: say --no-wait")
		}
		if cmd.Flags().Changed("wait") && *noWait {
			return usageError("--wait and --no-wait cannot be combined")
		}
		if err := checkWait(cmd, !*noWait, *waitTimeout); err != nil {
			return err
		}
		data, err := readInput(cmd, "experiment", args[0], sandboxFileLimit)
		if err != nil {
			return err
		}
		c, err := g.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
		defer cancel()
		client := pb.NewExperimentsClient(c.Conn())
		// Committed without waiting, then followed through Watch: the
		// parts show as they start.
		v, err := client.Create(cctx, &pb.CreateExperimentRequest{File: data, Filename: args[0], NoWait: true,
			DeadlineMs: deadline.Milliseconds(), DryRun: *dry})
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		if *dry || *noWait {
			if *createOut == "json" {
				return writeJSON(w, toExperimentJSON(v))
			}
			printExperiment(w, v)
			if *dry {
				fmt.Fprintln(w, "Dry run: nothing was committed")
			} else {
				fmt.Fprintf(w, "Follow it with: steward experiment watch %s\n", v.Experiment.Id)
			}
			return nil
		}
		id := v.Experiment.Id
		if *createOut != "json" {
			fmt.Fprintf(w, "Experiment %s committed: %d sandboxes\n", experimentLabel(v.Experiment), len(v.Experiment.Parts))
		}
		sctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		limit := sbxWaitFor(g, time.Until(time.Unix(0, v.Experiment.DeadlineUnixNano)))
		if *waitTimeout > 0 && *waitTimeout < limit {
			limit = *waitTimeout
		}
		ctx, wcancel := context.WithTimeout(sctx, limit)
		defer wcancel()
		last, err := followExperiment(ctx, g, client, id, w, "table", *createOut != "json")
		if err != nil {
			return err
		}
		if last == nil {
			last = v
		}
		if limit == *waitTimeout && ctx.Err() != nil && sctx.Err() == nil && last.Experiment.Status == state.ExperimentPending {
			if *createOut == "json" {
				if err := writeJSON(w, toExperimentJSON(last)); err != nil {
					return err
				}
			}
			return waitTimedOut("experiment "+experimentLabel(last.Experiment), *waitTimeout, partsLine(last.Experiment))
		}
		if *createOut == "json" {
			if err := writeJSON(w, toExperimentJSON(last)); err != nil {
				return err
			}
		} else if last.Experiment.Status == state.ExperimentRunning {
			fmt.Fprintf(w, "Experiment %s running; compare its sandboxes with: steward experiment compare %s\n", experimentLabel(last.Experiment), experimentRef(last.Experiment))
		}
		return experimentOutcome(id, last)
	}

	list := &cobra.Command{Use: "list", Short: "The experiments, with their status and sandboxes", Args: cobra.NoArgs}
	listOut := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*listOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewExperimentsClient(c.Conn()).List(ctx, &pb.ListExperimentsRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		items := []experimentJSON{}
		for _, v := range resp.Experiments {
			items = append(items, toExperimentJSON(v))
		}
		if *listOut == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"experiments": items})
		}
		t := newTable(cmd.OutOrStdout(), "ID", "NAME", "STATUS", "SANDBOXES", "CREATED", "REASON")
		for _, v := range resp.Experiments {
			e := v.Experiment
			var names []string
			for _, p := range e.Parts {
				names = append(names, p.Sandbox)
			}
			t.row(e.Id, dash(e.Name), e.Status, cell(strings.Join(names, ","), 50), textTime(e.CreatedAtUnixNano), cell(dash(e.Reason), 60))
		}
		return t.flush()
	}

	status := &cobra.Command{Use: "status ID", Short: "An experiment (by id or name): its status and each sandbox's", Args: cobra.ExactArgs(1)}
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
		v, err := pb.NewExperimentsClient(c.Conn()).Status(ctx, &pb.GetExperimentRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		if *statusOut == "json" {
			return writeJSON(cmd.OutOrStdout(), toExperimentJSON(v))
		}
		printExperiment(cmd.OutOrStdout(), v)
		return nil
	}

	watch := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an experiment's parts as they start, until it runs or fails (exit 1 when failed)",
		Long: `watch streams an experiment (by id or name) each time it changes, from any
terminal, until it is running (exit 0), failed (exit 1, with the reason) or
destroyed. An experiment already running or failed prints once.`,
		Args: cobra.ExactArgs(1),
	}
	watchOut := outputFlag(watch)
	watch.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*watchOut); err != nil {
			return err
		}
		c, err := g.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		last, err := followExperiment(ctx, g, pb.NewExperimentsClient(c.Conn()), args[0], cmd.OutOrStdout(), *watchOut, true)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		return experimentOutcome(args[0], last)
	}

	compare := &cobra.Command{
		Use:   "compare ID",
		Short: "The experiment's sandboxes side by side: messages, callbacks, latency, restarts, usage, violations",
		Args:  cobra.ExactArgs(1),
	}
	compareOut := outputFlag(compare)
	compare.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*compareOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewExperimentsClient(c.Conn()).Compare(ctx, &pb.GetExperimentRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		return printCompare(cmd.OutOrStdout(), resp, *compareOut)
	}

	destroy := &cobra.Command{Use: "destroy ID", Short: "Remove an experiment (by id or name) and every sandbox of it, on every node", Args: cobra.ExactArgs(1)}
	destroy.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewExperimentsClient(c.Conn()).Destroy(ctx, &pb.GetExperimentRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		removed := "no sandbox was left"
		if len(resp.Removed) > 0 {
			removed = "removed " + strings.Join(resp.Removed, ", ")
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Experiment %s destroyed (%s)\n", args[0], removed)
		return nil
	}

	cmd.AddCommand(create, list, status, watch, compare, destroy)
	return cmd
}

// experimentRef is what a person types for an experiment: its name, else its id.
func experimentRef(e *pb.ExperimentRecord) string {
	if e.Name != "" {
		return e.Name
	}
	return e.Id
}

// compareMetrics are the rows of `experiment compare`, in order.
var compareMetrics = []string{"messages_handled", "callbacks", "latency_p50_ms", "latency_p99_ms", "restarts", "processes",
	"memory_bytes", "cpu_used_ms", "throttles", "violations", "dropped"}

// compareRowJSON is one sandbox of `experiment compare -o json`.
type compareRowJSON struct {
	Sandbox string         `json:"sandbox"`
	Node    string         `json:"node"`
	Metrics map[string]any `json:"metrics"`
	Error   string         `json:"error,omitempty"`
}

func printCompare(w io.Writer, resp *pb.CompareExperimentResponse, out string) error {
	rows := []compareRowJSON{}
	for _, r := range resp.Rows {
		m := map[string]any{}
		if r.Metrics != nil {
			m = r.Metrics.AsMap()
		}
		rows = append(rows, compareRowJSON{Sandbox: r.Sandbox, Node: r.Node, Metrics: m, Error: r.Error})
	}
	e := resp.Experiment
	if out == "json" {
		return writeJSON(w, map[string]any{"id": e.GetId(), "name": e.GetName(), "status": e.GetStatus(), "rows": rows})
	}
	fmt.Fprintf(w, "Experiment %s: %s\n", experimentLabel(e), e.Status)
	header := []any{"METRIC"}
	for _, r := range rows {
		header = append(header, r.Sandbox)
	}
	t := newTable(w, header...)
	node := []any{"node"}
	for _, r := range rows {
		node = append(node, r.Node)
	}
	t.row(node...)
	running := []any{"running"}
	for _, r := range rows {
		v, ok := r.Metrics["running"]
		running = append(running, sbxMetric(v, ok, r.Error))
	}
	t.row(running...)
	for _, k := range compareMetrics {
		row := []any{k}
		for _, r := range rows {
			v, ok := r.Metrics[k]
			row = append(row, sbxMetric(v, ok, r.Error))
		}
		t.row(row...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Sandbox, cell(r.Error, 0))
		}
	}
	return nil
}

func sbxMetric(v any, ok bool, rowErr string) string {
	switch {
	case rowErr != "":
		return "error"
	case !ok:
		return "-"
	}
	if f, isNum := v.(float64); isNum {
		if f == float64(int64(f)) {
			return fmt.Sprint(int64(f))
		}
		return fmt.Sprintf("%.3f", f)
	}
	return fmt.Sprint(v)
}
