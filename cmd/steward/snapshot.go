package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/coordination"
	"github.com/steward/steward/internal/clock"
	"github.com/steward/steward/internal/poll"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/snapshot"
	"github.com/steward/steward/state"
)

// snapshotJSON is `steward snapshot inspect -o json` and `snapshot capture
// -o json`, and each item of `snapshot list -o json`.
type snapshotJSON struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"`
	Options     snapshot.Options `json:"options"`
	CreatedAt   time.Time        `json:"created_at"`
	FinishedAt  *time.Time       `json:"finished_at,omitempty"`
	Missing     []string         `json:"missing_nodes"`
	StoredBytes uint64           `json:"stored_bytes"`
	Note        string           `json:"note,omitempty"`
	Parts       []partJSON       `json:"parts"`
}

type partJSON struct {
	Node        string         `json:"node"`
	Status      string         `json:"status"`
	Processes   uint32         `json:"processes"`
	Trees       uint32         `json:"trees"`
	RawBytes    uint64         `json:"raw_bytes"`
	StoredBytes uint64         `json:"stored_bytes"`
	CapturedAt  *time.Time     `json:"captured_at,omitempty"`
	Content     *snapshot.Part `json:"content,omitempty"`
}

func toSnapshotJSON(r *pb.SnapshotRecord) snapshotJSON {
	j := snapshotJSON{ID: r.Id, Status: r.Status, CreatedAt: time.Unix(0, r.CreatedAtUnixNano).UTC(), Note: r.Note,
		Options: snapshot.Options{State: r.Options.GetIncludeState(), Queues: r.Options.GetIncludeQueues(), Links: r.Options.GetIncludeLinks()},
		Missing: []string{}, Parts: []partJSON{}}
	if r.FinishedAtUnixNano != 0 {
		t := time.Unix(0, r.FinishedAtUnixNano).UTC()
		j.FinishedAt = &t
	}
	for _, p := range r.Parts {
		pj := partJSON{Node: p.Node, Status: p.Status, Processes: p.Processes, Trees: p.Trees, RawBytes: p.RawBytes, StoredBytes: p.StoredBytes}
		if p.CapturedAtUnixNano != 0 {
			t := time.Unix(0, p.CapturedAtUnixNano).UTC()
			pj.CapturedAt = &t
		}
		if s := state.PartStatusOf(p); s == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_MISSING || s == pb.SnapshotPartStatus_SNAPSHOT_PART_STATUS_CORRUPT {
			j.Missing = append(j.Missing, p.Node)
		}
		j.StoredBytes += p.StoredBytes
		j.Parts = append(j.Parts, pj)
	}
	return j
}

func newSnapshotCmd(g *globals) *cobra.Command {
	snap := &cobra.Command{Use: "snapshot", Short: "Capture, inspect, move and restore cluster snapshots of every node's runtime"}
	snap.AddCommand(newSnapshotCaptureCmd(g), newSnapshotListCmd(g), newSnapshotInspectCmd(g), newSnapshotDiffCmd(g),
		newSnapshotDeleteCmd(g), newSnapshotExportCmd(g), newSnapshotImportCmd(g), newSnapshotRestoreCmd(g))
	return snap
}

func newSnapshotCaptureCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "capture", Short: "Capture every (or the named) node's runtime at one committed point", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	incState := cmd.Flags().Bool("include-state", false, "capture each process's state")
	incQueues := cmd.Flags().Bool("include-queues", false, fmt.Sprintf("capture queued messages (at most %d per process)", snapshot.MaxQueuedPerProcess))
	incLinks := cmd.Flags().Bool("include-links", false, "capture links and monitors")
	nodes := cmd.Flags().StringSlice("nodes", nil, "only these nodes (default: every alive node)")
	wait := cmd.Flags().Bool("wait", true, "wait until the snapshot is complete or partial")
	quiet := cmd.Flags().BoolP("quiet", "q", false, "print only the snapshot's id (for scripts: SNAP=$(steward snapshot capture -q))")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if err := quietAlone(cmd, "output"); err != nil {
			return err
		}
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.Capture(r.ctx, &pb.CaptureRequest{Nodes: *nodes,
			Options: &pb.SnapshotOptions{IncludeState: *incState, IncludeQueues: *incQueues, IncludeLinks: *incLinks}})
		if err != nil {
			return g.rpcError(err)
		}
		rec := &pb.SnapshotRecord{Id: resp.Id, Status: state.SnapshotCapturing, StatusCode: pb.SnapshotStatus_SNAPSHOT_STATUS_CAPTURING}
		if *wait {
			if rec, err = waitSnapshot(r, resp.Id); err != nil {
				return g.rpcError(err)
			}
		}
		w := cmd.OutOrStdout()
		if *quiet {
			_, err := fmt.Fprintln(w, rec.Id)
			return err
		}
		if *out == "json" {
			return writeJSON(w, toSnapshotJSON(rec))
		}
		j := toSnapshotJSON(rec)
		fmt.Fprintf(w, "Snapshot %s: %s", j.ID, j.Status)
		if len(j.Missing) > 0 {
			fmt.Fprintf(w, " (missing: %s)", strings.Join(j.Missing, ", "))
		}
		fmt.Fprintln(w)
		return nil
	}
	return cmd
}

func newSnapshotListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the snapshots kept", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.List(r.ctx, &pb.ListSnapshotsRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		items := []snapshotJSON{}
		for _, s := range resp.Snapshots {
			items = append(items, toSnapshotJSON(s))
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, items)
		}
		t := newTable(w, "ID", "STATUS", "NODES", "PROCESSES", "BYTES", "CREATED", "MISSING")
		for _, s := range items {
			var procs uint32
			for _, p := range s.Parts {
				procs += p.Processes
			}
			t.row(s.ID, s.Status, len(s.Parts), procs, s.StoredBytes, s.CreatedAt.Format(time.RFC3339), strings.Join(s.Missing, ","))
		}
		return t.flush()
	}
	return cmd
}

func newSnapshotInspectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "inspect ID", Short: "A snapshot's parts; --full adds each node's captured runtime", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	full := cmd.Flags().Bool("full", false, "include each part's content (trees, processes, names, system figures)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.Get(r.ctx, &pb.GetSnapshotRequest{Id: args[0], WithParts: *full})
		if err != nil {
			return g.rpcError(err)
		}
		j := toSnapshotJSON(resp.Snapshot)
		for i := range j.Parts {
			if data, ok := resp.Parts[j.Parts[i].Node]; ok {
				p, err := snapshot.DecodePart(data)
				if err != nil {
					return err
				}
				j.Parts[i].Content = p
			}
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		return printSnapshot(w, j)
	}
	return cmd
}

// printSnapshot is `snapshot inspect` as a table: the snapshot, its parts,
// then what each part holds when --full fetched it.
func printSnapshot(w io.Writer, j snapshotJSON) error {
	fmt.Fprintf(w, "Snapshot %s: %s, created %s, %d bytes stored\n", j.ID, j.Status, j.CreatedAt.Format(time.RFC3339), j.StoredBytes)
	if j.Note != "" {
		fmt.Fprintf(w, "Note: %s\n", j.Note)
	}
	t := newTable(w, "NODE", "STATUS", "TREES", "PROCESSES", "BYTES", "CAPTURED")
	for _, p := range j.Parts {
		at := ""
		if p.CapturedAt != nil {
			at = p.CapturedAt.Format(time.RFC3339Nano)
		}
		t.row(p.Node, p.Status, p.Trees, p.Processes, p.StoredBytes, at)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, p := range j.Parts {
		if p.Content == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d processes, %d registered names, heap %d bytes\n", p.Node, len(p.Content.Processes), len(p.Content.Names), p.Content.System.HeapBytes)
		for _, tr := range p.Content.Trees {
			fmt.Fprintf(w, "  tree %s (%s, root %s, spec index %d): %d children\n", tr.Name, tr.Status, tr.Root, tr.SpecIndex, len(tr.Children))
		}
	}
	return nil
}

func newSnapshotDiffCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "diff ID1 ID2", Short: "What changed between two snapshots", Args: cobra.ExactArgs(2)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		a, err := fetchParts(r, args[0])
		if err != nil {
			return g.rpcError(err)
		}
		b, err := fetchParts(r, args[1])
		if err != nil {
			return g.rpcError(err)
		}
		changes := snapshot.Diff(a, b)
		if changes == nil {
			changes = []snapshot.Change{}
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, changes)
		}
		if len(changes) == 0 {
			fmt.Fprintln(w, "No differences")
			return nil
		}
		t := newTable(w, "NODE", "CHANGE", "SUBJECT", "FROM", "TO")
		for _, c := range changes {
			t.row(c.Node, c.Kind, c.Subject, c.From, c.To)
		}
		return t.flush()
	}
	return cmd
}

func newSnapshotDeleteCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "delete ID", Short: "Delete a snapshot", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		if _, err := r.c.Delete(r.ctx, &pb.DeleteSnapshotRequest{Id: args[0]}); err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Snapshot %s deleted\n", args[0])
		return nil
	}
	return cmd
}

func newSnapshotExportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "export ID FILE", Short: "Write a snapshot to a checksummed file", Args: cobra.ExactArgs(2)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		stream, err := r.c.Export(r.ctx, &pb.GetSnapshotRequest{Id: args[0]})
		if err != nil {
			return g.rpcError(err)
		}
		tmp := args[1] + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		n := 0
		for {
			c, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				os.Remove(tmp)
				return g.rpcError(err)
			}
			if _, err := f.Write(c.Data); err != nil {
				f.Close()
				os.Remove(tmp)
				return err
			}
			n += len(c.Data)
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Snapshot %s written to %s (%d bytes)\n", args[0], args[1], n)
		return nil
	}
	return cmd
}

func newSnapshotImportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "import FILE", Short: "Read a snapshot file back (checked before anything is committed)", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		data, err := readInput(cmd, "snapshot", args[0], snapshot.MaxFileBytes)
		if err != nil {
			return err
		}
		// Check locally first: a bad file is refused without sending it.
		if _, _, err := snapshot.ReadFile(data); err != nil {
			return &cliError{msg: fmt.Sprintf("%s: %v", args[0], err), code: 1}
		}
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		up, err := r.c.Import(r.ctx)
		if err != nil {
			return g.rpcError(err)
		}
		for len(data) > 0 {
			n := min(len(data), 1<<20)
			if err := up.Send(&pb.FileChunk{Data: data[:n]}); err != nil {
				break // the server's answer says why
			}
			data = data[n:]
		}
		resp, err := up.CloseAndRecv()
		if err != nil {
			return g.rpcError(err)
		}
		if *out == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"id": resp.Id, "index": resp.Meta.GetIndex()})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Snapshot %s imported\n", resp.Id)
		return nil
	}
	return cmd
}

func newSnapshotRestoreCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "restore ID", Short: "Bring the runtimes back to a snapshot, as a coordinated plan", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	nodes := cmd.Flags().StringSlice("nodes", nil, "only these nodes (default: every node with a complete part)")
	dry := cmd.Flags().Bool("dry-run", false, "show what would change; commit nothing")
	level := cmd.Flags().String("safety-level", "moderate", "the restore plan's safety level: strict, moderate or permissive")
	watch := cmd.Flags().Bool("watch", false, "follow the restore plan until it finishes")
	wait, waitTimeout := waitFlags(cmd, "the restore plans")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if err := checkWait(cmd, *wait, *waitTimeout); err != nil {
			return err
		}
		if *wait && (*watch || *dry) {
			return usageError("--wait cannot be combined with --watch or --dry-run")
		}
		r, err := g.dialSnapshots(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.Restore(r.ctx, &pb.RestoreRequest{Id: args[0], Nodes: *nodes, DryRun: *dry, SafetyLevel: *level})
		if err != nil {
			return g.rpcError(err)
		}
		var rep snapshot.RestoreReport
		if err := json.Unmarshal(resp.ReportJson, &rep); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if *wait {
			return waitRestore(cmd, g, rep, *out, *waitTimeout)
		}
		if *out == "json" {
			if err := writeJSON(w, rep); err != nil {
				return err
			}
		} else {
			printRestore(w, rep)
		}
		if *watch {
			for _, id := range rep.PlanIDs {
				if err := watchPlan(cmd, g, id, *out); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return cmd
}

// restoreWaitJSON is `snapshot restore --wait -o json`: the report and
// the final record of each restore plan.
type restoreWaitJSON struct {
	snapshot.RestoreReport
	Plans []coordination.View `json:"plans"`
}

// waitRestore follows the restore's plans one after the other (within one
// timeout in all): exit 0 when every one succeeded, else 1 naming the
// first that did not.
func waitRestore(cmd *cobra.Command, g *globals, rep snapshot.RestoreReport, out string, timeout time.Duration) error {
	w := cmd.OutOrStdout()
	progress := w
	if out == "json" {
		progress = io.Discard
	} else {
		printRestore(w, rep)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	res := restoreWaitJSON{RestoreReport: rep, Plans: []coordination.View{}}
	var failed error
	for _, id := range rep.PlanIDs {
		left := time.Duration(0)
		if timeout > 0 {
			if left = time.Until(deadline); left <= 0 {
				failed = waitTimedOut("plan "+id, timeout, "")
				break
			}
		}
		last, err := awaitPlan(cmd, g, id, progress, left)
		if last != nil {
			res.Plans = append(res.Plans, coordination.NewView(last.Plan, last.ResultJson))
		}
		if err == nil {
			err = planOutcome(last)
		}
		if err != nil {
			failed = err
			break
		}
	}
	if out == "json" {
		if err := writeJSON(w, res); err != nil {
			return err
		}
	}
	return failed
}

func printRestore(w io.Writer, rep snapshot.RestoreReport) {
	verb := "Restored"
	if rep.DryRun {
		verb = "Would restore"
	}
	fmt.Fprintf(w, "%s snapshot %s on %s\n", verb, rep.Snapshot, strings.Join(rep.Nodes, ", "))
	if len(rep.Trees) > 0 {
		fmt.Fprintln(w, "\nDesired state:")
		t := newTable(w)
		for _, a := range rep.Trees {
			t.row("  "+a.Action, a.Tree, "on "+a.Node, a.Detail)
		}
		_ = t.flush()
	}
	if len(rep.Operations) > 0 {
		fmt.Fprintln(w, "\nRestore plan:")
		t := newTable(w)
		for _, o := range rep.Operations {
			t.row("  "+o.ID, o.Type, o.Target, "on "+o.Node)
		}
		_ = t.flush()
	}
	if len(rep.NotRestored) > 0 {
		fmt.Fprintln(w, "\nNot restored:")
		t := newTable(w)
		for _, n := range rep.NotRestored {
			t.row("  "+n.Node, n.Subject, n.Reason)
		}
		_ = t.flush()
	}
	for _, id := range rep.PlanIDs {
		fmt.Fprintf(w, "\nPlan %s restores the processes; follow it with: steward ops watch %s\n", id, id)
	}
	if len(rep.PlanIDs) == 0 && !rep.DryRun {
		fmt.Fprintln(w, "\nNo process needed restoring.")
	}
}

type snapRPC struct {
	c    pb.SnapshotsClient
	ctx  context.Context
	done func()
}

func (g *globals) dialSnapshots(cmd *cobra.Command) (*snapRPC, error) {
	c, ctx, done, err := g.connect(cmd)
	if err != nil {
		return nil, err
	}
	return &snapRPC{c: pb.NewSnapshotsClient(c.Conn()), ctx: ctx, done: done}, nil
}

// waitSnapshot polls until a capture is complete or partial (bounded by
// --timeout: then the record as last read), every 20 ms doubling to 640 ms.
func waitSnapshot(r *snapRPC, id string) (*pb.SnapshotRecord, error) {
	var rec *pb.SnapshotRecord
	var getErr error
	// Until ends when the capture is over, Get fails, or --timeout passes.
	_ = poll.Until(r.ctx, clock.System(), poll.Doubling(20*time.Millisecond, 640*time.Millisecond), func() (bool, error) {
		resp, err := r.c.Get(r.ctx, &pb.GetSnapshotRequest{Id: id})
		if err != nil {
			getErr = err
			return true, nil
		}
		rec = resp.Snapshot
		s := state.SnapshotStatusOf(rec)
		return s == pb.SnapshotStatus_SNAPSHOT_STATUS_COMPLETE || s == pb.SnapshotStatus_SNAPSHOT_STATUS_PARTIAL, nil
	})
	if getErr != nil {
		return nil, getErr
	}
	return rec, nil
}

func fetchParts(r *snapRPC, id string) (map[string]*snapshot.Part, error) {
	resp, err := r.c.Get(r.ctx, &pb.GetSnapshotRequest{Id: id, WithParts: true})
	if err != nil {
		return nil, err
	}
	out := map[string]*snapshot.Part{}
	for n, data := range resp.Parts {
		p, err := snapshot.DecodePart(data)
		if err != nil {
			return nil, err
		}
		out[n] = p
	}
	return out, nil
}
