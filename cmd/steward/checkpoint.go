package main

import (
	"context"
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
)

// checkpointJSON is `steward checkpoint inspect -o json`, each item of
// `checkpoint list -o json` and `checkpoint create -o json`.
type checkpointJSON struct {
	ID         string                  `json:"id"`
	Name       string                  `json:"name"`
	Modules    []checkpointModuleJSON  `json:"modules"`
	WithState  bool                    `json:"with_state"`
	StateBytes uint64                  `json:"state_bytes"`
	Processes  []checkpointProcessJSON `json:"processes"`
	CreatedBy  string                  `json:"created_by"`
	CreatedAt  time.Time               `json:"created_at"`
	Index      uint64                  `json:"create_index"`
}

type checkpointModuleJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Sha256  string `json:"sha256"`
}

type checkpointProcessJSON struct {
	PID        string  `json:"pid"`
	Node       string  `json:"node"`
	Tree       string  `json:"tree"`
	ChildID    string  `json:"child_id"`
	Module     string  `json:"module"`
	Version    string  `json:"version"`
	ModuleRef  string  `json:"module_ref"`
	Sandboxed  bool    `json:"sandboxed"`
	StateBytes uint64  `json:"state_bytes"`
	State      *string `json:"state,omitempty"`
}

func toCheckpointJSON(c *pb.CheckpointRecord) checkpointJSON {
	j := checkpointJSON{ID: c.Id, Name: c.Name, WithState: c.WithState, StateBytes: c.StateBytes, CreatedBy: c.CreatedBy,
		CreatedAt: time.Unix(0, c.CreatedAtUnixNano).UTC(), Index: c.CreateIndex,
		Modules: []checkpointModuleJSON{}, Processes: []checkpointProcessJSON{}}
	for _, m := range c.Modules {
		j.Modules = append(j.Modules, checkpointModuleJSON{Name: m.Name, Version: m.Version, Sha256: m.Sha256})
	}
	for _, p := range c.Processes {
		pj := checkpointProcessJSON{PID: p.Pid, Node: p.Node, Tree: p.Tree, ChildID: p.ChildId, Module: p.Module, Version: p.Version,
			ModuleRef: p.ModuleRef, Sandboxed: p.Sandboxed, StateBytes: p.StateBytes}
		if p.State != nil {
			s := string(p.State)
			pj.State = &s
		}
		j.Processes = append(j.Processes, pj)
	}
	return j
}

func moduleList(c checkpointJSON) string {
	var out []string
	for _, m := range c.Modules {
		out = append(out, m.Name+"@"+m.Version)
	}
	return strings.Join(out, ",")
}

// rollbackJSON is `steward checkpoint rollback -o json`.
type rollbackJSON struct {
	ID            string               `json:"id"`
	Noop          bool                 `json:"noop"`
	Complete      bool                 `json:"complete"`
	Message       string               `json:"message"`
	Modules       []rollbackModuleJSON `json:"modules"`
	DeploymentIDs []string             `json:"deployment_ids"`
	StatePlanIDs  []string             `json:"state_plan_ids"`
	Restored      []rollbackProcJSON   `json:"restored"`
	NotRestored   []rollbackProcJSON   `json:"not_restored"`
}

type rollbackModuleJSON struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	FromVersions []string `json:"from_versions"`
	Action       string   `json:"action"`
	DeploymentID string   `json:"deployment_id"`
	Status       string   `json:"status"`
	Detail       string   `json:"detail"`
}

type rollbackProcJSON struct {
	PID    string `json:"pid"`
	Node   string `json:"node"`
	Reason string `json:"reason,omitempty"`
}

func toRollbackJSON(r *pb.RollbackCheckpointResponse) rollbackJSON {
	j := rollbackJSON{ID: r.Id, Noop: r.Noop, Complete: r.Complete, Message: r.Message, Modules: []rollbackModuleJSON{},
		DeploymentIDs: append([]string{}, r.DeploymentIds...), StatePlanIDs: append([]string{}, r.StatePlanIds...),
		Restored: []rollbackProcJSON{}, NotRestored: []rollbackProcJSON{}}
	for _, m := range r.Modules {
		j.Modules = append(j.Modules, rollbackModuleJSON{Name: m.Name, Version: m.Version, FromVersions: append([]string{}, m.FromVersions...),
			Action: m.Action, DeploymentID: m.DeploymentId, Status: m.Status, Detail: m.Detail})
	}
	for _, p := range r.Restored {
		j.Restored = append(j.Restored, rollbackProcJSON{PID: p.Pid, Node: p.Node})
	}
	for _, p := range r.NotRestored {
		j.NotRestored = append(j.NotRestored, rollbackProcJSON{PID: p.Pid, Node: p.Node, Reason: p.Reason})
	}
	return j
}

func newCheckpointCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Record the active module versions (and process states) to roll back to (checkpoint create|list|inspect|delete|rollback)",
		Args:  cobra.NoArgs,
	}

	create := &cobra.Command{Use: "create", Short: "Record the active version of modules, with --with-state the states of the processes running them", Args: cobra.NoArgs}
	modules := create.Flags().StringSlice("modules", nil, "the modules, comma-separated (default: every stored module)")
	withState := create.Flags().Bool("with-state", false, "also record the exported state of every worker running the modules")
	name := create.Flags().String("name", "", "a name, unique among checkpoints")
	quiet := create.Flags().BoolP("quiet", "q", false, "print the checkpoint's id only")
	createOut := outputFlag(create)
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*createOut); err != nil {
			return err
		}
		if *quiet && *createOut == "json" {
			return usageError("--quiet and --output cannot be combined")
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		rec, err := pb.NewCheckpointsClient(c.Conn()).Create(ctx, &pb.CreateCheckpointRequest{Modules: *modules, WithState: *withState,
			Name: *name, CreatedBy: pusher()})
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		j := toCheckpointJSON(rec)
		switch {
		case *quiet:
			fmt.Fprintln(w, rec.Id)
		case *createOut == "json":
			return writeJSON(w, j)
		default:
			fmt.Fprintf(w, "Checkpoint %s committed: %s", rec.Id, moduleList(j))
			if rec.WithState {
				fmt.Fprintf(w, ", the states of %d processes (%d bytes)", len(rec.Processes), rec.StateBytes)
			}
			fmt.Fprintf(w, "\nRoll back to it with: steward checkpoint rollback %s\n", rec.Id)
		}
		return nil
	}

	list := &cobra.Command{Use: "list", Short: "The checkpoints, oldest first", Args: cobra.NoArgs}
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
		resp, err := pb.NewCheckpointsClient(c.Conn()).List(ctx, &pb.ListCheckpointsRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		items := []checkpointJSON{}
		for _, ck := range resp.Checkpoints {
			items = append(items, toCheckpointJSON(ck))
		}
		if *listOut == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"checkpoints": items, "max_checkpoints": resp.MaxCheckpoints})
		}
		t := newTable(cmd.OutOrStdout(), "ID", "NAME", "MODULES", "PROCESSES", "STATE_BYTES", "CREATED", "BY")
		for _, j := range items {
			procs := "-"
			if j.WithState {
				procs = fmt.Sprint(len(j.Processes))
			}
			t.row(j.ID, j.Name, cell(moduleList(j), 60), procs, j.StateBytes, j.CreatedAt.Format(time.RFC3339), j.CreatedBy)
		}
		return t.flush()
	}

	inspect := &cobra.Command{Use: "inspect ID", Short: "One checkpoint (by id or name): its versions and processes", Args: cobra.ExactArgs(1)}
	states := inspect.Flags().Bool("states", false, "include the captured states")
	inspectOut := outputFlag(inspect)
	inspect.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*inspectOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		rec, err := pb.NewCheckpointsClient(c.Conn()).Inspect(ctx, &pb.InspectCheckpointRequest{Id: args[0], IncludeStates: *states})
		if err != nil {
			return g.rpcError(err)
		}
		j := toCheckpointJSON(rec)
		if *inspectOut == "json" {
			return writeJSON(cmd.OutOrStdout(), j)
		}
		printCheckpoint(cmd.OutOrStdout(), j)
		return nil
	}

	del := &cobra.Command{Use: "delete ID", Short: "Delete a checkpoint, unpinning its module versions", Args: cobra.ExactArgs(1)}
	del.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewCheckpointsClient(c.Conn()).Delete(ctx, &pb.DeleteCheckpointRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Checkpoint %s deleted\n", resp.Id)
		return nil
	}

	rb := &cobra.Command{
		Use:   "rollback ID",
		Short: "Deploy the checkpoint's versions back, module by module, then put its states back",
		Long: `rollback runs one deployment per module whose processes are not on the
checkpoint's version (dependencies first, then by name), each waited for,
with the deploy options given here; then, for a checkpoint with states,
a plan of replace_state operations puts each captured state back into the
process alive with the captured pid. Processes gone since are reported.
It returns when done (or at --wait; what was committed goes on).`,
		Args: cobra.ExactArgs(1),
	}
	safety := rb.Flags().String("safety", "moderate", "strict, moderate or permissive")
	maxPar := rb.Flags().Uint32("max-parallel", deploy.Defaults.MaxParallel, "processes moved at once per batch")
	canary := rb.Flags().Uint32("canary", 0, "processes moved first, as canaries (promote each deployment with deploy promote)")
	autoRevert := rb.Flags().Bool("auto-revert", false, "revert every moved process when a batch fails")
	autoPromote := rb.Flags().Bool("auto-promote", false, "go on after healthy canaries without deploy promote")
	minHealthy := rb.Flags().Duration("min-healthy-time", time.Duration(deploy.Defaults.MinHealthyTimeMs)*time.Millisecond, "how long a moved process must stay healthy")
	healthyDL := rb.Flags().Duration("healthy-deadline", time.Duration(deploy.Defaults.HealthyDeadlineMs)*time.Millisecond, "how long a batch may take to become healthy")
	progressDL := rb.Flags().Duration("progress-deadline", time.Duration(deploy.Defaults.ProgressDeadlineMs)*time.Millisecond, "how long a batch may take in all")
	skipState := rb.Flags().Bool("skip-state", false, "only the versions: do not put the states back")
	wait := rb.Flags().Duration("wait", time.Hour, "how long to wait for the whole rollback")
	rbOut := outputFlag(rb)
	rb.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*rbOut); err != nil {
			return err
		}
		c, err := g.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		sctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(sctx, *wait)
		defer cancel()
		resp, err := pb.NewCheckpointsClient(c.Conn()).Rollback(ctx, &pb.RollbackCheckpointRequest{Id: args[0], Safety: *safety, SkipState: *skipState,
			Options: &pb.DeployOptions{MaxParallel: *maxPar, Canary: *canary, AutoRevert: *autoRevert, AutoPromote: *autoPromote,
				MinHealthyTimeMs: minHealthy.Milliseconds(), HealthyDeadlineMs: healthyDL.Milliseconds(), ProgressDeadlineMs: progressDL.Milliseconds()},
			HasMaxParallel: true, HasMinHealthyTime: true, HasHealthyDeadline: true, HasProgressDeadline: true})
		if err != nil {
			return g.rpcError(err)
		}
		j := toRollbackJSON(resp)
		w := cmd.OutOrStdout()
		if *rbOut == "json" {
			if err := writeJSON(w, j); err != nil {
				return err
			}
		} else {
			printRollback(w, j)
		}
		if !resp.Complete {
			return &cliError{msg: fmt.Sprintf("rollback to checkpoint %s is incomplete: %s", resp.Id, resp.Message), code: 1}
		}
		return nil
	}

	cmd.AddCommand(create, list, inspect, del, rb)
	return cmd
}

func printCheckpoint(w io.Writer, j checkpointJSON) {
	fmt.Fprintf(w, "ID           %s\nName         %s\nCreated      %s by %s (index %d)\n", j.ID, j.Name, j.CreatedAt.Format(time.RFC3339), j.CreatedBy, j.Index)
	t := newTable(w, "MODULE", "VERSION", "SHA256")
	for _, m := range j.Modules {
		t.row(m.Name, m.Version, cell(m.Sha256, 16))
	}
	_ = t.flush()
	if !j.WithState {
		fmt.Fprintln(w, "States       none (created without --with-state)")
		return
	}
	fmt.Fprintf(w, "States       %d processes, %d bytes\n", len(j.Processes), j.StateBytes)
	t = newTable(w, "PID", "NODE", "TREE", "CHILD", "MODULE", "REF", "BYTES", "STATE")
	for _, p := range j.Processes {
		st := ""
		if p.State != nil {
			st = cell(*p.State, 60)
		}
		t.row(p.PID, p.Node, p.Tree, p.ChildID, p.Module+"@"+p.Version, p.ModuleRef, p.StateBytes, st)
	}
	_ = t.flush()
}

func printRollback(w io.Writer, j rollbackJSON) {
	fmt.Fprintf(w, "Rollback to %s: %s\n", j.ID, j.Message)
	if len(j.Modules) > 0 {
		t := newTable(w, "MODULE", "FROM", "TO", "ACTION", "DEPLOYMENT", "STATUS", "DETAIL")
		for _, m := range j.Modules {
			t.row(m.Name, strings.Join(m.FromVersions, ","), m.Version, m.Action, m.DeploymentID, m.Status, cell(m.Detail, 60))
		}
		_ = t.flush()
	}
	if len(j.StatePlanIDs) > 0 {
		fmt.Fprintf(w, "State plans  %s: %d states put back\n", strings.Join(j.StatePlanIDs, ", "), len(j.Restored))
	}
	for _, p := range j.NotRestored {
		fmt.Fprintf(w, "Not restored %s on %s: %s\n", p.PID, p.Node, p.Reason)
	}
}
