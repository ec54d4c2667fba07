package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/steward/steward/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// eventJSON is one line of `steward events -o json`.
type eventJSON struct {
	Seq     uint64 `json:"seq"`
	Time    string `json:"time"`
	Node    string `json:"node"`
	Type    string `json:"type"`
	PID     string `json:"pid"`
	Tree    string `json:"tree"`
	ChildID string `json:"child_id"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

// followLast is how many recent events `events -f` shows first when --last
// is not given (as tail -f).
const followLast = 10

func newEventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the runtime events of every alive node (or one node), optionally following new ones",
		Long: "Show runtime events: spawns, exits, kills, restarts, escalations, tree changes...\n" +
			"One line per event: time, node, type, tree/child, pid, reason, detail.\n" +
			"Without --node, every alive node is asked and the streams are merged; a node that\n" +
			"cannot be asked shows as an \"unreachable\" event.",
		Args: cobra.NoArgs,
	}
	out := outputFlag(cmd)
	follow := cmd.Flags().BoolP("follow", "f", false, "keep streaming new events until interrupted")
	nodeName := cmd.Flags().String("node", "", "only this node's events")
	types := cmd.Flags().StringSlice("type", nil, "only events of this type (repeatable, or comma-separated)")
	tree := cmd.Flags().String("tree", "", "only events of this tree")
	last := cmd.Flags().Uint32("last", 0, fmt.Sprintf("recent events to show first, per node (default: all buffered; %d with --follow)", followLast))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		n := *last
		if *follow && !cmd.Flags().Changed("last") {
			n = followLast
		}
		r, err := g.dialRPCs(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		ctx := r.ctx
		if *follow {
			// Following ends on an interrupt, not on --timeout.
			var stop context.CancelFunc
			ctx, stop = signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
		}
		stream, err := r.rt.Events(ctx, &pb.EventsRequest{Node: *nodeName, Types: *types, Tree: *tree, Follow: *follow, Last: n})
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		for {
			e, err := stream.Recv()
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case err != nil && (ctx.Err() != nil || status.Code(err) == codes.Canceled):
				return nil // interrupted
			case err != nil:
				return g.rpcError(err)
			}
			if err := writeEvent(w, e, *out == "json"); err != nil {
				return err
			}
		}
	}
	return cmd
}

func writeEvent(w io.Writer, e *pb.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(eventJSON{Seq: e.Seq, Time: jsonTime(e.TimeUnixNano), Node: e.Node, Type: e.Type, PID: e.Pid,
			Tree: e.Tree, ChildID: e.ChildId, Reason: e.Reason, Detail: e.Detail})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	where := e.Tree
	if e.ChildId != "" {
		where += "/" + e.ChildId
	}
	reason := e.Reason
	if strings.ContainsAny(reason, " \t\n") {
		reason = strconv.Quote(reason)
	}
	line := fmt.Sprintf("%s  %-6s %-23s %-24s %-9s %-10s %s", textTime(e.TimeUnixNano), e.Node, e.Type,
		dash(where), dash(e.Pid), dash(reason), e.Detail)
	_, err := fmt.Fprintln(w, strings.TrimRight(line, " "))
	return err
}
