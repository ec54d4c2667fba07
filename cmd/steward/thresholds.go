package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
)

// thresholdsJSON is `steward thresholds get|set -o json`; keys are stable.
type thresholdsJSON struct {
	MaxMemoryBytes        int64   `json:"max_memory_bytes"`
	MaxProcessCount       int64   `json:"max_process_count"`
	MaxMessageQueueLength int64   `json:"max_message_queue_length"`
	MaxCPUPercent         float64 `json:"max_cpu_percent"`
	// IsDefault: never set, these are the defaults.
	IsDefault   bool   `json:"is_default"`
	ModifyIndex uint64 `json:"modify_index"`
	UpdatedBy   string `json:"updated_by,omitempty"`
	UpdatedAt   string `json:"updated_at,omitempty"`
}

func thresholdsView(r *pb.ThresholdsRecord, isDefault bool) thresholdsJSON {
	j := thresholdsJSON{
		MaxMemoryBytes: r.MaxMemoryBytes, MaxProcessCount: r.MaxProcessCount, MaxMessageQueueLength: r.MaxMessageQueueLength,
		MaxCPUPercent: r.MaxCpuPercent, IsDefault: isDefault, ModifyIndex: r.ModifyIndex, UpdatedBy: r.UpdatedBy,
	}
	if r.UpdatedAtUnixNano != 0 {
		j.UpdatedAt = time.Unix(0, r.UpdatedAtUnixNano).UTC().Format(time.RFC3339Nano)
	}
	return j
}

func writeThresholds(cmd *cobra.Command, out string, j thresholdsJSON) error {
	w := cmd.OutOrStdout()
	if out == "json" {
		return writeJSON(w, j)
	}
	limit := func(v any, zero bool) any {
		if zero {
			return "off"
		}
		return v
	}
	t := newTable(w)
	t.row("max_memory_bytes", limit(j.MaxMemoryBytes, j.MaxMemoryBytes == 0))
	t.row("max_process_count", limit(j.MaxProcessCount, j.MaxProcessCount == 0))
	t.row("max_message_queue_length", limit(j.MaxMessageQueueLength, j.MaxMessageQueueLength == 0))
	t.row("max_cpu_percent", limit(j.MaxCPUPercent, j.MaxCPUPercent == 0))
	if err := t.flush(); err != nil {
		return err
	}
	if j.IsDefault {
		fmt.Fprintln(w, "(defaults: never set)")
	} else {
		fmt.Fprintf(w, "Modify index %d, set by %s at %s\n", j.ModifyIndex, j.UpdatedBy, j.UpdatedAt)
	}
	return nil
}

func newThresholdsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "thresholds",
		Short: "Show or change the resource thresholds every node checks itself against",
		Long: `Resource thresholds are replicated state. Every node samples its memory (Go heap in use
plus goroutine stacks), live processes, longest mailbox and CPU use (of all cores), and
raises a threshold_exceeded event when one goes over its limit (threshold_cleared when it
is back); 'steward status' lists the active violations and 'steward members' their
metrics per member. A limit of 0 turns that check off.`,
	}

	get := &cobra.Command{Use: "get", Short: "Show the thresholds in force", Args: cobra.NoArgs}
	getOut := outputFlag(get)
	stale := get.Flags().Bool("stale", false, "answer from the agent's own replica")
	get.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*getOut); err != nil {
			return err
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewHealthClient(c.Conn()).GetThresholds(ctx, &pb.GetThresholdsRequest{Read: &pb.ReadOptions{Stale: *stale}})
		if err != nil {
			return g.rpcError(err)
		}
		return writeThresholds(cmd, *getOut, thresholdsView(resp.Thresholds, resp.IsDefault))
	}

	set := &cobra.Command{
		Use:   "set",
		Short: "Change the given thresholds; the others keep their values",
		Args:  cobra.NoArgs,
	}
	setOut := outputFlag(set)
	fl := set.Flags()
	mem := fl.Int64("max-memory-bytes", 0, "agent memory limit in bytes (0: off)")
	procs := fl.Int64("max-process-count", 0, "live processes limit (0: off)")
	queue := fl.Int64("max-queue-length", 0, "longest single mailbox limit, in messages (0: off)")
	cpu := fl.Float64("max-cpu-percent", 0, "agent CPU limit, percent of all cores, 0..100 (0: off)")
	cas := fl.Int64("cas", -1, "only if the thresholds are at this modify index (0: never set)")
	set.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*setOut); err != nil {
			return err
		}
		changed := cmd.Flags().Changed
		req := &pb.SetThresholdsRequest{}
		if changed("max-memory-bytes") {
			req.MaxMemoryBytes = mem
		}
		if changed("max-process-count") {
			req.MaxProcessCount = procs
		}
		if changed("max-queue-length") {
			req.MaxMessageQueueLength = queue
		}
		if changed("max-cpu-percent") {
			req.MaxCpuPercent = cpu
		}
		if req.MaxMemoryBytes == nil && req.MaxProcessCount == nil && req.MaxMessageQueueLength == nil && req.MaxCpuPercent == nil {
			return usageError("nothing to set: give at least one of --max-memory-bytes, --max-process-count, --max-queue-length, --max-cpu-percent")
		}
		if *cas >= 0 {
			v := uint64(*cas)
			req.Cas = &v
		}
		c, ctx, done, err := g.connect(cmd)
		if err != nil {
			return err
		}
		defer done()
		resp, err := pb.NewHealthClient(c.Conn()).SetThresholds(ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		return writeThresholds(cmd, *setOut, thresholdsView(resp.Thresholds, false))
	}
	cmd.AddCommand(get, set)
	return cmd
}
