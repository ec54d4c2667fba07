package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/pb"
)

// verifyJSON is `steward module verify -o json`.
type verifyJSON struct {
	Module       string              `json:"module"`
	Version      string              `json:"version"`
	OK           bool                `json:"ok"`
	Failures     int                 `json:"failures"`
	FromVersions []string            `json:"from_versions"`
	Errors       []string            `json:"errors"`
	Warnings     []string            `json:"warnings"`
	Safety       string              `json:"safety"`
	Capabilities []hotcode.Use       `json:"capabilities"`
	Processes    []verifyProcessJSON `json:"processes"`
}

type verifyProcessJSON struct {
	PID              string `json:"pid"`
	Node             string `json:"node"`
	Tree             string `json:"tree"`
	ChildID          string `json:"child_id"`
	FromVersion      string `json:"from_version"`
	OK               bool   `json:"ok"`
	Error            string `json:"error"`
	StateBytesBefore uint64 `json:"state_bytes_before"`
	StateBytesAfter  uint64 `json:"state_bytes_after"`
	DurationUS       int64  `json:"duration_us"`
}

func toVerifyJSON(r *pb.VerifyResponse) verifyJSON {
	j := verifyJSON{Module: r.Module, Version: r.Version, OK: r.Ok, FromVersions: append([]string{}, r.FromVersions...),
		Errors: append([]string{}, r.Errors...), Warnings: append([]string{}, r.Warnings...), Safety: r.Safety,
		Capabilities: []hotcode.Use{}, Processes: []verifyProcessJSON{}}
	for _, u := range r.Capabilities {
		j.Capabilities = append(j.Capabilities, hotcode.Use{Function: u.Function, Class: hotcode.Class(u.Class)})
	}
	for _, p := range r.Processes {
		if !p.Ok {
			j.Failures++
		}
		j.Processes = append(j.Processes, verifyProcessJSON{PID: p.Pid, Node: p.Node, Tree: p.Tree, ChildID: p.ChildId,
			FromVersion: p.FromVersion, OK: p.Ok, Error: p.Error, StateBytesBefore: p.StateBytesBefore,
			StateBytesAfter: p.StateBytesAfter, DurationUS: p.DurationUs})
	}
	return j
}

func newModuleVerifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify NAME@VERSION",
		Short: "Try a version's code_change on a copy of each target's live state, moving nothing (before deploy)",
		Long: `verify checks a module version against the processes steward deploy would
move (the same default, the same --targets): its manifest against each
running version's (the name, downgrade support for an older version, host
functions it imports that the running one does not), its stored capability
report, and, on each target's node, its code_change run on a copy of the
process's live state in a throwaway instance, then state_export. Each
process is reported with whether the migration succeeds and the state's
size before and after. The running processes are not touched: they are not
suspended, and keep their version and state.

Exit code 1 when a migration fails or a check does.`,
		Args: cobra.ExactArgs(1),
	}
	targets := cmd.Flags().String("targets", "", "narrow the targets as deploy does: tree=NAME, path=TREE/CHILD, node=NAME, pid=NODE/SEQ, comma-separated")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		name, version, err := moduleRef(args[0])
		if err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewDeploymentsClient(c.Conn()).Verify(ctx, &pb.VerifyRequest{Module: name + "@" + version, Targets: *targets})
		if err != nil {
			return g.rpcError(err)
		}
		j := toVerifyJSON(resp)
		w := cmd.OutOrStdout()
		if *out == "json" {
			if err := writeJSON(w, j); err != nil {
				return err
			}
		} else if err := printVerify(w, j); err != nil {
			return err
		}
		if !j.OK {
			msg := fmt.Sprintf("module verify %s@%s: %d of %d migrations failed", j.Module, j.Version, j.Failures, len(j.Processes))
			if len(j.Errors) > 0 {
				msg += fmt.Sprintf(", %d checks failed", len(j.Errors))
			}
			return &cliError{msg: msg, code: 1}
		}
		return nil
	}
	return cmd
}

func printVerify(w io.Writer, j verifyJSON) error {
	verdict := "OK"
	if !j.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "Verify %s@%s against %d processes (running %s): %s, %d migrations failed\n",
		j.Module, j.Version, len(j.Processes), strings.Join(j.FromVersions, ", "), verdict, j.Failures)
	t := newTable(w, "PID", "NODE", "TREE", "CHILD", "FROM", "OK", "STATE BEFORE", "STATE AFTER", "DURATION", "ERROR")
	for _, p := range j.Processes {
		t.row(p.PID, p.Node, p.Tree, p.ChildID, p.FromVersion, p.OK, p.StateBytesBefore, p.StateBytesAfter,
			(time.Duration(p.DurationUS) * time.Microsecond).String(), strings.Join(strings.Fields(p.Error), " "))
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, e := range j.Errors {
		fmt.Fprintf(w, "Error: %s\n", e)
	}
	for _, wa := range j.Warnings {
		fmt.Fprintf(w, "Warning: %s\n", wa)
	}
	return nil
}
