package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
)

func newTraceCmd(g *globals) *cobra.Command {
	trace := &cobra.Command{Use: "trace", Short: "Trace a tree: who sends to whom (flow) and each process's state over time (history)"}
	flow := &cobra.Command{Use: "flow", Short: "Message flow of a tree: turn it on or off, show the graph"}
	flow.AddCommand(newTraceSetCmd(g, true), newTraceSetCmd(g, false), newTraceFlowShowCmd(g))
	trace.AddCommand(flow, newTraceHistoryCmd(g))
	return trace
}

func newTraceSetCmd(g *globals, enable bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "disable TREE",
		Short: "Stop tracing a tree (flow and state history; the graph is discarded)",
		Args:  cobra.ExactArgs(1),
	}
	var history *bool
	var interval *time.Duration
	if enable {
		cmd.Use, cmd.Short = "enable TREE", "Record who sends to whom in a tree (--history: also each process's state over time)"
		history = cmd.Flags().Bool("history", false, "also capture each worker's state (see `steward trace history`)")
		interval = cmd.Flags().Duration("interval", 0, "state capture interval (default: the runtime's, 1s)")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req := &pb.SetTracingRequest{Tree: args[0], Flow: enable}
		if enable {
			if *interval < 0 {
				return usageError(fmt.Sprintf("--interval %s: must not be negative", *interval))
			}
			req.History, req.HistoryIntervalMs = *history, uint32(interval.Milliseconds())
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.SetTracing(r.ctx, req)
		if err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Tracing of %s\n", resp.Detail)
		return nil
	}
	return cmd
}

// flowJSON is `steward trace flow show -o json`. From is "" for messages
// sent from outside any process (an operator).
type flowJSON struct {
	Tree  string         `json:"tree"`
	Node  string         `json:"node"`
	Edges []flowEdgeJSON `json:"edges"`
}

// flowEdgeJSON is one edge; FromChild and ToChild name the live processes
// of the tree at either end ("" for others).
type flowEdgeJSON struct {
	From      string `json:"from"`
	To        string `json:"to"`
	FromChild string `json:"from_child"`
	ToChild   string `json:"to_child"`
	Count     uint64 `json:"count"`
	First     string `json:"first"`
	Last      string `json:"last"`
}

// childIDs maps the PIDs of a tree's live processes to their child ids
// (the tree's name for its root), to label flow edges; best effort.
func childIDs(r *rpcs, tree, nodeName string) map[string]string {
	out := map[string]string{}
	resp, err := r.rt.ListProcesses(r.ctx, &pb.ListProcessesRequest{Tree: tree, Node: nodeName})
	if err != nil {
		return out
	}
	for _, p := range resp.Processes {
		out[p.Pid] = p.ChildId
		if p.ChildId == "" {
			out[p.Pid] = tree
		}
	}
	return out
}

func labelPID(pid, child string) string {
	switch {
	case pid == "":
		return "(outside)"
	case child == "":
		return pid
	}
	return pid + " (" + child + ")"
}

func newTraceFlowShowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "show TREE", Short: "Show a traced tree's message flow: sender -> receiver, count, first and last", Args: cobra.ExactArgs(1)}
	out := outputFlag(cmd)
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
		resp, err := r.rt.Flow(r.ctx, &pb.SupervisorRequest{Tree: args[0], Node: *nodeName})
		if err != nil {
			return g.rpcError(err)
		}
		ids := childIDs(r, resp.Tree, resp.Node)
		j := flowJSON{Tree: resp.Tree, Node: resp.Node, Edges: []flowEdgeJSON{}}
		for _, e := range resp.Edges {
			j.Edges = append(j.Edges, flowEdgeJSON{From: e.From, To: e.To, FromChild: ids[e.From], ToChild: ids[e.To],
				Count: e.Count, First: jsonTime(e.FirstUnixNano), Last: jsonTime(e.LastUnixNano)})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		t := newTable(w, "FROM", "", "TO", "COUNT", "FIRST", "LAST")
		for i, e := range j.Edges {
			src := resp.Edges[i]
			t.row(labelPID(e.From, e.FromChild), "->", labelPID(e.To, e.ToChild), e.Count,
				textTime(src.FirstUnixNano), textTime(src.LastUnixNano))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(j.Edges) == 0 {
			fmt.Fprintf(w, "(no messages recorded: is flow tracing on? `steward trace flow enable %s`)\n", args[0])
		}
		return nil
	}
	return cmd
}

// historyJSON is `steward trace history -o json`; each state is embedded as
// JSON when it is JSON, else as a string.
type historyJSON struct {
	PID     string              `json:"pid"`
	Samples []historySampleJSON `json:"samples"`
}

type historySampleJSON struct {
	Time  string          `json:"time"`
	State json.RawMessage `json:"state"`
}

func newTraceHistoryCmd(g *globals) *cobra.Command {
	cmd, nodeName := processCmd("history PROCESS", "Show a process's captured states, oldest first (tree traced with --history)")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		ref, err := processRef(args[0], *nodeName)
		if err != nil {
			return err
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.rt.History(r.ctx, &pb.ProcessRequest{Ref: ref})
		if err != nil {
			return g.rpcError(err)
		}
		j := historyJSON{PID: resp.Pid, Samples: []historySampleJSON{}}
		for _, s := range resp.Samples {
			j.Samples = append(j.Samples, historySampleJSON{Time: jsonTime(s.TimeUnixNano), State: stateJSON(s.State)})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, j)
		}
		t := newTable(w, "TIME", "STATE")
		for i, s := range j.Samples {
			t.row(textTime(resp.Samples[i].TimeUnixNano), string(s.State))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(j.Samples) == 0 {
			fmt.Fprintf(w, "(no states captured for %s: is its tree traced with --history?)\n", resp.Pid)
		}
		return nil
	}
	return cmd
}
