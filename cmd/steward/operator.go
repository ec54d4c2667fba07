package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/backup"
	"github.com/steward/steward/pb"
)

// backupJSON is the header of a backup, as `steward operator backup|restore|inspect
// -o json` print it; keys are stable.
type backupJSON struct {
	File           string `json:"file"`
	FormatVersion  int    `json:"format_version"`
	ClusterID      string `json:"cluster_id"`
	RaftIndex      uint64 `json:"raft_index"`
	RaftTerm       uint64 `json:"raft_term"`
	CreatedAt      string `json:"created_at"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	Node           string `json:"node"`
	StewardVersion string `json:"steward_version"`
	// Restore only: the leader that restored it and its last index after.
	RestoredBy string `json:"restored_by,omitempty"`
	Index      uint64 `json:"index,omitempty"`
}

func backupView(path string, h backup.Header) backupJSON {
	return backupJSON{File: path, FormatVersion: h.FormatVersion, ClusterID: h.ClusterID, RaftIndex: h.RaftIndex, RaftTerm: h.RaftTerm,
		CreatedAt: h.CreatedAt.UTC().Format(time.RFC3339Nano), Size: h.Size, SHA256: h.SHA256, Node: h.Node, StewardVersion: h.StewardVersion}
}

func writeBackupView(w io.Writer, out string, j backupJSON) error {
	if out == "json" {
		return writeJSON(w, j)
	}
	t := newTable(w)
	t.row("File:", j.File)
	t.row("Cluster id:", j.ClusterID)
	t.row("Raft index/term:", fmt.Sprintf("%d/%d", j.RaftIndex, j.RaftTerm))
	t.row("Created:", j.CreatedAt)
	t.row("Taken by:", fmt.Sprintf("%s (steward %s)", j.Node, j.StewardVersion))
	t.row("Size:", fmt.Sprintf("%d bytes", j.Size))
	t.row("SHA-256:", j.SHA256)
	return t.flush()
}

// maxBackupFile is the largest backup file: its first line, its header and
// at most backup.MaxBytes of content (bytes).
const maxBackupFile = int64(len(backup.Magic)+backup.MaxHeaderBytes) + backup.MaxBytes

// checkBackupSize refuses a backup file larger than a backup can be before
// it is read through; one that cannot be opened is left to backup.Restore.
func checkBackupSize(cmd *cobra.Command, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return checkFileSize(cmd, f, "backup file "+path, maxBackupFile)
}

func newOperatorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Back up and restore the replicated state",
	}

	save := &cobra.Command{
		Use:   "backup FILE",
		Short: "Save the replicated state to FILE (a Raft snapshot taken on the leader)",
		Long: `Save the replicated state (key/values, trees, plans, thresholds, the node registry:
everything committed) to FILE: a Raft snapshot taken on the leader, streamed in chunks,
written with a header (format version, cluster id, Raft index and term, creation time,
size) and the SHA-256 of its content. The file appears only once complete and checked.
The runtimes' processes are not in it.`,
		Args: cobra.ExactArgs(1),
	}
	saveOut := outputFlag(save)
	save.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*saveOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		h, err := backup.Save(ctx, pb.NewOperatorClient(c.Conn()), args[0])
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		if *saveOut != "json" {
			fmt.Fprintf(w, "Saved a backup at Raft index %d to %s\n", h.RaftIndex, args[0])
		}
		return writeBackupView(w, *saveOut, backupView(args[0], h))
	}

	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the replicated state of every node with a backup",
		Long: `Replace the replicated state with the backup in FILE. The file is verified (header,
size, SHA-256) before anything is sent; the leader verifies it again and decodes it
before handing it to Raft, which installs it on every node. A corrupt or truncated file,
or a backup of another cluster, is refused and nothing changes.

Disaster recovery: to rebuild a cluster whose every node lost its data, bootstrap a new
cluster and restore the backup into it with --allow-cluster-id-change. The backup's
content replaces the state; the cluster keeps its own (new) id, and the leader logs both.

What was committed since the backup is lost. Every node then follows the restored
desired state: trees the backup places on a node are started (or brought back to
their restored spec), trees it does not have are stopped, plans continue from where
the backup left them.`,
		Args: cobra.ExactArgs(1),
	}
	restoreOut := outputFlag(restore)
	allowIDChange := restore.Flags().Bool("allow-cluster-id-change", false, "restore a backup taken from another cluster (disaster recovery); the cluster keeps its own id")
	restore.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*restoreOut); err != nil {
			return err
		}
		if err := checkBackupSize(cmd, args[0]); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		h, resp, err := backup.Restore(ctx, pb.NewOperatorClient(c.Conn()), args[0], backup.RestoreOptions{AllowClusterIDChange: *allowIDChange})
		if err != nil {
			if errors.Is(err, backup.ErrInvalidBackup) || errors.Is(err, fs.ErrNotExist) {
				// Refused here, before anything was sent.
				return &cliError{msg: fmt.Sprintf("%s: %v; nothing was sent", args[0], err), code: 1}
			}
			return g.rpcError(err)
		}
		j := backupView(args[0], h)
		j.RestoredBy, j.Index = resp.Leader, resp.Index
		w := cmd.OutOrStdout()
		if *restoreOut != "json" {
			fmt.Fprintf(w, "Restored the backup of Raft index %d; the cluster is at index %d (leader %s)\n", h.RaftIndex, resp.Index, resp.Leader)
		}
		return writeBackupView(w, *restoreOut, j)
	}

	inspect := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Verify a backup file and show its header (no agent needed)",
		Args:  cobra.ExactArgs(1),
	}
	inspectOut := outputFlag(inspect)
	inspect.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*inspectOut); err != nil {
			return err
		}
		h, err := backup.Verify(args[0])
		if err != nil {
			return &cliError{msg: fmt.Sprintf("%s: %v", args[0], err), code: 1}
		}
		return writeBackupView(cmd.OutOrStdout(), *inspectOut, backupView(args[0], h))
	}
	cmd.AddCommand(save, restore, inspect)
	return cmd
}
