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
	"github.com/steward/steward/actor"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

// tickEvery is how often a terminal's progress display is redrawn while
// nothing changes, so the elapsed times move.
const tickEvery = 500 * time.Millisecond

// waitFlags adds --wait and --wait-timeout to a write that starts long
// work; what says what is waited for, in the help.
func waitFlags(cmd *cobra.Command, what string) (wait *bool, timeout *time.Duration) {
	wait = cmd.Flags().Bool("wait", false, "follow "+what+" to its end: a progress display on a terminal, plain lines otherwise; exit 0 on success, 1 on failure, revert or cancel (with -o json: only the final record)")
	timeout = cmd.Flags().Duration("wait-timeout", 0, "with --wait, give up after this long (exit 1; the work goes on); 0: no limit")
	return wait, timeout
}

// checkWait refuses a negative --wait-timeout and one without --wait.
func checkWait(cmd *cobra.Command, wait bool, timeout time.Duration) error {
	if timeout < 0 {
		return usageError(fmt.Sprintf("--wait-timeout %s: must not be negative", timeout))
	}
	if cmd.Flags().Changed("wait-timeout") && !wait {
		return usageError("--wait-timeout needs --wait")
	}
	return nil
}

// waitContext bounds ctx by --wait-timeout (0: unbounded).
func waitContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// waitTimedOut is the error (exit 1) of a wait that reached --wait-timeout.
func waitTimedOut(what string, timeout time.Duration, last string) error {
	msg := fmt.Sprintf("--wait-timeout %s reached: %s is not finished (it goes on; stop it or follow it again)", timeout, what)
	if last != "" {
		msg += "; last seen " + last
	}
	return &cliError{msg: msg, code: 1}
}

// awaitPlan follows plan id to its end for a --wait, its progress on
// progress (io.Discard for -o json), and returns its last state. Reaching
// timeout, an interrupt or a stream that ended before the plan did is an
// error (exit 1).
func awaitPlan(cmd *cobra.Command, g *globals, id string, progress io.Writer, timeout time.Duration) (*pb.GetPlanResponse, error) {
	last, err := followPlanFor(cmd, g, id, "table", progress, timeout)
	if err == nil && last == nil {
		err = &cliError{msg: fmt.Sprintf("plan %s: stopped waiting before it finished", id), code: 1}
	}
	return last, err
}

// waitPlan is --wait for a command that committed plan id: the progress
// (none with -o json), the final record with -o json, and the exit of the
// plan's outcome (0 only when it succeeded).
func waitPlan(cmd *cobra.Command, g *globals, id, out string, timeout time.Duration) error {
	w := cmd.OutOrStdout()
	progress := w
	if out == "json" {
		progress = io.Discard
	}
	last, err := awaitPlan(cmd, g, id, progress, timeout)
	if last != nil && out == "json" {
		if err := writeJSON(w, coordination.NewView(last.Plan, last.ResultJson)); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	return planOutcome(last)
}

// planFrame is a plan's progress display: a row per phase and per
// rollback of a phase; plain, the changed stage and node lines as
// printProgress writes them.
func planFrame(v coordination.View, seen map[string]string) progressFrame {
	f := progressFrame{
		Title: fmt.Sprintf("plan %s %s (%s, %d operations)", v.ID, v.Status, v.SafetyLevel, v.Operations),
		Plain: func(w io.Writer) { printProgress(w, v, seen) },
	}
	if v.Reason != "" {
		f.Title += ": " + v.Reason
	}
	for _, group := range []struct {
		name   string
		stages []coordination.StageView
	}{{"phase", v.Phases}, {"rollback", v.Rollback}} {
		for _, st := range group.stages {
			r := progressRow{Label: fmt.Sprintf("%s %d", group.name, st.Phase), Total: len(st.Operations), State: st.Status}
			for _, o := range st.Operations {
				if o.Status != "pending" {
					r.Done++
				}
			}
			if st.StartedAt != nil {
				r.Started = *st.StartedAt
			}
			if st.FinishedAt != nil {
				r.Ended = *st.FinishedAt
			}
			f.Rows = append(f.Rows, r)
		}
	}
	return f
}

// batchClock remembers when each batch of a deployment was first seen
// moving and first seen over (a deployment's record holds no batch times).
type batchClock struct {
	now   func() time.Time
	start map[string]time.Time
	end   map[string]time.Time
}

func newBatchClock(now func() time.Time) *batchClock {
	return &batchClock{now: now, start: map[string]time.Time{}, end: map[string]time.Time{}}
}

func (c *batchClock) mark(key string, started, over bool) (time.Time, time.Time) {
	if started {
		if _, ok := c.start[key]; !ok {
			c.start[key] = c.now()
		}
	}
	if over && started {
		if _, ok := c.end[key]; !ok {
			c.end[key] = c.now()
		}
	}
	return c.start[key], c.end[key]
}

// deployFrame is a deployment's progress display: a row per batch (and
// per batch moved back), done being the processes moved of the batch's;
// plain, the line deploy watch has always printed (written by the caller
// when it changed).
func deployFrame(j deploymentJSON, batches []*pb.DeployBatch, clock *batchClock, plain func(io.Writer)) progressFrame {
	f := progressFrame{
		Title: fmt.Sprintf("deployment %s %s: moved %d/%d, moved back %d, failed %d — %s", j.ID, j.Status, j.Done, j.Targets, j.Reverted, j.Failed, j.StatusDescription),
		Plain: plain,
	}
	type agg struct {
		done, failed, total int
		states              []string
	}
	fwd, back := map[int]*agg{}, map[int]*agg{}
	for _, p := range j.Progress {
		m := fwd
		if strings.HasPrefix(p.Stage, "rollback-") {
			m = back
		}
		a := m[p.Phase]
		if a == nil {
			a = &agg{}
			m[p.Phase] = a
		}
		a.done += p.Done
		a.failed += p.Failed
		a.total += p.Total
		a.states = append(a.states, p.Status)
	}
	row := func(label, key string, total int, a *agg) progressRow {
		r := progressRow{Label: label, Total: total, State: "pending"}
		if a == nil {
			return r
		}
		r.Done = a.done + a.failed
		base := stepsState(a.states)
		r.State = base
		if a.failed > 0 {
			r.State += fmt.Sprintf(" (%d failed)", a.failed)
		}
		over := base == state.StepSucceeded || base == state.StepFailed || base == state.StepLost
		r.Started, r.Ended = clock.mark(key, base != "pending", over)
		return r
	}
	for _, b := range batches {
		kind := "batch"
		if b.Canary {
			kind = "canary"
		}
		f.Rows = append(f.Rows, row(fmt.Sprintf("%s %d", kind, b.Phase), fmt.Sprintf("fwd-%d", b.Phase), len(b.Pids), fwd[int(b.Phase)]))
	}
	for i := len(batches) - 1; i >= 0; i-- {
		b := batches[i]
		if a := back[int(b.Phase)]; a != nil {
			f.Rows = append(f.Rows, row(fmt.Sprintf("revert %d", b.Phase), fmt.Sprintf("back-%d", b.Phase), a.total, a))
		}
	}
	return f
}

// stepsState sums up the nodes' step statuses of one batch: failed or lost
// if one is, started while one is, succeeded when all are, else pending.
func stepsState(states []string) string {
	has := map[string]bool{}
	for _, s := range states {
		has[s] = true
	}
	switch {
	case has[state.StepFailed]:
		return state.StepFailed
	case has[state.StepLost]:
		return state.StepLost
	case has[state.StepStarted]:
		return state.StepStarted
	case len(has) == 1 && has[state.StepSucceeded]:
		return state.StepSucceeded
	case has[state.StepSucceeded]:
		return state.StepStarted // some nodes done, others not yet started
	}
	return "pending"
}

// waitTree is sup apply --wait: it reads the tree, live from its node,
// every 20 ms doubling to 500 ms, until the node runs the spec of index
// (or a later one) or reports the tree failed, or node refuses the spec
// (a spec_rejected event), within timeout (0: none).
// Exit 0 when running, 1 when failed, deleted or timed out; with -o json
// the tree as `sup list -o json` shows it, else a line.
func waitTree(cmd *cobra.Command, g *globals, name, node string, index uint64, out string, timeout time.Duration) error {
	c, err := g.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	sctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := waitContext(sctx, timeout)
	defer cancel()
	sup := pb.NewSupervisionClient(c.Conn())
	rejected := watchRejections(ctx, pb.NewRuntimeClient(c.Conn()), node, name, index)
	var last *pb.TreeSummary
	var gone bool
	var callErr error
	var refusal string
	_ = poll.Until(ctx, clock.System(), poll.Doubling(20*time.Millisecond, 500*time.Millisecond), func() (bool, error) {
		resp, err := sup.ListTrees(ctx, &pb.ListTreesRequest{Name: name, Live: true})
		switch {
		case ctx.Err() != nil:
			return true, nil
		case err != nil:
			callErr = err
			return true, nil
		case len(resp.Trees) == 0:
			gone = true
			return true, nil
		}
		last = resp.Trees[0]
		if last.AppliedIndex >= index && (last.Status == string(actor.TreeRunning) || last.Status == string(actor.TreeFailed)) {
			return true, nil
		}
		select {
		case refusal = <-rejected:
			return true, nil
		default:
			return false, nil
		}
	})
	w := cmd.OutOrStdout()
	if out == "json" && last != nil {
		if err := writeJSON(w, treeJSON{Name: last.Name, Node: last.Node, AutoPlaced: last.AutoPlaced, Strategy: last.Strategy,
			Children: last.Children, Status: last.Status, RootPID: last.RootPid, Processes: last.Processes,
			ModifyIndex: last.ModifyIndex, AppliedIndex: last.AppliedIndex, Reason: last.Reason}); err != nil {
			return err
		}
	}
	seen := "no status yet"
	if last != nil {
		seen = fmt.Sprintf("%s on %s, applied index %d of %d", dash(last.Status), last.Node, last.AppliedIndex, index)
	}
	switch {
	case callErr != nil:
		return g.rpcError(callErr)
	case gone:
		return &cliError{msg: fmt.Sprintf("tree %s was deleted while waiting for it", name), code: 1}
	case refusal != "":
		return &cliError{msg: fmt.Sprintf("tree %s: node %s refused the spec of index %d: %s (it retries with a backoff; it runs %s)", name, node, index, refusal, seen), code: 1}
	case ctx.Err() != nil && sctx.Err() == nil && timeout > 0:
		return waitTimedOut("tree "+name, timeout, seen)
	case ctx.Err() != nil:
		return &cliError{msg: fmt.Sprintf("tree %s: stopped waiting (%s)", name, seen), code: 1}
	case last.Status == string(actor.TreeFailed):
		msg := fmt.Sprintf("tree %s failed on %s", name, last.Node)
		if last.Reason != "" {
			msg += ": " + last.Reason
		}
		return &cliError{msg: msg, code: 1}
	}
	if out != "json" {
		fmt.Fprintf(w, "Tree %s running on %s: %s, root %s\n", name, last.Node, plural(int(last.Processes), "process", "processes"), dash(last.RootPid))
	}
	return nil
}

// watchRejections follows node's spec_rejected events of tree (the recent
// ones first: the refusal may come before the stream opens) and sends the
// reason of the first one for a spec of index or later. An events stream
// that cannot be opened sends nothing: the wait then ends on the tree's
// status or the timeout.
func watchRejections(ctx context.Context, rt pb.RuntimeClient, node, tree string, index uint64) <-chan string {
	ch := make(chan string, 1)
	go func() {
		stream, err := rt.Events(ctx, &pb.EventsRequest{Node: node, Tree: tree, Types: []string{"spec_rejected"}, Follow: true, Last: 64})
		if err != nil {
			return
		}
		for {
			e, err := stream.Recv()
			if err != nil {
				return
			}
			var attempt int
			var at uint64
			if _, err := fmt.Sscanf(e.Detail, "attempt %d at spec index %d", &attempt, &at); err == nil && at >= index {
				ch <- e.Reason
				return
			}
		}
	}()
	return ch
}
