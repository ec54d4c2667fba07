package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/hotcode/deploy"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// deploymentJSON is `steward deploy status -o json`, each line of `deploy
// watch -o json` and each item of `deploy history -o json`.
type deploymentJSON struct {
	ID                string             `json:"id"`
	Module            string             `json:"module"`
	Modules           []moduleDeployJSON `json:"modules"`
	Version           string             `json:"version"`
	FromVersions      []string           `json:"from_versions"`
	Status            string             `json:"status"`
	StatusDescription string             `json:"status_description"`
	Safety            string             `json:"safety"`
	RevertMode        string             `json:"revert_mode"`
	Targets           int                `json:"targets"`
	Done              int                `json:"done"`
	Reverted          int                `json:"reverted"`
	Failed            int                `json:"failed"`
	MaxParallel       int                `json:"max_parallel"`
	Canary            int                `json:"canary"`
	AutoRevert        bool               `json:"auto_revert"`
	AutoPromote       bool               `json:"auto_promote"`
	Promoted          bool               `json:"promoted"`
	MinHealthyTime    string             `json:"min_healthy_time"`
	HealthyDeadline   string             `json:"healthy_deadline"`
	ProgressDeadline  string             `json:"progress_deadline"`
	CreatedAt         time.Time          `json:"created_at"`
	FinishedAt        *time.Time         `json:"finished_at,omitempty"`
	SubmittedBy       string             `json:"submitted_by"`
	SnapshotID        string             `json:"snapshot_id,omitempty"`
	Batches           []batchJSON        `json:"batches"`
	Progress          []progressJSON     `json:"progress"`
	Plan              json.RawMessage    `json:"-"`
}

// moduleDeployJSON is one module of a deployment, in the order they move.
type moduleDeployJSON struct {
	Module       string   `json:"module"`
	Version      string   `json:"version"`
	FromVersions []string `json:"from_versions"`
	RevertMode   string   `json:"revert_mode"`
	Targets      int      `json:"targets"`
}

type batchJSON struct {
	Phase  int      `json:"phase"`
	Canary bool     `json:"canary"`
	PIDs   []string `json:"pids"`
}

type progressJSON struct {
	Node   string `json:"node"`
	Phase  int    `json:"phase"`
	Stage  string `json:"stage"`
	Done   int    `json:"done"`
	Failed int    `json:"failed"`
	Total  int    `json:"total"`
	Status string `json:"status"`
}

func toDeploymentJSON(v *pb.DeploymentView) deploymentJSON {
	d := v.Deployment
	o := d.GetOptions()
	j := deploymentJSON{ID: d.Id, Module: d.Module, Version: d.Version, FromVersions: append([]string{}, d.FromVersions...),
		Status: d.Status, StatusDescription: d.StatusDescription, Safety: d.Safety, RevertMode: d.RevertMode,
		Targets: int(d.Targets), MaxParallel: int(o.GetMaxParallel()), Canary: int(o.GetCanary()), AutoRevert: o.GetAutoRevert(),
		AutoPromote: o.GetAutoPromote(), Promoted: d.Promoted,
		MinHealthyTime: msDur(o.GetMinHealthyTimeMs()), HealthyDeadline: msDur(o.GetHealthyDeadlineMs()), ProgressDeadline: msDur(o.GetProgressDeadlineMs()),
		CreatedAt: time.Unix(0, d.CreatedAtUnixNano).UTC(), SubmittedBy: d.SubmittedBy, SnapshotID: d.SnapshotId, Batches: []batchJSON{}, Progress: []progressJSON{}}
	if d.FinishedAtUnixNano != 0 {
		t := time.Unix(0, d.FinishedAtUnixNano).UTC()
		j.FinishedAt = &t
	}
	j.Modules = []moduleDeployJSON{}
	total := 0
	for _, m := range state.DeploymentModules(d) {
		j.Modules = append(j.Modules, moduleDeployJSON{Module: m.Module, Version: m.Version, FromVersions: append([]string{}, m.FromVersions...), RevertMode: m.RevertMode, Targets: int(m.Targets)})
		total += int(m.Targets)
	}
	j.Targets = total
	for _, b := range v.Batches {
		j.Batches = append(j.Batches, batchJSON{Phase: int(b.Phase), Canary: b.Canary, PIDs: append([]string{}, b.Pids...)})
	}
	for _, p := range v.Progress {
		j.Progress = append(j.Progress, progressJSON{Node: p.Node, Phase: int(p.Phase), Stage: p.Stage, Done: int(p.Done), Failed: int(p.Failed), Total: int(p.Total), Status: p.Status})
		if strings.HasPrefix(p.Stage, "rollback-") {
			j.Reverted += int(p.Done)
		} else {
			j.Done += int(p.Done)
		}
		j.Failed += int(p.Failed)
	}
	return j
}

func msDur(v int64) string { return (time.Duration(v) * time.Millisecond).String() }

func newDeployCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy NAME@VERSION [NAME@VERSION...]",
		Short: "Move running processes onto a module version, batch by batch (deploy status|watch|pause|resume|promote|fail|revert|cancel|history)",
		Long: `deploy commits a deployment and returns: every process that follows the
module's active version (or that --targets selects) moves onto the version
between two messages, keeping its PID, links, monitors, name, timers and
mailbox, through the module's code_change. Several modules deploy
together, one module's batches after another's, a dependency first.
Follow it with deploy watch, or give --wait: deploy then follows it to its
end and exits 0 only when it is successful (1 when it failed, was reverted
or cancelled; a deployment awaiting promotion waits for deploy promote);
with -o json it prints only the final record. On a terminal the batches
show as redrawn lines with bars.`,
		// Either NAME@VERSION or a subcommand: run bare it prints its help,
		// and a word that is neither is an unknown subcommand.
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return missingSubcommand(c, args)
			case !strings.Contains(args[0], "@"):
				return unknownCommand(c, args[0])
			}
			for _, a := range args[1:] {
				if !strings.Contains(a, "@") {
					return usageError(fmt.Sprintf("%s: %q is not NAME@VERSION\nUsage: %s\n%s", c.CommandPath(), a, c.UseLine(), helpHint(c)))
				}
			}
			return nil
		},
	}
	targets := cmd.Flags().String("targets", "", "narrow the targets: tree=NAME, path=TREE/CHILD, node=NAME, pid=NODE/SEQ, comma-separated")
	safety := cmd.Flags().String("safety", "moderate", "strict, moderate or permissive")
	maxPar := cmd.Flags().Uint32("max-parallel", deploy.Defaults.MaxParallel, "processes moved at once per batch")
	canary := cmd.Flags().Uint32("canary", 0, "processes moved first, as canaries")
	autoRevert := cmd.Flags().Bool("auto-revert", false, "revert every moved process when a batch fails")
	autoPromote := cmd.Flags().Bool("auto-promote", false, "go on after healthy canaries without deploy promote")
	minHealthy := cmd.Flags().Duration("min-healthy-time", time.Duration(deploy.Defaults.MinHealthyTimeMs)*time.Millisecond, "how long a moved process must stay healthy")
	healthyDL := cmd.Flags().Duration("healthy-deadline", time.Duration(deploy.Defaults.HealthyDeadlineMs)*time.Millisecond, "how long a batch may take to become healthy")
	progressDL := cmd.Flags().Duration("progress-deadline", time.Duration(deploy.Defaults.ProgressDeadlineMs)*time.Millisecond, "how long a batch may take in all")
	dry := cmd.Flags().Bool("dry-run", false, "show the batches; commit nothing")
	quiet := cmd.Flags().BoolP("quiet", "q", false, "print the deployment's id only")
	out := outputFlag(cmd)
	wait, waitTimeout := waitFlags(cmd, "the deployment")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if err := checkWait(cmd, *wait, *waitTimeout); err != nil {
			return err
		}
		if *wait && (*quiet || *dry) {
			return usageError("--wait cannot be combined with --quiet or --dry-run")
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		req := &pb.DeployRequest{Module: args[0], Also: args[1:], Targets: *targets, Safety: *safety, DryRun: *dry,
			Options: &pb.DeployOptions{MaxParallel: *maxPar, Canary: *canary, AutoRevert: *autoRevert, AutoPromote: *autoPromote,
				MinHealthyTimeMs: minHealthy.Milliseconds(), HealthyDeadlineMs: healthyDL.Milliseconds(), ProgressDeadlineMs: progressDL.Milliseconds()},
			HasMaxParallel: true, HasMinHealthyTime: true,
			HasHealthyDeadline: true, HasProgressDeadline: true}
		v, err := pb.NewDeploymentsClient(c.Conn()).Submit(ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		if *dry {
			if *out == "json" {
				var bs []batchJSON
				for _, b := range v.Batches {
					bs = append(bs, batchJSON{Phase: int(b.Phase), Canary: b.Canary, PIDs: b.Pids})
				}
				return writeJSON(w, map[string]any{"batches": bs})
			}
			for _, b := range v.Batches {
				kind := "batch"
				if b.Canary {
					kind = "canary"
				}
				fmt.Fprintf(w, "%s %d: %s\n", kind, b.Phase, strings.Join(b.Pids, " "))
			}
			return nil
		}
		switch {
		case *quiet:
			fmt.Fprintln(w, v.Deployment.Id)
		case *wait && *out == "json":
			return waitDeployment(cmd, g, v.Deployment.Id, *out, *waitTimeout)
		case *out == "json":
			return writeJSON(w, toDeploymentJSON(v))
		default:
			d := v.Deployment
			j := toDeploymentJSON(v)
			var onto []string
			for _, m := range j.Modules {
				onto = append(onto, fmt.Sprintf("%s@%s (%d, revert by %s)", m.Module, m.Version, m.Targets, m.RevertMode))
			}
			fmt.Fprintf(w, "Deployment %s committed: %d processes onto %s in %d batches (%s)\n", d.Id, j.Targets, strings.Join(onto, ", then "), len(v.Batches), d.Safety)
			if *wait {
				return waitDeployment(cmd, g, d.Id, *out, *waitTimeout)
			}
			fmt.Fprintf(w, "Follow it with: steward deploy watch %s\n", d.Id)
		}
		return nil
	}

	status := &cobra.Command{Use: "status ID", Short: "A deployment's status and progress per node and batch", Args: cobra.ExactArgs(1)}
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
		v, err := pb.NewDeploymentsClient(c.Conn()).Get(ctx, &pb.GetDeploymentRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		if *statusOut == "json" {
			return writeJSON(cmd.OutOrStdout(), toDeploymentJSON(v))
		}
		printDeployment(cmd.OutOrStdout(), toDeploymentJSON(v))
		return nil
	}

	watch := &cobra.Command{Use: "watch ID", Short: "Follow a deployment live until it ends", Args: cobra.ExactArgs(1),
		Long: `watch follows a deployment until it ends: exit 0 when it is successful or was
reverted as an operator asked, 1 otherwise. On a terminal it redraws a line
per batch (and per batch moved back) with a bar, the processes moved of the
batch's, its elapsed time and its nodes' state; piped or to a file it prints a
timestamped line when the deployment's counts or status change, and with -o
json each state as one JSON object a line.`}
	watchOut := outputFlag(watch)
	watch.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*watchOut); err != nil {
			return err
		}
		return watchDeployment(cmd, g, args[0], *watchOut)
	}

	history := &cobra.Command{Use: "history", Short: "The last deployments, newest first, with their outcome", Args: cobra.NoArgs}
	histOut := outputFlag(history)
	module := history.Flags().String("module", "", "only this module's")
	history.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*histOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewDeploymentsClient(c.Conn()).List(ctx, &pb.ListDeploymentsRequest{Module: *module})
		if err != nil {
			return g.rpcError(err)
		}
		items := []deploymentJSON{}
		for _, v := range resp.Deployments {
			items = append(items, toDeploymentJSON(v))
		}
		if *histOut == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"deployments": items})
		}
		t := newTable(cmd.OutOrStdout(), "ID", "MODULE", "FROM", "TO", "STATUS", "TARGETS", "CREATED", "DESCRIPTION")
		for _, j := range items {
			t.row(j.ID, j.Module, strings.Join(j.FromVersions, ","), j.Version, j.Status, j.Targets, j.CreatedAt.Format(time.RFC3339), cell(j.StatusDescription, 60))
		}
		return t.flush()
	}

	cmd.AddCommand(status, watch, history)
	for _, a := range []struct {
		use, short string
		action     pb.DeployAction
		done       string
		// want is the end --wait waits for (UNSPECIFIED: no --wait).
		want pb.DeploymentStatus
	}{
		{"pause ID", "Start no further batch (the running one finishes)", pb.DeployAction_DEPLOY_ACTION_PAUSE, "paused", 0},
		{"resume ID", "Go on with a paused deployment", pb.DeployAction_DEPLOY_ACTION_RESUME, "resumed", pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL},
		{"promote ID", "Go on after the canaries", pb.DeployAction_DEPLOY_ACTION_PROMOTE, "promoted", pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL},
		{"fail ID", "Mark a deployment failed (reverting it with auto-revert); applied when the running batch ends", pb.DeployAction_DEPLOY_ACTION_FAIL, "failed", 0},
		{"revert ID", "Move every moved process back, last batch first, in place; applied when the running batch ends", pb.DeployAction_DEPLOY_ACTION_REVERT, "reverting", pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED},
		{"cancel ID", "Stop a deployment where it is; applied when the running batch ends", pb.DeployAction_DEPLOY_ACTION_CANCEL, "cancelled", 0},
	} {
		sub := &cobra.Command{Use: a.use, Short: a.short, Args: cobra.ExactArgs(1)}
		reason := sub.Flags().String("reason", "", "why, for the record")
		action, what, want := a.action, a.done, a.want
		var wait *bool
		var waitTimeout *time.Duration
		var out *string
		if want != 0 {
			wait, waitTimeout = waitFlags(sub, "the deployment (until "+state.DeploymentStatusName(want)+", exit 0; any other end exits 1)")
			out = outputFlag(sub)
		}
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			if want != 0 {
				if err := checkOutput(*out); err != nil {
					return err
				}
				if err := checkWait(cmd, *wait, *waitTimeout); err != nil {
					return err
				}
			}
			c, ctx, done, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			v, err := pb.NewDeploymentsClient(c.Conn()).Control(ctx, &pb.DeployControlRequest{Id: args[0], Action: action, Reason: *reason})
			if err != nil {
				return g.rpcError(err)
			}
			if want != 0 && *wait {
				if *out != "json" {
					fmt.Fprintf(cmd.OutOrStdout(), "Deployment %s %s: %s\n", args[0], what, v.Deployment.StatusDescription)
				}
				return waitDeploymentFor(cmd, g, v.Deployment.Id, *out, *waitTimeout, want, v.Index)
			}
			if want != 0 && *out == "json" {
				return writeJSON(cmd.OutOrStdout(), toDeploymentJSON(v))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deployment %s %s: %s\n", args[0], what, v.Deployment.StatusDescription)
			return nil
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

func printDeployment(w io.Writer, j deploymentJSON) {
	fmt.Fprintf(w, "ID           %s\n", j.ID)
	for _, m := range j.Modules {
		fmt.Fprintf(w, "Module       %s: %s -> %s (%d processes, revert by %s)\n", m.Module, strings.Join(m.FromVersions, ","), m.Version, m.Targets, m.RevertMode)
	}
	fmt.Fprintf(w, "Status       %s: %s\nSafety       %s\nTargets      %d (moved %d, moved back %d, failed %d)\n",
		j.Status, j.StatusDescription, j.Safety, j.Targets, j.Done, j.Reverted, j.Failed)
	fmt.Fprintf(w, "Update       max_parallel=%d canary=%d auto_revert=%t auto_promote=%t min_healthy_time=%s healthy_deadline=%s progress_deadline=%s\n",
		j.MaxParallel, j.Canary, j.AutoRevert, j.AutoPromote, j.MinHealthyTime, j.HealthyDeadline, j.ProgressDeadline)
	if len(j.Progress) > 0 {
		t := newTable(w, "STAGE", "NODE", "DONE", "FAILED", "TOTAL", "STATUS")
		for _, p := range j.Progress {
			t.row(p.Stage, p.Node, p.Done, p.Failed, p.Total, p.Status)
		}
		_ = t.flush()
	}
}

// watchDeployment follows a deployment until it ends: exit 0 when
// successful or reverted as an operator asked, else 1.
func watchDeployment(cmd *cobra.Command, g *globals, id, out string) error {
	last, err := followDeployment(cmd, g, id, out, cmd.OutOrStdout(), 0)
	if err != nil || last == nil {
		return err
	}
	switch d := last.Deployment; {
	case state.DeploymentStatusOf(d) == pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL:
		return nil
	case state.DeploymentStatusOf(d) == pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED && strings.HasPrefix(d.StatusDescription, "reverted by an operator"):
		return nil // what the operator asked for
	}
	return deploymentFailed(last)
}

func deploymentFailed(last *pb.DeploymentView) error {
	return &cliError{msg: fmt.Sprintf("deployment %s %s: %s", last.Deployment.Id, last.Deployment.Status, last.Deployment.StatusDescription), code: 1}
}

// waitDeployment is deploy --wait: the progress (none with -o json), the
// final record with -o json, exit 0 only when the deployment is
// successful (a revert, even one an operator asked for, or a cancel is
// exit 1: what was asked for did not happen).
func waitDeployment(cmd *cobra.Command, g *globals, id, out string, timeout time.Duration) error {
	return waitDeploymentFor(cmd, g, id, out, timeout, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL, 0)
}

// waitDeploymentFor is waitDeployment ending in want (exit 0) rather than
// successful: reverted for deploy revert --wait.
func waitDeploymentFor(cmd *cobra.Command, g *globals, id, out string, timeout time.Duration, want pb.DeploymentStatus, minIndex uint64) error {
	w := cmd.OutOrStdout()
	progress := w
	if out == "json" {
		progress = io.Discard
	}
	last, err := followDeploymentFrom(cmd, g, id, "table", progress, timeout, minIndex)
	if last != nil && out == "json" {
		if err := writeJSON(w, toDeploymentJSON(last)); err != nil {
			return err
		}
	}
	switch {
	case err != nil:
		return err
	case last == nil:
		return &cliError{msg: fmt.Sprintf("deployment %s: stopped waiting before it ended", id), code: 1}
	case state.DeploymentStatusOf(last.Deployment) == want:
		return nil
	}
	return deploymentFailed(last)
}

// followDeployment writes a deployment's progress to w until it ends
// (table: a line when it changed, or a redrawn display when w is a
// terminal; json: each view) and returns its last view; nil when
// interrupted or the stream ended before any. timeout (0: none) bounds
// it: reaching it returns the last view and a waitTimedOut error.
func followDeployment(cmd *cobra.Command, g *globals, id, out string, w io.Writer, timeout time.Duration) (*pb.DeploymentView, error) {
	return followDeploymentFrom(cmd, g, id, out, w, timeout, 0)
}

// followDeploymentFrom is followDeployment that does not take for the end
// a view older than minIndex (the index of a control just committed: the
// agent's replica may not have applied it yet, and a revert of a
// successful deployment would otherwise end at once); it watches again.
func followDeploymentFrom(cmd *cobra.Command, g *globals, id, out string, w io.Writer, timeout time.Duration, minIndex uint64) (*pb.DeploymentView, error) {
	c, err := g.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := waitContext(sctx, timeout)
	defer cancel()
	timedOut := func(last *pb.DeploymentView) (*pb.DeploymentView, error) {
		if sctx.Err() == nil && timeout > 0 {
			status := ""
			if last != nil {
				status = last.Deployment.Status
			}
			return last, waitTimedOut("deployment "+id, timeout, status)
		}
		return nil, nil
	}
	disp := newProgressDisplay(w)
	if out != "json" {
		disp.tick(tickEvery)
	}
	defer disp.Close()
	clock := newBatchClock(time.Now)
	var last *pb.DeploymentView
	lastLine := ""
	for {
		stream, err := pb.NewDeploymentsClient(c.Conn()).Watch(ctx, &pb.GetDeploymentRequest{Id: id})
		if err != nil {
			if ctx.Err() != nil {
				disp.Close()
				return timedOut(last)
			}
			return nil, g.rpcError(err)
		}
		for {
			v, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					disp.Close()
					return timedOut(last)
				}
				return nil, g.rpcError(err)
			}
			last = v
			j := toDeploymentJSON(v)
			if out == "json" {
				if err := json.NewEncoder(w).Encode(j); err != nil {
					return nil, err
				}
				continue
			}
			line := fmt.Sprintf("%s: moved %d/%d, moved back %d, failed %d — %s", j.Status, j.Done, j.Targets, j.Reverted, j.Failed, j.StatusDescription)
			disp.Update(deployFrame(j, v.Batches, clock, func(w io.Writer) {
				if line != lastLine {
					fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05.000"), line)
					lastLine = line
				}
			}))
		}
		if last == nil || last.Index >= minIndex {
			return last, nil
		}
		select { // the replica is behind the control: watch again shortly
		case <-ctx.Done():
			disp.Close()
			return timedOut(last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
