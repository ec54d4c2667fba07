package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/audit"
	"github.com/steward/steward/pb"
)

// auditJSON is `steward audit -o json`; keys are stable.
type auditJSON struct {
	Node    string           `json:"node"`
	Entries []auditEntryJSON `json:"entries"`
	// Malformed lines skipped; Truncated matching entries older than the
	// newest --limit, left out.
	Malformed int      `json:"malformed"`
	Truncated int      `json:"truncated"`
	Files     []string `json:"files"`
	// WriteFailures are the entries the node could not write since it
	// started; LastWriteError the last failure.
	WriteFailures  uint64 `json:"write_failures"`
	LastWriteError string `json:"last_write_error"`
}

type auditEntryJSON struct {
	Time       string            `json:"time"`
	Node       string            `json:"node"`
	Method     string            `json:"method"`
	Resource   string            `json:"resource"`
	Target     map[string]string `json:"target"`
	Accessor   string            `json:"accessor"`
	Subject    string            `json:"subject"`
	Peer       string            `json:"peer"`
	Result     string            `json:"result"`
	Error      string            `json:"error"`
	DurationUS int64             `json:"duration_us"`
}

func auditView(r *pb.AuditReadResponse) auditJSON {
	j := auditJSON{Node: r.Node, Entries: []auditEntryJSON{}, Malformed: int(r.Malformed), Truncated: int(r.Truncated),
		Files: append([]string{}, r.Files...), WriteFailures: r.WriteFailures, LastWriteError: r.LastWriteError}
	for _, e := range r.Entries {
		target := map[string]string{}
		for k, v := range e.Target {
			target[k] = v
		}
		j.Entries = append(j.Entries, auditEntryJSON{Time: time.Unix(0, e.TimeUnixNano).UTC().Format(time.RFC3339Nano), Node: e.Node,
			Method: e.Method, Resource: e.Resource, Target: target, Accessor: e.Accessor, Subject: e.Subject, Peer: e.Peer,
			Result: e.Result, Error: e.Error, DurationUS: e.DurationUs})
	}
	return j
}

// targetText is a target as key=value pairs in key order.
func targetText(t map[string]string) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + t[k]
	}
	return strings.Join(parts, " ")
}

func writeAuditView(w io.Writer, out string, j auditJSON) error {
	if out == "json" {
		return writeJSON(w, j)
	}
	t := newTable(w, "TIME", "METHOD", "TARGET", "ACCESSOR", "SUBJECT", "PEER", "RESULT")
	for _, e := range j.Entries {
		result := e.Result
		if e.Error != "" {
			result += ": " + e.Error
		}
		method := strings.TrimPrefix(e.Method, "/steward.v1.")
		t.row(e.Time, cell(method, 60), dash(cell(targetText(e.Target), 80)), dash(cell(e.Accessor, 0)), dash(cell(e.Subject, 60)),
			dash(e.Peer), cell(result, 160))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d entries from node %s", len(j.Entries), j.Node)
	if j.Truncated > 0 {
		fmt.Fprintf(w, "; %d older ones left out (--limit)", j.Truncated)
	}
	if j.Malformed > 0 {
		fmt.Fprintf(w, "; %d malformed lines skipped", j.Malformed)
	}
	fmt.Fprintln(w)
	if j.WriteFailures > 0 {
		fmt.Fprintf(w, "warning: node %s failed to write %d entries since it started; last: %s\n", j.Node, j.WriteFailures, cell(j.LastWriteError, 200))
	}
	return nil
}

// parseSince reads --since: an RFC 3339 time, or a duration before now
// ("90m", "24h").
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-03-01T12:00:00Z) or a positive duration before now (90m, 24h)", s)
	}
	return now.Add(-d), nil
}

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show a node's audit log: the writes it accepted, who made them and their results",
		Long: `Show the audit log of a node (default: the agent called; --node asks that agent for
another node's): every write the node accepted from a caller, with the method, what the
request named (key, tree, id, ...; never a value or a secret), the token accessor, the
client certificate's subject, the caller's address and the result, oldest first, the
newest --limit of them. Rotated files are read too; lines that do not parse are skipped
and counted. The agents must run with audit { enabled = true } (or --audit); reading
needs operator read. docs/SECURITY.md "Audit log".`,
		Args: cobra.NoArgs,
	}
	out := outputFlag(cmd)
	nodeName := cmd.Flags().String("node", "", "node whose log to read (default: the agent called)")
	since := cmd.Flags().String("since", "", "only entries since this RFC 3339 time or this long ago (90m, 24h)")
	method := cmd.Flags().String("method", "", "only entries whose method contains this (KV/Put, Supervision, ...)")
	limit := cmd.Flags().Int("limit", audit.DefaultReadLimit, fmt.Sprintf("the newest this many matching entries (1..%d)", audit.MaxReadLimit))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *limit < 1 || *limit > audit.MaxReadLimit {
			return usageError(fmt.Sprintf("--limit %d: want 1..%d", *limit, audit.MaxReadLimit))
		}
		req := &pb.AuditReadRequest{Node: *nodeName, Method: *method, Limit: uint32(*limit)}
		if *since != "" {
			t, err := parseSince(*since, time.Now())
			if err != nil {
				return usageError(err.Error())
			}
			req.SinceUnixNano = t.UnixNano()
		}
		c, ctx, cancel, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer cancel()
		resp, err := pb.NewAuditClient(c.Conn()).Read(ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		return writeAuditView(cmd.OutOrStdout(), *out, auditView(resp))
	}
	return cmd
}
