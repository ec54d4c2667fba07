package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/spec"
)

func newSupCmd(g *globals) *cobra.Command {
	sup := &cobra.Command{
		Use:   "sup",
		Short: "Manage supervision trees: apply specs, list, inspect, restart, change strategies, manage children",
		Long: "Manage supervision trees. A tree spec (HCL or JSON) is validated by the leader and committed\n" +
			"through Raft; the node it is placed on then starts it and keeps it running.",
	}
	sup.AddCommand(newSupApplyCmd(g), newSupDeleteCmd(g), newSupListCmd(g), newSupTreeCmd(g),
		newSupRestartCmd(g), newSupStrategyCmd(g),
		newSupChildCmd(g), newSupWhichChildrenCmd(g), newSupCountChildrenCmd(g), newSupGetChildSpecCmd(g))
	return sup
}

// applyJSON is `steward sup apply -o json`.
type applyJSON struct {
	Name        string `json:"name"`
	Node        string `json:"node"`
	AutoPlaced  bool   `json:"auto_placed"`
	Strategy    string `json:"strategy"`
	Children    uint32 `json:"children"`
	ModifyIndex uint64 `json:"modify_index"`
	Unchanged   bool   `json:"unchanged"`
	DryRun      bool   `json:"dry_run"`
}

func newSupApplyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Commit a tree spec (FILE is .hcl or .json; '-' reads standard input)",
		Args:  cobra.ExactArgs(1),
	}
	out := outputFlag(cmd)
	nodeName := cmd.Flags().String("node", "", `run the tree on this node ("auto": the leader picks the least loaded node); overrides the spec's node`)
	cas := cmd.Flags().Int64("cas", -1, "check-and-set: apply only if the tree's modify index is this (0: only if new)")
	dryRun := cmd.Flags().Bool("dry-run", false, "validate and place without committing")
	wait := cmd.Flags().Bool("wait", false, "wait until the tree's node runs this spec (exit 0) or reports the tree failed (exit 1); with -o json print the tree as sup list does")
	waitTimeout := cmd.Flags().Duration("wait-timeout", 0, "with --wait, give up after this long (exit 1); 0: no limit")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if err := checkWait(cmd, *wait, *waitTimeout); err != nil {
			return err
		}
		if *wait && *dryRun {
			return usageError("--wait and --dry-run cannot be combined")
		}
		data, filename, err := readSpecFile(cmd, args[0])
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.sup.ApplyTree(r.ctx, &pb.ApplyTreeRequest{Spec: data, Filename: filename, Node: *nodeName, Cas: casFlag(*cas), DryRun: *dryRun})
		if err != nil {
			return g.rpcError(err)
		}
		t := resp.Tree
		j := applyJSON{Name: t.Name, Node: t.Node, AutoPlaced: t.AutoPlaced, Strategy: t.Strategy, Children: t.Children,
			ModifyIndex: t.ModifyIndex, Unchanged: resp.Unchanged, DryRun: *dryRun}
		w := cmd.OutOrStdout()
		if *out == "json" && !*wait {
			return writeJSON(w, j)
		}
		placed := j.Node
		if j.AutoPlaced {
			placed += " (placed automatically)"
		}
		switch {
		case *out == "json": // with --wait: the tree once it runs, below
		case j.DryRun:
			fmt.Fprintf(w, "Dry run: tree %s is valid (%s, %s) and would run on %s; nothing committed\n", j.Name, j.Strategy, plural(int(j.Children), "child", "children"), placed)
		case j.Unchanged:
			fmt.Fprintf(w, "Tree %s unchanged: the committed spec is already this one (node %s, modify index %d)\n", j.Name, j.Node, j.ModifyIndex)
		default:
			fmt.Fprintf(w, "Tree %s applied: node %s, modify index %d\n", j.Name, placed, j.ModifyIndex)
		}
		if *wait {
			return waitTree(cmd, g, j.Name, j.Node, j.ModifyIndex, *out, *waitTimeout)
		}
		return nil
	}
	return cmd
}

// readSpecFile reads a spec file ('-': standard input), at most
// spec.MaxSpecBytes, and returns the name the server uses to tell HCL from
// JSON.
func readSpecFile(cmd *cobra.Command, arg string) ([]byte, string, error) {
	b, err := readInput(cmd, "spec", arg, spec.MaxSpecBytes)
	if err != nil || arg == "-" {
		return b, "", err
	}
	return b, filepath.Base(arg), nil
}

func newSupDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a tree: its node stops it (children in reverse order)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.dialRPCs(cmd)
			if err != nil {
				return err
			}
			defer r.done()
			resp, err := r.sup.DeleteTree(r.ctx, &pb.DeleteTreeRequest{Name: args[0]})
			if err != nil {
				return g.rpcError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Tree %s deleted (index %d); its node stops it\n", args[0], resp.Meta.GetIndex())
			return nil
		},
	}
}

// treeJSON is each item of `steward sup list -o json`.
type treeJSON struct {
	Name         string `json:"name"`
	Node         string `json:"node"`
	AutoPlaced   bool   `json:"auto_placed"`
	Strategy     string `json:"strategy"`
	Children     uint32 `json:"children"`
	Status       string `json:"status"`
	RootPID      string `json:"root_pid"`
	Processes    uint32 `json:"processes"`
	ModifyIndex  uint64 `json:"modify_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Reason       string `json:"reason"`
}

func newSupListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the committed trees with their live state", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	nodeName := cmd.Flags().String("node", "", "only the trees placed on this node")
	stale := cmd.Flags().Bool("stale", false, "read the specs from the agent's own replica, without the leader")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.sup.ListTrees(r.ctx, &pb.ListTreesRequest{Node: *nodeName, Live: true, Read: &pb.ReadOptions{Stale: *stale}})
		if err != nil {
			return g.rpcError(err)
		}
		items := make([]treeJSON, 0, len(resp.Trees))
		for _, t := range resp.Trees {
			items = append(items, treeJSON{Name: t.Name, Node: t.Node, AutoPlaced: t.AutoPlaced, Strategy: t.Strategy,
				Children: t.Children, Status: t.Status, RootPID: t.RootPid, Processes: t.Processes,
				ModifyIndex: t.ModifyIndex, AppliedIndex: t.AppliedIndex, Reason: t.Reason})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, items)
		}
		t := newTable(w, "NAME", "NODE", "STRATEGY", "CHILDREN", "STATUS", "PROCESSES", "ROOT", "SPEC_INDEX", "APPLIED")
		for _, it := range items {
			st := it.Status
			if it.Reason != "" {
				st += " (" + it.Reason + ")"
			}
			t.row(it.Name, it.Node, it.Strategy, it.Children, st, it.Processes, dash(it.RootPID), it.ModifyIndex, it.AppliedIndex)
		}
		return t.flush()
	}
	return cmd
}

// treeViewJSON is `steward sup tree -o json`.
type treeViewJSON struct {
	Tree         string        `json:"tree"`
	Node         string        `json:"node"`
	Status       string        `json:"status"`
	Processes    uint32        `json:"processes"`
	Reason       string        `json:"reason"`
	AppliedIndex uint64        `json:"applied_index"`
	Root         *treeNodeJSON `json:"root"`
}

// treeNodeJSON is one supervisor or worker of a tree view.
type treeNodeJSON struct {
	ID       string         `json:"id"`
	PID      string         `json:"pid"`
	Type     string         `json:"type"`
	Behavior string         `json:"behavior"`
	Strategy string         `json:"strategy"`
	State    string         `json:"state"`
	Restarts uint32         `json:"restarts"`
	Restart  string         `json:"restart"`
	Dynamic  bool           `json:"dynamic"`
	Children []treeNodeJSON `json:"children"`
}

func toTreeNodeJSON(n *pb.TreeNode) *treeNodeJSON {
	if n == nil {
		return nil
	}
	j := &treeNodeJSON{ID: n.Id, PID: n.Pid, Type: n.Type, Behavior: n.Behavior, Strategy: n.Strategy, State: n.State,
		Restarts: n.Restarts, Restart: n.Restart, Dynamic: n.Dynamic, Children: []treeNodeJSON{}}
	for _, c := range n.Children {
		j.Children = append(j.Children, *toTreeNodeJSON(c))
	}
	return j
}

func newSupTreeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tree NAME", Short: "Draw a tree live: every supervisor and worker with its PID, state and restarts", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
	path := cmd.Flags().String("path", "", "start at this nested supervisor (child ids joined by '/')")
	nodeName := cmd.Flags().String("node", "", "ask this node (default: the node the tree is placed on)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		v, err := r.rt.TreeView(r.ctx, &pb.SupervisorRequest{Tree: args[0], Path: *path, Node: *nodeName, Full: true})
		if err != nil {
			return g.rpcError(err)
		}
		if v.Status == "absent" {
			// Not running there: a tree only if committed (then waiting
			// for its node, which is worth showing).
			list, err := r.sup.ListTrees(r.ctx, &pb.ListTreesRequest{Name: args[0]})
			if err != nil {
				return g.rpcError(err)
			}
			if len(list.Trees) == 0 {
				return &cliError{msg: fmt.Sprintf("not found: no tree %q is committed, nor running on %s", args[0], v.Node), code: 1}
			}
		}
		j := treeViewJSON{Tree: v.Tree, Node: v.Node, Status: v.Status, Processes: v.Processes, Reason: v.Reason,
			AppliedIndex: v.AppliedIndex, Root: toTreeNodeJSON(v.Root)}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		return drawTree(w, j)
	}
	return cmd
}

// drawTree prints a tree view with box-drawing characters.
func drawTree(w io.Writer, v treeViewJSON) error {
	head := fmt.Sprintf("Tree %s on %s: %s", v.Tree, v.Node, v.Status)
	if v.Reason != "" {
		head += " (" + v.Reason + ")"
	}
	fmt.Fprintf(w, "%s, %d processes, spec index %d\n", head, v.Processes, v.AppliedIndex)
	if v.Root == nil {
		return nil
	}
	t := newTable(w, "ID", "PID", "KIND", "STATE", "RESTARTS")
	var walk func(n *treeNodeJSON, prefix, branch string)
	walk = func(n *treeNodeJSON, prefix, branch string) {
		kind := n.Behavior
		if n.Type == "supervisor" {
			kind = "supervisor " + n.Strategy
		}
		if n.Dynamic {
			kind += " (dynamic)"
		}
		t.row(prefix+branch+n.ID, dash(n.PID), strings.TrimSpace(kind), dash(n.State), n.Restarts)
		switch branch {
		case "├── ":
			prefix += "│   "
		case "└── ":
			prefix += "    "
		}
		for i := range n.Children {
			b := "├── "
			if i == len(n.Children)-1 {
				b = "└── "
			}
			walk(&n.Children[i], prefix, b)
		}
	}
	walk(v.Root, "", "")
	return t.flush()
}

func newSupRestartCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart a tree from its spec, or (--path) a nested supervisor with its children",
		Args:  cobra.ExactArgs(1),
	}
	path := cmd.Flags().String("path", "", "the nested supervisor to restart (child ids joined by '/'; default: the whole tree)")
	nodeName := cmd.Flags().String("node", "", "the node that runs the tree (default: where it is placed)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.RestartSupervisor(r.ctx, &pb.SupervisorRequest{Tree: args[0], Path: *path, Node: *nodeName})
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Restarted: %s; supervisor now %s\n", resp.Detail, resp.Pid)
		return nil
	}
	return cmd
}

func newSupStrategyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "strategy NAME STRATEGY",
		Short: "Change a supervisor's strategy (one_for_one, one_for_all, rest_for_one) and intensity: commits a new spec",
		Args:  cobra.ExactArgs(2),
	}
	path := cmd.Flags().String("path", "", "the nested supervisor to change (child ids joined by '/'; default: the root)")
	maxRestarts := cmd.Flags().Uint32("max-restarts", 0, "restart intensity: at most this many restarts ...")
	maxSeconds := cmd.Flags().Uint32("max-seconds", 0, "... within this many seconds")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req := &pb.SetStrategyRequest{Tree: args[0], Path: *path, Strategy: args[1]}
		if cmd.Flags().Changed("max-restarts") {
			req.MaxRestarts = maxRestarts
		}
		if cmd.Flags().Changed("max-seconds") {
			req.MaxSeconds = maxSeconds
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.sup.SetStrategy(r.ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		where := "the root"
		if *path != "" {
			where = *path
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Tree %s: strategy of %s set to %s (modify index %d); node %s applies it in place\n",
			args[0], where, args[1], resp.Tree.GetModifyIndex(), resp.Tree.GetNode())
		return nil
	}
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
