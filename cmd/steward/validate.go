package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
)

// validateJSON is `steward validate -o json`; keys are stable.
type validateJSON struct {
	Consistent bool                    `json:"consistent"`
	Violations []validateViolationJSON `json:"violations"`
	Nodes      []validateNodeJSON      `json:"nodes"`
	// MinIndex is the commit point the nodes were checked against (0 with
	// --stale).
	MinIndex uint64 `json:"min_index"`
	ServedBy string `json:"served_by"`
}

type validateViolationJSON struct {
	Node    string `json:"node"`
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

type validateNodeJSON struct {
	Node string `json:"node"`
	// Checked is the number of processes examined.
	Checked uint32 `json:"checked"`
	// Violations is the number of violations found on the node.
	Violations int  `json:"violations"`
	Reachable  bool `json:"reachable"`
}

func newValidateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check every node's runtime and its match with the desired state; exit 1 when not consistent",
		Long: `Check, on every node in parallel (or on --nodes), the runtime's invariants — process
states, supervisors' children against their specs, links and monitors on both sides,
registered names on live processes — and that the runtime matches the desired state
committed for the node: every tree placed there runs at its committed spec index, each
supervisor at its spec's strategy and with its spec's children, and no other tree runs
there. A node that cannot be asked is reported as node_unreachable.

By default the leader runs the check and each node compares with a replica at least as
fresh as the leader's commit point; --stale runs it from the agent asked, each node
comparing with its own replica. Exit code 1 when a violation is found.`,
		Args: cobra.NoArgs,
	}
	out := outputFlag(cmd)
	nodes := cmd.Flags().StringSlice("nodes", nil, "check only these nodes (comma-separated)")
	stale := cmd.Flags().Bool("stale", false, "run from the agent asked, without the leader's commit point")
	settle := cmd.Flags().Duration("settle", 0, "how long each node lets its runtime settle before reporting (default: the agent's, 2s)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *settle < 0 {
			return usageError("--settle: must not be negative")
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewHealthClient(c.Conn()).Validate(ctx, &pb.ValidateRequest{
			Nodes:    *nodes,
			Read:     &pb.ReadOptions{Stale: *stale},
			SettleMs: uint32(*settle / time.Millisecond),
		})
		if err != nil {
			return g.rpcError(err)
		}
		j := validateJSON{Consistent: resp.Consistent, MinIndex: resp.MinIndex, ServedBy: resp.ServedBy,
			Violations: []validateViolationJSON{}, Nodes: []validateNodeJSON{}}
		for _, v := range resp.Violations {
			j.Violations = append(j.Violations, validateViolationJSON{Node: v.Node, Kind: v.Kind, Subject: v.Subject, Detail: v.Detail})
		}
		checked := 0
		for _, n := range resp.Nodes {
			j.Nodes = append(j.Nodes, validateNodeJSON{Node: n.Node, Checked: n.Checked, Violations: len(n.Violations), Reachable: n.Reachable})
			checked += int(n.Checked)
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			if err := writeJSON(w, j); err != nil {
				return err
			}
		} else {
			t := newTable(w, "NODE", "REACHABLE", "CHECKED", "VIOLATIONS")
			for _, n := range j.Nodes {
				t.row(n.Node, n.Reachable, n.Checked, n.Violations)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(j.Violations) > 0 {
				fmt.Fprintln(w)
				t = newTable(w, "NODE", "KIND", "SUBJECT", "DETAIL")
				for _, v := range j.Violations {
					t.row(v.Node, v.Kind, v.Subject, v.Detail)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if j.Consistent {
				fmt.Fprintf(w, "\nConsistent: %s, %s checked.\n", plural(len(j.Nodes), "node", "nodes"), plural(checked, "process", "processes"))
			}
		}
		if !j.Consistent {
			return &cliError{msg: fmt.Sprintf("not consistent: %s on %s", plural(len(j.Violations), "violation", "violations"), violationNodes(j.Violations)), code: 1}
		}
		return nil
	}
	return cmd
}

func violationNodes(vs []validateViolationJSON) string {
	var names []string
	seen := map[string]bool{}
	for _, v := range vs {
		if !seen[v.Node] {
			seen[v.Node] = true
			names = append(names, v.Node)
		}
	}
	return strings.Join(names, ", ")
}
